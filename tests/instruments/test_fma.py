"""Fugl-Meyer motor UE and LE: sections, subtotals, reflex items, the section V rule.

Expected values: domain/README.md §2 (items 0/1/2; reflex items 0 or 2; V scored only when
IV is full, UE IV = 6, LE IV = 4, otherwise V = 0; section maxima UE A 36 = I 4 + II 18 +
III 6 + IV 6 + V 2, B 10, C 14, D 6; LE E 28 = I 4 + II 14 + III 4 + IV 4 + V 2, F 6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

Factory = Callable[..., dict[str, Any]]

UE_SECTIONS = {"a": 36, "a_i": 4, "a_ii": 18, "a_iii": 6, "a_iv": 6, "a_v": 2,
               "b": 10, "c": 14, "d": 6}
LE_SECTIONS = {"e": 28, "e_i": 4, "e_ii": 14, "e_iii": 4, "e_iv": 4, "e_v": 2, "f": 6}


def test_ue_full_score_subtotals(fma_ue_items: Factory) -> None:
    result = load_instrument("fma_ue").score(fma_ue_items())
    assert (result.total, result.max_total) == (66, 66)
    assert result.subtotals == UE_SECTIONS
    assert result.band is None


def test_le_full_score_subtotals(fma_le_items: Factory) -> None:
    result = load_instrument("fma_le").score(fma_le_items())
    assert (result.total, result.max_total) == (34, 34)
    assert result.subtotals == LE_SECTIONS


@pytest.mark.parametrize(("code", "item"), [("fma_ue", "a1_flexors"),
                                            ("fma_ue", "a1_extensors"),
                                            ("fma_le", "e1_knee_flexors"),
                                            ("fma_le", "e1_patellar_achilles")])
def test_reflex_items_score_0_or_2_only(code: str, item: str) -> None:
    instrument = load_instrument(code)
    assert [lv.value for lv in instrument.item(item).levels] == [0, 2]
    with pytest.raises(ScoringError, match=f"{item}.*allowed: 0, 2$"):
        instrument.validate_items({item: 1}, partial=True)


def test_non_reflex_items_score_0_1_2() -> None:
    for code in ("fma_ue", "fma_le"):
        instrument = load_instrument(code)
        grids = {tuple(lv.value for lv in instrument.item(c).levels)
                 for c in instrument.item_codes if "1_" not in c[:3]}
        assert grids == {(0, 1, 2)}


def test_ue_v_with_incomplete_iv_is_an_error_naming_both(fma_ue_items: Factory) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("fma_ue").score(fma_ue_items(a4_shoulder_flexion_90_180=1))
    (problem,) = info.value.problems
    assert problem.location == "a5_normal_reflexes"
    assert "a_iv" in problem.message and "5 of 6" in problem.message


def test_ue_v_omitted_with_incomplete_iv_is_zero_by_rule(fma_ue_items: Factory) -> None:
    result = load_instrument("fma_ue").score(
        fma_ue_items(a4_shoulder_flexion_90_180=1, a5_normal_reflexes=None))
    # 66 - 1 (IV) - 2 (V forced to 0) = 63.
    assert result.total == 63
    assert result.items["a5_normal_reflexes"] == 0
    assert result.derived == ("a5_normal_reflexes",)
    assert result.subtotals["a_iv"] == 5 and result.subtotals["a_v"] == 0


def test_ue_v_zero_with_incomplete_iv_is_accepted(fma_ue_items: Factory) -> None:
    result = load_instrument("fma_ue").score(
        fma_ue_items(a4_shoulder_flexion_90_180=1, a5_normal_reflexes=0))
    assert result.total == 63 and result.derived == ()


def test_ue_v_must_be_scored_when_iv_is_full(fma_ue_items: Factory) -> None:
    with pytest.raises(ScoringError, match=r"a5_normal_reflexes.*missing"):
        load_instrument("fma_ue").score(fma_ue_items(a5_normal_reflexes=None))


def test_le_v_gated_by_iv_equal_4(fma_le_items: Factory) -> None:
    fma_le = load_instrument("fma_le")
    with pytest.raises(ScoringError, match=r"e5_normal_reflexes.*3 of 4"):
        fma_le.score(fma_le_items(e4_ankle_dorsiflexion=1, e5_normal_reflexes=1))
    assert fma_le.score(fma_le_items(e5_normal_reflexes=1)).total == 33


def test_partial_save_does_not_decide_v_before_iv_is_complete() -> None:
    fma_ue = load_instrument("fma_ue")
    # IV incomplete as far as given: the rule cannot be decided yet, nothing is missing.
    values = fma_ue.validate_items({"a4_shoulder_abduction_0_90": 1, "a5_normal_reflexes": 2},
                                   partial=True)
    assert values == {"a4_shoulder_abduction_0_90": 1, "a5_normal_reflexes": 2}
