"""Small statistics for verdicts: the Wilson interval of k successes in n trials. Torch-free.

An audit (engine/audit.py) reports how often a claim came out reproduced, k of N seed blocks; with N
near 10 the plain k/N +- 1.96 sd (Wald) interval is useless at k = 0 or N (it has width zero) and
leaves [0, 1] near them. Wilson's score interval does neither and is what statsmodels'
`proportion_confint(method="wilson")` and R's `binom.confint(methods="wilson")` give; ten lines here
rather than a dependency (tests/engine/test_audit.py checks them against those packages' values).
"""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion seen as `k` of `n` (0 <= k <= n, n >= 1).

    With p = k/n and z the normal quantile at 1 - (1 - confidence)/2, the interval is
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1] (it touches 0 at k = 0
    and 1 at k = n; rounding could put it a hair outside)."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval: expected 0 <= k <= n and n >= 1, got k = {k}, n = {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"wilson_interval: confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))
