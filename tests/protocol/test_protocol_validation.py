"""Protocol validation: every field's checks, unknown keys, all problems reported together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from protocol_testkit import DELETE, IC_PROTOCOL, IV_PROTOCOL, edit

from strokecell.errors import ProtocolError
from strokecell.protocol import load_protocol, parse_protocol

Edited = Callable[..., dict[str, Any]]


def locations(data: Any) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data, source="test")
    return [p.location for p in info.value.problems]


# One row per check: (path in the reference protocol, bad value, location expected in the
# error). DELETE removes the key.
BAD_REFERENCE_INPUTS = [
    # study
    ("study.id", "sc lower", "study.id"),
    ("study.title", "", "study.title"),
    ("study.version", 1.0, "study.version"),
    ("study.condition", "stroke", "study.condition"),
    ("study.planned_n", 46, "study.planned_n"),
    ("study.sponsor", DELETE, "study.sponsor"),
    # arms
    ("arms[0].code", "Transplant", "arms[0].code"),
    ("arms[1].code", "transplant", "arms[1].code"),
    ("arms[0].type", "cells", "arms[0].type"),
    ("arms[0].ratio", 0, "arms[0].ratio"),
    ("arms[0].product", DELETE, "arms[0].product"),
    ("arms[1].type", "cell_therapy", "arms[1].product"),
    ("arms[0].type", "control", "arms[0].product"),
    # cell product
    ("arms[0].product.cell_type", "stem_cells", "arms[0].product.cell_type"),
    ("arms[0].product.source_tissue", "liver", "arms[0].product.source_tissue"),
    ("arms[0].product.source_tissue", "brain_fetal", "arms[0].product.source_tissue"),
    ("arms[0].product.origin", "autogenic", "arms[0].product.origin"),
    ("arms[0].product.viability_min_percent", 120, "arms[0].product.viability_min_percent"),
    ("arms[0].product.viability_min_percent", 0, "arms[0].product.viability_min_percent"),
    # timing
    ("arms[0].timing.min_days", -1, "arms[0].timing.min_days"),
    ("arms[0].timing.max_days", 5, "arms[0].timing.max_days"),
    ("arms[0].timing.phase", "chronic", "arms[0].timing.phase"),
    # route
    ("arms[0].route.kind", "IA", "arms[0].route.kind"),
    ("arms[0].route.target_vessel", DELETE, "arms[0].route.target_vessel"),
    ("arms[0].route.target_vessel", "aorta", "arms[0].route.target_vessel"),
    ("arms[0].route.deposits", 4, "arms[0].route.deposits"),
    ("arms[0].route.volume_per_deposit", "20 uL", "arms[0].route.volume_per_deposit"),
    ("arms[0].route.limits.max_volume", "2", "arms[0].route.limits.max_volume"),
    ("arms[0].route.limits.max_rate", "2 mL", "arms[0].route.limits.max_rate"),
    ("arms[0].route.limits.min_per_kg", "1e6 cells", "arms[0].route.limits.min_per_kg"),
    # dose regimen
    ("arms[0].dose.concentration", "2.0e7", "arms[0].dose.concentration"),
    ("arms[0].dose.concentration", 2.0e7, "arms[0].dose.concentration"),
    ("arms[0].dose.concentration", "1.5 mL", "arms[0].dose.concentration"),
    ("arms[0].dose.concentration", "2e7 bananas/mL", "arms[0].dose.concentration"),
    ("arms[0].dose.concentration", "-2e7 cells/mL", "arms[0].dose.concentration"),
    ("arms[0].dose.volume", "1.5 cells", "arms[0].dose.volume"),
    ("arms[0].dose.rate", "0.5 mL", "arms[0].dose.rate"),
    ("arms[0].dose.volume", DELETE, "arms[0].dose.per_kg"),
    ("arms[0].dose.total_cells", "5e7 cells", "arms[0].dose.total_cells"),
    ("arms[0].dose.per_kg", "1e6 cells/kg", "arms[0].dose.volume"),
    ("arms[0].dose.per_kg", "1e6 cells", "arms[0].dose.per_kg"),
    ("arms[0].dose.administrations", 2, "arms[0].dose.interval_days"),
    ("arms[0].dose.interval_days", 7, "arms[0].dose.interval_days"),
    ("arms[0].dose.administrations", 0, "arms[0].dose.administrations"),
    # schedule
    ("schedule.day_zero", "onset", "schedule.day_zero"),
    ("schedule.visits[1].code", "baseline", "schedule.visits[1].code"),
    ("schedule.visits[1].month", DELETE, "schedule.visits[1].day"),
    ("schedule.visits[1].day", 30, "schedule.visits[1].day"),
    ("schedule.visits[2].month", 0.5, "schedule.visits[2]"),
    ("schedule.visits[2].window_minus_days", 70, "schedule.visits[2].window_minus_days"),
    ("schedule.visits[0].baseline", False, "schedule.visits"),
    ("schedule.visits[0].window_plus_days", -1, "schedule.visits[0].window_plus_days"),
    ("schedule.visits[0].label", DELETE, "schedule.visits[0].label"),
    # endpoints
    ("endpoints[0].instrument", "mbi2", "endpoints[0].instrument"),
    ("endpoints[0].visits", ["month_13"], "endpoints[0].visits[0]"),
    ("endpoints[0].visits", ["baseline"], "endpoints[0].visits[0]"),
    ("endpoints[0].visits", [], "endpoints[0].visits"),
    ("endpoints[0].visits", ["month_12", "month_12"], "endpoints[0].visits"),
    ("endpoints[0].role", "secondary", "endpoints"),
    ("endpoints[1].role", "primary", "endpoints"),
    ("endpoints[0].role", "tertiary", "endpoints[0].role"),
    ("endpoints[0].order", DELETE, "endpoints[0].order"),
    ("endpoints[1].order", 1, "endpoints[1].order"),
    ("endpoints[0].variable", "delta", "endpoints[0].variable"),
    ("endpoints[6].variable", "change_from_baseline", "endpoints[6].variable"),
    # randomization
    ("randomization.method", "urn", "randomization.method"),
    ("randomization.block_sizes", [3], "randomization.block_sizes[0]"),
    ("randomization.block_sizes", [1], "randomization.block_sizes[0]"),
    ("randomization.block_sizes", DELETE, "randomization.block_sizes"),
    ("randomization.stratify_by", ["site"], "randomization.stratify_by[0]"),
    ("randomization.random_element", 0.8, "randomization.random_element"),
    ("randomization.strata[0].levels", ["only"], "randomization.strata[0].levels"),
    # eligibility
    ("eligibility.age_min_years", 80, "eligibility.age_max_years"),
    ("eligibility.age_max_years", 130, "eligibility.age_max_years"),
    ("eligibility.stroke_types", ["ischaemic_stroke"], "eligibility.stroke_types"),
    ("eligibility.stroke_types", ["sah"], "eligibility.stroke_types[0]"),
    ("eligibility.onset_max_days", 3, "eligibility.onset_max_days"),
    ("eligibility.baseline_severity[0].instrument", "barthel",
     "eligibility.baseline_severity[0].instrument"),
    ("eligibility.baseline_severity[0].min", 80, "eligibility.baseline_severity[0].max"),
    ("eligibility.consent_required", "perhaps", "eligibility.consent_required"),
    # analysis
    ("analysis.primary_model", "anova", "analysis.primary_model"),
    ("analysis.covariance", "unstructured", "analysis.covariance"),
    ("analysis.covariance_fallback", ["us"], "analysis.covariance_fallback"),
    ("analysis.df_method", "kr", "analysis.df_method"),
    ("analysis.alpha", 0.5, "analysis.alpha"),
    # sections
    ("study", DELETE, "study"),
    ("arms", [], "arms"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD_REFERENCE_INPUTS,
                         ids=[f"{p}={v!r}" for p, v, _ in BAD_REFERENCE_INPUTS])
def test_bad_input_is_reported_at_its_path(edited: Edited, path: str, value: Any,
                                           expected: str) -> None:
    assert expected in locations(edited(path, value))


def _yaml_data(path: Any) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


BAD_IC_INPUTS = [
    ("arms[0].route.deposits", DELETE, "arms[0].route.deposits"),
    ("arms[0].route.volume_per_deposit", DELETE, "arms[0].route.volume_per_deposit"),
    ("arms[0].route.deposits", 0, "arms[0].route.deposits"),
    ("arms[0].dose.volume", "300 µL", "arms[0].dose.volume"),  # 10 × 20 µL = 200 µL
    ("arms[0].route.target_vessel", "middle_cerebral_artery", "arms[0].route.target_vessel"),
    ("arms[0].dose.total_cells", DELETE, "arms[0].dose.per_kg"),  # volume alone: no number
]
BAD_IV_INPUTS = [
    ("arms[0].dose.concentration", DELETE, "arms[0].dose.concentration"),
    ("arms[0].dose.interval_days", DELETE, "arms[0].dose.interval_days"),
    ("arms[0].dose.interval_days", 0, "arms[0].dose.interval_days"),
    ("arms[0].timing.phase", "acute", "arms[0].timing.phase"),
    ("randomization.random_element", DELETE, "randomization.random_element"),
    ("randomization.random_element", 0.4, "randomization.random_element"),
    ("randomization.stratify_by", [], "randomization.stratify_by"),
    ("randomization.block_sizes", [3], "randomization.block_sizes"),
]


@pytest.mark.parametrize(("file", "path", "value", "expected"),
                         [(IC_PROTOCOL, *row) for row in BAD_IC_INPUTS]
                         + [(IV_PROTOCOL, *row) for row in BAD_IV_INPUTS],
                         ids=[f"ic:{p}" for p, _, _ in BAD_IC_INPUTS]
                         + [f"iv:{p}" for p, _, _ in BAD_IV_INPUTS])
def test_route_specific_checks(file: Any, path: str, value: Any, expected: str) -> None:
    assert expected in locations(edit(_yaml_data(file), path, value))


def test_block_sizes_must_be_multiples_of_the_ratio_sum(shipped_data: Any) -> None:
    # IV protocol: ratio 2:1, sum 3; a block of 4 cannot hold it, 6 can.
    data = edit(shipped_data["iv-msc-ischaemic"], "randomization.method", "stratified_block")
    data = edit(data, "randomization.random_element", DELETE)
    assert "randomization.block_sizes[0]" in locations(edit(data, "randomization.block_sizes",
                                                            [4]))
    parse_protocol(edit(data, "randomization.block_sizes", [3, 6]))


@pytest.mark.parametrize(("path", "typo", "suggestion"), [
    ("arms[0].dose", "concentratoin", "concentration"),
    ("arms[0].route", "target_vesel", "target_vessel"),
    ("study", "registry", "registry_id"),
    ("", "endpoint", "endpoints"),
    ("schedule.visits[1]", "window_plus", "window_plus_days"),
    ("arms[0].route.limits", "max_vol", "max_volume"),
])
def test_unknown_key_is_an_error_with_the_close_match(
        reference_data: dict[str, Any], path: str, typo: str, suggestion: str) -> None:
    data = edit(reference_data, f"{path}.{typo}" if path else typo, "x")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data)
    (problem,) = [p for p in info.value.problems if p.location.endswith(typo)]
    assert f"did you mean {suggestion!r}" in problem.message
    assert suggestion in (problem.allowed or "")


def test_every_problem_is_reported_together(edited: Edited) -> None:
    data = edited(
        "arms[0].dose.concentration", "2.0e7",               # bare number
        "arms[0].route.target_vessel", "middle_cerebal_artery",  # typo in a code
        "arms[0].timing.max_days", 8,                        # window ends before it starts
        "endpoints[4].visits", ["month_13"],                 # unknown visit
        "randomization.stratify_by", ["site"],               # unknown stratum
        "eligibility.age_min_years", 90,                     # min > max
        "analysis.alfa", 0.05,                               # unknown key
    )
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data)
    found = {p.location for p in info.value.problems}
    assert found >= {
        "arms[0].dose.concentration", "arms[0].route.target_vessel", "arms[0].timing.max_days",
        "endpoints[4].visits[0]", "randomization.stratify_by[0]", "eligibility.age_max_years",
        "analysis.alfa"}
    assert len(info.value.problems) == 7


def test_problem_names_value_and_what_is_allowed(edited: Edited) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(edited("arms[0].dose.volume", "1.5"))
    (problem,) = info.value.problems
    assert problem.location == "arms[0].dose.volume"
    assert problem.value == "1.5"
    assert "no unit" in problem.message and "volume" in problem.message
    assert problem.allowed and "mL" in problem.allowed


def test_problems_carry_yaml_line_numbers(reference_text: str) -> None:
    text = reference_text.replace("volume: 1.5 mL", "volume: 1.5").replace(
        "visits: [month_3, month_12]", "visits: [month_3, month_13]")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, source="ref.yaml")
    lines = text.splitlines()
    for problem in info.value.problems:
        line = problem.to_dict()["line"]
        assert line is not None
        key = problem.location.rsplit(".", 1)[-1].split("[")[0]
        assert key in lines[line - 1], (problem, lines[line - 1])
    assert "(line " in str(info.value)
    assert info.value.context == "ref.yaml"


def test_duplicate_yaml_key_is_an_error(reference_text: str) -> None:
    text = reference_text.replace("volume: 1.5 mL", "volume: 1.5 mL\n      volume: 15 mL")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text)
    assert [p.location for p in info.value.problems] == ["arms[0].dose.volume"]
    assert "twice" in info.value.problems[0].message


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("- just\n- a list\n", "mapping"),
    ("study: [unclosed\n", "not valid YAML"),
])
def test_not_a_protocol(text: str, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment):
        parse_protocol(text)


def test_missing_file_is_a_protocol_error(tmp_path: Any) -> None:
    with pytest.raises(ProtocolError, match="cannot read"):
        load_protocol(tmp_path / "nope.yaml")


def test_errors_serialise_for_json(edited: Edited) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(edited("arms[0].dose.rate", "fast"), source="x.yaml")
    payload = info.value.to_dict()
    assert payload["error"] == "ProtocolError"
    assert payload["problems"][0]["location"] == "arms[0].dose.rate"
    assert set(payload["problems"][0]) >= {"location", "message", "value", "allowed"}
