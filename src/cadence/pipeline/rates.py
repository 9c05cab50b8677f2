"""The cancellation rate, defined once for every figure that shows one: a pair's, a manager's or
director's pooled pairs, and each week of a trend (docs/metrics.md "Pair figures")."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cancellation_rate(
    missed: pd.Series | np.ndarray, scheduled: pd.Series | np.ndarray
) -> np.ndarray:
    """Missed / scheduled, exact (unrounded); null (NaN) where nothing was scheduled."""
    scheduled = np.asarray(scheduled)
    rate = np.full(scheduled.shape, np.nan)
    np.divide(np.asarray(missed), scheduled, out=rate, where=scheduled > 0)
    return rate
