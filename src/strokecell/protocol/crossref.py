"""Checks across sections of a protocol: codes that refer to other codes.

They run on the raw mapping, not on validated models, so that they report alongside field
errors elsewhere in the file (a bad concentration must not hide an endpoint naming a visit
that does not exist). Every access is defensive: a section that is malformed is reported by
the field validation and skipped here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from strokecell.errors import Problem

__all__ = ["cross_reference_problems"]


def _items(data: Any, key: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    seq = data.get(key) if isinstance(data, Mapping) else None
    if isinstance(seq, list):
        for i, item in enumerate(seq):
            if isinstance(item, Mapping):
                yield i, item


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _duplicates(pairs: list[tuple[int, Any]], where: str, field: str) -> list[Problem]:
    seen: dict[Any, int] = {}
    problems = []
    for i, code in pairs:
        if not isinstance(code, (str, int)) or isinstance(code, bool):
            continue
        if code in seen:
            problems.append(Problem(f"{where}[{i}].{field}", f"duplicates {where}[{seen[code]}]",
                                    code, "a code used once"))
        else:
            seen[code] = i
    return problems


def cross_reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every cross-reference problem in a protocol mapping, each at its YAML path."""
    return [*_arm_problems(data), *_visit_and_endpoint_problems(data),
            *_randomization_problems(data), *_study_problems(data)]


def _arm_problems(data: Mapping[str, Any]) -> list[Problem]:
    arms = list(_items(data, "arms"))
    problems = _duplicates([(i, a.get("code")) for i, a in arms], "arms", "code")
    if arms and not any(a.get("type") == "cell_therapy" for _, a in arms):
        problems.append(Problem("arms", "no arm of type cell_therapy", None,
                                "at least one cell_therapy arm"))
    return problems


def _visit_and_endpoint_problems(data: Mapping[str, Any]) -> list[Problem]:
    visits = list(_items(_section(data, "schedule"), "visits"))
    problems = _duplicates([(i, v.get("code")) for i, v in visits], "schedule.visits", "code")
    codes = [c for c in (v.get("code") for _, v in visits) if isinstance(c, str)]
    baseline_codes = {v.get("code") for _, v in visits if v.get("baseline") is True}
    endpoints = list(_items(data, "endpoints"))
    for i, endpoint in endpoints:
        listed = endpoint.get("visits")
        for j, code in enumerate(listed if isinstance(listed, list) else []):
            where = f"endpoints[{i}].visits[{j}]"
            if isinstance(code, str) and codes and code not in codes:
                problems.append(Problem(where, "names a visit not in schedule.visits", code,
                                        ", ".join(codes)))
            elif code in baseline_codes and endpoint.get("variable") in (
                    "change_from_baseline", "percent_change_from_baseline"):
                problems.append(Problem(where, "a change from baseline is not measured at the "
                                        "baseline visit", code, "a post-baseline visit"))
    primaries = [i for i, e in endpoints if e.get("role") == "primary"]
    if endpoints and len(primaries) != 1:
        problems.append(Problem("endpoints", f"{len(primaries)} endpoints have role primary",
                                [f"endpoints[{i}]" for i in primaries],
                                "exactly one primary endpoint"))
    problems += _duplicates([(i, e.get("order")) for i, e in endpoints if "order" in e],
                            "endpoints", "order")
    return problems


def _ratio_sum(data: Mapping[str, Any]) -> int | None:
    ratios = [a.get("ratio", 1) for _, a in _items(data, "arms")]
    if not ratios or not all(isinstance(r, int) and not isinstance(r, bool) and r > 0
                             for r in ratios):
        return None
    return int(sum(ratios))


def _randomization_problems(data: Mapping[str, Any]) -> list[Problem]:
    randomization = data.get("randomization")
    if not isinstance(randomization, Mapping):
        return []
    problems = []
    arm_count = len(list(_items(data, "arms")))
    if 0 < arm_count < 2:
        problems.append(Problem("randomization", "a single-arm study is not randomised",
                                arm_count, "two or more arms, or no randomization section"))
    factors = list(_items(randomization, "strata"))
    problems += _duplicates([(i, f.get("factor")) for i, f in factors],
                            "randomization.strata", "factor")
    known = [c for c in (f.get("factor") for _, f in factors) if isinstance(c, str)]
    used = randomization.get("stratify_by")
    for i, factor in enumerate(used if isinstance(used, list) else []):
        if isinstance(factor, str) and factor not in known:
            problems.append(Problem(f"randomization.stratify_by[{i}]",
                                    "names a factor not defined under randomization.strata",
                                    factor, ", ".join(known) or "define it under strata"))
    ratio_sum = _ratio_sum(data)
    sizes = randomization.get("block_sizes")
    for i, size in enumerate(sizes if isinstance(sizes, list) else []):
        if ratio_sum and isinstance(size, int) and size >= 2 and size % ratio_sum:
            problems.append(Problem(f"randomization.block_sizes[{i}]",
                                    f"is not a multiple of the arm ratio sum {ratio_sum}",
                                    size, f"multiples of {ratio_sum}"))
    return problems


def _study_problems(data: Mapping[str, Any]) -> list[Problem]:
    study = _section(data, "study")
    problems = []
    planned = study.get("planned_n")
    per_arm = [a.get("planned_n") for _, a in _items(data, "arms")]
    counts = [n for n in per_arm if isinstance(n, int)]
    complete = bool(counts) and len(counts) == len(per_arm)
    if isinstance(planned, int) and complete and sum(counts) != planned:
        problems.append(Problem("study.planned_n", f"differs from the sum over arms "
                                f"({sum(counts)})", planned, str(sum(counts))))
    condition = study.get("condition")
    types = _section(data, "eligibility").get("stroke_types")
    if isinstance(condition, str) and isinstance(types, list) and condition not in types:
        problems.append(Problem("eligibility.stroke_types", f"does not include the study "
                                f"condition {condition!r}", types, f"a list with {condition}"))
    return problems
