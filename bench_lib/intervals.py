"""95% intervals of task metrics over the evaluated examples, and of paired differences.

- A proportion (a mean of per-example 0/1 outcomes: accuracy, exact match, parse rate) gets the
  Wilson score interval, which keeps a width at 0/n and n/n where a bootstrap collapses to a
  point (Wilson 1927; Brown, Cai & DasGupta 2001 recommend it over the normal interval).
- Any other statistic (token F1, macro F1, AbsDiff, ECE, Brier) gets the percentile bootstrap
  over examples: N_BOOT resamples of the examples with replacement, seed SEED, the 2.5th and
  97.5th percentiles (linear interpolation) of the statistic.
- A difference between two runs on the same examples (a quantized model minus the reference,
  one fine-tune method minus another) resamples example indices once per replicate and applies
  them to both runs (paired bootstrap), so the examples' shared difficulty cancels.
lm-evaluation-harness reports a standard error instead (sample stderr of the mean, bootstrap for
other aggregates); an interval says the same and also covers the 0/n case.
"""
from __future__ import annotations

import math
import random
from typing import Callable, Sequence

Z975 = 1.959963984540054
N_BOOT = 1000
SEED = 0


def wilson(successes: float, n: int, z: float = Z975) -> tuple[float, float]:
    """Wilson score interval of a proportion successes/n; (nan, nan) for n = 0."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """q-th quantile (0..1) with linear interpolation between order statistics (numpy's default)."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _resamples(n: int, n_boot: int, seed: int):
    rng = random.Random(seed)
    for _ in range(n_boot):
        yield [rng.randrange(n) for _ in range(n)]


def _interval(stats: list[float]) -> tuple[float, float]:
    finite = sorted(s for s in stats if s == s)
    return percentile(finite, 0.025), percentile(finite, 0.975)


def bootstrap(records: Sequence, statistic: Callable[[Sequence], float], n_boot: int = N_BOOT,
              seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(records); resamples where the statistic is
    undefined (NaN: no answerable question drawn, say) are left out."""
    if not records:
        return math.nan, math.nan
    return _interval([statistic([records[i] for i in idx]) for idx in _resamples(len(records), n_boot, seed)])


def bootstrap_many(records: Sequence, statistics: Callable[[Sequence], dict[str, float]], n_boot: int = N_BOOT,
                   seed: int = SEED) -> dict[str, tuple[float, float]]:
    """bootstrap() for every statistic of one aggregate function, over the same resamples."""
    if not records:
        return {}
    draws: dict[str, list[float]] = {}
    for idx in _resamples(len(records), n_boot, seed):
        for name, value in statistics([records[i] for i in idx]).items():
            draws.setdefault(name, []).append(value)
    return {name: _interval(values) for name, values in draws.items()}


def paired_difference(records_a: Sequence, records_b: Sequence, statistic: Callable[[Sequence], dict[str, float]],
                      n_boot: int = N_BOOT, seed: int = SEED) -> dict[str, dict]:
    """Per statistic: b - a, its paired-bootstrap 95% interval, and whether the interval excludes 0.
    records_a[i] and records_b[i] must score the same example."""
    if len(records_a) != len(records_b):
        raise ValueError(f"paired comparison needs the same examples: {len(records_a)} vs {len(records_b)} records")
    a, b = statistic(records_a), statistic(records_b)
    draws: dict[str, list[float]] = {name: [] for name in a}
    for idx in _resamples(len(records_a), n_boot, seed):
        sa, sb = statistic([records_a[i] for i in idx]), statistic([records_b[i] for i in idx])
        for name in draws:
            draws[name].append(sb[name] - sa[name])
    out = {}
    for name, values in draws.items():
        low, high = _interval(values)
        out[name] = {"delta": b[name] - a[name], "ci_low": low, "ci_high": high,
                     "excludes_zero": bool(low > 0 or high < 0)}
    return out


def delta_metrics(prefix: str, diff: dict[str, dict], names=None) -> dict[str, float]:
    """A paired_difference as flat metric values: <prefix><name>, its _ci_low / _ci_high and
    _excludes_zero (1.0 or 0.0), for `names` (default: all)."""
    out = {}
    for name, d in diff.items():
        if names is not None and name not in names:
            continue
        key = f"{prefix}{name}"
        out.update({key: d["delta"], f"{key}_ci_low": d["ci_low"], f"{key}_ci_high": d["ci_high"],
                    f"{key}_excludes_zero": float(d["excludes_zero"])})
    return out
