"""A parser for AIP-160 filter expressions (https://google.aip.dev/160), independent of any field.

It follows the AIP-160 grammar, including its precedence: OR binds tighter than AND, so
`a AND b OR c` means `a AND (b OR c)`; juxtaposed terms (`a b`) are a sequence, i.e. AND.
Which fields, operators and value forms an endpoint accepts is decided later (filters.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMPARATORS = ("<=", ">=", "!=", "<", ">", "=", ":")
KEYWORDS = ("AND", "OR", "NOT")
_TEXT = re.compile(r"[^\s()\"'<>=!:,]+")


class FilterSyntaxError(ValueError):
    """The filter is not a well-formed AIP-160 expression."""


@dataclass(frozen=True)
class Value:
    """A literal: `quoted` tells a "string" from bare text such as 42 or PUBLISHED."""

    text: str
    quoted: bool


@dataclass(frozen=True)
class Restriction:
    """`field op value`, e.g. create_time >= "2024-01-01T00:00:00Z"."""

    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class Bare:
    """A value with no field and no operator (an AIP-160 global restriction)."""

    value: Value


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Restriction | Bare | And | Or | Not


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "op", "string", "text", ","
    text: str
    position: int
    after_space: bool


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    index, after_space = 0, False
    while index < len(source):
        char = source[index]
        if char.isspace():
            index, after_space = index + 1, True
            continue
        start = index
        if char in "(),":
            kind, text, index = char, char, index + 1
        elif char in "\"'":
            kind, text, index = "string", *_read_string(source, index)
        elif op := next((op for op in COMPARATORS if source.startswith(op, index)), None):
            kind, text, index = "op", op, index + len(op)
        elif match := _TEXT.match(source, index):
            kind, text, index = "text", match.group(), match.end()
        else:
            raise FilterSyntaxError(f"unexpected character {char!r} at position {index}")
        tokens.append(_Token(kind, text, start, after_space))
        after_space = False
    return tokens


def _read_string(source: str, start: int) -> tuple[str, int]:
    quote, index, chars = source[start], start + 1, []
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            chars.append(source[index + 1])
            index += 2
        elif char == quote:
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise FilterSyntaxError(f"unterminated string starting at position {start}")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0

    def _peek(self) -> _Token | None:
        return self._tokens[self._index] if self._index < len(self._tokens) else None

    def _next(self, expected: str) -> _Token:
        token = self._peek()
        if token is None:
            raise FilterSyntaxError(f"expected {expected} but the filter ended")
        self._index += 1
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "text" and token.text == keyword

    def parse(self) -> Node:
        node = self._expression()
        token = self._peek()
        if token is not None:
            raise FilterSyntaxError(f"unexpected {token.text!r} at position {token.position}")
        return node

    def _expression(self) -> Node:
        items = [self._sequence()]
        while self._at_keyword("AND"):
            self._index += 1
            items.append(self._sequence())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _sequence(self) -> Node:
        items = [self._factor()]
        while self._starts_term():
            items.append(self._factor())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _starts_term(self) -> bool:
        token = self._peek()
        if token is None or token.kind in (")", "op", ","):
            return False
        return not (token.kind == "text" and token.text in ("AND", "OR"))

    def _factor(self) -> Node:
        items = [self._term()]
        while self._at_keyword("OR"):
            self._index += 1
            items.append(self._term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _term(self) -> Node:
        token = self._next("an expression")
        if token.kind == "text" and token.text == "NOT":
            return Not(self._simple())
        if token.kind == "text" and token.text.startswith("-"):
            if token.text == "-":
                following = self._peek()
                if following is None or following.kind != "(" or following.after_space:
                    raise FilterSyntaxError(
                        f"'-' at position {token.position} must be followed directly by an expression"
                    )
                return Not(self._simple())
            self._tokens[self._index - 1] = _Token("text", token.text[1:], token.position + 1, False)
            self._index -= 1
            return Not(self._simple())
        self._index -= 1
        return self._simple()

    def _simple(self) -> Node:
        token = self._next("an expression")
        if token.kind == "(":
            if (following := self._peek()) is not None and following.kind == ")":
                raise FilterSyntaxError(f"empty parentheses at position {token.position}")
            node = self._expression()
            closing = self._peek()
            if closing is None:
                raise FilterSyntaxError(f"unbalanced parentheses: '(' at position {token.position} is not closed")
            if closing.kind != ")":
                raise FilterSyntaxError(f"expected ')' at position {closing.position}, found {closing.text!r}")
            self._index += 1
            return node
        if token.kind not in ("text", "string") or token.text in KEYWORDS:
            raise FilterSyntaxError(f"unexpected {token.text!r} at position {token.position}")
        following = self._peek()
        if following is not None and following.kind == "(" and not following.after_space:
            raise FilterSyntaxError(f"functions are not supported ({token.text!r} at position {token.position})")
        if following is None or following.kind != "op":
            return Bare(Value(token.text, token.kind == "string"))
        if token.kind != "text":
            raise FilterSyntaxError(f"expected a field name at position {token.position}, found a string")
        self._index += 1
        argument = self._next(f"a value after {following.text!r}")
        if argument.kind not in ("text", "string") or argument.text in KEYWORDS:
            raise FilterSyntaxError(
                f"expected a value after {following.text!r} at position {argument.position}, "
                f"found {argument.text!r}"
            )
        return Restriction(token.text, following.text, Value(argument.text, argument.kind == "string"))


def parse(source: str) -> Node | None:
    """The expression tree of `source`, or None for an empty filter; raises FilterSyntaxError."""
    tokens = _tokenize(source)
    if not tokens:
        return None
    return _Parser(tokens).parse()
