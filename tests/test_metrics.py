"""Task scoring (each task's module) against hand-computed values (official SQuAD v2 semantics)."""
import math

import pytest

from bench_lib import math_answer, metrics
from bench_lib.tasks import arc, openmath, squad
from bench_lib.tasks.arc import extract_choice
from bench_lib.tasks.openmath import extract_number
from bench_lib.tasks.squad import squad_exact, squad_f1


@pytest.mark.parametrize("pred,golds,em,f1", [
    ("Paris", ["Paris"], 1.0, 1.0),
    ("the Paris.", ["paris"], 1.0, 1.0),             # article, punctuation and case are normalized away
    ("in Paris France", ["Paris"], 0.0, 0.5),        # P=1/3, R=1 → F1 = 2·(1/3)/(4/3) = 0.5
    ("big red car", ["red car"], 0.0, 0.8),          # P=2/3, R=1 → 0.8
    ("red", ["blue car", "red car"], 0.0, 2 / 3),    # max over golds: P=1, R=1/2 → 2/3
    ("", [], 1.0, 1.0),                              # unanswerable, abstained
    ("Paris", [], 0.0, 0.0),                         # unanswerable, answered anyway
    ("", ["Paris"], 0.0, 0.0),                       # answerable, abstained
    ("an", ["the"], 1.0, 1.0),                       # both normalize to "" → both no-answer
])
def test_squad_exact_and_f1(pred, golds, em, f1):
    assert squad_exact(pred, golds) == em
    assert squad_f1(pred, golds) == pytest.approx(f1)


def test_squad_f1_counts_repeated_tokens_once_per_match():
    # gold "a b b" normalizes to "b b"; pred "b" → common 1, P=1, R=1/2 → 2/3
    assert squad_f1("b", ["a b b"]) == pytest.approx(2 / 3)


def test_squad_aggregate_splits_hasans_and_noans():
    out = squad.squad_aggregate(["Paris", "", "Rome"], [["Paris"], [], []])
    assert out["squad_exact"] == pytest.approx(200 / 3)
    assert out["squad_hasans_exact"] == 100.0
    assert out["squad_noans_exact"] == 50.0


@pytest.mark.parametrize("text,value", [
    ("so the result is \\boxed{42}", 42.0),
    ("\\boxed{1} then \\boxed{-7.5}", -7.5),                 # the last box wins
    ("\\boxed{\\frac{3}{4}}", 0.75),
    ("\\boxed{2^{10}} = 1024", 1024.0),                      # nested braces stay balanced
    ("\\boxed{x^{2}} = 9", None),                            # a box that is not a number is no number
    ("steps 1, 2\n#### 1,234.5", 1234.5),
    ("it costs 3/4 of a dollar", 0.75),
    ("a 15% rise", 15.0),
    ("-12 and then +3", 3.0),
    ("between 1,000 and 2,500", 2500.0),
    ("no digits here", None),
    ("\\boxed{}", None),
    ("1/0", None),
])
def test_extract_number(text, value):
    got = extract_number(text)
    assert got == value if value is None else got == pytest.approx(value)


@pytest.mark.parametrize("text,label", [
    ("B", "B"), ("(B)", "B"), ("B)", "B"), ("Answer: B", "B"), ("The answer is B.", "B"),
    ("answer: (C)", "C"), ("I think C.", "C"), ("A cat is not D.", "D"),
    ("A or B", None), ("Both B and C", None), ("", None), ("the answer is a dog", None),
    ("Answer: B, no wait, the answer is C", None),
    ("A is correct", "A"), ("B is correct", "B"),          # a letter as the subject of a verb is a label
    ("Answer: B or C", None), ("Answer: (B) or (C)", None), ("The answer is A and B.", None),
    ("answer: B/C", None),
])
def test_extract_choice(text, label):
    assert extract_choice(text, ["A", "B", "C", "D"]) == label


def test_extract_choice_without_labels_is_none():
    assert extract_choice("B", []) is None


def test_arc_aggregate_accuracy_macro_f1_and_unparsed():
    out = arc.arc_aggregate(["A", "B", None, "A"], ["A", "A", "B", "A"])
    assert out["arc_accuracy"] == 0.5
    assert out["arc_unparsed_rate"] == 0.25
    # A: tp=2 fp=0 fn=1 → 0.8 ; B: tp=0 fp=1 fn=1 → 0 ; macro = 0.4
    assert out["arc_macro_f1"] == pytest.approx(0.4)


def test_openmath_aggregate():
    out = openmath.openmath_aggregate(["\\boxed{5}", "about 7", "no idea"], [5.0, 10.0, 1.0])
    # exact match over all answers, as lm-eval's exact_match: 1 right of 3
    assert out["openmath_exact"] == pytest.approx(1 / 3)
    assert out["openmath_exact_strict"] == pytest.approx(1 / 3)
    assert out["openmath_absdiff"] == pytest.approx(1.5)   # (0 + 3) / 2 parsed answers
    assert out["openmath_parse_rate"] == pytest.approx(2 / 3)
    assert out["openmath_boxed_parse_rate"] == pytest.approx(1 / 3)
    assert math.isnan(openmath.openmath_aggregate(["x"], [1.0])["openmath_absdiff"])


@pytest.mark.parametrize("text,value", [
    ("3\\sqrt{2}", 3 * math.sqrt(2)), ("2^{10}", 1024.0), ("1.5\\times10^{3}", 1500.0), ("2\\pi", 2 * math.pi),
    ("\\dfrac{3}{4}", 0.75), ("-\\frac{1}{2}", -0.5), ("1,234", 1234.0), ("1.5e3", 1500.0), ("10^{-2}", 0.01),
    ("\\sqrt[3]{8}", 2.0), ("50\\%", 50.0), ("5\\text{ cm}", 5.0), ("$42$.", 42.0), ("2(3+1)", 8.0),
    ("(1,2)", None), ("x^2+1", None), ("1/0", None), ("", None), ("\\frac{1}{0}", None),
])
def test_math_answer_values(text, value):
    got = math_answer.evaluate(text)
    assert got == value if value is None else got == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("expected,value,old_reading", [
    ("3\\sqrt{2}", 3 * math.sqrt(2), 2), ("2^{10}", 1024.0, 10), ("1.5\\times10^{3}", 1500.0, 3),
    ("2\\pi", 2 * math.pi, 2),
])
def test_expected_answers_stay_exact(expected, value, old_reading):
    gold = openmath.parse_expected(expected)
    assert gold.value == pytest.approx(value, rel=1e-12)
    # the number the lenient extractor used to read no longer matches; the value written out does
    assert openmath.openmath_aggregate([f"\\boxed{{{old_reading}}}"], [gold])["openmath_exact"] == 0.0
    assert openmath.openmath_aggregate([f"so \\boxed{{{value!r}}}"], [gold])["openmath_exact"] == 1.0
    assert openmath.openmath_aggregate([f"\\boxed{{{expected}}}"], [gold])["openmath_exact_strict"] == 1.0


def test_openmath_expression_answers_compare_normalized():
    gold = openmath.parse_expected("(1, 2)")
    assert gold.value is None and gold.expr == "(1,2)"
    out = openmath.openmath_aggregate(["\\boxed{(1,2)}", "\\boxed{\\left(1, 2\\right)}", "\\boxed{(2,1)}",
                                      "the answer is 2"], [gold] * 4)
    assert out["openmath_exact"] == 0.5          # 2 of 4; the bare "2" is parsed (flexible) but wrong
    assert out["openmath_boxed_parse_rate"] == 0.5   # (2,1) is a box, neither a number nor the expression
    assert out["openmath_parse_rate"] == 0.75
    assert math.isnan(out["openmath_absdiff"])   # no numeric expected answer


def test_openmath_strict_and_flexible():
    # a box that is not understood is unparsed (no digit taken out of it); no box: the last number counts
    out = openmath.openmath_aggregate(["\\boxed{x = 4}", "4", "\\boxed{4}", "#### 4"], [4.0] * 4)
    assert out["openmath_exact"] == 0.75
    assert out["openmath_exact_strict"] == 0.25
    assert out["openmath_boxed_parse_rate"] == 0.25
    assert out["openmath_parse_rate"] == 0.75


def test_squad_hasans_split_uses_the_raw_answer_list():
    # "." normalizes to "", yet the raw list is non-empty: the official script counts it as answerable
    out = squad.squad_aggregate(["", "", "Paris"], [["."], [], ["Paris"]])
    assert out["squad_hasans_exact"] == 100.0    # both answerable questions: "" equals the gold "" and Paris
    assert out["squad_noans_exact"] == 100.0
    out = squad.squad_aggregate(["Rome"], [["."]])
    assert out["squad_hasans_exact"] == 0.0 and math.isnan(out["squad_noans_exact"])


def test_every_metric_has_unit_and_direction():
    for m in metrics.all_metrics().values():
        assert m.unit and isinstance(m.higher_is_better, bool), m
    with pytest.raises(KeyError, match="known metrics"):
        metrics.metric("no_such_metric")
