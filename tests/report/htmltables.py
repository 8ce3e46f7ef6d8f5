"""Read the tables of a report back from its HTML (stdlib parser): id -> header and rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ParsedTable:
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def row(self, **match: str) -> dict[str, str]:
        """The one row whose cells (by header) equal the given texts (``text*``: start
        with it)."""
        def ok(cell: str, want: str) -> bool:
            return cell.startswith(want[:-1]) if want.endswith("*") else cell == want

        found = []
        for r in self.rows:
            cells = dict(zip(self.header, r, strict=False))
            if all(ok(norm(cells.get(k, "")), v) for k, v in match.items()):
                found.append(cells)
        if len(found) != 1:
            raise AssertionError(f"{len(found)} rows match {match}: {self.rows[:5]}")
        return {k: norm(v) for k, v in found[0].items()}


def norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, ParsedTable] = {}
        self._current: ParsedTable | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._current = self.tables.setdefault(str(a["id"]), ParsedTable())
        elif self._current is not None:
            if tag == "thead":
                self._in_head = True
            elif tag == "tr":
                self._row = []
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._current is None:
            return
        if tag == "table":
            self._current = None
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._current.header = [norm(c) for c in self._row]
            else:
                self._current.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, ParsedTable]:
    p = _Parser()
    p.feed(html)
    return p.tables
