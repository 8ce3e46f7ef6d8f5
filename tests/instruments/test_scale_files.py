"""Every shipped scale file loads and validates; a broken file fails loudly with its path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from strokecell.errors import NotFoundError
from strokecell.instruments import ScaleFileError, list_instruments, load_instrument
from strokecell.instruments._loader import read_yaml
from strokecell.instruments._schema import ScaleFile

# (code, number of items, maximum) from the published definitions, domain/README.md §1-4:
# MBI 10 items + the wheelchair alternative, max 100 (Shah 1989); BI 10 items, 100
# (Collin & Wade x 5); FMA-UE 33 items, 66; FMA-LE 17 items, 34 (NCT02448641, RehabMeasures);
# NIHSS 15 items, 42; mRS one item 0-6; FMA motor total (FMMS) = UE + LE, 33 + 17 items,
# 66 + 34 = 100 (domain/README.md §2, NCT02448641).
EXPECTED = [
    ("mbi", 11, 100), ("bi", 10, 100), ("fma_ue", 33, 66), ("fma_le", 17, 34),
    ("fma_total", 50, 100), ("nihss", 15, 42), ("mrs", 1, 6), ("lesion_volume", 1, 500),
]


def test_every_expected_scale_is_shipped() -> None:
    assert sorted(code for code, _, _ in EXPECTED) == list_instruments()


@pytest.mark.parametrize(("code", "n_items", "maximum"), EXPECTED)
def test_scale_loads_with_published_size(code: str, n_items: int, maximum: int) -> None:
    instrument = load_instrument(code)
    assert len(instrument.item_codes) == n_items
    assert instrument.max_total == maximum


def test_loading_is_cached() -> None:
    assert load_instrument("mbi") is load_instrument("mbi")


def test_unknown_instrument_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match=r"'mbx'.*did you mean mbi.*known: bi"):
        load_instrument("mbx")


def test_every_item_records_its_verification_status() -> None:
    for code in list_instruments():
        definition = load_instrument(code).definition
        assert definition.source.citation
        assert all(item.verified in {"V", "K", "A"} for item in definition.items)


def _minimal(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "code": "demo", "name": "Demo", "short_name": "D", "version": "1", "kind": "score",
        "source": {"citation": "none", "status": "A"}, "max_total": 2,
        "items": [{"code": "x", "label": "X", "levels": [
            {"value": 0, "label": "no"}, {"value": 2, "label": "yes"}]}],
        "bands": [{"minimum": 0, "maximum": 0, "label": "low"},
                  {"minimum": 1, "maximum": 2, "label": "high"}],
    }
    data.update(changes)
    return data


def test_minimal_definition_is_valid() -> None:
    assert ScaleFile.model_validate(_minimal()).max_total == 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"colour": "red"}, "Extra inputs are not permitted"),
    ({"max_total": 3}, "max_total is 3"),
    ({"bands": [{"minimum": 0, "maximum": 0, "label": "a"},
                {"minimum": 2, "maximum": 2, "label": "b"}]}, "gap or overlap"),
    ({"items": [{"code": "x", "label": "X", "levels": [
        {"value": 2, "label": "b"}, {"value": 0, "label": "a"}]}]}, "increasing order"),
    ({"sections": [{"code": "s", "label": "S", "items": ["y"], "maximum": 2}]},
     "unknown item y"),
])
def test_inconsistent_definition_is_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScaleFile.model_validate(_minimal(**changes))


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [\n  - code: x: y\n", encoding="utf-8")
    with pytest.raises(ScaleFileError, match=r"broken\.yaml"):
        read_yaml(broken)


def test_a_version_longer_than_the_record_column_is_refused_on_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``form_instances.instrument_version`` holds 200 characters; a scale whose version text
    is longer would be refused by PostgreSQL on every save, so loading it fails first."""
    import yaml

    from strokecell.instruments import _loader
    from strokecell.instruments._schema import VERSION_MAX_LENGTH

    (tmp_path / "demo.yaml").write_text(
        yaml.safe_dump(_minimal(version="v" * (VERSION_MAX_LENGTH + 1))), encoding="utf-8")
    monkeypatch.setattr(_loader, "_scales_dir", lambda: tmp_path)
    _loader._read_definition.cache_clear()
    try:
        with pytest.raises(ScaleFileError) as caught:
            _loader._read_definition("demo")
    finally:
        _loader._read_definition.cache_clear()
    text = str(caught.value)
    assert "demo.yaml" in text and "version" in text
    assert f"{VERSION_MAX_LENGTH + 1} characters" in text
    assert f"at most {VERSION_MAX_LENGTH}" in text
    ScaleFile.model_validate(_minimal(version="v" * VERSION_MAX_LENGTH))  # the limit itself fits


def test_every_shipped_version_fits_the_record_column() -> None:
    from strokecell.instruments._schema import VERSION_MAX_LENGTH

    for code in list_instruments():
        assert len(load_instrument(code).definition.version) <= VERSION_MAX_LENGTH, code
