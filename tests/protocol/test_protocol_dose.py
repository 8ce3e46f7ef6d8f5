"""The dose engine: arithmetic in plain units, route limits, and implausible-dose warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_testkit import DELETE, IC_PROTOCOL, IV_PROTOCOL, LITERAL_SLIP, REFERENCE, edit

from strokecell.errors import InputError, NotFoundError
from strokecell.protocol import (
    compute_adhoc_dose,
    compute_dose,
    default_limits,
    dose_plan,
    load_protocol,
    parse_protocol,
)

Edited = Callable[..., dict[str, Any]]


def codes(plan: Any) -> list[str]:
    return [w.code for w in plan.warnings]


def test_reference_case_dose() -> None:
    # 1.5 mL × 2.0×10⁷ cells/mL = 3.0×10⁷ cells, once; 1.5 mL at 0.5 mL/min = 3 min;
    # at 70 kg 3.0×10⁷ / 70 = 4.29×10⁵ cells/kg.
    plan = compute_dose(load_protocol(REFERENCE), "transplant", 70)
    assert plan.cells_per_administration == pytest.approx(3.0e7)
    assert plan.total_cells == pytest.approx(3.0e7)
    assert plan.volume_ml == pytest.approx(1.5)
    assert plan.concentration_cells_per_ml == pytest.approx(2.0e7)
    assert plan.infusion_minutes == pytest.approx(3.0)
    assert plan.cells_per_kg == pytest.approx(3.0e7 / 70)
    assert plan.regimen == "fixed"
    assert plan.warnings == ()


def test_iv_per_kg_dose() -> None:
    # 70 kg × 1.0×10⁶ cells/kg = 7.0×10⁷ cells per infusion; × 3 infusions = 2.1×10⁸;
    # at 1.0×10⁶ cells/mL that is 70 mL, at 1.5 mL/min 46.7 min.
    plan = compute_dose(load_protocol(IV_PROTOCOL), "msc_iv", 70)
    assert plan.cells_per_administration == pytest.approx(7.0e7)
    assert plan.total_cells == pytest.approx(2.1e8)
    assert plan.administrations == 3 and plan.interval_days == 7
    assert plan.volume_ml == pytest.approx(70.0)
    assert plan.infusion_minutes == pytest.approx(70 / 1.5)
    assert plan.cells_per_kg == pytest.approx(1.0e6)
    assert plan.warnings == ()


def test_intracerebral_fixed_dose_gives_concentration() -> None:
    # 2.0×10⁷ cells in 200 µL (10 deposits × 20 µL) = 1.0×10⁸ cells/mL; 200 µL at 10 µL/min
    # = 20 min; the per-kg figure at 80 kg is 2.5×10⁵.
    plan = compute_dose(load_protocol(IC_PROTOCOL), "nsc_ic", 80)
    assert plan.volume_ml == pytest.approx(0.2)
    assert plan.concentration_cells_per_ml == pytest.approx(1.0e8)
    assert plan.infusion_minutes == pytest.approx(20.0)
    assert plan.deposits == 10 and plan.volume_per_deposit_ml == pytest.approx(0.02)
    assert plan.cells_per_kg == pytest.approx(2.5e5)
    assert plan.warnings == ()


def test_per_kg_with_fixed_volume_gives_the_concentration(edited: Edited) -> None:
    # 1.0×10⁶ cells/kg × 60 kg = 6.0×10⁷ cells in a fixed 1.5 mL = 4.0×10⁷ cells/mL.
    data = edited("arms[0].dose.concentration", DELETE, "arms[0].dose.per_kg", "1e6 cells/kg")
    plan = compute_dose(parse_protocol(data), "transplant", 60)
    assert plan.cells_per_administration == pytest.approx(6.0e7)
    assert plan.concentration_cells_per_ml == pytest.approx(4.0e7)
    assert plan.volume_ml == pytest.approx(1.5)


def test_literal_unit_slip_is_flagged_with_the_likely_fix() -> None:
    # "2.0×10⁷ L⁻¹" read literally: 2.0×10⁴ cells/mL × 1.5 mL = 3.0×10⁴ cells, against a
    # lowest published IA dose of 2.2×10⁷ (Friedrich 2012): 2.2e7 / 3e4 ≈ 733 → "≈730×".
    plan = compute_dose(load_protocol(LITERAL_SLIP), "transplant", 70)
    assert plan.cells_per_administration == pytest.approx(3.0e4)
    (warning,) = plan.warnings
    assert warning.code == "implausible_dose"
    assert "3.0×10⁴ cells" in warning.message
    assert "below the plausible intra-arterial range" in warning.message
    assert "≈730× below the lowest published intra-arterial dose" in warning.message
    assert "Likely unit slip" in warning.message and "'per mL'" in warning.message
    assert "3.0×10⁷ cells" in warning.message
    assert warning.low == pytest.approx(1.0e6) and warning.source


def test_protocol_dose_plan_over_reference_weights() -> None:
    plans = dose_plan(load_protocol(LITERAL_SLIP))
    assert [p.weight_kg for p in plans] == [50.0, 70.0, 90.0]
    assert all(codes(p) == ["implausible_dose"] for p in plans)
    assert dose_plan(load_protocol(REFERENCE), weights=[60])[0].warnings == ()


@pytest.mark.parametrize(("route", "regimen", "weight", "expected"), [
    # 10× too many cells for IV: 1.2e10 > 1.2e9 and 1.7e8/kg > 1e7/kg
    ("intravenous", {"total_cells": "1.2e10 cells", "volume": "250 mL"}, 70, "above"),
    # a fixed 1.2e9 IV at 50 kg is 2.4e7/kg (above per-kg) but within the fixed range: fine
    ("intravenous", {"total_cells": "1.2e9 cells", "volume": "250 mL"}, 50, None),
    # 1e5/kg × 70 kg = 7e6 IV: below both conventions
    ("intravenous", {"per_kg": "1e5 cells/kg", "concentration": "1e6 cells/mL"}, 70, "below"),
    # intranasal 4.5e7 (PASSIoN) is plausible, 4.5e8 is not
    ("intranasal", {"total_cells": "4.5e7 cells", "volume": "1 mL"}, None, None),
    ("intranasal", {"total_cells": "4.5e8 cells", "volume": "1 mL"}, None, "above"),
    # intracerebral 2.3e9 into the cavity (Li 2013) is within range, 5e9 is not
    ("intracerebral", {"total_cells": "2.3e9 cells", "volume": "3.5 mL"}, None, None),
    ("intracerebral", {"total_cells": "5e9 cells", "volume": "3.5 mL"}, None, "above"),
    # intrathecal 1e6/kg (Sharma 2014) fine; no published intraventricular dose: no judgement
    ("intrathecal", {"per_kg": "1e6 cells/kg", "volume": "5 mL"}, 70, None),
    ("intraventricular", {"total_cells": "1 cells", "volume": "1 mL"}, None, None),
])
def test_plausible_ranges_by_route(route: str, regimen: dict[str, str], weight: float | None,
                                   expected: str | None) -> None:
    plan = compute_adhoc_dose(route, weight_kg=weight, **regimen)
    implausible = [w for w in plan.warnings if w.code == "implausible_dose"]
    if expected is None:
        assert implausible == []
    else:
        (warning,) = implausible
        assert f"is {expected} the plausible" in warning.message


def test_intra_arterial_requires_protocol_limits_and_rate() -> None:
    plan = compute_adhoc_dose("intra_arterial", concentration="2e7 cells/mL", volume="1.5 mL")
    assert codes(plan) == ["missing_protocol_limit", "missing_protocol_limit", "missing_rate"]
    assert plan.cells_per_administration == pytest.approx(3.0e7)
    assert plan.cells_per_kg is None  # no weight given


def test_volume_and_rate_above_protocol_limits(edited: Edited) -> None:
    data = edited("arms[0].dose.volume", "3 mL", "arms[0].dose.rate", "1 mL/min")
    plan = compute_dose(parse_protocol(data), "transplant", 70)
    assert codes(plan) == ["volume_above_limit", "rate_above_limit"]
    assert "protocol" in plan.warnings[0].message or "reference protocol" in (
        plan.warnings[0].source or "")
    assert plan.warnings[0].high == pytest.approx(2.0)


def test_route_limit_overrides_replace_defaults(edited: Edited) -> None:
    # The default IA floor (1e6 cells) passes 3e7; a protocol floor of 5e7 does not.
    base = parse_protocol(edited())
    assert compute_dose(base, "transplant", 70).warnings == ()
    data = edited("arms[0].route.limits.min_cells", "5e7 cells",
                  "arms[0].route.limits.min_per_kg", "1e6 cells/kg")
    plan = compute_dose(parse_protocol(data), "transplant", 70)
    (warning,) = plan.warnings
    assert warning.low == pytest.approx(5e7)
    assert warning.source == "reference protocol safety limits [A]; domain/README.md §7"
    assert plan.limits["max_cells"].value == default_limits("intra_arterial").limits[
        "max_cells"].value


def test_adhoc_limit_overrides() -> None:
    plan = compute_adhoc_dose("intra_arterial", concentration="2e7 cells/mL", volume="1.5 mL",
                              rate="0.5 mL/min", limits={"max_volume": "1 mL",
                                                         "max_rate": "1 mL/min"})
    assert codes(plan) == ["volume_above_limit"]


def test_deposit_volume_above_default_limit(shipped_data: dict[str, Any]) -> None:
    # 10 deposits of 150 µL exceed the default 100 µL per deposit (§7, [K]).
    data = edit(shipped_data["ic-stereotactic-chronic"], "arms[0].route.volume_per_deposit",
                "150 µL")
    data = edit(data, "arms[0].dose.volume", "1.5 mL")
    plan = compute_dose(parse_protocol(data), "nsc_ic", 70)
    assert codes(plan) == ["volume_per_deposit_above_limit"]


@pytest.mark.parametrize("weight", [29.9, 250.1, 7, 700, float("nan")])
def test_implausible_weight_is_an_error(weight: float) -> None:
    with pytest.raises(InputError) as info:
        compute_dose(load_protocol(IV_PROTOCOL), "msc_iv", weight)
    assert info.value.problems[0].location == "weight_kg"
    assert info.value.problems[0].allowed == "30-250 kg"


def test_per_kg_dose_needs_a_weight() -> None:
    with pytest.raises(InputError, match="required for a per-kg dose"):
        compute_dose(load_protocol(IV_PROTOCOL), "msc_iv", None)


def test_control_arm_and_unknown_arm() -> None:
    protocol = load_protocol(REFERENCE)
    with pytest.raises(InputError, match="control arm"):
        compute_dose(protocol, "control", 70)
    with pytest.raises(NotFoundError, match="no arm 'placebo'"):
        compute_dose(protocol, "placebo", 70)


def test_adhoc_errors_are_all_reported() -> None:
    with pytest.raises(InputError) as info:
        compute_adhoc_dose("intravenous", weight_kg=500, concentration="2e7",
                           volume="1.5 mL", limits={"max_volume": "lots"})
    assert {p.location for p in info.value.problems} == {
        "weight_kg", "concentration", "limits.max_volume"}
    with pytest.raises(InputError, match="route"):
        compute_adhoc_dose("oral", total_cells="1e6 cells", volume="1 mL")


def test_plan_to_dict_has_plain_units() -> None:
    payload = compute_dose(load_protocol(REFERENCE), "transplant", 70).to_dict()
    assert payload["cells_per_administration"] == 3.0e7
    assert payload["total_cells"] == 3.0e7
    assert payload["volume_ml"] == 1.5
    assert payload["infusion_minutes"] == 3.0
    assert payload["concentration_cells_per_ml"] == 2.0e7
    assert payload["warnings"] == []
    assert payload["limits"]["max_volume"] == {
        "value": 2.0, "unit": "mL", "source": "reference protocol safety limits [A]; "
        "domain/README.md §7"}


# No deadline: the first example may build the pint registry (a one-off ~0.2 s).
@settings(deadline=None)
@given(weight=st.floats(min_value=30, max_value=250),
       factor=st.floats(min_value=0.5, max_value=4.0))
def test_per_kg_dose_scales_linearly_with_weight(weight: float, factor: float) -> None:
    regimen = {"per_kg": "1e6 cells/kg", "concentration": "1e6 cells/mL",
               "administrations": 3, "interval_days": 7}
    other = min(250.0, max(30.0, weight * factor))
    a = compute_adhoc_dose("intravenous", weight_kg=weight, **regimen)
    b = compute_adhoc_dose("intravenous", weight_kg=other, **regimen)
    assert b.total_cells / a.total_cells == pytest.approx(other / weight, rel=1e-9)
    assert b.volume_ml is not None and a.volume_ml is not None
    assert b.volume_ml / a.volume_ml == pytest.approx(other / weight, rel=1e-9)
    assert a.total_cells == pytest.approx(3 * 1e6 * weight, rel=1e-12)


# No deadline: the first example may build the pint registry (a one-off ~0.2 s).
@settings(deadline=None)
@given(weight=st.floats(min_value=30, max_value=250))
def test_fixed_dose_does_not_depend_on_weight(weight: float) -> None:
    plan = compute_adhoc_dose("intra_arterial", weight_kg=weight, concentration="2e7 cells/mL",
                              volume="1.5 mL", rate="0.5 mL/min")
    assert plan.cells_per_administration == pytest.approx(3.0e7)
    assert plan.cells_per_kg == pytest.approx(3.0e7 / weight)
