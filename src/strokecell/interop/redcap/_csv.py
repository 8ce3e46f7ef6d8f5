"""Reading a REDCap CSV (dictionary, records, events, arms) as rows of text, nothing guessed.

A source is a path, or the text itself (``str``) or its bytes. UTF-8 with or without a byte
order mark; anything else is refused with the place it fails. :class:`CsvOptions` names the
two traces another tool (R) may leave and that are undone only when asked: ``na_strings``
(cells such as ``NA`` read as empty) and ``decode_r_escapes`` (``<U+043E>`` read as ``о``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from strokecell.errors import InputError, Problem

__all__ = ["CsvOptions", "Source", "has_r_traces", "read_rows", "read_text"]

Source = str | bytes | Path

_R_ESCAPE = re.compile(r"<U\+([0-9A-Fa-f]{4,6})>")


@dataclass(frozen=True)
class CsvOptions:
    """How to read cells: which strings mean empty, and whether R's escapes are decoded."""

    na_strings: frozenset[str] = frozenset()
    decode_r_escapes: bool = False

    @classmethod
    def written_by_r(cls) -> CsvOptions:
        """For a file that R's ``write.csv`` wrote: ``NA`` is empty, ``<U+XXXX>`` decoded."""
        return cls(frozenset({"NA"}), True)

    def cell(self, text: str) -> str:
        if text in self.na_strings:
            return ""
        if self.decode_r_escapes and "<U+" in text:
            return _R_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        return text


def read_text(source: Source, what: str) -> str:
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError(Problem(str(source), f"cannot read the {what}: {exc.strerror}")
                             ) from exc
        where = str(source)
    elif isinstance(source, bytes):
        data, where = source, what
    else:
        return source[1:] if source.startswith("\ufeff") else source
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(where, f"the {what} is not UTF-8 (byte {exc.start})",
                                 allowed="a UTF-8 file, as REDCap exports")) from exc


def read_rows(source: Source, what: str) -> list[list[str]]:
    """All rows of a CSV source, the header first; an empty source gives no rows."""
    text = read_text(source, what)
    if not text.strip():
        return []
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), strict=True)
                if row != []]
    except csv.Error as exc:
        raise InputError(Problem(what, f"not a readable CSV file: {exc}")) from exc


def has_r_traces(rows: list[list[str]]) -> tuple[bool, bool]:
    """Whether cells look like R's ``NA`` and ``<U+XXXX>`` escapes (for a hint)."""
    na = escape = False
    for row in rows[1:]:
        for cell in row:
            na = na or cell == "NA"
            escape = escape or bool(_R_ESCAPE.search(cell))
    return na, escape
