"""Mean and 95% confidence interval across seeds (Student's t, two-sided)."""
from __future__ import annotations

import math
import statistics
from typing import Sequence

# t_{0.975, df} for df = 1..30 (standard tables); beyond 30 the Cornish-Fisher expansion
# below agrees with the exact quantile to better than 1e-4.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
_Z975 = 1.959963984540054


def t975(df: int) -> float:
    if df < 1:
        raise ValueError(f"a t-interval needs at least 2 values (df >= 1), got df={df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, half-width of the 95% t-interval); the half-width is None for a single value,
    where no interval exists. NaN values (a metric undefined for one seed) are dropped."""
    vals = [v for v in values if v == v]
    if not vals:
        return math.nan, None
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        return mean, None
    return mean, t975(len(vals) - 1) * statistics.stdev(vals) / math.sqrt(len(vals))
