"""YAML reading that remembers where each value was written (line numbers for messages).

PyYAML keeps the last of two equal keys silently; a protocol with ``volume:`` twice is a
mistake, so duplicates are reported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from strokecell.errors import Problem

__all__ = ["Path", "YamlDocument", "format_path", "read_yaml"]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """('arms', 1, 'dose', 'volume') -> 'arms[1].dose.volume'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest written ancestor (for missing keys)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_yaml(text: str) -> YamlDocument:
    """Parse ``text``; a YAML syntax error becomes a Problem with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return YamlDocument(None, problems=[Problem(where, f"not valid YAML: {problem}")])
    if node is None:
        return YamlDocument(None)
    doc = YamlDocument(yaml.safe_load(text))
    _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: Path, doc: YamlDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.problems.append(Problem(format_path((*path, key)), f"key written twice "
                                            f"(line {key_node.start_mark.line + 1})", key,
                                            "each key once"))
            seen.add(key)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)
