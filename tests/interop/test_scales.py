"""strokecell's scales as REDCap instruments: grids as radio choices, totals as calc."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from strokecell.instruments import Instrument, list_instruments, load_instrument
from strokecell.interop.redcap import (
    evaluate,
    instrument_fields,
    parse_logic,
    read_dictionary,
    scales_dictionary,
    total_field,
    write_dictionary,
)


def _score_items(inst: Instrument, pick: str) -> dict[str, object]:
    items: dict[str, object] = {}
    for code in inst.item_codes:
        item = inst.item(code)
        if item.quantity is not None:
            items[code] = 12.5
        else:
            levels = [level.value for level in item.levels]
            items[code] = max(levels) if pick == "max" else min(levels)
    return items


def test_every_scale_is_an_instrument() -> None:
    d = scales_dictionary()
    forms = [f.name for f in d.forms]
    assert forms[0] == "enrolment" and set(forms[1:]) == set(list_instruments())
    for code in list_instruments():
        assert total_field(code) in d and d[total_field(code)].field_type == "calc"
    nihss = instrument_fields("nihss")
    assert nihss[0].name == "nihss_1a_loc" and nihss[0].field_type == "radio"
    assert nihss[0].choices[0].code == "0" and nihss[0].choices[0].label == "alert"
    lesion = instrument_fields("lesion_volume")[0]
    assert (lesion.field_type, lesion.validation, lesion.unit) == ("text", "number", "mL")
    assert (lesion.validation_min, lesion.validation_max) == ("0", "500")
    assert lesion.field_note == "mL"
    # the export is a dictionary REDCap (and we) read back unchanged, logic without warnings;
    # only the UCUM unit has no column in REDCap's dictionary (it is in the field note)
    again = read_dictionary(write_dictionary(d))
    assert not again.report.warnings
    assert again.dictionary.fields == tuple(replace(f, unit="") for f in d)


def test_nihss_un_is_a_choice_that_counts_zero() -> None:
    fields = {f.name: f for f in instrument_fields("nihss")}
    ataxia = fields["nihss_7_limb_ataxia"]
    assert ataxia.choices[-1].code == "UN" and ataxia.choices[-1].label.startswith("UN")
    assert "UN" not in fields["nihss_1a_loc"].codes
    total = fields["nihss_total"].calculation
    assert "if([nihss_7_limb_ataxia]='UN',0,[nihss_7_limb_ataxia])" in total
    assert "if([nihss_1a_loc]" not in total


@pytest.mark.parametrize("code", [c for c in list_instruments() if c not in ("mbi", "fma_total")])
@pytest.mark.parametrize("pick", ["min", "max"])
def test_calc_total_equals_the_scoring_engine(code: str, pick: str) -> None:
    inst = load_instrument(code)
    assert isinstance(inst, Instrument)
    items = _score_items(inst, pick)
    if code == "nihss" and pick == "max":
        items["7_limb_ataxia"] = "UN"
    expected = inst.score(items).total
    values = {f"{code}_{k}".lower(): str(v) for k, v in items.items()}
    calc = next(f for f in instrument_fields(code) if f.field_type == "calc").calculation
    assert evaluate(parse_logic(calc), values) == Decimal(str(expected))


def test_mbi_alternative_items_and_fma_total() -> None:
    mbi = load_instrument("mbi")
    items = {c: max(level.value for level in mbi.item(c).levels) for c in mbi.item_codes
             if c != "wheelchair"}
    calc = instrument_fields("mbi")[-1].calculation
    values = {f"mbi_{k}": str(v) for k, v in items.items()}
    assert evaluate(parse_logic(calc), values) == mbi.score(items).total  # blank skipped
    composite = instrument_fields("fma_total")
    assert [f.name for f in composite] == ["fma_total_total"]
    assert composite[0].calculation == "sum([fma_ue_total], [fma_le_total])"
    assert evaluate(parse_logic(composite[0].calculation),
                    {"fma_ue_total": "66", "fma_le_total": "34"}) == 100
