"""Task metrics and metric records.

Every number the suite reports is described by a `Metric` record: its unit and whether higher
is better. asv treats any rising `track_` value as a regression, so the alerting code reads
`higher_is_better` from here instead of trusting asv's direction.

SQuAD scoring follows the official SQuAD v2 evaluation script (normalize_answer, compute_exact,
compute_f1, max over gold answers; an unanswerable question has the single gold answer "").
"""
from __future__ import annotations

import collections
import math
import re
import string
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from bench_lib import intervals, math_answer


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {}


def register(name: str, unit: str, higher_is_better: bool, description: str) -> Metric:
    if name in METRICS:
        raise ValueError(f"metric {name!r} is registered twice")
    METRICS[name] = Metric(name, unit, higher_is_better, description)
    return METRICS[name]


def metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}") from None


# Inference speed and memory (definitions as in vLLM's benchmark_serving: TTFT includes the
# prefill, TPOT excludes the first token).
register("ttft_s", "seconds", False, "time to first token, median over requests")
register("tpot_s", "seconds", False, "time per output token after the first, median over requests")
register("e2e_latency_s", "seconds", False, "end-to-end latency per request, median")
register("output_tokens_per_s", "tokens/s", True, "generated tokens per second of wall time, whole batch")
register("output_tokens", "tokens", True, "tokens generated over the evaluated examples")
register("peak_rss_bytes", "bytes", False, "peak process resident set size during the workload")
register("cuda_max_allocated_bytes", "bytes", False, "torch.cuda.max_memory_allocated during the workload")
register("cuda_max_reserved_bytes", "bytes", False, "torch.cuda.max_memory_reserved during the workload")
# Device memory, energy and the roofline of every engine (bench_lib/measure: nvml, energy, roofline).
register("device_memory_bytes", "bytes", False, "peak device memory the engine's processes hold (NVML per process, else device used minus the baseline before load)")
register("energy_j_per_output_token", "J/token", False, "energy of the first measured pass / its output tokens (NVML total energy; RAPL on CPU)")
register("train_energy_j_per_step", "J/step", False, "train: energy of the measured steps / steps (NVML total energy; RAPL on CPU)")
register("decode_bytes_per_token", "bytes", False, "weights / concurrent sequences + KV cache at the mean context, per generated token")
register("decode_bytes_per_s", "bytes/s", True, "decode_bytes_per_token x output tokens/s (gpt-fast's achieved bandwidth, KV cache added)")
register("decode_mbu", "fraction", True, "decode_bytes_per_s / peak memory bandwidth (GPU datasheet; CPU: measured copy bandwidth)")
register("prefill_flops_per_s", "FLOP/s", True, "prompt FLOPs of a batch / its time to first token, median over batches")
register("prefill_mfu", "fraction", True, "prefill_flops_per_s / peak FLOP/s (GPU: dense 16-bit datasheet; CPU: measured matmul)")
# Task quality.
register("arc_accuracy", "fraction", True, "ARC: share of questions answered with the right label")
register("arc_macro_f1", "fraction", True, "ARC: F1 per answer label, averaged over labels")
register("arc_unparsed_rate", "fraction", False, "ARC: share of answers with no single label")
register("arc_loglik_acc", "fraction", True, "ARC: share of questions whose choice has the highest summed log-probability (lm-eval acc)")
register("arc_loglik_acc_norm", "fraction", True,
         "ARC: as arc_loglik_acc with log-probability / len(choice text) (lm-eval acc_norm)")
register("arc_loglik_ece", "fraction", False, "ARC: expected calibration error of the choice softmax, 10 equal-width bins")
register("arc_loglik_brier", "score", False, "ARC: multi-class Brier score of the choice softmax, sum over choices, mean")
register("squad_exact", "percent", True, "SQuAD v2: exact match, all questions")
register("squad_f1", "percent", True, "SQuAD v2: token F1, all questions")
register("squad_hasans_exact", "percent", True, "SQuAD v2: exact match, answerable questions")
register("squad_hasans_f1", "percent", True, "SQuAD v2: F1, answerable questions")
register("squad_noans_exact", "percent", True, "SQuAD v2: exact match, unanswerable questions")
register("openmath_exact", "fraction", True, "OpenMath: share of all answers equal to the expected answer; "
         "the last \\boxed{} decides, else the last number (flexible extract; unparsed counts as wrong)")
register("openmath_exact_strict", "fraction", True, "OpenMath: share of all answers whose last \\boxed{} equals the "
         "expected answer (strict match; no box or a box not understood counts as wrong)")
register("openmath_absdiff", "absolute difference", False,
         "OpenMath: mean |predicted - expected| over answers where both are numbers (flexible extract)")
register("openmath_parse_rate", "fraction", True, "OpenMath: share of answers with an answer, understood box or else a number")
register("openmath_boxed_parse_rate", "fraction", True, "OpenMath: share of answers whose last \\boxed{} is understood")
TASK_METRICS = ("arc_accuracy", "arc_macro_f1", "arc_unparsed_rate", "arc_loglik_acc", "arc_loglik_acc_norm",
                "arc_loglik_ece", "arc_loglik_brier", "squad_exact", "squad_f1", "squad_hasans_exact",
                "squad_hasans_f1", "squad_noans_exact", "openmath_exact", "openmath_exact_strict", "openmath_absdiff",
                "openmath_parse_rate", "openmath_boxed_parse_rate")


def interval_names(name: str) -> tuple[str, str]:
    """The metric names of the lower and upper end of `name`'s 95% interval."""
    return f"{name}_ci_low", f"{name}_ci_high"


for _name in TASK_METRICS:
    for _end, _name_end in zip(("lower", "upper"), interval_names(_name)):
        register(_name_end, METRICS[_name].unit, METRICS[_name].higher_is_better,
                 f"{_end} end of the 95% interval of {_name} over the examples (bench_lib.intervals: "
                 "Wilson for a proportion, percentile bootstrap otherwise)")


# --- SQuAD v2 (official evaluation semantics) -------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def _exact_one(prediction: str, gold: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def _f1_one(prediction: str, gold: str) -> float:
    gold_toks, pred_toks = _tokens(gold), _tokens(prediction)
    if not gold_toks or not pred_toks:
        # No-answer on either side: F1 is 1 if both are no-answer, else 0.
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def _gold_or_noanswer(gold_answers: Sequence[str]) -> list[str]:
    # The official script drops golds that normalize to "" and treats an empty list as [""].
    golds = [a for a in gold_answers if normalize_answer(a)]
    return golds or [""]


def squad_exact(prediction: str, gold_answers: list[str]) -> float:
    return max(_exact_one(prediction, g) for g in _gold_or_noanswer(gold_answers))


def squad_f1(prediction: str, gold_answers: list[str]) -> float:
    return max(_f1_one(prediction, g) for g in _gold_or_noanswer(gold_answers))


def squad_aggregate(predictions: Sequence[str], gold_answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """EM and F1 in percent, overall and split into HasAns / NoAns, as the official script prints."""
    return squad_from_records(squad_records(predictions, gold_answers))


def squad_records(predictions: Sequence[str], gold_answers: Sequence[Sequence[str]]) -> list[dict]:
    """Per question: answerable or not, exact match and F1 (0..1). Answerable means a non-empty raw
    answer list, as the official script's qid_to_has_ans = bool(qa['answers']); a gold answer
    that normalizes to "" still makes its question answerable."""
    return [{"has": bool(list(g)), "em": squad_exact(p, list(g)), "f1": squad_f1(p, list(g))}
            for p, g in zip(predictions, gold_answers)]


SQUAD_PROPORTIONS = {"squad_exact": lambda r: r["em"], "squad_hasans_exact": lambda r: r["em"] if r["has"] else None,
                     "squad_noans_exact": lambda r: r["em"] if not r["has"] else None}


def squad_from_records(records: Sequence[dict]) -> dict[str, float]:
    has = [r["has"] for r in records]
    em = [r["em"] for r in records]
    f1 = [r["f1"] for r in records]

    def pct(values: Iterable[float]) -> float:
        values = list(values)
        return 100.0 * sum(values) / len(values) if values else math.nan

    return {
        "squad_exact": pct(em),
        "squad_f1": pct(f1),
        "squad_hasans_exact": pct(e for e, h in zip(em, has) if h),
        "squad_hasans_f1": pct(f for f, h in zip(f1, has) if h),
        "squad_noans_exact": pct(e for e, h in zip(em, has) if not h),
    }


# --- numeric answers --------------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"
_FRACTION_OR_NUMBER = re.compile(rf"(?P<num>{_NUMBER})(?:\s*/\s*(?P<den>{_NUMBER}))?\s*(?P<pct>%)?")


def _boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...}, with nested braces balanced."""
    out = []
    for m in re.finditer(r"\\boxed\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end(): i - 1])
    return out


def _to_float(s: str) -> float:
    return float(s.replace(",", ""))


def _last_number(text: str) -> float | None:
    # \frac{a}{b} inside a box is common in math answers.
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", text)
    matches = list(_FRACTION_OR_NUMBER.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    value = _to_float(m.group("num"))
    if m.group("den") is not None:
        den = _to_float(m.group("den"))
        if den == 0:
            return None
        value /= den
    return value


def extract_number(text: str) -> float | None:
    """The answer number: the last \\boxed{...} when its content is a number (math_answer.evaluate;
    a box holding anything else gives None, not a digit out of it), else after '####', else the
    last number in the text."""
    boxed = _boxed_contents(text)
    if boxed:
        return math_answer.evaluate(boxed[-1])
    if "####" in text:
        found = _last_number(text.rsplit("####", 1)[1])
        if found is not None:
            return found
    return _last_number(text)


def parse_expected(expected) -> math_answer.MathAnswer:
    """An expected answer taken as written: its exact value where it is a number, else its
    normalized expression (never the last digit of it)."""
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return math_answer.MathAnswer(float(expected), math_answer.normalize(str(expected)))
    return math_answer.parse(str(expected))


def openmath_records(predictions: Sequence[str], expected: Sequence[math_answer.MathAnswer]) -> list[dict]:
    """Per answer, lm-eval's two extractions. strict: the last \\boxed{}, counted as parsed only
    when its content is understood (a number, or equal to a non-numeric expected expression).
    flexible: that box when there is one, else the number after '####', else the last number."""
    out = []
    for text, gold in zip(predictions, expected):
        boxed = _boxed_contents(text)
        if boxed:
            ans = math_answer.parse(boxed[-1])
            strict = ans if ans.value is not None or (gold.value is None and ans.matches(gold)) else None
            flexible = strict
        else:
            strict, value = None, extract_number(text)
            flexible = math_answer.MathAnswer(value, "") if value is not None else None
        out.append({"exact": float(flexible is not None and flexible.matches(gold)),
                    "exact_strict": float(strict is not None and strict.matches(gold)),
                    "parsed": float(flexible is not None), "boxed": float(strict is not None),
                    "absdiff": (abs(flexible.value - gold.value)
                                if flexible is not None and flexible.value is not None and gold.value is not None
                                else None)})
    return out


OPENMATH_PROPORTIONS = {"openmath_exact": lambda r: r["exact"], "openmath_exact_strict": lambda r: r["exact_strict"],
                        "openmath_parse_rate": lambda r: r["parsed"], "openmath_boxed_parse_rate": lambda r: r["boxed"]}


def openmath_from_records(records: Sequence[dict]) -> dict[str, float]:
    n = len(records)
    diffs = [r["absdiff"] for r in records if r["absdiff"] is not None]
    out = {name: sum(f(r) for r in records) / n if n else math.nan for name, f in OPENMATH_PROPORTIONS.items()}
    out["openmath_absdiff"] = sum(diffs) / len(diffs) if diffs else math.nan
    return out


def openmath_aggregate(predictions: Sequence[str], expected: Sequence) -> dict[str, float]:
    gold = [e if isinstance(e, math_answer.MathAnswer) else parse_expected(e) for e in expected]
    return openmath_from_records(openmath_records(predictions, gold))


# --- multiple choice --------------------------------------------------------------------------


def extract_choice(text: str, labels: Sequence[str]) -> str | None:
    """The single label an answer picks ('B', '(B)', 'B)', 'Answer: B', 'The answer is B.').

    None when no label or more than one label stands as a label in the text.
    """
    if not labels:
        return None
    alt = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    # An explicit "answer is X" / "Answer: X" wins over other label-like tokens. Labels are
    # matched case-sensitively so that "the answer is a dog" does not read as label "A".
    # "Answer: B or C" names two labels: the second, joined by or/and/a comma/a slash, is captured too.
    joined = rf"\s*(?:,|/|\bor\b|\band\b)\s*\(?(?:{alt})(?![A-Za-z0-9])"
    explicit = re.findall(rf"(?i:answer\s*(?:is|:))\s*[:\-]?\s*\(?({alt})\)?(?![A-Za-z0-9])((?:{joined})?)", text)
    if explicit:
        labels_named = {label for label, _ in explicit}
        ambiguous = any(more for _, more in explicit)
        return labels_named.pop() if len(labels_named) == 1 and not ambiguous else None
    # Otherwise labels standing alone: "B", "(B)", "B)", "B." but not "B" inside a word. "A" and
    # "I" followed by a lower-case word are English ("A cat", "I think"), not labels, unless
    # the word joins labels ("A or B") or is a verb that makes the letter a subject ("A is correct").
    found = set()
    for m in re.finditer(rf"(?<![A-Za-z0-9])\(?({alt})(?![A-Za-z0-9])", text):
        label, rest = m.group(1), text[m.end():]
        if label in ("A", "I") and re.match(r"\s+[a-z]", rest) and not re.match(_LABEL_VERBS, rest):
            continue
        found.add(label)
    return found.pop() if len(found) == 1 else None


_LABEL_VERBS = r"\s+(or|and|is|was|would|should|must|seems|looks|fits|matches|appears)\b"


def arc_records(chosen: Sequence[str | None], gold: Sequence[str]) -> list[dict]:
    return [{"pred": p, "gold": g} for p, g in zip(chosen, gold)]


ARC_PROPORTIONS = {"arc_accuracy": lambda r: float(r["pred"] == r["gold"]),
                   "arc_unparsed_rate": lambda r: float(r["pred"] is None)}


def arc_from_records(records: Sequence[dict]) -> dict[str, float]:
    return arc_aggregate([r["pred"] for r in records], [r["gold"] for r in records])


def arc_aggregate(predictions: Sequence[str | None], gold: Sequence[str]) -> dict[str, float]:
    n = len(gold)
    labels = sorted(set(gold) | {p for p in predictions if p is not None})
    f1s = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predictions, gold))
        fp = sum(p == label and g != label for p, g in zip(predictions, gold))
        fn = sum(p != label and g == label for p, g in zip(predictions, gold))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "arc_accuracy": sum(p == g for p, g in zip(predictions, gold)) / n if n else math.nan,
        "arc_macro_f1": sum(f1s) / len(f1s) if f1s else math.nan,
        "arc_unparsed_rate": sum(p is None for p in predictions) / n if n else math.nan,
    }


# --- intervals ----------------------------------------------------------------------------------

def with_intervals(records: Sequence, aggregate: Callable[[Sequence], dict[str, float]],
                   proportions: dict[str, Callable]) -> dict[str, float]:
    """aggregate(records) and, per metric, the ends of its 95% interval (metric_ci_low/_ci_high):
    Wilson for the metrics in `proportions` (each maps a record to its 0/1 outcome, or None when
    the record is outside the metric's subset), the percentile bootstrap over records for the rest."""
    values = aggregate(records)
    out = dict(values)
    rest = [name for name in values if name not in proportions]
    boot = intervals.bootstrap_many(records, lambda rs: {k: v for k, v in aggregate(rs).items() if k in rest}) \
        if rest else {}
    for name in values:
        if name in proportions:
            outcomes = [y for y in map(proportions[name], records) if y is not None]
            scale = 100.0 if METRICS[name].unit == "percent" else 1.0
            low, high = (scale * x for x in intervals.wilson(sum(outcomes), len(outcomes)))
        else:
            low, high = boot.get(name, (math.nan, math.nan))
        out.update(zip(interval_names(name), (low, high)))
    return out


# Quality against a reference model (bench_lib.quality; llama.cpp perplexity --kl-divergence definitions).
register("quality_kld_mean", "nats", False, "mean KL divergence per scored token, reference || test")
register("quality_kld_p99", "nats", False, "99th percentile of the per-token KL divergence")
register("quality_same_top_p", "fraction", True, "share of scored tokens where reference and test arg-max agree")
register("quality_ppl_ratio", "ratio", False, "PPL(test) / PPL(reference) on the scored tokens")
register("quality_ln_ppl_ratio", "nats", False, "ln(PPL(test) / PPL(reference))")
register("quality_rms_dp", "fraction", False, "RMS of p_test(next token) - p_reference(next token)")
# Serving under load (bench_lib/serve/client.py; definitions of vLLM's serving benchmark).
register("serve_completed", "requests", True, "serving: requests that produced their requested output (the fixed length, else >= 1 token)")
register("serve_failed", "requests", False, "serving: requests that failed, replied empty or short, timed out or were not sent in time")
register("serve_duration_s", "seconds", False, "serving: first request sent to last request finished")
register("serve_request_throughput", "requests/s", True, "serving: completed requests per second of benchmark duration")
register("serve_output_throughput", "tokens/s", True, "serving: output tokens of completed requests per second")
register("serve_total_token_throughput", "tokens/s", True, "serving: prompt plus output tokens per second")
register("serve_goodput", "requests/s", True, "serving: requests within every BENCH_SERVE_GOODPUT limit per second")
register("serve_ttft_mean_s", "seconds", False, "serving: time to first token, mean over requests")
register("serve_ttft_p50_s", "seconds", False, "serving: time to first token, median")
register("serve_ttft_p90_s", "seconds", False, "serving: time to first token, 90th percentile")
register("serve_ttft_p99_s", "seconds", False, "serving: time to first token, 99th percentile")
register("serve_tpot_mean_s", "seconds", False, "serving: (E2EL - TTFT) / (output tokens - 1), mean over requests")
register("serve_tpot_p50_s", "seconds", False, "serving: time per output token after the first, median")
register("serve_tpot_p90_s", "seconds", False, "serving: time per output token after the first, 90th percentile")
register("serve_tpot_p99_s", "seconds", False, "serving: time per output token after the first, 99th percentile")
register("serve_itl_mean_s", "seconds", False, "serving: gap between streamed chunks, mean over all gaps")
register("serve_itl_p50_s", "seconds", False, "serving: inter-token latency, median")
register("serve_itl_p90_s", "seconds", False, "serving: inter-token latency, 90th percentile")
register("serve_itl_p99_s", "seconds", False, "serving: inter-token latency, 99th percentile")
register("serve_e2el_mean_s", "seconds", False, "serving: end-to-end latency per request, mean")
register("serve_e2el_p50_s", "seconds", False, "serving: end-to-end latency per request, median")
register("serve_e2el_p90_s", "seconds", False, "serving: end-to-end latency per request, 90th percentile")
register("serve_e2el_p99_s", "seconds", False, "serving: end-to-end latency per request, 99th percentile")
register("serve_server_peak_rss_bytes", "bytes", False, "serving: sum of peak RSS of the server's processes, model load included")
# Serving from the scheduled send time, client lag, SLO search (bench_lib/serve/metrics.py, slo.py).
for _stat, _what in (("mean", "mean"), ("p50", "median"), ("p90", "90th percentile"), ("p99", "99th percentile")):
    register(f"serve_ttft_sched_{_stat}_s", "seconds", False, f"serving: time to first token from the scheduled send time, {_what}")
    register(f"serve_e2el_sched_{_stat}_s", "seconds", False, f"serving: end-to-end latency from the scheduled send time, {_what}")
register("serve_lag_p50_s", "seconds", False, "serving: client lag, actual minus scheduled send time, median")
register("serve_lag_p99_s", "seconds", False, "serving: client lag, actual minus scheduled send time, 99th percentile")
register("serve_slo_max_rate", "requests/s", True, "serving: highest request rate whose p99 TTFT and p99 TPOT meet BENCH_SERVE_SLO")
register("serve_slo_max_concurrency", "requests", True, "serving: highest concurrency whose p99 TTFT and p99 TPOT meet BENCH_SERVE_SLO")
# Train-step suite (bench_lib/train): one measured step, and a short fine-tune scored on the task.
register("train_step_s", "seconds", False, "train: forward + backward + optimizer step, median over measured steps")
register("train_tokens_per_s", "tokens/s", True, "train: batch × sequence length / step time (packed batches, no padding)")
register("train_trainable_params", "parameters", False, "train: trainable parameters (counted as peft's get_nb_trainable_parameters)")
register("train_total_params", "parameters", False, "train: all parameters, 4-bit weights counted unpacked, adapters included")
register("train_optimizer_state_bytes", "bytes", False, "train: bytes of every tensor in the optimizer state after a step")
register("train_saved_bytes", "bytes", False, "train: bytes on disk after save_pretrained (the adapter; the whole model for full)")
register("train_flops_per_s", "FLOP/s", True, "train: model FLOPs per step (PaLM counting, frozen weights at 4/token) / step time")
register("train_mfu", "fraction", True, "train: achieved FLOP/s / peak FLOP/s (GPU: dense 16-bit datasheet; CPU: measured matmul)")
register("train_dist_step_s", "seconds", False, "train, distributed: the slowest rank's median step time (DDP/FSDP)")
register("train_dist_tokens_per_s", "tokens/s", True, "train, distributed: tokens of all ranks' batches / the slowest rank's step time")
register("train_dist_max_rank_peak_rss_bytes", "bytes", False, "train, distributed: the largest peak RSS of one rank's process in a step")
register("train_dist_max_rank_cuda_allocated_bytes", "bytes", False, "train, distributed: the largest CUDA max allocated of one rank's GPU in a step")
register("train_ft_loss_mean", "nats/token", False, "train: fine-tune loss over the last fifth of K steps, mean over seeds")
register("train_ft_loss_ci95", "nats/token", False, "train: half-width of the 95% t-interval of train_ft_loss across seeds")
register("train_ft_first_loss_mean", "nats/token", False, "train: loss of the first fine-tune step, mean over seeds")
register("train_ft_arc_accuracy_mean", "fraction", True, "train: ARC accuracy after K fine-tune steps, mean over seeds")
register("train_ft_arc_accuracy_ci95", "fraction", False, "train: half-width of the 95% t-interval of ARC accuracy across seeds")
register("train_ft_arc_macro_f1_mean", "fraction", True, "train: ARC macro F1 after K fine-tune steps, mean over seeds")
register("train_ft_arc_macro_f1_ci95", "fraction", False, "train: half-width of the 95% t-interval of ARC macro F1 across seeds")
register("train_ft_squad_exact_mean", "percent", True, "train: SQuAD v2 exact match after K fine-tune steps, mean over seeds")
register("train_ft_squad_exact_ci95", "percent", False, "train: half-width of the 95% t-interval of SQuAD exact across seeds")
register("train_ft_squad_f1_mean", "percent", True, "train: SQuAD v2 F1 after K fine-tune steps, mean over seeds")
register("train_ft_squad_f1_ci95", "percent", False, "train: half-width of the 95% t-interval of SQuAD F1 across seeds")
register("train_ft_openmath_exact_mean", "fraction", True, "train: OpenMath exact match after K fine-tune steps, mean over seeds")
register("train_ft_openmath_exact_ci95", "fraction", False, "train: half-width of the 95% t-interval of OpenMath exact across seeds")
register("train_ft_openmath_absdiff_mean", "absolute difference", False, "train: OpenMath AbsDiff after K fine-tune steps, mean over seeds")
register("train_ft_openmath_absdiff_ci95", "absolute difference", False, "train: half-width of the 95% t-interval of OpenMath AbsDiff across seeds")
register("train_qlora_over_lora_allocated", "ratio", False, "train: QLoRA-nf4 / LoRA CUDA max allocated in one step (published ≈0.38)")
register("train_qlora_over_lora_reserved", "ratio", False, "train: QLoRA-nf4 / LoRA CUDA max reserved in one step")
register("train_vera_over_lora_allocated", "ratio", False, "train: VeRA r=512 / LoRA r=256 CUDA max allocated in one step (published ≈0.80)")
register("train_vera_over_lora_reserved", "ratio", False, "train: VeRA r=512 / LoRA r=256 CUDA max reserved in one step")
# Engines (llama.cpp / vLLM beside HF): parity and overhead checks, engines' own timings.
register("engines_parity_identical_fraction", "fraction", True, "engines: share of task prompts whose greedy ids equal HF's exactly")
register("engines_overhead_ratio", "ratio", True, "engines: suite decode tokens/s over a bare loop of the same engine, median of interleaved pairs (issue wants >= 0.98)")
register("engines_suite_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s (after the first token) through the suite's generate")
register("engines_bare_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s of the engine's bare loop on the same model")
register("engines_own_prompt_tokens_per_s", "tokens/s", True, "engines: prompt tokens/s from the engine's own timers (llama.cpp t_p_eval)")
register("engines_own_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s from the engine's own timers (llama.cpp t_eval)")
# Quantization suite (bench_lib/quant/cases.py); quality of a scheme uses the quality_* records.
register("quant_quantize_s", "seconds", False, "quant: time to build the quantized model, loading the source weights included")
register("quant_build_peak_rss_bytes", "bytes", False, "quant: peak process RSS while building the quantized model")
register("quant_build_rss_increase_bytes", "bytes", False, "quant: peak RSS while building minus RSS before it")
register("quant_build_cuda_max_allocated_bytes", "bytes", False, "quant: torch.cuda.max_memory_allocated while building")
register("quant_weight_bytes", "bytes", False, "quant: bytes of all stored weights, scales and zero points included")
register("quant_bits_per_weight", "bits", False, "quant: 8 * weight bytes / parameters of the unquantized model")
register("quant_decode_tokens_per_s", "tokens/s", True, "quant: 1 / median time per output token, batch 1, on the scheme's engine")
for _base in ("arc_accuracy", "arc_macro_f1", "squad_exact", "squad_f1", "openmath_exact", "openmath_absdiff",
              "arc_loglik_acc", "arc_loglik_acc_norm", "arc_loglik_ece", "arc_loglik_brier"):
    register(f"quant_delta_{_base}", METRICS[_base].unit, METRICS[_base].higher_is_better,
             f"quant: {_base} of the quantized model minus the unquantized model's, same prompts, same run")
    for _end, _name_end in zip(("lower", "upper"), interval_names(f"quant_delta_{_base}")):
        register(_name_end, METRICS[_base].unit, METRICS[_base].higher_is_better,
                 f"quant: {_end} end of the paired-bootstrap 95% interval of quant_delta_{_base} (same examples resampled)")
    register(f"quant_delta_{_base}_excludes_zero", "flag", False,
             f"quant: 1 when the 95% interval of quant_delta_{_base} excludes 0 (a change beyond example noise), else 0")
# KV-cache quantization and speculative decoding (bench_lib/kvspec).
register("kvspec_cache_bytes", "bytes", False, "kvspec: KV-cache bytes at the context length, from shapes and dtypes (data, scales, zero points, residual)")
register("kvspec_cache_bytes_engine", "bytes", False, "kvspec: KV-cache bytes the engine itself holds/reports (HF: stored tensors; llama.cpp: its KV buffer)")
register("kvspec_decode_tokens_per_s", "tokens/s", True, "kvspec: decode tokens/s after a prefill to the context length (first token excluded), median over runs")
register("kvspec_prefill_s", "seconds", False, "kvspec: prefill time (start to first token) at the context length, median over runs")
register("kvspec_greedy_agreement", "fraction", True, "kvspec: share of the full-precision cache's greedy tokens reproduced before the first difference")
register("kvspec_acceptance_rate", "fraction", True, "kvspec: accepted / drafted tokens (vLLM's definition)")
register("kvspec_acceptance_length", "tokens", True, "kvspec: 1 + accepted tokens / drafts, tokens per verification step (vLLM's mean acceptance length)")
register("kvspec_acceptance_pos1", "fraction", True, "kvspec: drafts whose 1st proposed token was accepted / drafts")
register("kvspec_acceptance_pos2", "fraction", True, "kvspec: drafts whose 2nd proposed token was accepted / drafts")
register("kvspec_acceptance_pos3", "fraction", True, "kvspec: drafts whose 3rd proposed token was accepted / drafts")
register("kvspec_acceptance_pos4", "fraction", True, "kvspec: drafts whose 4th proposed token was accepted / drafts")
register("kvspec_target_passes", "passes", False, "kvspec: target-model forward passes over the prompts (plain greedy: one per token)")
register("kvspec_drafted_tokens", "tokens", False, "kvspec: tokens proposed to the target over the prompts")
register("kvspec_speedup", "ratio", True, "kvspec: plain greedy wall time / speculative wall time, same prompts interleaved, median over repeats")
register("kvspec_plain_tokens_per_s", "tokens/s", True, "kvspec: plain greedy tokens/s measured alongside the speculative runs")
register("kvspec_spec_tokens_per_s", "tokens/s", True, "kvspec: speculative tokens/s on the same prompts")
register("kvspec_greedy_exact", "fraction", True, "kvspec: 1 when greedy speculative output equals plain greedy on every prompt (a mismatch fails the benchmark)")
register("quant_kld_vs_own_fp", "nats", False, "quant: mean KLD against the scheme's own fp model (QAT/PTQ: the same fine-tune without quantization)")
