"""Who may do what: the permission matrix (role × action) as data, and the blinding rule.

This is the one place that decides authorization; every service asks :func:`allowed` (through
:func:`strokecell.trial._context.authorize`) before it reads or writes anything. The matrix is
documented in docs/data-model.md ("Permissions"); keep the two in step.

Actions of part B (lots, administration, adverse events, queries, locks, signatures, export)
are listed here already so that their services plug into the same check.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from strokecell.store import UNBLINDED_ROLES, Role

__all__ = ["CONCEALED_AUDIT", "PERMISSIONS", "Action", "allowed", "is_blinded", "roles_for"]


class Action(enum.StrEnum):
    """Everything a service can be asked to do, one name per permission."""

    MANAGE_STUDY = "manage_study"        # amend the protocol, add sites
    MANAGE_USERS = "manage_users"        # create users, grant and revoke roles
    READ_STUDY = "read_study"            # study, arms, sites, schedule (no subject data)
    SCREEN = "screen"                    # screen a patient against the eligibility criteria
    ENROL = "enrol"                      # enrol an eligible screened patient
    RANDOMIZE = "randomize"              # allocate a subject through the concealed list
    UNBLIND = "unblind"                  # emergency unblinding of one subject (audited)
    READ_SUBJECTS = "read_subjects"      # subjects, visits, forms of the caller's sites
    RECORD_VISIT = "record_visit"        # set or correct a visit's actual date
    ENTER_FORM = "enter_form"            # save form items (the form may narrow the roles)
    # part B
    MANAGE_LOTS = "manage_lots"          # product lots and release records
    ADMINISTER = "administer"            # record a cell administration
    REPORT_AE = "report_ae"              # adverse events
    RAISE_QUERY = "raise_query"          # open and close queries
    ANSWER_QUERY = "answer_query"        # answer queries
    LOCK = "lock"                        # lock and unlock records
    SIGN = "sign"                        # investigator e-signature
    EXPORT = "export"                    # analysis exports
    READ_AUDIT = "read_audit"            # read the audit trail
    WITHDRAW = "withdraw"                # record a subject's withdrawal (end of participation)


_R = Role
_SITE_STAFF = frozenset({_R.INVESTIGATOR, _R.COORDINATOR})
_CLINICAL_READERS = frozenset({_R.INVESTIGATOR, _R.COORDINATOR, _R.BLINDED_ASSESSOR,
                               _R.CELL_LAB, _R.MONITOR, _R.STATISTICIAN, _R.DATA_MANAGER})

#: The permission matrix: which roles may perform each action. Site scope is separate: a
#: role held at one site acts on that site's subjects only (``site_id`` NULL = every site).
PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.MANAGE_STUDY: frozenset({_R.ADMIN}),
    Action.MANAGE_USERS: frozenset({_R.ADMIN}),
    Action.READ_STUDY: frozenset(Role),
    Action.SCREEN: _SITE_STAFF,
    Action.ENROL: _SITE_STAFF,
    Action.RANDOMIZE: _SITE_STAFF,
    # The investigator is the one who needs the arm for a patient's emergency care.
    Action.UNBLIND: frozenset({_R.INVESTIGATOR}),
    Action.READ_SUBJECTS: _CLINICAL_READERS,
    Action.RECORD_VISIT: _SITE_STAFF,
    # Rating scales is the blinded assessor's job; the cell lab records administration forms.
    Action.ENTER_FORM: _SITE_STAFF | {_R.BLINDED_ASSESSOR, _R.CELL_LAB},
    Action.MANAGE_LOTS: frozenset({_R.CELL_LAB}),
    Action.ADMINISTER: frozenset({_R.CELL_LAB}),
    Action.REPORT_AE: _SITE_STAFF,
    Action.RAISE_QUERY: frozenset({_R.MONITOR, _R.DATA_MANAGER}),
    Action.ANSWER_QUERY: _SITE_STAFF,
    Action.LOCK: frozenset({_R.DATA_MANAGER}),
    Action.SIGN: frozenset({_R.INVESTIGATOR}),
    Action.EXPORT: frozenset({_R.STATISTICIAN, _R.DATA_MANAGER}),
    Action.READ_AUDIT: frozenset({_R.MONITOR, _R.DATA_MANAGER, _R.ADMIN}),
    Action.WITHDRAW: _SITE_STAFF,
}


def allowed(role: Role | str, action: Action | str) -> bool:
    """Whether ``role`` may perform ``action`` (site scope aside)."""
    return Role(role) in PERMISSIONS[Action(action)]


def roles_for(action: Action | str) -> list[str]:
    """The roles allowed ``action``, sorted (for error messages and docs)."""
    return sorted(r.value for r in PERMISSIONS[Action(action)])


def is_blinded(role: Role | str) -> bool:
    """Blinded roles never see an arm: everyone but the unblinded cell lab / pharmacy.

    The admin sets the study up but is blinded too; a person who must see allocations is
    given the ``cell_lab`` role explicitly.
    """
    return Role(role) not in UNBLINDED_ROLES


#: Audit rows that reveal allocation and must be hidden from blinded readers of the audit
#: trail (``READ_AUDIT``): (table, field) pairs, ``None`` = every field of the table. Rows of
#: ``form_instances``/``item_values`` of unblinded-only forms (the administration page)
#: reveal it too: hide them by joining on the form's code (``form_spec(code).unblinded_only``).
CONCEALED_AUDIT: frozenset[tuple[str, str | None]] = frozenset({
    ("allocations", "arm_id"),
    ("allocations", "detail"),
    ("randomization_states", None),
    ("administrations", None),
    ("product_lots", None),
    # part B: release records and deviations of an administration betray who got cells;
    # the event that tipped a stopping rule may too.
    ("lot_releases", None),
    ("release_tests", None),
    ("protocol_deviations", None),
    ("safety_signals", "adverse_event_id"),
})
