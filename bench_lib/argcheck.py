"""Command-line option checks: argparse `type=` functions and a parser whose errors are one line.

Every option is checked while the command line is parsed, so a bad value stops the command before
a model is loaded or a grid starts, with the option's name, the value and what it accepts.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Iterable


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2) instead of the usage block."""

    def error(self, message: str):
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small; use a whole number >= {low}")
        return value

    parse.__name__ = f"int>={low}"
    return parse


def split_list(text: str) -> list[str]:
    """A comma-separated option value as its items (stripped, empty ones dropped); the `list_of`
    types return the text, so commands split it here."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give a comma-separated list")
    return items


def one_of(known: Iterable[str] | Callable[[], Iterable[str]], what: str) -> Callable[[str], str]:
    """A single name out of `known` (a list, or a function returning it, read when parsing)."""
    def parse(text: str) -> str:
        names = list(known() if callable(known) else known)
        if text not in names:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; known: {', '.join(names)}")
        return text

    parse.__name__ = what
    return parse


def list_of(known: Iterable[str] | Callable[[], Iterable[str]], what: str) -> Callable[[str], str]:
    """A comma-separated list of names out of `known`; the text is returned as given."""
    def parse(text: str) -> str:
        names = list(known() if callable(known) else known)
        unknown = [x for x in split_list(text) if x not in names]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; "
                                             f"known: {', '.join(names)}")
        return text

    parse.__name__ = f"{what} list"
    return parse


def int_list(low: int) -> Callable[[str], str]:
    single = int_at_least(low)

    def parse(text: str) -> str:
        for item in split_list(text):
            single(item)
        return text

    parse.__name__ = "number list"
    return parse


def model_list(text: str) -> str:
    """Comma-separated model names, each one the registry knows (or a saved-model directory)."""
    from bench_lib.models import UnknownModelError, get_spec

    for name in split_list(text):
        try:
            get_spec(name)
        except UnknownModelError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def model_name(text: str) -> str:
    if "," in text:
        raise argparse.ArgumentTypeError(f"{text!r}: give one model here")
    return model_list(text)


def shape(text: str) -> str:
    from bench_lib import config
    from bench_lib.train.settings import parse_shape

    try:
        parse_shape(text)
    except config.ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
