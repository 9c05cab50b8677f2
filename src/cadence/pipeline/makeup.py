"""Made-up misses: a cancelled or declined 1:1 the pair made up with a one-off meeting nearby
(docs/metrics.md "Made-up misses").

Cancelling the Tuesday 1:1 and meeting on Thursday instead is not skipping: the pair met. This
module only says *which* misses were made up (and by which one-off); what that changes in the
figures (missed, streaks, health) is the caller's. It is computed from the occurrences frame
(:func:`cadence.pipeline.occurrences.occurrences`) and the rules table
(:func:`cadence.pipeline.recurrence.parse_rules`) alone.

The rule: a miss (outcome ``cancelled`` or ``declined``) is **made up** when the pair has a
**one-off** 1:1 (``rule`` null: an event of no recurring series) that is ``held`` or
``upcoming`` at as-of and starts within half the cadence of the miss's own series before or
after the miss's original start. Each one-off makes up one miss at most: a pair's misses (at any
time, not only in the window) are taken in order of original start, each made up by the nearest
one-off not yet used.

Decisions where the rule is silent (a manager should be able to predict every one):

- **Which instant of the one-off**: its actual ``start`` (where the pair really met; a one-off
  moved to Thursday makes up Tuesday's miss from Thursday). A null ``start`` falls back to its
  ``original_start``. The miss is measured from its **original** start (where it was meant to
  be), whatever it was moved to before it was cancelled.
- **Half the cadence**: ``cadence_days / 2`` of the miss's ``rule`` code in ``rules`` (as for
  ``intended_cadence_days``: weekly 3.5 days, biweekly 7, monthly 15). A miss that is itself a
  one-off, or whose series has no cadence (a frequency such as HOURLY, or a code missing from
  ``rules``), gets 3.5 days: a series whose cadence cannot be read is ad hoc, like a one-off.
- **Within**: inclusive. A one-off exactly half the cadence away counts.
- **Nearest**: by absolute distance between the one-off's start and the miss's original start;
  ties between one-offs equally near go to the earlier one-off (by start, then by ``ident``, so
  the answer never depends on row order). A miss with no unused one-off in its span is not made
  up and uses nothing.
- **Order of misses**: by original start, ties by ``ident``.
- **Only the pair's own one-offs**: matching is per ``pair_id``; a one-off of another pair never
  makes up a miss.
- **Held or upcoming**: read from the ``outcome`` column, already decided at as-of; a one-off
  that was itself cancelled or declined makes up nothing. An upcoming one-off counts: the make-up
  is on the calendar.
- **A one-off miss** can be made up by another one-off (never by itself: it is not held).
- **Adding a held or upcoming one-off never un-makes-up a miss** (so the number made up never
  drops; tested). Why it holds for this greedy rule: run the misses in order with and without
  the extra one-off; before each miss, the unused one-offs of the larger run are those of the
  smaller run plus at most one more. If the larger run picks a one-off the smaller run also has
  unused, it is the nearest there too (one strict order: distance, start, ident), so both pick
  it; if it picks the extra one, the smaller run's pick (if any) becomes the new extra; and
  whenever the smaller run finds a one-off in span, so does the larger. (A miss may be made up
  by a *different* one-off.)
- **Adding a miss** (a cancelled one-off, say) may take an earlier-matched one-off away from
  another miss, which is then not made up: a per-miss guarantee does not hold. The *number* made
  up still never drops (tested): by the same argument the runs differ by at most one unused
  one-off, so at most one old miss loses its make-up, and only when the new miss took one.

How: the one-offs are sorted once by (pair, start, ident) and each miss finds, with one merged
sort, where its original start falls among its pair's one-offs. Then round k handles the k-th
miss (in order of original start) of every pair at once: running maxima and minima over a
``used`` mask give, per miss, the nearest unused one-off on either side within its pair; the
chosen ones are marked used. A round holds at most one miss per pair, so its choices never
collide. Cost: O((M + O) log(M + O)) for the sorts plus O(K * O) for the rounds, with M misses,
O one-offs and K the most misses of any one pair (bounded by the loaded history: a weekly
pair has at most about one occurrence a week loaded). The Python loop runs once per round, never
per event or per pair.

Pass every occurrence of the pairs, not only the window's: a miss just inside the window may
have been made up just outside it, and a one-off used by an earlier miss is not free for a later
one (the :class:`~cadence.pipeline.result.HealthResult` ``occurrences`` frame is the window's
only; the caller wiring this in takes the frame :func:`occurrences` returns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cadence.pipeline.occurrences import Outcome
from cadence.pipeline.params import DAY_NS, NAT, instants_ns

# Half a week: the span of a one-off miss, and of a series with no cadence.
ONE_OFF_HALF_DAYS = 3.5
MISSES = (int(Outcome.CANCELLED), int(Outcome.DECLINED))
MEETS = (int(Outcome.HELD), int(Outcome.UPCOMING))


def _outcome_codes(outcome: pd.Series) -> np.ndarray:
    """:class:`Outcome` codes from the categorical of labels (or from the codes themselves)."""
    if isinstance(outcome.dtype, pd.CategoricalDtype):
        return np.asarray(outcome.cat.codes.to_numpy(dtype=np.int64))
    return np.asarray(pd.to_numeric(outcome).fillna(-1).to_numpy(dtype=np.int64))


def half_spans(rule: np.ndarray, rules: pd.DataFrame) -> np.ndarray:
    """Half the cadence in days of each ``rule`` code (NaN: a one-off), 3.5 days for a one-off
    or a series with no readable cadence."""
    cadence = np.full(len(rule), np.nan)
    known = ~np.isnan(rule)
    if known.any():
        table = rules["cadence_days"].astype(float)
        cadence[known] = table.reindex(rule[known].astype(np.int64)).to_numpy(dtype=float)
    half = cadence / 2.0
    return np.where(np.isnan(half) | (half < 0), ONE_OFF_HALF_DAYS, half)


def make_ups(occ: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Per occurrence (index = ``occ``'s): ``made_up`` (bool, True for the misses made up) and
    ``made_up_by`` (nullable Int64: the ``ident`` of the one-off that made it up)."""
    n = len(occ)
    made_up = np.zeros(n, dtype=bool)
    by = np.full(n, -1, dtype=np.int64)
    if n:
        _match(occ, rules, made_up, by)
    idents = occ["ident"].to_numpy(dtype=np.int64)
    by_ident = pd.array(idents[np.maximum(by, 0)] if n else idents, dtype="Int64")
    by_ident[by < 0] = pd.NA
    return pd.DataFrame({"made_up": made_up, "made_up_by": by_ident}, index=occ.index)


def made_up(occ: pd.DataFrame, rules: pd.DataFrame) -> pd.Series:
    """Whether each occurrence is a miss the pair made up (index = ``occ``'s)."""
    return make_ups(occ, rules)["made_up"]


def _match(occ: pd.DataFrame, rules: pd.DataFrame, made_up: np.ndarray, by: np.ndarray) -> None:
    """The greedy matching, in rounds: fills ``made_up`` and ``by`` (the one-off's row
    position, -1: none) for ``occ``'s rows."""
    outcome = _outcome_codes(occ["outcome"])
    pair = pd.factorize(occ["pair_id"], sort=True)[0]
    rule = pd.to_numeric(occ["rule"]).to_numpy(dtype=float, na_value=np.nan)
    original = instants_ns(occ["original_start"])
    start = instants_ns(occ["start"].fillna(occ["original_start"]))
    ident = occ["ident"].to_numpy(dtype=np.int64)

    missed = np.isin(outcome, MISSES) & (pair >= 0) & (original != NAT)
    meets = np.isin(outcome, MEETS) & np.isnan(rule) & (pair >= 0) & (start != NAT)
    o_rows = np.flatnonzero(meets)
    o_rows = o_rows[np.lexsort((ident[o_rows], start[o_rows], pair[o_rows]))]
    m_rows = np.flatnonzero(missed)
    m_rows = m_rows[np.lexsort((ident[m_rows], original[m_rows], pair[m_rows]))]
    n_o, n_m = len(o_rows), len(m_rows)
    if n_o == 0 or n_m == 0:
        return
    op, ot = pair[o_rows], start[o_rows]
    mp, mt = pair[m_rows], original[m_rows]
    half = np.rint(half_spans(rule[m_rows], rules) * DAY_NS).astype(np.int64)

    # Each miss's rank within its pair (k-th by original start) and its pair's one-off segment.
    first_of_pair = np.ones(n_m, dtype=bool)
    first_of_pair[1:] = mp[1:] != mp[:-1]
    run = np.maximum.accumulate(np.where(first_of_pair, np.arange(n_m), 0))
    rank = np.arange(n_m) - run
    seg_lo = np.searchsorted(op, mp, side="left")
    seg_hi = np.searchsorted(op, mp, side="right")
    # pos: the first one-off at or after (pair, original start), from one merged sort in which
    # a miss sorts before one-offs at the same instant.
    is_o = np.concatenate([np.ones(n_o, dtype=np.int64), np.zeros(n_m, dtype=np.int64)])
    order = np.lexsort((is_o, np.concatenate([ot, mt]), np.concatenate([op, mp])))
    before = np.cumsum(is_o[order])
    queries = np.flatnonzero(is_o[order] == 0)
    pos = np.empty(n_m, dtype=np.int64)
    pos[order[queries] - n_o] = before[queries]
    # Of one-offs at the same (pair, start), the first: ties go to the lowest ident.
    new_run = np.ones(n_o, dtype=bool)
    new_run[1:] = (op[1:] != op[:-1]) | (ot[1:] != ot[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n_o), 0))

    used = np.zeros(n_o, dtype=bool)
    index = np.arange(n_o)
    # Round k: the k-th miss of every pair that has one.
    by_rank = np.argsort(rank, kind="stable")
    for q in np.split(by_rank, np.cumsum(np.bincount(rank))[:-1]):
        free = ~used
        prev = np.maximum.accumulate(np.where(free, index, -1))
        nxt = np.minimum.accumulate(np.where(free, index, n_o)[::-1])[::-1]
        nxt = np.append(nxt, n_o)  # position n_o: nothing after
        left = np.where(pos[q] > 0, prev[np.maximum(pos[q] - 1, 0)], -1)
        has_left = left >= seg_lo[q]
        left = np.where(has_left, nxt[run_start[np.maximum(left, 0)]], 0)
        right = nxt[pos[q]]
        has_right = right < seg_hi[q]
        right = np.where(has_right, right, 0)
        d_left = mt[q] - ot[left]
        d_right = ot[right] - mt[q]
        take_left = has_left & (~has_right | (d_left <= d_right))
        chosen = np.where(take_left, left, right)
        distance = np.where(take_left, d_left, d_right)
        ok = (has_left | has_right) & (distance <= half[q])
        used[chosen[ok]] = True
        made_up[m_rows[q[ok]]] = True
        by[m_rows[q[ok]]] = o_rows[chosen[ok]]
