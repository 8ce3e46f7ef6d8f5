"""Study set-up from the reference protocol: study, versions, arms, list, sites, users, CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from strokecell._commands import trial as trial_commands
from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    add_site,
    amend_protocol,
    create_user,
    crf_codes,
    design_of,
    form_spec,
    get_form,
    get_study,
    grant_role,
    init_study,
    list_users,
    load_crf,
    restore_randomizer,
    revoke_role,
    save_form,
    sign_in,
)

from .conftest import MBI_0, PASSWORD, REFERENCE, STUDY, World, chain_ok, snapshot

TEXT = REFERENCE.read_text(encoding="utf-8")


def test_study_set_up_from_the_reference_protocol(world: World) -> None:
    study = get_study(world.db, world.admin)
    assert study.code == STUDY and study.protocol_version == "1.0"
    assert study.protocol_sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    assert [(a.code, a.ratio_weight, a.receives_cells) for a in study.arms] == [
        ("transplant", 1, True), ("control", 1, False)]
    assert study.randomization_method == "permuted_blocks"
    with read_session(world.db) as s:
        pv = s.scalars(select(m.ProtocolVersion)).one()
        assert pv.yaml_text == TEXT
        state = s.scalars(select(m.RandomizationState)).one()
        # the seed is kept in the concealed state, and nowhere in the audit trail
        assert state.state["seed"] == "test-seed"
        engine = restore_randomizer(state.state)
        assert engine.factors.names == ("baseline_mbi",)
        assert not s.scalars(select(m.AuditLog).where(
            m.AuditLog.new_value.contains("test-seed"))).first()
    assert chain_ok(world.db)


def test_visit_schedule_and_forms_per_visit() -> None:
    design = design_of(TEXT)
    assert [(v.code, v.number, v.target_day, v.window_before, v.window_after)
            for v in design.visits] == [
        ("baseline", 0, 0, 3, 0), ("month_1", 1, 30, 7, 7), ("month_3", 2, 91, 14, 14),
        ("month_6", 3, 183, 21, 21), ("month_12", 4, 365, 30, 30)]
    baseline = design.visit("baseline").forms
    assert {"consent", "eligibility", "baseline_stroke", "demographics", "mbi", "fma_total",
            "nihss",
            "lesion_volume", "mri"} <= set(baseline)
    assert design.visit("month_1").forms == ("mbi", "nihss", "rehabilitation")
    assert {"mbi", "fma_total", "mrs", "lesion_volume", "mri"} <= set(
        design.visit("month_12").forms)
    assert design.unscheduled_forms == ("adverse_event", "concomitant_medication",
                                        "administration", "withdrawal")


def test_every_crf_page_loads_and_declares_its_fields() -> None:
    assert crf_codes() == sorted(["administration", "adverse_event", "baseline_stroke",
                                  "demographics",
                                  "biomarker", "concomitant_medication", "consent",
                                  "eligibility", "mri", "rehabilitation", "withdrawal"])
    for code in crf_codes():
        crf = load_crf(code)
        assert crf.fields and crf.code == code
    assert {f.code for f in load_crf("biomarker").fields} >= {"bdnf", "vegf", "caspase3"}
    assert form_spec("administration").unblinded_only
    assert form_spec("mbi").kind == "scale"


def test_init_twice_is_refused_and_changes_nothing(world: World) -> None:
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="exists already"):
        init_study(world.db, TEXT, admin_username="admin2", admin_password=PASSWORD)
    assert snapshot(world.db) == before


def test_amendment_is_a_new_version_and_data_keep_theirs(world: World) -> None:
    code = world.enrol_one()
    first = save_form(world.db, world.ctx(Role.COORDINATOR), code, "mbi", MBI_0,
                      visit_code="baseline")
    amended = TEXT.replace('version: "1.0"', 'version: "1.1"').replace(
        "month: 1, window_minus_days: 7, window_plus_days: 7",
        "month: 1, window_minus_days: 10, window_plus_days: 10")
    view = amend_protocol(world.db, world.admin, amended, note="wider month-1 window")
    assert view.protocol_version == "1.1"
    second = world.enrol_one()
    assert first.protocol_version == "1.0"
    assert get_form(world.db, world.ctx(Role.COORDINATOR), code, "mbi",
                    visit_code="baseline").protocol_version == "1.0"
    form = save_form(world.db, world.ctx(Role.COORDINATOR), second, "mbi", MBI_0,
                     visit_code="baseline")
    assert form.protocol_version == "1.1"
    with read_session(world.db) as s:
        assert len(s.scalars(select(m.ProtocolVersion)).all()) == 2
    # the same text again, or a changed arm, is refused
    before = snapshot(world.db)
    with pytest.raises(InputError, match="already a version"):
        amend_protocol(world.db, world.admin, amended)
    with pytest.raises(InputError, match="may not change the arms"):
        amend_protocol(world.db, world.admin, TEXT.replace('version: "1.0"', 'version: "2"')
                       .replace("    ratio: 1\n    planned_n: 23", "    ratio: 2\n"
                                "    planned_n: 23").replace("block_sizes: [2, 4]",
                                                            "block_sizes: [3, 6]"))
    assert snapshot(world.db) == before
    assert chain_ok(world.db)


def test_users_sign_in_and_revocation(world: World) -> None:
    coordinator = world.ctx(Role.COORDINATOR)
    ctx = sign_in(world.db, "coordinator.s01", PASSWORD, study_code=STUDY, role="coordinator")
    assert ctx.user_id == coordinator.user_id
    with pytest.raises(PermissionDeniedError, match="unknown user or wrong password"):
        sign_in(world.db, "coordinator.s01", "wrong password!", study_code=STUDY,
                role="coordinator")
    with pytest.raises(PermissionDeniedError, match="holds no active monitor role"):
        sign_in(world.db, "coordinator.s01", PASSWORD, study_code=STUDY, role="monitor")
    users = {u.username: u.roles for u in list_users(world.db, world.admin)}
    assert users["coordinator.s01"] == (("coordinator", "S01"),)
    assert users["admin"] == (("admin", None),)
    with pytest.raises(InputError, match="reason"):
        revoke_role(world.db, world.admin, "coordinator.s01", "coordinator", "S01", reason="")
    revoke_role(world.db, world.admin, "coordinator.s01", "coordinator", "S01",
                reason="left the study team")
    # the context was valid when made; the revoked role stops working at once
    with pytest.raises(PermissionDeniedError, match="no active coordinator role"):
        get_study(world.db, coordinator)
    with read_session(world.db) as s:
        revoked = s.scalars(select(m.RoleAssignment).where(
            m.RoleAssignment.revoked_at.is_not(None))).one()
        assert revoked.role is Role.COORDINATOR
        row = s.scalars(select(m.User).where(m.User.username == "coordinator.s01")).one()
        assert row.password_hash.startswith("$argon2id$")
        assert not s.scalars(select(m.AuditLog).where(
            m.AuditLog.field_name == "password_hash")).first()
    assert chain_ok(world.db)


def test_site_input_is_checked(world: World) -> None:
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        add_site(world.db, world.admin, "S-9", "", country="China", timezone="Mars/Base")
    fields = {p.location for p in info.value.problems}
    assert fields == {"code", "name", "country", "timezone"}
    with pytest.raises(ConflictError, match="S01"):
        add_site(world.db, world.admin, "S01", "again")
    with pytest.raises(NotFoundError, match="no site 'S99'"):
        grant_role(world.db, world.admin, "admin", "monitor", "S99")
    with pytest.raises(InputError, match="unknown role"):
        grant_role(world.db, world.admin, "admin", "surgeon", "S01")
    assert snapshot(world.db) == before


def _cli_app() -> object:
    import typer

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    trial_commands.register(app)
    return app


def test_cli_init_creates_the_schema_and_the_study(empty_db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    args = ["init", "--protocol", str(REFERENCE), "--db", empty_db_url, "--seed", "42",
            "--json"]
    missing = runner.invoke(_cli_app(), args)  # type: ignore[arg-type]
    assert missing.exit_code == 2 and "STROKECELL_ADMIN_PASSWORD" in missing.output
    monkeypatch.setenv("STROKECELL_ADMIN_PASSWORD", PASSWORD)
    ok = runner.invoke(_cli_app(), args)  # type: ignore[arg-type]
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["study"] == STUDY and out["arms"] == ["transplant", "control"]
    again = runner.invoke(_cli_app(), args)  # type: ignore[arg-type]
    assert again.exit_code == 2 and "exists already" in again.output
    from strokecell.store import make_engine
    engine: Engine = make_engine(empty_db_url)
    try:
        ctx = sign_in(engine, "admin", PASSWORD, study_code=STUDY, role="admin")
        assert get_study(engine, ctx).protocol_version == "1.0"
        assert chain_ok(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("old", "new", "field"), [
    ('version: "1.0"', f'version: "{"1" * 41}"', "version"),
    ("- code: transplant", f"- code: {'t' * 21}", "code"),
    ("{code: month_1, label: Month 1,", f"{{code: month_1, label: {'M' * 101},", "label"),
])
def test_protocol_texts_longer_than_their_columns_are_protocol_errors(
        world: World, old: str, new: str, field: str) -> None:
    """A protocol value wider than the column that stores it (protocol_versions.version_label
    40, arms.code and visits.visit_code 20, visits.visit_name 100) is refused as an input
    error naming the field, never as a database error (PostgreSQL enforces VARCHAR lengths)."""
    text = REFERENCE.read_text(encoding="utf-8")
    assert text.count(old) == 1
    amended = text.replace(old, new)
    before = snapshot(world.db)
    with pytest.raises(InputError, match=field):
        amend_protocol(world.db, world.admin, amended)
    assert snapshot(world.db) == before


def test_site_and_user_texts_longer_than_their_columns_are_input_errors(world: World) -> None:
    """sites.name and users.full_name hold 200 characters, users.email 254: a longer value is
    an input error naming the field (never a database error on PostgreSQL)."""
    before = snapshot(world.db)
    with pytest.raises(InputError, match="name"):
        add_site(world.db, world.admin, "S09", "N" * 201)
    with pytest.raises(InputError, match="full_name"):
        create_user(world.db, world.admin, "long.name", "F" * 201, PASSWORD)
    with pytest.raises(InputError, match="email"):
        create_user(world.db, world.admin, "long.mail", "Long Mail", PASSWORD,
                    email="x" * 250 + "@example.org")
    assert snapshot(world.db) == before
    add_site(world.db, world.admin, "S09", "N" * 200)
    create_user(world.db, world.admin, "long.name", "F" * 200, PASSWORD,
                email="x" * 242 + "@example.org")
