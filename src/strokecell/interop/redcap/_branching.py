"""REDCap logic (branching logic and calc formulas) parsed into an expression tree.

Syntax: field references ``[field]``, checkbox options ``[field(code)]``, other events
``[event_name][field]``, instances ``[field][2]``, smart variables ``[event-name]``; strings in
single or double quotes; numbers; ``= == <> != < <= > >=``, ``+ - * / ^``, ``and or not``
(also ``&& || !``), parentheses; function calls ``name(arg, ...)``. A function REDCap does not
define still parses (into a :class:`Call` with ``known=False``) and is listed in
:attr:`Logic.unknown_functions`: the importer reports it instead of dropping the logic.

Evaluation is in :mod:`._evaluate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from strokecell.errors import InputError, Problem

__all__ = [
    "KNOWN_FUNCTIONS",
    "Binary",
    "Call",
    "Expr",
    "FieldRef",
    "Literal",
    "Logic",
    "SmartVariable",
    "Unary",
    "parse_logic",
]

KNOWN_FUNCTIONS: frozenset[str] = frozenset({
    "if", "datediff", "sum", "mean", "median", "stdev", "min", "max", "round", "roundup",
    "rounddown", "abs", "sqrt", "exponential", "log", "isnumber", "isinteger",
    "isblankormissingcode", "isblanknotmissingcode", "hasmissingcode", "ismissingcode",
    "contains", "not_contains", "starts_with", "ends_with", "left", "right", "mid", "length",
    "find", "trim", "upper", "lower", "concat", "concat_ws", "replace_text", "year", "month",
    "day", "not",
})


@dataclass(frozen=True)
class Literal:
    value: str | Decimal


@dataclass(frozen=True)
class FieldRef:
    name: str
    event: str | None = None
    code: str | None = None
    instance: str | None = None


@dataclass(frozen=True)
class SmartVariable:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    known: bool = True


Expr = Literal | FieldRef | SmartVariable | Unary | Binary | Call


@dataclass(frozen=True)
class Logic:
    """A parsed expression with what it refers to."""

    text: str
    tree: Expr
    fields: tuple[str, ...] = field(default=())
    unknown_functions: tuple[str, ...] = field(default=())


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<ref>(\[[^\[\]]*\])+)
  | (?P<num>\d+\.?\d*|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<op><>|!=|<=|>=|==|&&|\|\||[=<>+\-*/^(),!])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_REF_PART = re.compile(r"\[([^\[\]]*)\]")
_CHECKBOX = re.compile(r"([a-z0-9_]+)\(([^()]*)\)(?::(\w+))?", re.IGNORECASE)
_INSTANCE = re.compile(r"\d+|first-instance|last-instance|current-instance|previous-instance"
                       r"|next-instance")


def parse_logic(text: str) -> Logic:
    """Parse REDCap logic; raises :class:`InputError` on a syntax error."""
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    tree = parser.expression()
    if parser.pos != len(tokens):
        _kind, value = tokens[parser.pos]
        raise InputError(Problem("logic", f"unexpected {value!r} after a complete expression",
                                 text))
    fields: dict[str, None] = {}
    unknown: dict[str, None] = {}
    _walk(tree, fields, unknown)
    return Logic(text, tree, tuple(fields), tuple(unknown))


def _walk(e: Expr, fields: dict[str, None], unknown: dict[str, None]) -> None:
    if isinstance(e, FieldRef):
        fields.setdefault(e.name, None)
    elif isinstance(e, Unary):
        _walk(e.operand, fields, unknown)
    elif isinstance(e, Binary):
        _walk(e.left, fields, unknown)
        _walk(e.right, fields, unknown)
    elif isinstance(e, Call):
        if not e.known:
            unknown.setdefault(e.name, None)
        for a in e.args:
            _walk(a, fields, unknown)


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InputError(Problem("logic", f"cannot read {text[pos:pos + 10]!r} at "
                                     f"character {pos + 1}", text))
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


class _Parser:
    # precedence: or < and < not < comparison < additive < multiplicative < power < unary
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _accept(self, *values: str) -> str | None:
        tok = self._peek()
        if tok is not None and tok[0] in ("op", "word") and tok[1].lower() in values:
            self.pos += 1
            return tok[1].lower()
        return None

    def _fail(self, message: str) -> InputError:
        return InputError(Problem("logic", message, self.text))

    def expression(self) -> Expr:
        left = self._and()
        while self._accept("or", "||"):
            left = Binary("or", left, self._and())
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self._accept("and", "&&"):
            left = Binary("and", left, self._not())
        return left

    def _not(self) -> Expr:
        tok = self._peek()
        nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if (tok is not None and tok[1] == "!") or (
                tok is not None and tok[0] == "word" and tok[1].lower() == "not"
                and not (nxt is not None and nxt[1] == "(")):
            self.pos += 1
            return Unary("not", self._not())
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._additive()
        op = self._accept("=", "==", "<>", "!=", "<", "<=", ">", ">=")
        if op:
            op = {"==": "=", "!=": "<>"}.get(op, op)
            return Binary(op, left, self._additive())
        return left

    def _additive(self) -> Expr:
        left = self._term()
        while op := self._accept("+", "-"):
            left = Binary(op, left, self._term())
        return left

    def _term(self) -> Expr:
        left = self._power()
        while op := self._accept("*", "/"):
            left = Binary(op, left, self._power())
        return left

    def _power(self) -> Expr:
        base = self._unary()
        if self._accept("^"):
            return Binary("^", base, self._power())
        return base

    def _unary(self) -> Expr:
        if self._accept("-"):
            return Unary("-", self._unary())
        if self._accept("+"):
            return self._unary()
        return self._atom()

    def _atom(self) -> Expr:
        tok = self._peek()
        if tok is None:
            raise self._fail("the expression ends too early")
        kind, value = tok
        self.pos += 1
        if kind == "num":
            return Literal(Decimal(value))
        if kind == "str":
            return Literal(value[1:-1])
        if kind == "ref":
            return _reference(value)
        if value == "(":
            inner = self.expression()
            if not self._accept(")"):
                raise self._fail("a '(' is not closed")
            return inner
        if kind == "word":
            if self._accept("("):
                args: list[Expr] = []
                if not self._accept(")"):
                    args.append(self.expression())
                    while self._accept(","):
                        args.append(self.expression())
                    if not self._accept(")"):
                        raise self._fail(f"the call of {value}( is not closed")
                name = value.lower()
                if name == "not" and len(args) == 1:
                    return Unary("not", args[0])
                return Call(name, tuple(args), name in KNOWN_FUNCTIONS)
            if value.lower() in ("true", "false"):
                return Literal(Decimal(1 if value.lower() == "true" else 0))
            raise self._fail(f"unexpected word {value!r} (strings need quotes)")
        raise self._fail(f"unexpected {value!r}")


def _reference(text: str) -> Expr:
    parts = _REF_PART.findall(text)
    if len(parts) == 1 and "-" in parts[0] and not _CHECKBOX.fullmatch(parts[0]):
        return SmartVariable(parts[0])
    event: str | None = None
    instance: str | None = None
    if len(parts) >= 2 and _INSTANCE.fullmatch(parts[-1]):
        instance = parts.pop()
    if len(parts) == 2:
        event = parts[0]
    name = parts[-1]
    code: str | None = None
    m = _CHECKBOX.fullmatch(name)
    if m:
        name, code = m.group(1), m.group(2)
    elif ":" in name:
        name = name.split(":", 1)[0]
    return FieldRef(name, event, code, instance)
