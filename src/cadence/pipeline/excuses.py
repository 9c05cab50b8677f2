"""What a cancelled or declined 1:1 finally is: made up, excused, or a miss (docs/metrics.md
"What a miss becomes").

Counting every cancellation as a miss accuses people wrongly: a pair that moved Tuesday's 1:1 to
Thursday met, and a 1:1 called off while either person was on vacation or on a public holiday is
nobody's fault. :func:`settle` takes the occurrences that
:func:`cadence.pipeline.occurrences.occurrences` decided (held, cancelled, declined, upcoming) and
turns, in this order:

1. each cancelled or declined occurrence a one-off 1:1 made up (:mod:`cadence.pipeline.makeup`)
   into ``made_up``, recording the one-off's start in ``made_up_by``;
2. each remaining one whose original start lies in the pair's away time
   (:mod:`cadence.pipeline.away`) into ``excused``.

Everything else is kept, the canceller role and lateness included: who called a made-up or
excused 1:1 off is still shown in its timeline, it just never counts as a miss.

It needs the occurrences of whole pairs (every loaded occurrence, not only the window's: a miss
just inside the window may have been made up just outside it), so the Dask engine runs it per
partition like the steps around it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cadence.pipeline.away import in_away
from cadence.pipeline.makeup import MISSES, make_ups
from cadence.pipeline.occurrences import OUTCOMES, Outcome, categorical


def settle(occ: pd.DataFrame, rules: pd.DataFrame, away: pd.DataFrame) -> pd.DataFrame:
    """``occ`` with its misses made up or excused where the rules say so.

    ``rules`` is the recurrence table (:func:`cadence.pipeline.recurrence.parse_rules`), ``away``
    every pair's merged away time (:func:`cadence.pipeline.away.pair_away`).
    """
    if occ.empty:
        return occ
    occ = occ.copy()
    codes = occ["outcome"].cat.codes.to_numpy(dtype=np.int64)
    found = make_ups(occ, rules)
    made_up = found["made_up"].to_numpy(dtype=bool)
    if made_up.any():
        # The one-off's start, found by its ident (an occurrence is one row: idents are unique).
        by = found["made_up_by"].fillna(-1).to_numpy(dtype=np.int64)
        row = pd.Index(occ["ident"].to_numpy()).get_indexer(pd.Index(by))
        start = occ["start"].fillna(occ["original_start"])
        occ["made_up_by"] = start.iloc[np.maximum(row, 0)].set_axis(occ.index).where(made_up)
    missed = np.flatnonzero(np.isin(codes, MISSES) & ~made_up)
    # Only the misses are asked about: a small part of the occurrences.
    excused = np.zeros(len(occ), dtype=bool)
    excused[missed] = in_away(
        away, occ["pair_id"].to_numpy()[missed], occ["original_start"].iloc[missed]
    )
    codes = np.where(made_up, int(Outcome.MADE_UP), codes)
    codes = np.where(excused, int(Outcome.EXCUSED), codes)
    occ["outcome"] = categorical(codes, OUTCOMES)
    return occ
