"""One way of printing values in the command tables, the summary and the alerts."""
from __future__ import annotations

import math

from bench_lib import formatting


def test_missing_values_print_as_one_mark():
    for value in (None, math.nan):
        assert formatting.number(value, ".2f") == "n/a"
        assert formatting.quantity(value, "bytes") == "n/a"


def test_numbers_are_scaled_then_formatted():
    assert formatting.number(3 * 2**20, ".1f", formatting.MIB) == "3.0"
    assert formatting.number(0.0125, ".1f", formatting.MS) == "12.5"
    assert formatting.number(1234567, ",.0f") == "1,234,567"
    assert formatting.number(2048, ".1f", formatting.KIB) == "2.0"


def test_quantities_carry_the_unit_a_reader_compares():
    assert formatting.quantity(5 * 2**20, "bytes") == "5.0 MiB"
    assert formatting.quantity(0.01234, "seconds") == "12.34 ms"
    assert formatting.quantity(2.5, "usd") == "$2.5"
    assert formatting.quantity(0.123456, "tokens/s") == "0.1235 tokens/s"
    assert formatting.quantity(0.5, "") == "0.5"


def test_grid_entries_without_a_result():
    ok = {"result": {"metrics": {"x": 2.0}}}
    assert formatting.status(ok) is None
    assert formatting.status({"skip": "no GPU"}) == "skipped: no GPU"
    assert formatting.status({"error": "ValueError: bad\nTraceback ..."}) == "failed: ValueError: bad"
    assert formatting.status({"skip": "x" * 50}, limit=12) == "skipped: xxx"
    assert formatting.cell(ok, lambda m: formatting.number(m["x"], ".1f")) == "2.0"
    assert formatting.cell({"skip": "no GPU"}, lambda m: "unused") == "skipped"
    assert formatting.cell({"error": "E"}, lambda m: "unused") == "failed"
