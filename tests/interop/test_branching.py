"""REDCap logic: parsing into a tree, evaluation, unknown functions reported."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from strokecell.errors import InputError
from strokecell.interop import Choice, Dictionary, Field
from strokecell.interop.redcap import (
    Binary,
    Call,
    FieldRef,
    Literal,
    SmartVariable,
    Unary,
    evaluate,
    is_true,
    parse_logic,
    read_dictionary,
    read_project_xml,
    stored_text,
)

from .conftest import PROJECTS, REDCAP


def test_tree_shapes() -> None:
    assert parse_logic("[sex] = '1'").tree == Binary("=", FieldRef("sex"), Literal("1"))
    assert parse_logic('[sex] = "0" and [given_birth] = "1"').tree == Binary(
        "and", Binary("=", FieldRef("sex"), Literal("0")),
        Binary("=", FieldRef("given_birth"), Literal("1")))
    assert parse_logic("[race(2)] = '1'").tree == Binary(
        "=", FieldRef("race", code="2"), Literal("1"))
    assert parse_logic("[enrollment_arm_1][age] >= 18").tree == Binary(
        ">=", FieldRef("age", event="enrollment_arm_1"), Literal(Decimal(18)))
    assert parse_logic("[bp_systolic][2] > 120").tree.left == FieldRef(  # type: ignore[union-attr]
        "bp_systolic", instance="2")
    assert parse_logic("[event-name] = 'visit_1_arm_1'").tree.left == SmartVariable(  # type: ignore[union-attr]
        "event-name")
    assert parse_logic("not([a] = 1)").tree == Unary("not", Binary("=", FieldRef("a"),
                                                                   Literal(Decimal(1))))
    assert parse_logic("-[a] + 2 * 3 ^ 2").tree == Binary(
        "+", Unary("-", FieldRef("a")),
        Binary("*", Literal(Decimal(2)), Binary("^", Literal(Decimal(3)), Literal(Decimal(2)))))
    for op, canonical in (("<>", "<>"), ("!=", "<>"), ("==", "=")):
        assert parse_logic(f"[a] {op} 1").tree.op == canonical  # type: ignore[union-attr]


def test_functions_known_and_unknown() -> None:
    logic = parse_logic("if(datediff([dob], 'today', 'y') >= 18, sum([a], [b]), 0) > 1 "
                        "or isblankormissingcode([c]) AND frobnicate([d], 2) = 1")
    assert logic.fields == ("dob", "a", "b", "c", "d")
    assert logic.unknown_functions == ("frobnicate",)
    call = parse_logic("rounddown(datediff([dob],'today','y'))").tree
    assert isinstance(call, Call) and call.name == "rounddown" and call.known


@pytest.mark.parametrize("text", ["[a] = ", "([a] = 1", "[a] = 1)", "[a] = '1", "a = 1",
                                  "[a] = 1 2", "sum([a],", "#"])
def test_syntax_errors_raise(text: str) -> None:
    with pytest.raises(InputError):
        parse_logic(text)


def test_evaluation_like_redcap() -> None:
    values = {"sex": "0", "given_birth": "1", "age": "33", "race___2": "1", "x": ""}
    assert is_true(evaluate(parse_logic('[sex] = "0" and [given_birth] = "1"'), values))
    assert is_true(evaluate(parse_logic("[sex] = 0"), values))  # numbers compare as numbers
    assert is_true(evaluate(parse_logic("[race(2)] = '1' and [race(3)] <> '1'"), values))
    assert is_true(evaluate(parse_logic("[x] = ''"), values))
    assert not is_true(evaluate(parse_logic("[x] > 0"), values))  # blank never orders
    assert is_true(evaluate(parse_logic("[age] >= 18 and [age] <= 44"), values))
    assert is_true(evaluate(parse_logic("not([age] < 18) && ([sex] = 1 || [age] > 30)"), values))
    assert evaluate(parse_logic("[x] + 1"), values) is None  # blank arithmetic is blank
    assert evaluate(parse_logic("sum([age], [x], 2)"), values) == Decimal(35)
    assert evaluate(parse_logic("mean(2, 4)"), values) == Decimal(3)
    assert evaluate(parse_logic("if([age] > 30, 'old', 'young')"), values) == "old"
    assert evaluate(parse_logic("isblankormissingcode([x])"), values) == Decimal(1)
    assert evaluate(parse_logic("round((80*10000)/((160)^(2)),1)"), {}) == Decimal("31.3")
    dob = {"dob": "2003-08-30"}
    age = evaluate(parse_logic("rounddown(datediff([dob],'today','y'))"), dob,
                   today=date(2014, 9, 1))
    assert age == Decimal(11)
    assert evaluate(parse_logic("datediff('2020-01-01', '2020-01-31', 'd')"), {}) == 30
    assert evaluate(parse_logic("concat(upper('a'), left('bcd', 2))"), {}) == "Abc"
    with pytest.raises(InputError, match="frobnicate"):
        evaluate(parse_logic("frobnicate([a])"), {})


def test_stored_text_feeds_evaluation() -> None:
    d = Dictionary((Field("rid", "f", "text", "ID"),
                    Field("race", "f", "checkbox", "Race",
                          choices=(Choice("1", "A"), Choice("2", "B"))),
                    Field("w", "f", "text", "W", validation="number")))
    text = stored_text(d, {"race": frozenset({"2"}), "w": Decimal("80.5")})
    assert text["race___2"] == "1" and text["race___1"] == "0" and text["w"] == "80.5"
    assert is_true(evaluate(parse_logic("[race(2)] = '1' and [w] > 80"), text))


def _all_logic() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for name in PROJECTS:
        fields = read_project_xml(REDCAP / name / "project.xml",
                                  policy="skip_invalid").project.dictionary.fields
        if (REDCAP / name / "dictionary.csv").exists():
            fields += read_dictionary(REDCAP / name / "dictionary.csv").dictionary.fields
        for f in fields:
            for text in (f.branching_logic, f.calculation if f.field_type == "calc" else ""):
                if text.strip():
                    found.append((name, f.name, text))
    return found


def test_every_expression_in_the_ten_projects_parses() -> None:
    found = _all_logic()
    assert len(found) >= 150  # russian alone has 138 branching expressions
    assert {name for name, _, _ in found} >= {"russian", "longitudinal", "simple", "dag",
                                              "validation-types-1"}
    for name, field, text in found:
        logic = parse_logic(text)
        assert logic.unknown_functions == (), (name, field, text)
        assert logic.fields or field in ("f_calculated", "age"), (name, field, text)


def test_unknown_function_is_reported_at_import() -> None:
    header = ('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
              '"Choices, Calculations, OR Slider Labels"\n')
    text = header + ("record_id,f,,text,ID,\n"
                     "a,f,,text,A,\n"
                     "c,f,,calc,C,\"magic([a]) + 1\"\n")
    result = read_dictionary(text)
    messages = [str(w) for w in result.report.warnings]
    assert any("magic()" in m and "field c" in m for m in messages), messages
    assert result.calculations["c"].unknown_functions == ("magic",)
