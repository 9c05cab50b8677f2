"""From stored event copies to the 1:1 occurrences of every pair, each with its outcome
(docs/metrics.md "Which events are 1:1s" and "Outcome, canceller, late, rescheduled").

Two steps:

- :func:`assign_copies` (whole store, vectorised): resolve emails and aliases, work out each
  copy's human participants (a sparse copy, one that lists nobody, borrows its series'), group the
  copies of one occurrence across calendars by identity, keep the occurrences whose participants
  are exactly a pair or a skip-level pair, and give every kept copy its ``pair_id``. The two
  people's answers are folded onto their copy as columns, so the next step needs one frame only,
  and every column is a number or a time (no text), which keeps the next step fast.
- :func:`occurrences` (any set of whole pairs: the Dask engine runs it per partition): merge the
  copies of each occurrence, apply the type and duration rules, and decide outcome, canceller
  role, lateness (:func:`late_misses`) and rescheduling at as-of. Only the outcome depends on
  as-of (what is still upcoming): :func:`occurrences_at` does the rest once for several as-ofs.

The outcome and role codes are :class:`Outcome` and :class:`Role`, each one ordered list whose
positions are the codes and whose lower-cased names are the labels of the output categoricals.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import cast

import numpy as np
import pandas as pd

from cadence.frames import MAX_LISTED, StoreFrames
from cadence.pipeline.org import Org
from cadence.pipeline.params import Params, Thresholds
from cadence.pipeline.recurrence import parse_rules

ORDINARY_TYPES = ("default",)
# Marks the "original start" part of a one-off's identity: a one-off is identified by its UID.
ONE_OFF = np.int64(np.iinfo(np.int64).min)

# What happened to an occurrence, and who of the pair (the organizer on copies, the canceller on
# occurrences). Each value is the position in its list, which is the code in the categorical
# whose categories are the lower-cased names: the codes cannot drift from the labels.
# MADE_UP and EXCUSED are what a cancelled or declined occurrence becomes when the pair met
# nearby instead, or when either was away (:mod:`cadence.pipeline.excuses`): decided after the
# rest, since they need the pair's other occurrences and away time.
Outcome = IntEnum(
    "Outcome", ["HELD", "CANCELLED", "DECLINED", "UPCOMING", "MADE_UP", "EXCUSED"], start=0
)
Role = IntEnum("Role", ["MANAGER", "REPORT"], start=0)
NO_ROLE = -1  # the categorical's code for null: nobody called it off


def label(code: IntEnum) -> str:
    """The categorical label of an outcome or role code."""
    return code.name.lower()


OUTCOMES = [label(code) for code in Outcome]
ROLES = [label(code) for code in Role]
HELD, CANCELLED = label(Outcome.HELD), label(Outcome.CANCELLED)
DECLINED, UPCOMING = label(Outcome.DECLINED), label(Outcome.UPCOMING)
MADE_UP, EXCUSED = label(Outcome.MADE_UP), label(Outcome.EXCUSED)
MISSED = (CANCELLED, DECLINED)
# What counts as scheduled: held or missed (made-up, excused and upcoming ones are neither).
SCHEDULED = (HELD, CANCELLED, DECLINED)
MANAGER, REPORT = label(Role.MANAGER), label(Role.REPORT)

# Copies hold numbers and times only. ``organizer_role`` is a Role code (NaN: unknown);
# ``all_day``, ``ordinary``, ``m_declined`` and ``r_declined`` are nullable flags, 1.0 or 0.0, NaN
# where the copy does not say (so that borrowing fills and merging skips them).
COPY_COLUMNS = [
    "pair_id",
    "ident",
    "manager_code",
    "src_code",
    "mbx_code",
    "original_start",
    "start",
    "end",
    "all_day",
    "ordinary",
    "rule",
    "cancelled",
    "cancelled_at",
    "cancel_seen_at",
    "organizer_role",
    "first_seen",
    "last_seen",
    "source_updated",
    "m_declined",
    "m_response_at",
    "m_response_seen_at",
    "r_declined",
    "r_response_at",
    "r_response_seen_at",
]

OCCURRENCE_COLUMNS = [
    "pair_id",
    "ident",
    "original_start",
    "start",
    "end",
    "outcome",
    "canceller_role",
    "late",
    "rescheduled",
    "minutes",
    "rule",
    "made_up_by",
]


def _email_codes(org: Org, frames: StoreFrames) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Integer codes of attendee and organizer emails after normalising and alias resolution
    (-1 for none); the same person gets the same code in both."""
    att_codes, att_emails = pd.factorize(frames.attendees["email"])
    org_codes, org_emails = pd.factorize(frames.events["organizer"])
    emails = pd.Series(
        np.concatenate([np.asarray(att_emails, dtype=object), np.asarray(org_emails, object)])
    )
    final, people = pd.factorize(org.resolve(emails))
    att_final, org_final = final[: len(att_emails)], final[len(att_emails) :]
    att_code = np.where(att_codes >= 0, att_final[np.maximum(att_codes, 0)], -1)
    org_code = np.where(org_codes >= 0, org_final[np.maximum(org_codes, 0)], -1)
    return att_code, org_code, pd.Index(people)


def _participants(n: int, att: pd.DataFrame, organizer: np.ndarray) -> np.ndarray:
    """Per copy (position = copy_id): ``n`` human participants, ``lo``/``hi`` (smallest and
    largest participant code: the two people when n is 2); null for a copy that lists nobody,
    which says nothing about who takes part."""
    copy_id, code = att["copy_id"].to_numpy(), att["code"].to_numpy()
    resource = att["is_resource"].to_numpy()
    # One number per (copy, person), codes from -1 (no email) up: sorted, a copy's people are
    # together, smallest code first.
    span = int(max(code.max(initial=-1), organizer.max(initial=-1))) + 2
    org_ids = np.flatnonzero(organizer >= 0)
    org_keys = org_ids * span + organizer[org_ids] + 1
    if resource.any():
        # A room that organises its own booking is still a room.
        rooms = copy_id[resource] * span + code[resource] + 1
        org_keys = org_keys[~np.isin(org_keys, rooms)]
    people = np.sort(np.concatenate([copy_id[~resource] * span + code[~resource] + 1, org_keys]))
    people = people[_starts(people)]  # np.unique, which hashes first, took ten times as long
    copies, codes = np.divmod(people, span)
    first = np.flatnonzero(_starts(copies))
    last = np.append(first[1:], len(people)) - 1
    values = np.full((n, 3), np.nan)
    if len(people):
        counts = np.column_stack([last - first + 1, codes[first] - 1, codes[last] - 1])
        values[copies[first]] = counts.astype(float)
    listed = np.zeros(n, dtype=bool)
    listed[copy_id] = True
    values[~listed] = np.nan
    return values


def _by_position(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed 0..n-1 (as ``reset_index(drop=True)``), without copying a frame that
    already is (the store's are): a copy of the events alone cost a tenth of this step."""
    if frame.index.equals(pd.RangeIndex(len(frame))):
        return frame
    return frame.reset_index(drop=True)


def _starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts."""
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    return starts


def _borrow_from_series(copies: pd.DataFrame, columns: list[str]) -> None:
    """Fill the null ``columns`` of a copy from the nearest copy of the same series in the same
    calendar that has them (a cancelled Google instance may carry nothing but its id)."""
    part = copies.loc[copies["series_key"] >= 0, ["series_key", "original_start", *columns]]
    if part.empty or not part[columns].isna().to_numpy().any():
        return
    part = part.sort_values(["series_key", "original_start"], kind="stable")
    by_series = part.groupby("series_key")[columns]
    filled = part[columns].fillna(by_series.ffill()).fillna(by_series.bfill())
    copies.loc[filled.index, columns] = filled


def assign_copies(frames: StoreFrames, org: Org, p: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The copies of every pair's (and skip-level pair's) 1:1 occurrences (``COPY_COLUMNS``,
    one row per copy), and the table of their recurrence rules (index: the ``rule`` code)."""
    events = _by_position(frames.events)
    n = len(events)
    att_code, org_code, people = _email_codes(org, frames)
    columns = ["is_resource", "is_organizer", "response", "response_at"]
    columns += ["response_seen_at", "last_seen"]
    # From here on an attendee row names its event copy by the copy's row position.
    row_of_copy = np.empty(n, dtype=np.int64)
    row_of_copy[events["copy_id"].to_numpy()] = np.arange(n)
    att = _by_position(frames.attendees[columns])
    att = att.assign(copy_id=row_of_copy[frames.attendees["copy_id"].to_numpy()], code=att_code)
    # Organizer: the event's own field, else the attendee the calendar flags as organizer.
    flagged = att[att["is_organizer"].to_numpy() & (att_code >= 0)]
    from_flag = np.full(n, -1, dtype=np.int64)
    from_flag[flagged["copy_id"].to_numpy()[::-1]] = flagged["code"].to_numpy()[::-1]
    org_code = np.where(org_code >= 0, org_code, from_flag)

    rule_code, rule_texts = pd.factorize(events["recurrence"], sort=True)
    rules = parse_rules(pd.Series(np.asarray(rule_texts, dtype=object)), p.timezone)
    event_type = events["event_type"]
    src_code = pd.factorize(events["source"], sort=True)[0]
    mbx_code = pd.factorize(events["mailbox"], sort=True)[0]
    work = pd.DataFrame(
        {
            "series_key": _series_keys(events, src_code, mbx_code),
            "original_start": events["original_start"],
            "organizer": np.where(org_code >= 0, org_code, np.nan),
            "all_day": events["all_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
            "ordinary": np.where(
                event_type.isna(), np.nan, event_type.isin(ORDINARY_TYPES).astype(float)
            ),
            "rule": np.where(rule_code >= 0, rule_code, np.nan),
            "duration": (events["end"] - events["start"]).dt.total_seconds().to_numpy(),
        }
    )
    people_listed = _participants(n, att, org_code)
    # Copies listing too many people to be a 1:1 came without attendee rows: only the count.
    crowded = pd.to_numeric(events["listed"]).to_numpy(dtype=float) > MAX_LISTED
    people_listed[crowded] = np.nan
    people_listed[crowded, 0] = events["listed"].to_numpy(dtype=float)[crowded]
    work[["n", "lo", "hi"]] = people_listed
    borrowed = ["n", "lo", "hi", "organizer", "all_day", "ordinary", "rule", "duration"]
    _borrow_from_series(work, borrowed)

    ident = _identity(events, work["rule"].notna().to_numpy())
    pair_of = _pair_of_identity(ident, work, org, people)
    position = pair_of.index.get_indexer(pd.Index(ident))
    keep = np.flatnonzero(position >= 0)
    found = pair_of.iloc[position[keep]]
    pair_id, m_code, r_code = (found[name].to_numpy() for name in ("pair_id", "m_code", "r_code"))
    # The copies by pair_id, ident, mbx_code, src_code (stable, as sort_values on several keys
    # sorts), chosen in that order so that each column is gathered once, already sorted.
    order = np.lexsort((src_code[keep], mbx_code[keep], ident[keep], pair_id))
    keep, pair_id, m_code, r_code = keep[order], pair_id[order], m_code[order], r_code[order]

    def take(name: str) -> pd.Series:
        return pd.Series(events[name].array[keep])

    start = take("start").fillna(take("original_start"))
    end = take("end")
    if end.isna().any():
        duration = pd.to_timedelta(work["duration"].to_numpy()[keep], unit="s")
        end = end.fillna(start + duration)
    organizer = work["organizer"].to_numpy()[keep]
    gathered = {
        "pair_id": pair_id,
        "ident": ident[keep],
        "manager_code": m_code,
        "src_code": src_code[keep],
        "mbx_code": mbx_code[keep],
        "original_start": take("original_start"),
        "start": start,
        "end": end,
        "all_day": work["all_day"].to_numpy()[keep],
        "ordinary": work["ordinary"].to_numpy()[keep],
        "rule": work["rule"].to_numpy()[keep],
        "cancelled": (events["status"] == "cancelled").to_numpy()[keep],
        "cancelled_at": take("cancelled_at"),
        "cancel_seen_at": take("cancel_seen_at"),
        "organizer_role": np.select(
            [organizer == m_code, organizer == r_code], [Role.MANAGER, Role.REPORT], np.nan
        ),
        "first_seen": take("first_seen"),
        "last_seen": take("last_seen"),
        "source_updated": take("source_updated"),
        **_answers(keep, att, n, {"m": m_code, "r": r_code}),
    }
    return pd.DataFrame({name: gathered[name] for name in COPY_COLUMNS}), rules


def _series_keys(events: pd.DataFrame, src_code: np.ndarray, mbx_code: np.ndarray) -> np.ndarray:
    """A series within one calendar: (source, mailbox, series_id); -1 for a one-off."""
    series = pd.factorize(events["series_id"], sort=True)[0]
    keys = pd.DataFrame({"s": src_code, "m": mbx_code, "id": series})
    numbers = keys.groupby(["s", "m", "id"], sort=True).ngroup().to_numpy()
    return np.where(series >= 0, numbers, -1)


def _identity(events: pd.DataFrame, is_series: np.ndarray) -> np.ndarray:
    """One number per occurrence across calendars: the UID plus the original start for a series'
    occurrence, the UID alone for a one-off (its first-seen start may differ per calendar)."""
    uid = events["ical_uid"].astype(object).copy()
    none = uid.isna()
    if none.any():
        # No UID: the copy is an occurrence of its own.
        e = events.loc[none, ["source", "mailbox", "event_id"]].astype(str)
        uid.loc[none] = "\x1e" + e["source"] + "\x1f" + e["mailbox"] + "\x1f" + e["event_id"]
    uid_code = pd.factorize(uid, sort=True)[0]
    is_series = is_series | events["series_id"].notna().to_numpy()
    start = events["original_start"].dt.tz_convert(None).to_numpy().astype(np.int64)
    start = np.where(is_series, start, ONE_OFF)
    keys = pd.DataFrame({"uid": uid_code, "start": start})
    return keys.groupby(["uid", "start"], sort=True).ngroup().to_numpy()


def _pair_of_identity(
    ident: np.ndarray, work: pd.DataFrame, org: Org, people: pd.Index
) -> pd.DataFrame:
    """Index ident -> pair_id, m_code, r_code for the occurrences that are a pair's 1:1: every
    copy that lists participants lists exactly the pair's two people."""
    listed = work[["n", "lo", "hi"]].assign(ident=ident)
    listed = listed[listed["n"].notna()]
    agg = listed.groupby("ident").agg(
        n_min=("n", "min"),
        n_max=("n", "max"),
        lo_min=("lo", "min"),
        lo_max=("lo", "max"),
        hi_min=("hi", "min"),
        hi_max=("hi", "max"),
    )
    two = agg[
        (agg["n_min"] == 2)
        & (agg["n_max"] == 2)
        & (agg["lo_min"] == agg["lo_max"])
        & (agg["hi_min"] == agg["hi_max"])
    ]
    pairs = org.pairs
    m = people.get_indexer(pd.Index(pairs["manager"]))
    r = people.get_indexer(pd.Index(pairs["report"]))
    lookup = pd.DataFrame(
        {
            "pair_id": pairs.index.to_numpy(),
            "m_code": m,
            "r_code": r,
            "lo": np.minimum(m, r).astype(float),
            "hi": np.maximum(m, r).astype(float),
        }
    )
    lookup = lookup[(lookup["m_code"] >= 0) & (lookup["r_code"] >= 0)]
    lookup = lookup.drop_duplicates(["lo", "hi"])
    found = pd.DataFrame({"ident": two.index, "lo": two["lo_min"], "hi": two["hi_min"]})
    return found.merge(lookup, on=["lo", "hi"]).set_index("ident")[["pair_id", "m_code", "r_code"]]


def _answers(
    keep: np.ndarray, att: pd.DataFrame, n: int, people: dict[str, np.ndarray]
) -> dict[str, np.ndarray | pd.Series]:
    """The manager's and the report's answer on each kept copy (the copies at positions
    ``keep`` of the ``n``): declined (1.0/0.0, NaN when the copy does not list them), and the
    answer's source time and first-seen time, as columns named by ``people``'s prefixes."""
    position = np.full(n, -1, dtype=np.int64)
    position[keep] = np.arange(len(keep))
    rows = np.flatnonzero(position[att["copy_id"].to_numpy()] >= 0)
    # An alias and its primary email both invited: the most recently seen answer wins (a stable
    # sort, unseen last, as sort_values puts NaT).
    seen = _naive(att["last_seen"]).astype(np.int64)[rows]
    seen[seen == np.iinfo(np.int64).min] = np.iinfo(np.int64).max
    rows = rows[np.argsort(seen, kind="stable")]
    at = position[att["copy_id"].to_numpy()[rows]]
    code = att["code"].to_numpy()[rows]
    declined = (att["response"] == "declined").to_numpy(dtype=float)[rows]
    naive = {name: _naive(att[name])[rows] for name in ("response_at", "response_seen_at")}
    columns: dict[str, np.ndarray | pd.Series] = {}
    for prefix, codes in people.items():
        mine = code == codes[at]
        flag = np.full(len(keep), np.nan)
        flag[at[mine]] = declined[mine]
        columns[f"{prefix}_declined"] = flag
        for name, values in naive.items():
            times = np.full(len(keep), np.datetime64("NaT"), dtype="datetime64[ns]")
            times[at[mine]] = values[mine]
            columns[f"{prefix}_{name}"] = pd.Series(times).dt.tz_localize("UTC")
    return columns


def _naive(times: pd.Series) -> np.ndarray:
    """UTC times as a plain datetime64[ns] array (fast to index and scatter)."""
    return np.asarray(times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"))


# What an occurrence's merged row takes from its most recently seen copy.
LATEST = ["pair_id", "start", "end", "all_day", "ordinary", "rule", "organizer_role"]
LATEST += ["m_declined", "r_declined"]


def occurrences(copies: pd.DataFrame, p: Params) -> pd.DataFrame:
    """One row per 1:1 occurrence (columns ``OCCURRENCE_COLUMNS``) from whole pairs' copies."""
    return occurrences_at(copies, [p])[0]


def occurrences_at(copies: pd.DataFrame, runs: Sequence[Params]) -> list[pd.DataFrame]:
    """:func:`occurrences` at each run's as-of. Merging the copies, the type and duration rules,
    who cancelled, lateness and rescheduling do not depend on as-of, and are most of the work:
    they are done once; only what is still upcoming is decided per run. The runs must share
    their health thresholds."""
    if len({p.health for p in runs}) > 1:
        raise ValueError("occurrences decided together must share their thresholds")
    if copies.empty:
        return [_empty_occurrences() for _ in runs]
    c = copies[["ident", *LATEST, "cancelled"]]
    # The copy seen last says where the occurrence is now ("last" skips nulls); ties are broken
    # by calendar, so the order the rows came in never matters.
    order = np.lexsort(
        (
            copies["src_code"].to_numpy(),
            copies["mbx_code"].to_numpy(),
            _ints(copies["source_updated"]),
            _ints(copies["last_seen"]),
        )
    )
    g = c.take(order).groupby("ident", sort=True)
    occ = g[LATEST].last().join(g[["cancelled"]].max())
    # A one-off's original start is the start the first sync that saw it found.
    first = np.lexsort(
        (
            copies["src_code"].to_numpy(),
            copies["mbx_code"].to_numpy(),
            _ints(copies["first_seen"]),
        )
    )
    by_first_seen = copies[["ident", "original_start"]].take(first).groupby("ident", sort=True)
    occ["original_start"] = by_first_seen["original_start"].first()
    merged = _decide(occ.reset_index(), copies, runs[0].health)
    return [_outcomes(merged, p.as_of) for p in runs]


def _ints(times: pd.Series) -> np.ndarray:
    return _naive(times).astype(np.int64)


def _yes(flag: pd.Series, unknown: bool = False) -> np.ndarray:
    """A nullable flag of the copies (1.0 yes, 0.0 no, NaN not said: floats, so that merging
    skips what a copy does not say) as booleans, ``unknown`` standing for NaN."""
    return np.asarray(flag.fillna(float(unknown)).to_numpy() == 1.0)


# What _decide leaves for _outcomes: whether each occurrence was cancelled, or declined.
MISS_FLAGS = ["cancelled", "declined"]


def _decide(occ: pd.DataFrame, copies: pd.DataFrame, h: Thresholds) -> pd.DataFrame:
    """The merged occurrences that pass the type and duration rules, each with its canceller
    role, lateness and rescheduling, and whether it was cancelled or declined: everything but
    its outcome, which depends on as-of (:func:`_outcomes`)."""
    occ["end"] = occ["end"].fillna(occ["start"])
    duration = occ["end"] - occ["start"]
    ordinary = _yes(occ["ordinary"], unknown=True)
    timed = ~_yes(occ["all_day"], unknown=False)
    short = (duration <= pd.Timedelta(hours=h.max_duration_hours)).to_numpy()
    occ = occ[ordinary & timed & short].copy()

    cancelled = occ["cancelled"].astype(bool).to_numpy()
    m_declined = _yes(occ["m_declined"])
    r_declined = _yes(occ["r_declined"])
    declined = ~cancelled & (m_declined | r_declined)
    # The organizer cancels; when the organizer is unknown, the manager is held to it.
    organizer = occ["organizer_role"].fillna(int(Role.MANAGER)).to_numpy().astype(np.int64)
    role = np.select(
        [cancelled, declined & m_declined & r_declined, declined & m_declined, declined],
        [organizer, organizer, Role.MANAGER, Role.REPORT],
        NO_ROLE,
    )
    occ["canceller_role"] = categorical(role, ROLES)
    occ["late"] = late_misses(
        copies, occ, cancelled, declined, m_declined, r_declined, h.late_cancel_hours
    )
    occ["rescheduled"] = (occ["start"] != occ["original_start"]).to_numpy(dtype=bool)
    occ["minutes"] = (occ["end"] - occ["start"]).dt.total_seconds() / 60.0
    occ["cancelled"], occ["declined"] = cancelled, declined
    columns = [c for c in OCCURRENCE_COLUMNS if c not in ("outcome", "made_up_by")]
    return occ[columns + MISS_FLAGS].reset_index(drop=True)


def _outcomes(merged: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The occurrences of :func:`_decide` with their outcome at ``as_of``."""
    cancelled, declined = (merged[name].to_numpy() for name in MISS_FLAGS)
    upcoming = ~cancelled & ~declined & (merged["start"] > as_of).to_numpy()
    outcome = np.select(
        [cancelled, declined, upcoming],
        [Outcome.CANCELLED, Outcome.DECLINED, Outcome.UPCOMING],
        Outcome.HELD,
    )
    decided = {
        "outcome": categorical(outcome, OUTCOMES),
        # The start of the one-off that made a miss up: filled by cadence.pipeline.excuses.
        "made_up_by": pd.Series(pd.NaT, index=merged.index, dtype="datetime64[ns, UTC]"),
    }
    return pd.DataFrame(
        {name: decided[name] if name in decided else merged[name] for name in OCCURRENCE_COLUMNS}
    )


def late_misses(
    copies: pd.DataFrame,
    occ: pd.DataFrame,
    cancelled: np.ndarray,
    declined: np.ndarray,
    m_declined: np.ndarray,
    r_declined: np.ndarray,
    late_cancel_hours: float,
) -> np.ndarray:
    """Whether each of ``occ``'s misses was late: the one place that dates a miss.

    The store only records sightings: the source's own time of a change when it gives one
    (``cancelled_at``, ``response_at``), and when a sync first saw it (``cancel_seen_at``,
    ``response_seen_at``), left null when the mailbox's very first sync already found it. This
    decides, from every copy of the occurrence, when the miss happened:

    - a cancellation: the earliest ``cancelled_at`` of the cancelled copies, else their earliest
      ``cancel_seen_at``; a decline: the same with the declining answers' times (both people's,
      when both declined);
    - with no source time, a copy whose first sync already found the miss makes the time unknown,
      whatever later syncs of other mailboxes saw: the miss happened at some unknown time before
      that sync, so a later sighting does not date it;
    - late when that time is after ``original_start - late_cancel_hours`` (exactly that many hours
      before is not late; an unknown time is not late).

    ``cancelled``, ``declined``, ``m_declined`` and ``r_declined`` are the occurrences' decided
    outcome and answers (the latest copy's), aligned with ``occ``; ``copies`` holds their copies.
    """
    seen = _sightings(copies).reindex(occ["ident"].to_numpy())
    seen.index = occ.index
    # Occurrences no copy shows a miss of are not in ``seen``: their rows are null, not found.
    found_first = {kind: seen[f"{kind}_unknown"].eq(True).to_numpy() for kind in SIGHTINGS}
    decl_src = _earliest(seen["m_decl_src"].where(m_declined), seen["r_decl_src"].where(r_declined))
    decl_seen = _earliest(
        seen["m_decl_seen"].where(m_declined), seen["r_decl_seen"].where(r_declined)
    )
    decl_unknown = (m_declined & found_first["m_decl"]) | (r_declined & found_first["r_decl"])
    decl_seen = decl_seen.mask(decl_unknown)
    cancel_seen = seen["cancel_seen"].mask(found_first["cancel"])
    miss_time = pd.Series(pd.NaT, index=occ.index, dtype="datetime64[ns, UTC]")
    miss_time = miss_time.mask(cancelled, seen["cancel_src"].fillna(cancel_seen))
    miss_time = miss_time.mask(declined, decl_src.fillna(decl_seen))
    notice = pd.Timedelta(hours=late_cancel_hours)
    return np.asarray((miss_time > occ["original_start"] - notice).to_numpy(dtype=bool))


# Each kind of miss a copy can show: the store's two times of it.
SIGHTINGS = {
    "cancel": ("cancelled_at", "cancel_seen_at"),
    "m_decl": ("m_response_at", "m_response_seen_at"),
    "r_decl": ("r_response_at", "r_response_seen_at"),
}


def _sightings(copies: pd.DataFrame) -> pd.DataFrame:
    """Per occurrence with a copy showing a miss (index ident), what those copies recorded of
    each kind: the earliest source time (``*_src``), the earliest first sighting (``*_seen``),
    and whether some copy's mailbox found it at its first sync (``*_unknown``)."""
    shows = {
        "cancel": copies["cancelled"].to_numpy(dtype=bool),
        "m_decl": _yes(copies["m_declined"]),
        "r_decl": _yes(copies["r_declined"]),
    }
    # Only copies that show a miss can date one: the others (most) are left out of the grouping.
    rows = np.flatnonzero(shows["cancel"] | shows["m_decl"] | shows["r_decl"])
    times = [name for pair in SIGHTINGS.values() for name in pair]
    part = copies[["ident", *times]].iloc[rows].reset_index(drop=True)
    columns: dict[str, pd.Series | np.ndarray] = {"ident": part["ident"]}
    for kind, (src, seen) in SIGHTINGS.items():
        when = shows[kind][rows]
        columns[f"{kind}_src"] = part[src].where(when)
        columns[f"{kind}_seen"] = part[seen].where(when)
        columns[f"{kind}_unknown"] = when & part[seen].isna().to_numpy()
    g = pd.DataFrame(columns).groupby("ident", sort=False)
    earliest = [f"{kind}_{what}" for kind in SIGHTINGS for what in ("src", "seen")]
    return g[earliest].min().join(g[[f"{kind}_unknown" for kind in SIGHTINGS]].max())


def categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    """Labels from codes (-1: null), as a categorical: compact and fast to compare."""
    return pd.Categorical.from_codes(cast("Sequence[int]", codes), categories=pd.Index(categories))


def _earliest(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.where(b.isna() | (a <= b), b)


def _empty_occurrences() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pair_id": pd.Series(dtype=np.int64),
            "ident": pd.Series(dtype=np.int64),
            "original_start": pd.Series(dtype="datetime64[ns, UTC]"),
            "start": pd.Series(dtype="datetime64[ns, UTC]"),
            "end": pd.Series(dtype="datetime64[ns, UTC]"),
            "outcome": pd.Categorical([], OUTCOMES),
            "canceller_role": pd.Categorical([], ROLES),
            "late": pd.Series(dtype=bool),
            "rescheduled": pd.Series(dtype=bool),
            "minutes": pd.Series(dtype=float),
            "rule": pd.Series(dtype=float),
            "made_up_by": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )
