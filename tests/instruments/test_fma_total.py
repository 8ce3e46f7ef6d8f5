"""Fugl-Meyer motor total (FMMS, ``fma_total``): a composite of ``fma_ue`` and ``fma_le``.

Expected values, worked by hand from the published maxima: the UE motor maximum is 66 (33
items) and the LE motor maximum 34 (17 items) [V: RehabMeasures mirror, NCT02448641]; "the
total FMMS used in ACTIsSIMA is UE + LE = 100" [V: NCT02448641] (domain/README.md §2).
Section maxima as in domain/README.md §2.1-2.2 (UE A 36 = I 4 + II 18 + III 6 + IV 6 + V 2,
B 10, C 14, D 6; LE E 28 = I 4 + II 14 + III 4 + IV 4 + V 2, F 6); V is scored only when IV
is full (UE IV = 6, LE IV = 4), otherwise it is 0.

The composite machinery itself (namespacing, missing components, cycles, a wrong maximum,
nesting) is exercised on throw-away scale files in a temporary scales directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B.questionnaire import Questionnaire
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from strokecell.cli import app
from strokecell.errors import ScoringError
from strokecell.instruments import (
    CompositeInstrument,
    Instrument,
    ScaleFileError,
    _loader,
    load_instrument,
    to_fhir_questionnaire,
)
from strokecell.instruments._schema import GatedBySectionRule, ScaleFile, Section

Factory = Callable[..., dict[str, Any]]

UE_SECTIONS = {"a": 36, "a_i": 4, "a_ii": 18, "a_iii": 6, "a_iv": 6, "a_v": 2,
               "b": 10, "c": 14, "d": 6}
LE_SECTIONS = {"e": 28, "e_i": 4, "e_ii": 14, "e_iii": 4, "e_iv": 4, "e_v": 2, "f": 6}
FULL_SUBTOTALS = {"fma_ue": 66, **{f"fma_ue.{k}": v for k, v in UE_SECTIONS.items()},
                  "fma_le": 34, **{f"fma_le.{k}": v for k, v in LE_SECTIONS.items()}}


def _fma_total() -> CompositeInstrument:
    instrument = load_instrument("fma_total")
    assert isinstance(instrument, CompositeInstrument)
    return instrument


# -- the shipped definition ---------------------------------------------------------------


def test_definition_is_a_composite_of_ue_and_le() -> None:
    fma = _fma_total()
    ue, le = load_instrument("fma_ue"), load_instrument("fma_le")
    assert fma.kind == "composite"
    assert fma.definition.components == ("fma_ue", "fma_le")
    assert fma.components == (ue, le)  # the cached component instruments themselves
    assert fma.max_total == 100  # 66 + 34 [V: NCT02448641]
    # The item codes of the two components are distinct, so they are kept as they are.
    assert not set(ue.item_codes) & set(le.item_codes)
    assert fma.namespaced is False
    assert fma.item_codes == ue.item_codes + le.item_codes
    assert len(fma.item_codes) == 50  # 33 + 17
    assert fma.locate("e5_normal_reflexes") == ("fma_le", "e5_normal_reflexes")
    assert fma.item("a1_flexors") is ue.item("a1_flexors")


def test_full_score_is_100_with_component_and_section_subtotals(
        fma_ue_items: Factory, fma_le_items: Factory) -> None:
    result = _fma_total().score({**fma_ue_items(), **fma_le_items()})
    assert (result.total, result.max_total) == (100, 100)  # 66 + 34
    assert result.subtotals == FULL_SUBTOTALS
    assert result.instrument == "fma_total" and result.band is None and result.mode is None
    assert result.warnings == () and result.derived == ()


def test_zero_score_derives_both_section_v_items() -> None:
    fma = _fma_total()
    items = {code: 0 for code in fma.item_codes
             if code not in {"a5_normal_reflexes", "e5_normal_reflexes"}}
    result = fma.score(items)
    # IV is 0 on both sides, so both V items are 0 by rule and listed as derived.
    assert result.total == 0 and result.max_total == 100
    assert result.derived == ("a5_normal_reflexes", "e5_normal_reflexes")
    assert result.items["a5_normal_reflexes"] == 0 and result.items["e5_normal_reflexes"] == 0


def _worked_example() -> dict[str, Any]:
    ue: dict[str, Any] = {
        "a1_flexors": 2, "a1_extensors": 2,                                   # A.I   4
        **dict.fromkeys([
            "a2_shoulder_retraction", "a2_shoulder_elevation", "a2_shoulder_abduction",
            "a2_shoulder_external_rotation", "a2_elbow_flexion", "a2_forearm_supination",
            "a2_shoulder_adduction_internal_rotation", "a2_elbow_extension",
            "a2_forearm_pronation"], 1),                                      # A.II  9
        "a3_hand_to_lumbar_spine": 2, "a3_shoulder_flexion_0_90": 1,
        "a3_pronation_supination_elbow_90": 0,                                # A.III 3
        "a4_shoulder_abduction_0_90": 1, "a4_shoulder_flexion_90_180": 0,
        "a4_pronation_supination_elbow_0": 0,                                 # A.IV  1
        # a5_normal_reflexes omitted: A.IV = 1 < 6, so A.V = 0 by rule       # A.V   0
        **dict.fromkeys([
            "b_wrist_stability_elbow_90", "b_wrist_flexion_extension_elbow_90",
            "b_wrist_stability_elbow_0", "b_wrist_flexion_extension_elbow_0",
            "b_wrist_circumduction"], 1),                                     # B     5
        "c_mass_flexion": 2, **dict.fromkeys([
            "c_mass_extension", "c_grasp_a_hook", "c_grasp_b_thumb_adduction",
            "c_grasp_c_pincer", "c_grasp_d_cylinder", "c_grasp_e_spherical"], 1),  # C 8
        "d_tremor": 1, "d_dysmetria": 1, "d_time": 0,                         # D     2
    }
    le: dict[str, Any] = {
        "e1_knee_flexors": 2, "e1_patellar_achilles": 0,                      # E.I   2
        **dict.fromkeys([
            "e2_hip_flexion", "e2_knee_flexion", "e2_ankle_dorsiflexion", "e2_hip_extension",
            "e2_hip_adduction", "e2_knee_extension", "e2_ankle_plantar_flexion"], 2),  # 14
        "e3_knee_flexion_beyond_90": 2, "e3_ankle_dorsiflexion": 2,           # E.III 4
        "e4_knee_flexion_to_90": 2, "e4_ankle_dorsiflexion": 2,               # E.IV  4 (full)
        "e5_normal_reflexes": 1,                                              # E.V   1
        "f_tremor": 2, "f_dysmetria": 1, "f_time": 1,                         # F     4
    }
    return {**ue, **le}


def test_worked_example_total_61() -> None:
    # UE: A = 4 + 9 + 3 + 1 + 0 = 17, B 5, C 8, D 2 -> 32.
    # LE: E = 2 + 14 + 4 + 4 + 1 = 25, F 4 -> 29.   FMMS = 32 + 29 = 61 of 100.
    result = _fma_total().score(_worked_example())
    assert result.total == 61 and result.max_total == 100
    assert result.subtotals == {
        "fma_ue": 32, "fma_ue.a": 17, "fma_ue.a_i": 4, "fma_ue.a_ii": 9, "fma_ue.a_iii": 3,
        "fma_ue.a_iv": 1, "fma_ue.a_v": 0, "fma_ue.b": 5, "fma_ue.c": 8, "fma_ue.d": 2,
        "fma_le": 29, "fma_le.e": 25, "fma_le.e_i": 2, "fma_le.e_ii": 14, "fma_le.e_iii": 4,
        "fma_le.e_iv": 4, "fma_le.e_v": 1, "fma_le.f": 4,
    }
    assert result.derived == ("a5_normal_reflexes",)
    assert list(result.items) == list(_fma_total().item_codes)  # scale order, UE then LE


def test_form_strings_are_accepted_as_for_the_components() -> None:
    items = {code: str(value) for code, value in _worked_example().items()}
    assert _fma_total().score(items).total == 61


# -- errors --------------------------------------------------------------------------------


def test_errors_of_both_components_are_reported_together(
        fma_ue_items: Factory, fma_le_items: Factory) -> None:
    items = {
        **fma_ue_items(a4_shoulder_flexion_90_180=1),     # A.IV 5 of 6, but A.V = 2 given
        **fma_le_items(e1_knee_flexors=1, f_time=None),   # reflex item off its {0, 2} grid
        "a1_flexor": 2,                                   # a typo
    }
    with pytest.raises(ScoringError) as info:
        _fma_total().score(items)
    err = info.value
    assert err.context == "fma_total"
    by_location = {p.location: p for p in err.problems}
    assert set(by_location) == {"a1_flexor", "a5_normal_reflexes", "e1_knee_flexors", "f_time"}
    assert "did you mean a1_flexors" in by_location["a1_flexor"].message
    ue_problem = by_location["a5_normal_reflexes"]
    assert ue_problem.message.startswith("[fma_ue] ") and "5 of 6" in ue_problem.message
    le_problem = by_location["e1_knee_flexors"]
    assert le_problem.message.startswith("[fma_le] ") and le_problem.allowed == "0, 2"
    assert by_location["f_time"].message.startswith("[fma_le] ")
    assert "missing" in by_location["f_time"].message
    assert "f_time: [fma_le]" in str(err)


def test_a_missing_component_is_reported_item_by_item(fma_ue_items: Factory) -> None:
    with pytest.raises(ScoringError) as info:
        _fma_total().score(fma_ue_items())
    problems = info.value.problems
    # The 16 LE items other than E.V; E.V's rule cannot be decided while E.IV is absent,
    # exactly as when fma_le is scored on its own.
    assert len(problems) == 16
    assert all(p.message.startswith("[fma_le] ") for p in problems)
    assert {p.location for p in problems} == set(load_instrument("fma_le").item_codes) - {
        "e5_normal_reflexes"}


def test_partial_save_checks_given_values_only() -> None:
    fma = _fma_total()
    values = fma.validate_items({"e1_knee_flexors": "2", "a1_flexors": 0}, partial=True)
    assert values == {"a1_flexors": 0, "e1_knee_flexors": 2}
    assert list(values) == ["a1_flexors", "e1_knee_flexors"]
    with pytest.raises(ScoringError, match=r"e4_ankle_dorsiflexion: \[fma_le\].*off the grid"):
        fma.validate_items({"e4_ankle_dorsiflexion": 3}, partial=True)


def test_a_bare_instrument_refuses_a_composite_definition() -> None:
    with pytest.raises(ValueError, match="CompositeInstrument"):
        Instrument(_fma_total().definition)
    with pytest.raises(ValueError, match="do not match"):
        CompositeInstrument(_fma_total().definition, [load_instrument("fma_le")])


# -- FHIR ----------------------------------------------------------------------------------


def _questions(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["type"] == "group":
            out.update(_questions(item["item"]))
        else:
            out[item["linkId"]] = item
    return out


def test_fhir_has_one_group_per_component() -> None:
    resource = to_fhir_questionnaire(_fma_total())
    Questionnaire.model_validate(resource)
    assert resource["id"] == "fma-total"
    ue, le = resource["item"]
    assert (ue["linkId"], ue["type"], le["linkId"]) == ("fma_ue", "group", "fma_le")
    assert ue["text"].endswith("(max 66)") and le["text"].endswith("(max 34)")
    assert [g["linkId"] for g in ue["item"]] == ["fma_ue.a", "fma_ue.b", "fma_ue.c", "fma_ue.d"]
    assert [g["linkId"] for g in ue["item"][0]["item"]] == [
        "fma_ue.a_i", "fma_ue.a_ii", "fma_ue.a_iii", "fma_ue.a_iv", "fma_ue.a_v"]
    assert [g["linkId"] for g in le["item"]] == ["fma_le.e", "fma_le.f"]
    questions = _questions(resource["item"])
    assert list(questions) == list(_fma_total().item_codes)
    assert questions["e5_normal_reflexes"]["required"] is False
    assert [o["valueCoding"]["code"] for o in questions["a1_flexors"]["answerOption"]] == [
        "0", "2"]


# -- CLI -----------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_scores_fma_total(fma_ue_items: Factory, fma_le_items: Factory) -> None:
    args = [f"{k}={v}" for k, v in {**fma_ue_items(), **fma_le_items()}.items()]
    result = runner.invoke(app, ["score", "fma_total", *args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["total"] == 100 and payload["max_total"] == 100
    assert payload["subtotals"] == FULL_SUBTOTALS
    human = runner.invoke(app, ["score", "fma_total", *args])
    assert human.exit_code == 0 and "fma_le.e: 28" in human.stdout


def test_cli_error_names_component_and_item(fma_ue_items: Factory,
                                            fma_le_items: Factory) -> None:
    args = [f"{k}={v}" for k, v in {**fma_ue_items(), **fma_le_items(f_time=5)}.items()]
    result = runner.invoke(app, ["score", "fma_total", *args, "--json"])
    assert result.exit_code == 2
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["location"] == "f_time" and problem["message"].startswith("[fma_le] ")


def test_cli_list_and_fhir() -> None:
    rows = {r["code"]: r for r in json.loads(
        runner.invoke(app, ["score", "--list", "--json"]).stdout)}
    assert rows["fma_total"] == {
        "code": "fma_total", "name": _fma_total().name, "max_total": 100, "items": 50,
        "kind": "composite", "components": ["fma_ue", "fma_le"]}
    assert rows["mbi"]["components"] == []
    fhir = runner.invoke(app, ["score", "--fhir", "fma_total"])
    assert fhir.exit_code == 0
    assert [g["linkId"] for g in json.loads(fhir.stdout)["item"]] == ["fma_ue", "fma_le"]


# -- property: the composite scores to the sum of its components ----------------------------


def _leaves(section: Section, sections: dict[str, Section]) -> list[str]:
    codes = list(section.items)
    for child in section.sections:
        codes += _leaves(sections[child], sections)
    return codes


@st.composite
def component_items(draw: st.DrawFn, code: str) -> dict[str, Any]:
    """A valid item set of a (non-composite) component, honouring its gated items."""
    instrument = load_instrument(code)
    items: dict[str, Any] = {
        c: draw(st.sampled_from([lv.value for lv in instrument.item(c).levels]))
        for c in instrument.item_codes
    }
    sections = {s.code: s for s in instrument.definition.sections}
    for rule in instrument.definition.rules:
        if isinstance(rule, GatedBySectionRule):
            section = sections[rule.section]
            if sum(items[c] for c in _leaves(section, sections)) < section.maximum:
                gated = draw(st.sampled_from([0, None]))  # 0, or omitted (0 by rule)
                if gated is None:
                    del items[rule.item]
                else:
                    items[rule.item] = gated
    if draw(st.booleans()):  # forms send strings
        items = {c: str(v) for c, v in items.items()}
    return items


@settings(max_examples=100, deadline=None)
@given(ue=component_items("fma_ue"), le=component_items("fma_le"))
def test_total_is_the_sum_of_the_component_scores(ue: dict[str, Any],
                                                  le: dict[str, Any]) -> None:
    ue_result = load_instrument("fma_ue").score(ue)
    le_result = load_instrument("fma_le").score(le)
    result = _fma_total().score({**ue, **le})
    assert result.total == ue_result.total + le_result.total
    assert 0 <= result.total <= result.max_total == 100
    assert result.subtotals["fma_ue"] == ue_result.total
    assert result.subtotals["fma_le"] == le_result.total
    for code, subtotal in ue_result.subtotals.items():
        assert result.subtotals[f"fma_ue.{code}"] == subtotal
    for code, subtotal in le_result.subtotals.items():
        assert result.subtotals[f"fma_le.{code}"] == subtotal
    assert result.items == {**ue_result.items, **le_result.items}
    assert result.derived == ue_result.derived + le_result.derived


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_off_grid_value_names_item_and_component(data: st.DataObject) -> None:
    fma = _fma_total()
    key = data.draw(st.sampled_from(fma.item_codes))
    grid = [lv.value for lv in fma.item(key).levels]
    bad = data.draw(st.integers(-20, 20).filter(lambda v: v not in grid))
    with pytest.raises(ScoringError) as info:
        fma.validate_items({key: bad}, partial=True)
    (problem,) = info.value.problems
    component, _ = fma.locate(key)
    assert problem.location == key
    assert problem.message.startswith(f"[{component}] ")


# -- the composite kind, on throw-away scale files ------------------------------------------


@pytest.fixture
def scales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private scales directory with copies of some shipped scales; caches cleared."""
    shipped = resources.files("strokecell.instruments") / "scales"
    for code in ("fma_ue", "fma_le", "mrs", "nihss", "mbi", "bi", "lesion_volume"):
        text = (shipped / f"{code}.yaml").read_text(encoding="utf-8")
        (tmp_path / f"{code}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(_loader, "_scales_dir", lambda: tmp_path)
    _clear_caches()
    yield tmp_path
    _clear_caches()  # runs before monkeypatch restores the shipped directory


def _clear_caches() -> None:
    load_instrument.cache_clear()
    _loader._read_definition.cache_clear()


def _composite(directory: Path, code: str, components: list[str], max_total: float) -> None:
    data = {"code": code, "name": code, "short_name": code.upper(), "version": "test",
            "kind": "composite", "source": {"citation": "test fixture", "status": "A"},
            "max_total": max_total, "components": components}
    (directory / f"{code}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def test_unknown_component_is_rejected_on_load(scales: Path) -> None:
    _composite(scales, "demo", ["fma_ue", "fma_arm"], 66)
    with pytest.raises(ScaleFileError, match=r"demo\.yaml.*components: demo names an unknown "
                                             r"instrument \(got 'fma_arm'\)"):
        load_instrument("demo")


def test_cycle_is_rejected_on_load(scales: Path) -> None:
    _composite(scales, "loop_a", ["mrs", "loop_b"], 12)
    _composite(scales, "loop_b", ["mrs", "loop_a"], 12)
    with pytest.raises(ScaleFileError, match="cycle of composites: loop_a -> loop_b -> loop_a"):
        load_instrument("loop_a")


def test_wrong_max_total_is_rejected_on_load(scales: Path) -> None:
    _composite(scales, "demo", ["fma_ue", "fma_le"], 99)
    with pytest.raises(ScaleFileError,
                       match=r"max_total: is 99 but the components add up to 100 "
                             r"\(fma_ue 66 \+ fma_le 34\)"):
        load_instrument("demo")


def test_measurement_component_is_rejected(scales: Path) -> None:
    _composite(scales, "demo", ["mrs", "lesion_volume"], 506)
    with pytest.raises(ScaleFileError, match="a measurement cannot be a component"):
        load_instrument("demo")


def test_scale_counted_twice_through_nesting_is_rejected(scales: Path) -> None:
    _composite(scales, "inner", ["fma_ue", "fma_le"], 100)
    _composite(scales, "outer", ["inner", "fma_ue"], 166)
    with pytest.raises(ScaleFileError, match="counts fma_ue more than once"):
        load_instrument("outer")


def test_nested_composite_and_warnings_pass_through(scales: Path,
                                                    nihss_items: Factory) -> None:
    _composite(scales, "inner", ["fma_ue", "fma_le"], 100)
    _composite(scales, "outer", ["inner", "nihss"], 142)
    outer = load_instrument("outer")
    assert isinstance(outer, CompositeInstrument) and not outer.namespaced
    fma_items = {code: 2 for code in outer.item_codes if code[0] in "abcdef"}
    # NIHSS coma (1a = 3) with 8 = 0 draws a warning; 7 = UN is untestable (counts 0).
    nihss = nihss_items({"1a_loc": 3, "8_sensory": 0, "7_limb_ataxia": "UN"})
    result = outer.score({**fma_items, **nihss})
    assert result.total == 100 + 3
    assert result.subtotals["inner"] == 100 and result.subtotals["inner.fma_le.e_v"] == 2
    assert result.untestable == ("7_limb_ataxia",)
    locations = [w.location for w in result.warnings]
    assert "8_sensory" in locations and "nihss.total" in locations
    assert all(w.message.startswith("[nihss] ") for w in result.warnings)
    Questionnaire.model_validate(to_fhir_questionnaire(outer))


def test_shared_item_codes_are_namespaced(scales: Path, mbi_items: Factory) -> None:
    # MBI and BI share item codes (feeding, bathing, ...). Summing them makes no clinical
    # sense; the pair only exercises the namespacing of a composite whose items collide.
    _composite(scales, "pair", ["mbi", "bi"], 200)
    pair = load_instrument("pair")
    assert isinstance(pair, CompositeInstrument) and pair.namespaced
    assert "mbi.feeding" in pair.item_codes and "bi.feeding" in pair.item_codes
    assert "feeding" not in pair.item_codes
    bi = load_instrument("bi")
    bi_best = {c: max(lv.value for lv in bi.item(c).levels) for c in bi.item_codes}
    mbi = mbi_items(ambulation=None, wheelchair=5)  # wheelchair mode: MBI max 90
    items = {**{f"mbi.{k}": v for k, v in mbi.items()},
             **{f"bi.{k}": v for k, v in bi_best.items()}}
    result = pair.score(items)
    assert result.mode == "mbi: wheelchair"
    assert result.max_total == 90 + 100
    assert result.total == 90 + 100  # MBI: 100 - 15 (ambulation) + 5 (wheelchair)
    with pytest.raises(ScoringError) as info:
        pair.score({**items, "feeding": 10, "mbi.ambulation": 15})
    by_location = {p.location: p for p in info.value.problems}
    assert set(by_location) == {"feeding", "mbi.wheelchair"}
    assert "unknown item" in by_location["feeding"].message  # the namespaced key is required
    assert by_location["mbi.wheelchair"].message.startswith("[mbi] both ambulation=15")
    resource = to_fhir_questionnaire(pair)
    Questionnaire.model_validate(resource)
    wheelchair = _questions(resource["item"])["mbi.wheelchair"]
    assert wheelchair["enableWhen"][0]["question"] == "mbi.ambulation"


def _composite_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "code": "demo", "name": "Demo", "short_name": "D", "version": "1", "kind": "composite",
        "source": {"citation": "none", "status": "A"}, "max_total": 100,
        "components": ["fma_ue", "fma_le"],
    }
    data.update(changes)
    return data


def test_minimal_composite_definition_is_valid() -> None:
    assert ScaleFile.model_validate(_composite_data()).components == ("fma_ue", "fma_le")


@pytest.mark.parametrize(("changes", "message"), [
    ({"components": ["fma_ue"]}, "at least two components"),
    ({"components": ["fma_ue", "fma_ue"]}, "duplicate components"),
    ({"components": ["demo", "fma_le"]}, "lists itself"),
    ({"components": ["fma_ue", "FMA LE"]}, "should match pattern"),
    ({"items": [{"code": "x", "label": "X", "levels": [{"value": 0, "label": "no"}]}]},
     "not items, sections or rules"),
    ({"kind": "score"}, "only a composite scale lists components"),
    ({"kind": "score", "components": []}, "a score scale needs items"),
    ({"bands": [{"minimum": 0, "maximum": 50, "label": "low"}]}, "bands must run from 0"),
])
def test_inconsistent_composite_is_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScaleFile.model_validate(_composite_data(**changes))
