"""Quality of an approximate model (quantized weights, quantized KV cache, another backend)
against a reference model, from their logits on the same tokens.

The statistics are those llama.cpp's perplexity tool prints in `--kl-divergence` mode
(tools/perplexity/perplexity.cpp), with its definitions, so a figure here can be read next to a
llama.cpp one:
- the evaluation tokens are cut into consecutive windows of `n_ctx` tokens, each evaluated from an
  empty cache; only the second half of each window is scored (positions n_ctx/2 .. n_ctx-2 predict
  tokens n_ctx/2+1 .. n_ctx-1), so every scored token has at least n_ctx/2 tokens of context;
  where the tokenizer adds a BOS token, the first token of each window is replaced by BOS;
- per token: KLD = sum over the vocabulary of p_base * (ln p_base - ln p), leaving out entries with
  ln p_base <= -16 (as llama.cpp does); "same top p" = the arg-max tokens agree;
  Δp = p(next token) - p_base(next token);
- mean ± uncertainty: f = sum/n, sqrt((sum2/n - f²)/(n-1)) when n > 10, else 0; the ln PPL ratio's
  uncertainty subtracts twice the covariance of the two per-token NLLs; percentiles interpolate
  linearly at fraction*(n-1) of the sorted values.
Deviations: the reference log-probabilities are kept as float32, not compressed to 16 bits per
entry as llama.cpp's base-logits file does (that compression is lossy for large logit ranges);
both sides' log-probs are rounded to float32 and all sums are accumulated in float64; llama.cpp stops before the summary when fewer than
100 tokens are scored, here the statistics are computed anyway and `n_tokens` says how many.

Any backend plugs in as a `logits_fn(token_ids) -> array[n_tokens, vocab]`:
`hf_logits_fn(model)` for transformers, `llamacpp_logits_fn(llm)` for llama_cpp.Llama built with
logits_all=True. Metric names (registered in bench_lib.metrics): quality_kld_mean,
quality_kld_p99, quality_same_top_p, quality_ppl_ratio, quality_ln_ppl_ratio, quality_rms_dp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

LogitsFn = Callable[[Sequence[int]], np.ndarray]

# Window length and number of windows per size tier; smoke scores 8 * 63 = 504 tokens, above the
# 100 below which llama.cpp declines to print statistics.
WINDOWS = {"smoke": (128, 8), "regular": (256, 16), "full": (512, 32)}
KLD_LOG_P_FLOOR = -16.0
PERCENTILES = (0.999, 0.99, 0.95, 0.90, 0.10, 0.05, 0.01, 0.001)


class QualityError(ValueError):
    """Inputs that cannot be compared; the message says what differs and what to do."""


# --- the fixed evaluation text ----------------------------------------------------------------

def evaluation_conversations(tasks: Sequence[str] | None = None, split: str = "test") -> list[list[dict]]:
    """User prompt + reference answer of each task example (default: every registered task), tasks
    interleaved so that every window mixes them: text in the model's own domain and format,
    identical on every machine."""
    from bench_lib.tasks import task_names
    from bench_lib.tasks.loading import load_examples

    tasks = task_names() if tasks is None else tasks

    per_task = [load_examples(t, split) for t in tasks]
    out = []
    for i in range(max(len(e) for e in per_task)):
        for examples in per_task:
            if i < len(examples):
                ex = examples[i]
                out.append([{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.reference}])
    return out


def evaluation_tokens(tokenizer, n_tokens: int, split: str = "test") -> list[int]:
    """The first `n_tokens` ids of the chat-templated evaluation conversations, concatenated
    (split "train" gives calibration or training text disjoint from the evaluation text)."""
    ids: list[int] = []
    for conv in evaluation_conversations(split=split):
        ids.extend(tokenizer.apply_chat_template(conv, tokenize=True, return_dict=False, enable_thinking=False))
        if len(ids) >= n_tokens:
            return ids[:n_tokens]
    raise QualityError(f"the evaluation text has only {len(ids)} tokens, fewer than the {n_tokens} asked for; "
                       "use fewer or shorter windows")


def evaluation_windows(tokenizer, n_ctx: int | None = None, n_windows: int | None = None,
                       split: str = "test") -> np.ndarray:
    """[n_windows, n_ctx] token ids; defaults from BENCH_PROFILE."""
    from bench_lib import config

    default_ctx, default_n = WINDOWS[config.profile().name]
    n_ctx, n_windows = n_ctx or default_ctx, n_windows or default_n
    if n_ctx < 4:
        raise QualityError(f"n_ctx={n_ctx} is too short: half of each window is context, use at least 4")
    windows = np.array(evaluation_tokens(tokenizer, n_ctx * n_windows, split), dtype=np.int64).reshape(n_windows, n_ctx)
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and getattr(tokenizer, "add_bos_token", False):
        windows[:, 0] = bos
    return windows


def scored_positions(n_ctx: int) -> slice:
    """Logit rows that are scored in a window (each predicts the token after it)."""
    return slice(n_ctx // 2, n_ctx - 1)


# --- logits from a backend ----------------------------------------------------------------------

def hf_logits_fn(model) -> LogitsFn:
    import torch

    device = next(model.parameters()).device

    @torch.no_grad()  # not inference_mode: some quantized tensor subclasses (quanto) refuse inference tensors
    def logits(ids: Sequence[int]) -> np.ndarray:
        x = torch.as_tensor(np.asarray(ids), dtype=torch.long, device=device)[None]
        return model(input_ids=x, use_cache=False).logits[0].float().cpu().numpy()

    return logits


def llamacpp_logits_fn(llm) -> LogitsFn:
    """llm: llama_cpp.Llama(..., logits_all=True, n_ctx >= window length)."""
    def logits(ids: Sequence[int]) -> np.ndarray:
        llm.reset()  # an empty cache per window, as the perplexity tool clears its KV cache
        llm.eval([int(t) for t in ids])
        return np.array(llm.scores[: len(ids)], dtype=np.float32)

    return logits


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@dataclass
class Reference:
    """The reference model's log-probabilities on the scored tokens of the evaluation windows."""
    windows: np.ndarray      # [n_windows, n_ctx]
    logprobs: np.ndarray     # [n_windows * scored, vocab], float32
    targets: np.ndarray      # [n_windows * scored] next-token ids


def _window_logits(logits_fn: LogitsFn, window: np.ndarray, vocab: int | None) -> np.ndarray:
    rows = np.asarray(logits_fn(window))
    if rows.ndim != 2 or rows.shape[0] < len(window):
        raise QualityError(f"a logits function returned shape {rows.shape} for {len(window)} tokens; "
                           "it must return one row of vocabulary logits per input token")
    if vocab is not None and rows.shape[1] != vocab:
        raise QualityError(f"vocabulary sizes differ: reference {vocab}, test {rows.shape[1]}; "
                           "compare models that share a tokenizer")
    return rows[scored_positions(len(window))]


def reference_logprobs(logits_fn: LogitsFn, windows: np.ndarray) -> Reference:
    n_ctx = windows.shape[1]
    parts = [_log_softmax(_window_logits(logits_fn, w, None)).astype(np.float32) for w in windows]
    targets = np.concatenate([w[scored_positions(n_ctx).start + 1:] for w in windows])
    return Reference(windows, np.concatenate(parts), targets)


# --- the statistics ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PerToken:
    kld: np.ndarray
    nll: np.ndarray
    nll_base: np.ndarray
    same_top: np.ndarray
    p_diff: np.ndarray


def per_token(base_logprobs: np.ndarray, test_logits: np.ndarray, targets: np.ndarray) -> PerToken:
    if base_logprobs.shape != test_logits.shape:
        raise QualityError(f"reference log-probs {base_logprobs.shape} and test logits {test_logits.shape} differ "
                           "in shape; they must cover the same tokens and vocabulary")
    base = base_logprobs.astype(np.float64)
    # Both sides rounded to float32 log-probs (as the reference is stored), then float64 arithmetic:
    # a model compared with itself gives exactly 0.
    test = _log_softmax(test_logits).astype(np.float32).astype(np.float64)
    rows = np.arange(len(targets))
    kept = base > KLD_LOG_P_FLOOR
    kld = np.where(kept, np.exp(base) * (base - test), 0.0).sum(axis=1)
    nll, nll_base = -test[rows, targets], -base[rows, targets]
    same_top = np.argmax(test_logits, axis=1) == np.argmax(base, axis=1)
    return PerToken(kld, nll, nll_base, same_top, np.exp(-nll) - np.exp(-nll_base))


def _mean_unc(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    if n < 1:
        return 0.0, 0.0
    f = float(values.sum()) / n
    var = float((values * values).sum()) / n - f * f
    return f, (math.sqrt(var / (n - 1)) if var > 0 and n > 10 else 0.0)


def _covariance(a: np.ndarray, b: np.ndarray) -> float:
    n = len(a)
    if n < 10:
        return 0.0
    return (float((a * b).sum()) / n - float(a.sum()) / n * float(b.sum()) / n) / (n - 1)


@dataclass(frozen=True)
class KLDStats:
    n_tokens: int
    kld_mean: float
    kld_mean_unc: float
    kld_percentiles: dict          # {"max", "99.9", ..., "median", ..., "min"}
    same_top_p: float
    same_top_p_unc: float
    ppl: float
    ppl_base: float
    ln_ppl_ratio: float
    ln_ppl_ratio_unc: float
    ppl_ratio: float
    ppl_ratio_unc: float
    mean_dp: float
    rms_dp: float
    rms_dp_unc: float

    def as_metrics(self) -> dict[str, float]:
        return {"quality_kld_mean": self.kld_mean, "quality_kld_p99": self.kld_percentiles["99.0"],
                "quality_same_top_p": self.same_top_p, "quality_ppl_ratio": self.ppl_ratio,
                "quality_ln_ppl_ratio": self.ln_ppl_ratio, "quality_rms_dp": self.rms_dp}


def summarize(t: PerToken) -> KLDStats:
    n = len(t.kld)
    if n == 0:
        raise QualityError("no scored tokens: windows need at least 4 tokens")
    kld_mean, kld_unc = _mean_unc(t.kld)
    ln_ppl, ln_ppl_unc = _mean_unc(t.nll)
    ln_base, ln_base_unc = _mean_unc(t.nll_base)
    cov = _covariance(t.nll, t.nll_base)
    ratio_unc = math.sqrt(max(ln_ppl_unc ** 2 + ln_base_unc ** 2 - 2 * cov, 0.0))
    mse, mse_unc = _mean_unc(t.p_diff ** 2)
    rms = math.sqrt(mse)
    same = float(t.same_top.sum()) / n
    pct = {f"{100 * f:.1f}": float(np.quantile(t.kld, f)) for f in PERCENTILES}
    pct.update(max=float(t.kld.max()), median=float(np.median(t.kld)), min=float(t.kld.min()))
    return KLDStats(
        n_tokens=n, kld_mean=kld_mean, kld_mean_unc=kld_unc, kld_percentiles=pct,
        same_top_p=same, same_top_p_unc=math.sqrt(same * (1 - same) / (n - 1)) if n > 1 else 0.0,
        ppl=math.exp(ln_ppl), ppl_base=math.exp(ln_base),
        ln_ppl_ratio=ln_ppl - ln_base, ln_ppl_ratio_unc=ratio_unc,
        ppl_ratio=math.exp(ln_ppl - ln_base), ppl_ratio_unc=math.exp(ln_ppl - ln_base) * ratio_unc,
        mean_dp=float(t.p_diff.mean()), rms_dp=rms, rms_dp_unc=0.5 / rms * mse_unc if rms > 0 else 0.0)


def compare(reference: Reference, logits_fn: LogitsFn) -> KLDStats:
    """Statistics of a test model (its logits_fn) against the reference, window by window so that
    only one window of float64 log-probs is held at a time."""
    vocab = reference.logprobs.shape[1]
    n_ctx = reference.windows.shape[1]
    per_window = len(range(n_ctx)[scored_positions(n_ctx)])
    parts = []
    for i, w in enumerate(reference.windows):
        rows = slice(i * per_window, (i + 1) * per_window)
        parts.append(per_token(reference.logprobs[rows], _window_logits(logits_fn, w, vocab), reference.targets[rows]))
    return summarize(PerToken(*(np.concatenate([getattr(p, f) for p in parts])
                                for f in ("kld", "nll", "nll_base", "same_top", "p_diff"))))


def format_stats(s: KLDStats) -> str:
    """The summary in llama.cpp's layout, for logs and the CLI."""
    p = s.kld_percentiles
    return "\n".join([
        f"scored tokens                 : {s.n_tokens}",
        f"Mean PPL(Q)/PPL(base)         : {s.ppl_ratio:10.6f} ± {s.ppl_ratio_unc:10.6f}",
        f"Mean ln(PPL(Q)/PPL(base))     : {s.ln_ppl_ratio:10.6f} ± {s.ln_ppl_ratio_unc:10.6f}",
        f"Mean    KLD: {s.kld_mean:10.6f} ± {s.kld_mean_unc:10.6f}",
        f"Maximum KLD: {p['max']:10.6f}", f"99.0%   KLD: {p['99.0']:10.6f}", f"Median  KLD: {p['median']:10.6f}",
        f"RMS Δp    : {100 * s.rms_dp:6.3f} ± {100 * s.rms_dp_unc:5.3f} %",
        f"Same top p: {100 * s.same_top_p:6.3f} ± {100 * s.same_top_p_unc:5.3f} %",
    ])
