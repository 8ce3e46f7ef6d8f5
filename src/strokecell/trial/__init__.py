"""trial layer of strokecell (see DESIGN.md): the services that are the only way to change
the trial record. Public API listed in __all__.

Every service is a plain function ``service(db, ctx, ...)``: ``db`` is an engine from
:func:`strokecell.store.make_engine`, ``ctx`` a :class:`ServiceContext` (user, study, acting
role, UTC offset). One call is one transaction with its audit rows; it checks the role
(:data:`PERMISSIONS`) and the site, returns frozen views (arm masked for blinded roles) and
raises :mod:`strokecell.errors` exceptions, leaving the database unchanged when it refuses.

Also here: the allocation engines (``strokecell.trial.randomization``), pure and seeded.
"""

from strokecell.trial._authz import (
    CONCEALED_AUDIT,
    PERMISSIONS,
    Action,
    allowed,
    is_blinded,
    roles_for,
)
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._crf import crf_codes, load_crf
from strokecell.trial._design import StudyDesign, VisitPlan, current_version, design_of
from strokecell.trial._formspec import PARAMCD, FormSpec, form_codes, form_spec
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import (
    audit_delete,
    audit_insert,
    audit_update,
    reading,
    require_reason,
    writing,
)
from strokecell.trial.enrolment import enrol, get_screening, screen
from strokecell.trial.forms import form_view, get_form, list_forms, save_form, write_form
from strokecell.trial.randomization import (
    Allocation,
    AllocationRatio,
    BlockPosition,
    Factors,
    MinimizationRandomizer,
    MinimizationScores,
    PermutedBlockRandomizer,
    Randomizer,
    SimpleRandomizer,
    restore_randomizer,
)
from strokecell.trial.randomization_service import (
    build_randomizer,
    get_allocation,
    randomize,
    unblind,
)
from strokecell.trial.setup import add_site, amend_protocol, get_study, init_study, list_sites
from strokecell.trial.subjects import get_subject, list_subjects, subject_view
from strokecell.trial.users import (
    context_for,
    create_user,
    grant_role,
    list_users,
    revoke_role,
    sign_in,
)
from strokecell.trial.views import (
    AllocationView,
    ArmView,
    FailedCriterion,
    FormStatusView,
    FormView,
    ScreeningView,
    SiteView,
    StudyView,
    SubjectView,
    UnblindingView,
    UserView,
    VisitView,
    arm_shown,
)
from strokecell.trial.visits import list_visits, record_visit, schedule_visits, visit_status

__all__ = [
    "CONCEALED_AUDIT",
    "PARAMCD",
    "PERMISSIONS",
    "Action",
    "Allocation",
    "AllocationRatio",
    "AllocationView",
    "ArmView",
    "BlockPosition",
    "Factors",
    "FailedCriterion",
    "FormSpec",
    "FormStatusView",
    "FormView",
    "MinimizationRandomizer",
    "MinimizationScores",
    "PermutedBlockRandomizer",
    "Randomizer",
    "Scope",
    "ScreeningView",
    "ServiceContext",
    "SimpleRandomizer",
    "SiteView",
    "StudyDesign",
    "StudyView",
    "SubjectView",
    "UnblindingView",
    "UserView",
    "VisitPlan",
    "VisitView",
    "add_site",
    "allowed",
    "amend_protocol",
    "arm_shown",
    "audit_delete",
    "audit_insert",
    "audit_update",
    "authorize",
    "build_randomizer",
    "context_for",
    "create_user",
    "crf_codes",
    "current_version",
    "design_of",
    "enrol",
    "ensure_writable",
    "form_codes",
    "form_spec",
    "form_view",
    "get_allocation",
    "get_form",
    "get_screening",
    "get_study",
    "get_subject",
    "grant_role",
    "init_study",
    "is_blinded",
    "list_forms",
    "list_sites",
    "list_subjects",
    "list_users",
    "list_visits",
    "load_crf",
    "randomize",
    "reading",
    "record_visit",
    "require_reason",
    "restore_randomizer",
    "revoke_role",
    "roles_for",
    "save_form",
    "schedule_visits",
    "screen",
    "sign_in",
    "subject_view",
    "unblind",
    "visible_subject",
    "visit_status",
    "write_form",
    "writing",
]
