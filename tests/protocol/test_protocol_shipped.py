"""The shipped protocols load; phases, limits data and the model's conveniences."""

from __future__ import annotations

from pathlib import Path

import pytest
from protocol_testkit import IC_PROTOCOL, IV_PROTOCOL, LITERAL_SLIP, REFERENCE, SHIPPED

from strokecell.errors import NotFoundError
from strokecell.protocol import ENDPOINT_INSTRUMENT_CODES, default_limits, load_protocol
from strokecell.protocol.codes import ROUTE_KINDS
from strokecell.protocol.limits import LIMIT_KINDS
from strokecell.protocol.phases import phase_of_day, phases_of_window


@pytest.mark.parametrize("path", [*SHIPPED, LITERAL_SLIP], ids=lambda p: Path(p).name)
def test_shipped_protocol_loads(path: Path) -> None:
    protocol = load_protocol(path)
    assert protocol.cell_therapy_arms
    assert protocol.primary_endpoint.order == 1


def test_reference_protocol_matches_the_source_case() -> None:
    # domain/README.md §8: 45 ICH patients, 22 transplant vs 23 control, hUC-MSC after
    # 10-18 days of routine care, FM and MBI at 1, 3, 6, 12 months.
    p = load_protocol(REFERENCE)
    assert p.study.condition == "intracerebral_haemorrhage"
    assert p.study.planned_n == 45
    assert p.allocation_ratio == {"transplant": 1, "control": 1}
    arm = p.arm("transplant")
    assert arm.planned_n == 22 and p.arm("control").planned_n == 23
    assert arm.product is not None and arm.product.source_tissue == "umbilical_cord"
    assert arm.product.origin == "allogeneic"
    assert arm.route is not None and arm.route.target_vessel == "middle_cerebral_artery"
    assert arm.dose is not None and arm.dose.concentration is not None
    assert arm.dose.concentration.text == "2.0e7 cells/mL"
    assert arm.dose.volume is not None and arm.dose.volume.value == 1.5
    assert arm.timing is not None and (arm.timing.min_days, arm.timing.max_days) == (10, 18)
    assert arm.timing.derived_phase == "subacute"
    assert [v.code for v in p.schedule.visits] == [
        "baseline", "month_1", "month_3", "month_6", "month_12"]
    assert p.schedule.baseline.code == "baseline"
    assert p.visit("month_12").target_day == 365
    primary = p.primary_endpoint
    assert (primary.instrument, primary.variable, primary.visits) == (
        "mbi", "change_from_baseline", ["month_12"])
    assert [e.instrument for e in p.tested_endpoints] == ["mbi", "fma_total"]
    assert {e.instrument for e in p.endpoints} >= {
        "nihss", "mrs", "lesion_volume", "adverse_events"}


def test_other_shipped_protocols() -> None:
    iv = load_protocol(IV_PROTOCOL).arm("msc_iv")
    assert iv.route is not None and iv.route.kind == "intravenous"
    assert iv.dose is not None and iv.dose.per_kg is not None and iv.dose.per_kg.value == 1e6
    assert iv.dose.administrations == 3 and iv.dose.interval_days == 7
    assert iv.timing is not None and iv.timing.derived_phase == "subacute"
    ic = load_protocol(IC_PROTOCOL).arm("nsc_ic")
    assert ic.route is not None and ic.route.kind == "intracerebral"
    assert ic.timing is not None and ic.timing.derived_phase == "chronic"


def test_lookup_errors_name_the_choices() -> None:
    p = load_protocol(REFERENCE)
    with pytest.raises(NotFoundError, match="transplant, control"):
        p.arm("treatment")
    with pytest.raises(NotFoundError, match="month_12"):
        p.visit("month_24")


@pytest.mark.parametrize(("day", "phase"), [
    (0, "hyperacute"), (0.99, "hyperacute"), (1, "acute"), (7, "acute"),
    (7.01, "early_subacute"), (90, "early_subacute"), (91, "late_subacute"),
    (180, "late_subacute"), (181, "chronic"), (3650, "chronic"),
])
def test_phase_boundaries(day: float, phase: str) -> None:
    # Bernhardt 2017 SRRR: hyperacute <24 h, acute 1-7 d, early subacute 7 d-3 mo,
    # late subacute 3-6 mo, chronic >6 mo (months as 30 days).
    assert phase_of_day(day) == phase


def test_window_across_a_boundary_lists_every_phase() -> None:
    assert phases_of_window(1.0, 2.0) == ("acute",)  # MASTERS 24-48 h
    assert phases_of_window(5, 30) == ("acute", "early_subacute")
    assert phases_of_window(0.5, 200) == (
        "hyperacute", "acute", "early_subacute", "late_subacute", "chronic")


@pytest.mark.parametrize("route", ROUTE_KINDS)
def test_every_route_has_defaults_with_sources(route: str) -> None:
    limits = default_limits(route)
    assert set(limits.limits) <= set(LIMIT_KINDS)
    for limit in limits.limits.values():
        assert limit.source.strip()
    for low, high in (("min_cells", "max_cells"), ("min_per_kg", "max_per_kg")):
        if low in limits.limits and high in limits.limits:
            assert limits.limits[low].value <= limits.limits[high].value
    assert limits.notes or limits.limits


def test_published_ranges_from_domain_notes() -> None:
    # domain/README.md §7: IV 5×10⁷-1.2×10⁹ (Bang; TREASURE), IA up to 5×10⁶/kg (IBIS),
    # intranasal 45-50×10⁶ (PASSIoN), intracerebral up to 2.3×10⁹ (Li 2013).
    assert default_limits("intravenous").limits["max_cells"].value == 1.2e9
    assert default_limits("intra_arterial").limits["max_per_kg"].value == 5e6
    assert default_limits("intranasal").limits["min_cells"].value == 4.5e7
    assert default_limits("intracerebral").limits["max_cells"].value == 2.3e9
    assert default_limits("intra_arterial").required_protocol_limits == (
        "max_volume", "max_rate")


def test_instrument_codes_list() -> None:
    assert {"mbi", "fma_total", "nihss", "mrs", "lesion_volume", "adverse_events",
            "bdnf", "caspase3"} <= set(ENDPOINT_INSTRUMENT_CODES)
    assert len(set(ENDPOINT_INSTRUMENT_CODES)) == len(ENDPOINT_INSTRUMENT_CODES)


def test_direct_model_validation_also_checks_cross_references(
        reference_data: dict[str, object]) -> None:
    # Protocol.model_validate (not via the loader) still refuses an unknown visit code.
    import copy

    from pydantic import ValidationError

    from strokecell.protocol import Protocol
    from strokecell.protocol.loading import problems_from_validation

    data = copy.deepcopy(reference_data)
    data["endpoints"][4]["visits"] = ["month_13"]  # type: ignore[index]
    with pytest.raises(ValidationError) as info:
        Protocol.model_validate(data)
    (problem,) = problems_from_validation(info.value, data)
    assert problem.location == "endpoints[4].visits[0]"


def test_protocol_layer_imports_only_errors_from_strokecell() -> None:
    # DESIGN.md: protocol/ may import nothing of strokecell but strokecell.errors.
    import re

    root = Path(__file__).resolve().parents[2] / "src" / "strokecell" / "protocol"
    for file in root.rglob("*.py"):
        for module in re.findall(r"^\s*(?:from|import) (strokecell[\w.]*)",
                                 file.read_text(encoding="utf-8"), re.M):
            assert module.startswith(("strokecell.protocol", "strokecell.errors")), (
                file, module)
