"""Math answers as written in \\boxed{...} or an expected-answer field: a value where the text is a
number, else a normalized expression.

A small exact parser, not a computer-algebra system: integers, decimals, thousands commas,
scientific notation (1.5e3, 1.5\\times10^{3}), fractions (a/b, \\frac{a}{b}), powers (2^{10}),
roots (\\sqrt{2}, \\sqrt[3]{8}), \\pi, products (\\times, \\cdot, 3\\sqrt{2}, 2\\pi), sums and a
trailing percent sign, degree sign or \\text{...} unit. Anything else (a tuple, an interval, a
variable, a matrix) is not evaluated; it is compared as a normalized string (spaces, $, \\left,
\\right, \\!, \\, and \\dfrac/\\tfrac spellings removed). `math-verify` would also compare
symbolic expressions; it is not in the project's lock, so expressions that differ only
algebraically (x+1 vs 1+x) do not match here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MathAnswer:
    value: float | None    # None when the text is not a number this parser understands
    expr: str              # normalized text, compared when either side has no value

    def matches(self, other: "MathAnswer") -> bool:
        if self.value is not None and other.value is not None:
            return math.isclose(self.value, other.value, rel_tol=1e-9, abs_tol=1e-9)
        return bool(self.expr) and self.expr == other.expr


_DROP = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\:|\\quad|\\displaystyle|\$|\s+")


def normalize(text: str) -> str:
    s = _DROP.sub("", text)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace("\\%", "%").replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    return s.rstrip(".")


_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d*\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?"
                    r"|\\frac|\\sqrt|\\pi|\\times|\\cdot|[-+*/^{}()\[\]]")


class _Unknown(Exception):
    pass


class _Parser:
    """Recursive descent over the tokens: expr := term (± term)*; term := unary ((×|·|/|implicit) unary)*;
    unary := ± unary | power; power := atom (^ unary-atom)?; atom := number | {expr} | (expr) |
    \\frac{}{} | \\sqrt[n]{} | \\pi."""

    def __init__(self, text: str):
        pos, self.toks = 0, []
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise _Unknown(text[pos:])
            self.toks.append(m.group())
            pos = m.end()
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Unknown(f"expected {want!r}, got {tok!r}")
        self.i += 1
        return tok

    def parse(self) -> float:
        value = self.expr()
        if self.peek() is not None:
            raise _Unknown(self.peek())
        return value

    def expr(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\times", "\\cdot"):
                self.take()
                value *= self.unary()
            elif tok == "/":
                self.take()
                den = self.unary()
                if den == 0:
                    raise _Unknown("division by zero")
                value /= den
            elif tok in ("\\sqrt", "\\pi", "\\frac", "(", "{"):
                value *= self.power()   # implicit product: 3\sqrt{2}, 2\pi, 2(3)
            else:
                return value

    def unary(self) -> float:
        if self.peek() in ("+", "-"):
            return self.unary() if self.take() == "+" else -self.unary()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exp = self.unary() if self.peek() in ("+", "-") else self.atom()
            try:
                value = base ** exp
            except (OverflowError, ZeroDivisionError):
                raise _Unknown("power out of range") from None
            if isinstance(value, complex):
                raise _Unknown("complex power")
            return float(value)
        return base

    def group(self, open_: str = "{", close: str = "}") -> float:
        self.take(open_)
        value = self.expr()
        self.take(close)
        return value

    def atom(self) -> float:
        tok = self.peek()
        if tok == "{":
            return self.group()
        if tok == "(":
            return self.group("(", ")")
        if tok == "\\frac":
            self.take()
            num, den = self.group(), self.group()
            if den == 0:
                raise _Unknown("division by zero")
            return num / den
        if tok == "\\sqrt":
            self.take()
            degree = self.group("[", "]") if self.peek() == "[" else 2.0
            radicand = self.group()
            if radicand < 0 or degree == 0:
                raise _Unknown("root of a negative number")
            return radicand ** (1.0 / degree)
        if tok == "\\pi":
            self.take()
            return math.pi
        if tok is not None and (tok[0].isdigit() or tok[0] == "."):
            self.take()
            return float(tok.replace(",", ""))
        raise _Unknown(f"unexpected {tok!r}")


def evaluate(text: str) -> float | None:
    """The number `text` denotes, or None when it is not one this parser understands."""
    s = normalize(text)
    # A unit or percent sign after a number does not change the number: 5\text{ cm}, 50%.
    s = re.sub(r"(?<=[\d}])(?:\\(?:text|mbox|mathrm)\{[^{}]*\}|%)$", "", s)
    if not s:
        return None
    try:
        value = _Parser(s).parse()
    except (_Unknown, RecursionError):
        return None
    return value if math.isfinite(value) else None


def parse(text: str) -> MathAnswer:
    return MathAnswer(evaluate(text), normalize(text))
