"""Database URLs: what make_engine accepts and refuses."""

from __future__ import annotations

import pytest

from strokecell.errors import InputError
from strokecell.store import make_engine


def test_postgresql_url_uses_psycopg3() -> None:
    engine = make_engine("postgresql://u@127.0.0.1:1/db")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle+cx://x"])
def test_unsupported_urls_are_refused_with_what_is_allowed(url: str) -> None:
    with pytest.raises(InputError) as info:
        make_engine(url)
    assert "db" in str(info.value) and "sqlite" in str(info.value)
