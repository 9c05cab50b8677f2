"""From stored event copies to the 1:1 occurrences of every pair, each with its outcome
(METRICS.md "Which events are 1:1s" and "What happened to an occurrence").

Two steps:

- :func:`assign_copies` (whole store, vectorised): resolve emails and aliases, work out each
  copy's human participants (a sparse copy, one that lists nobody, borrows its series'), group the
  copies of one occurrence across calendars by identity, keep the occurrences whose participants
  are exactly a pair or a skip-level pair, and give every kept copy its ``pair_id``. The two
  people's answers are folded onto their copy as columns, so the next step needs one frame only,
  and every column is a number or a time (no text), which keeps the next step fast.
- :func:`occurrences` (any set of whole pairs: the Dask engine runs it per partition): merge the
  copies of each occurrence, apply the type and duration rules, and decide outcome, canceller
  role, lateness and rescheduling at as-of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from cadence.frames import MAX_LISTED, StoreFrames
from cadence.pipeline.org import Org
from cadence.pipeline.params import Params
from cadence.pipeline.recurrence import parse_rules

ORDINARY_TYPES = ("default",)
# Marks the "original start" part of a one-off's identity: a one-off is identified by its UID.
ONE_OFF = np.int64(np.iinfo(np.int64).min)
MANAGER, REPORT = 0.0, 1.0  # organizer_role codes on copies
OUTCOMES = ["held", "cancelled", "declined", "upcoming"]
ROLES = ["manager", "report"]

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
    org_ids = np.flatnonzero(organizer >= 0)
    org_rows = pd.DataFrame({"copy_id": org_ids, "code": organizer[org_ids]})
    if resource.any():
        # A room that organises its own booking is still a room.
        rooms = pd.MultiIndex.from_arrays([copy_id[resource], code[resource]])
        org_rows = org_rows[~pd.MultiIndex.from_frame(org_rows).isin(rooms)]
    people = pd.concat(
        [pd.DataFrame({"copy_id": copy_id[~resource], "code": code[~resource]}), org_rows],
        ignore_index=True,
    ).drop_duplicates()
    g = people.groupby("copy_id")["code"]
    out = pd.DataFrame({"n": g.size(), "lo": g.min(), "hi": g.max()}).reindex(range(n))
    values = out.to_numpy(dtype=float)
    listed = np.zeros(n, dtype=bool)
    listed[copy_id] = True
    values[~listed] = np.nan
    return values


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
    events = frames.events.reset_index(drop=True)
    n = len(events)
    att_code, org_code, people = _email_codes(org, frames)
    columns = ["is_resource", "is_organizer", "response", "response_at"]
    columns += ["response_seen_at", "last_seen"]
    # From here on an attendee row names its event copy by the copy's row position.
    row_of_copy = np.empty(n, dtype=np.int64)
    row_of_copy[events["copy_id"].to_numpy()] = np.arange(n)
    att = frames.attendees[columns].reset_index(drop=True)
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

    def take(name: str) -> pd.Series:
        return events[name].iloc[keep].reset_index(drop=True)

    start = take("start").fillna(take("original_start"))
    duration = pd.to_timedelta(work["duration"].to_numpy()[keep], unit="s")
    end = take("end").fillna(start + duration)
    organizer = work["organizer"].to_numpy()[keep]
    m_code, r_code = found["m_code"].to_numpy(), found["r_code"].to_numpy()
    copies = pd.DataFrame(
        {
            "pair_id": found["pair_id"].to_numpy(),
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
                [organizer == m_code, organizer == r_code], [MANAGER, REPORT], np.nan
            ),
            "first_seen": take("first_seen"),
            "last_seen": take("last_seen"),
            "source_updated": take("source_updated"),
        }
    )
    _add_answers(copies, keep, att, n, {"m": m_code, "r": r_code})
    order = ["pair_id", "ident", "mbx_code", "src_code"]
    return copies[COPY_COLUMNS].sort_values(order, ignore_index=True), rules


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


def _add_answers(
    copies: pd.DataFrame,
    keep: np.ndarray,
    att: pd.DataFrame,
    n: int,
    people: dict[str, np.ndarray],
) -> None:
    """The manager's and the report's answer on each kept copy: declined (1/0, null when the
    copy does not list them), and the answer's source time and first-seen time."""
    position = np.full(n, -1, dtype=np.int64)
    position[keep] = np.arange(len(keep))
    rows = att[position[att["copy_id"].to_numpy()] >= 0]
    # An alias and its primary email both invited: the most recently seen answer wins.
    rows = rows.sort_values("last_seen", kind="stable")
    at = position[rows["copy_id"].to_numpy()]
    code = rows["code"].to_numpy()
    declined = (rows["response"] == "declined").to_numpy(dtype=float)
    naive = {name: _naive(rows[name]) for name in ("response_at", "response_seen_at")}
    for prefix, codes in people.items():
        mine = code == codes[at]
        flag = np.full(len(copies), np.nan)
        flag[at[mine]] = declined[mine]
        copies[f"{prefix}_declined"] = flag
        for name, values in naive.items():
            times = np.full(len(copies), np.datetime64("NaT"), dtype="datetime64[ns]")
            times[at[mine]] = values[mine]
            copies[f"{prefix}_{name}"] = pd.Series(times).dt.tz_localize("UTC")


def _naive(times: pd.Series) -> np.ndarray:
    """UTC times as a plain datetime64[ns] array (fast to index and scatter)."""
    return np.asarray(times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"))


def occurrences(copies: pd.DataFrame, p: Params) -> pd.DataFrame:
    """One row per 1:1 occurrence (columns ``OCCURRENCE_COLUMNS``) from whole pairs' copies."""
    if copies.empty:
        return _empty_occurrences()
    cancelled = copies["cancelled"].to_numpy()

    def times(name: str, when: np.ndarray) -> pd.Series:
        return copies[name].where(when)

    m_declined = (copies["m_declined"] == 1).to_numpy()
    r_declined = (copies["r_declined"] == 1).to_numpy()
    c = pd.DataFrame(
        {
            "ident": copies["ident"],
            "pair_id": copies["pair_id"],
            "start": copies["start"],
            "end": copies["end"],
            "all_day": copies["all_day"],
            "ordinary": copies["ordinary"],
            "rule": copies["rule"],
            "organizer_role": copies["organizer_role"],
            "m_declined": copies["m_declined"],
            "r_declined": copies["r_declined"],
            "cancelled": cancelled,
            "cancel_src": times("cancelled_at", cancelled),
            "cancel_seen": times("cancel_seen_at", cancelled),
            "m_decl_src": times("m_response_at", m_declined),
            "m_decl_seen": times("m_response_seen_at", m_declined),
            "r_decl_src": times("r_response_at", r_declined),
            "r_decl_seen": times("r_response_seen_at", r_declined),
            # A copy whose mailbox's first sync already found the miss: it happened at some
            # unknown time before that sync, earlier than any later sighting on another copy.
            "cancel_unknown": cancelled & copies["cancel_seen_at"].isna().to_numpy(),
            "m_decl_unknown": m_declined & copies["m_response_seen_at"].isna().to_numpy(),
            "r_decl_unknown": r_declined & copies["r_response_seen_at"].isna().to_numpy(),
        }
    )
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
    last = ["pair_id", "start", "end", "all_day", "ordinary", "rule", "organizer_role"]
    last += ["m_declined", "r_declined"]
    earliest = ["cancel_src", "cancel_seen", "m_decl_src", "m_decl_seen"]
    earliest += ["r_decl_src", "r_decl_seen"]
    anyone = ["cancelled", "cancel_unknown", "m_decl_unknown", "r_decl_unknown"]
    occ = g[last].last().join(g[earliest].min()).join(g[anyone].max())
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
    return _decide(occ.reset_index(), p)


def _ints(times: pd.Series) -> np.ndarray:
    return _naive(times).astype(np.int64)


def _decide(occ: pd.DataFrame, p: Params) -> pd.DataFrame:
    h = p.health
    occ["end"] = occ["end"].fillna(occ["start"])
    duration = occ["end"] - occ["start"]
    ordinary = occ["ordinary"].fillna(1.0) == 1.0
    timed = occ["all_day"].fillna(0.0) == 0.0
    short = duration <= pd.Timedelta(hours=h.max_duration_hours)
    occ = occ[(ordinary & timed & short).to_numpy()].copy()

    cancelled = occ["cancelled"].astype(bool).to_numpy()
    m_declined = (occ["m_declined"] == 1).to_numpy()
    r_declined = (occ["r_declined"] == 1).to_numpy()
    declined = ~cancelled & (m_declined | r_declined)
    upcoming = ~cancelled & ~declined & (occ["start"] > p.as_of).to_numpy()
    outcome = np.select([cancelled, declined, upcoming], [1, 2, 3], 0)
    occ["outcome"] = _categorical(outcome, OUTCOMES)
    # The organizer cancels; when the organizer is unknown, the manager is held to it.
    organizer = occ["organizer_role"].fillna(MANAGER).to_numpy().astype(np.int64)
    role = np.select(
        [cancelled, declined & m_declined & r_declined, declined & m_declined, declined],
        [organizer, organizer, 0, 1],
        -1,
    )
    occ["canceller_role"] = _categorical(role, ROLES)
    decl_src = _earliest(occ["m_decl_src"].where(m_declined), occ["r_decl_src"].where(r_declined))
    decl_seen = _earliest(
        occ["m_decl_seen"].where(m_declined), occ["r_decl_seen"].where(r_declined)
    )
    # With no source time, a first sync that already found the miss makes its time unknown,
    # whatever later syncs of other mailboxes saw.
    decl_unknown = (m_declined & occ["m_decl_unknown"].astype(bool).to_numpy()) | (
        r_declined & occ["r_decl_unknown"].astype(bool).to_numpy()
    )
    decl_seen = decl_seen.mask(decl_unknown)
    cancel_seen = occ["cancel_seen"].mask(occ["cancel_unknown"].astype(bool).to_numpy())
    miss_time = pd.Series(pd.NaT, index=occ.index, dtype="datetime64[ns, UTC]")
    miss_time = miss_time.mask(cancelled, occ["cancel_src"].fillna(cancel_seen))
    miss_time = miss_time.mask(declined, decl_src.fillna(decl_seen))
    notice = pd.Timedelta(hours=h.late_cancel_hours)
    occ["late"] = (miss_time > occ["original_start"] - notice).to_numpy(dtype=bool)
    occ["rescheduled"] = (occ["start"] != occ["original_start"]).to_numpy(dtype=bool)
    occ["minutes"] = (occ["end"] - occ["start"]).dt.total_seconds() / 60.0
    return occ[OCCURRENCE_COLUMNS].reset_index(drop=True)


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
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
        }
    )
