"""Each scale exports as a FHIR R4 Questionnaire that the fhir.resources R4B model accepts."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from strokecell.instruments import list_instruments, load_instrument, to_fhir_questionnaire


def _questions(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["type"] == "group":
            out.update(_questions(item["item"]))
        else:
            out[item["linkId"]] = item
    return out


@pytest.mark.parametrize("code", list_instruments())
def test_export_validates_as_r4_questionnaire(code: str) -> None:
    resource = to_fhir_questionnaire(load_instrument(code))
    questionnaire = Questionnaire.model_validate(resource)
    assert questionnaire.status == "active"
    assert resource["resourceType"] == "Questionnaire"
    assert set(_questions(resource["item"])) == set(load_instrument(code).item_codes)


def test_choice_codes_are_score_values() -> None:
    questions = _questions(to_fhir_questionnaire(load_instrument("mbi"))["item"])
    codes = [o["valueCoding"]["code"] for o in questions["feeding"]["answerOption"]]
    assert codes == ["0", "2", "5", "8", "10"]
    assert questions["wheelchair"]["enableWhen"][0]["question"] == "ambulation"
    assert questions["wheelchair"]["required"] is False


def test_un_is_an_option_without_ordinal_value() -> None:
    questions = _questions(to_fhir_questionnaire(load_instrument("nihss"))["item"])
    un = questions["10_dysarthria"]["answerOption"][-1]
    assert un["valueCoding"]["code"] == "UN" and "extension" not in un


def test_fma_sections_are_groups() -> None:
    resource = to_fhir_questionnaire(load_instrument("fma_ue"))
    assert [g["linkId"] for g in resource["item"]] == ["a", "b", "c", "d"]
    assert [g["linkId"] for g in resource["item"][0]["item"]] == [
        "a_i", "a_ii", "a_iii", "a_iv", "a_v"]
    assert resource["id"] == "fma-ue"


def test_lesion_volume_is_a_decimal_in_ml() -> None:
    (question,) = to_fhir_questionnaire(load_instrument("lesion_volume"))["item"]
    assert question["type"] == "decimal"
    assert question["extension"][0]["valueCoding"]["code"] == "mL"
