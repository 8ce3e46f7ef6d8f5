"""The optional ``safety.stopping_rules`` section of a protocol."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from protocol_testkit import REFERENCE

from strokecell.errors import ProtocolError
from strokecell.protocol import StoppingRule, parse_protocol

RULES: list[dict[str, Any]] = [
    {"code": "related_saes", "label": "Related serious adverse events",
     "count": "serious_adverse_event", "related": True, "threshold": 2,
     "source": "DSMB charter §4"},
    {"code": "early_deaths", "count": "death", "within_days_of_administration": 30,
     "threshold": 1},
]


def _with(safety: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    data["safety"] = safety
    return data


def test_stopping_rules_parse_and_describe_themselves() -> None:
    protocol = parse_protocol(_with({"stopping_rules": RULES}), source="test")
    rules = protocol.stopping_rules
    assert [r.code for r in rules] == ["related_saes", "early_deaths"]
    assert rules[0].text == "related serious adverse events >= 2"
    assert rules[1].text == "deaths within 30 days of administration >= 1"
    assert isinstance(rules[0], StoppingRule) and rules[0].related
    assert parse_protocol(REFERENCE.read_text(encoding="utf-8")).stopping_rules == []


@pytest.mark.parametrize(("safety", "location"), [
    ({"stopping_rules": [{**RULES[0], "threshold": 0}]}, "safety.stopping_rules[0].threshold"),
    ({"stopping_rules": [{**RULES[0], "count": "sae"}]}, "safety.stopping_rules[0].count"),
    ({"stopping_rules": [{**RULES[0], "min_grade": 6}]}, "safety.stopping_rules[0].min_grade"),
    ({"stopping_rules": [{**RULES[0], "thresold": 2}]}, "safety.stopping_rules[0].thresold"),
    ({"stopping_rules": [RULES[0], RULES[0]]}, "safety.stopping_rules[1].code"),
    ({"stoping_rules": []}, "safety.stoping_rules"),
])
def test_bad_stopping_rules_are_reported_at_their_path(safety: Any, location: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(_with(safety), source="test")
    assert location in [p.location for p in info.value.problems], info.value
