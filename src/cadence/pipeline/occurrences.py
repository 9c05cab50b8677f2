"""From stored event copies to the 1:1 occurrences of every pair, each with its outcome
(METRICS.md "Which events are 1:1s" and "What happened to an occurrence").

Two steps:

- :func:`assign_copies` (whole store, vectorised): resolve emails and aliases, work out each
  copy's human participants (a sparse copy, one that lists nobody, borrows its series'), group the
  copies of one occurrence across calendars by identity, keep the occurrences whose participants
  are exactly a pair or a skip-level pair, and give every kept copy its ``pair_id`` and
  ``manager``. The attendee rows of the two people are folded onto their copy as columns, so the
  next step needs one frame only.
- :func:`occurrences` (any set of whole pairs: the Dask engine runs it per partition): merge the
  copies of each occurrence, apply the type and duration rules, and decide outcome, canceller
  role, lateness and rescheduling at as-of.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cadence.pipeline.load import StoreFrames
from cadence.pipeline.org import Org
from cadence.pipeline.params import Params

ORDINARY_TYPES = ("default",)
# Marks the "original start" part of a one-off's identity: a one-off is identified by its UID.
ONE_OFF = np.int64(np.iinfo(np.int64).min)

COPY_COLUMNS = [
    "pair_id",
    "manager",
    "ident",
    "src_code",
    "mbx_code",
    "original_start",
    "start",
    "end",
    "all_day",
    "event_type",
    "cancelled",
    "cancelled_at",
    "cancel_seen_at",
    "organizer_role",
    "recurrence",
    "first_seen",
    "last_seen",
    "source_updated",
    "m_response",
    "m_response_at",
    "m_response_seen_at",
    "r_response",
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
    "recurrence",
]


def _email_codes(org: Org, frames: StoreFrames) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Integer codes of attendee and organizer emails after normalising and alias resolution."""
    raw = pd.concat(
        [frames.attendees["email"], frames.events["organizer"]], ignore_index=True
    ).astype(object)
    codes, uniques = pd.factorize(raw)
    resolved = org.resolve(pd.Series(np.asarray(uniques, dtype=object)))
    final, people = pd.factorize(resolved)
    code = np.where(codes >= 0, final[np.maximum(codes, 0)], -1)
    n = len(frames.attendees)
    return code[:n], code[n:], pd.Index(people)


def _participants(events: pd.DataFrame, att: pd.DataFrame, organizer: np.ndarray) -> pd.DataFrame:
    """Per copy: ``listed`` (it has attendee rows), ``n`` human participants, ``lo``/``hi``
    (smallest and largest participant code: the two people when n is 2)."""
    humans = att.loc[~att["is_resource"], ["copy_id", "code"]]
    resources = att.loc[att["is_resource"], ["copy_id", "code"]]
    org_rows = pd.DataFrame({"copy_id": events["copy_id"].to_numpy(), "code": organizer})
    org_rows = org_rows[org_rows["code"] >= 0]
    if not resources.empty:
        # A room that organises its own booking is still a room.
        org_rows = org_rows.merge(resources, how="left", indicator=True)
        org_rows = org_rows.loc[org_rows["_merge"] == "left_only", ["copy_id", "code"]]
    people = pd.concat([humans, org_rows], ignore_index=True).drop_duplicates()
    g = people.groupby("copy_id")["code"]
    summary = pd.DataFrame({"n": g.size(), "lo": g.min(), "hi": g.max()})
    out = pd.DataFrame(index=pd.Index(events["copy_id"].to_numpy(), name="copy_id"))
    out = out.join(summary)
    out["listed"] = out.index.isin(att["copy_id"].unique())
    return out.reset_index(drop=True)


def _borrow_from_series(copies: pd.DataFrame, columns: list[str], have: pd.Series) -> None:
    """Fill ``columns`` of copies where ``have`` is false from the nearest copy of the same series
    in the same calendar that has them (a cancelled Google instance may carry only its id)."""
    need = ~have & copies["series_key"].notna()
    if not need.any():
        return
    part = copies[["series_key", "original_start", "copy_id", *columns]].copy()
    part.loc[~have, columns] = None
    part = part.sort_values(["series_key", "original_start", "copy_id"])
    by_series = part.groupby("series_key")[columns]
    filled = by_series.ffill().fillna(by_series.bfill())
    rows = need[need].index
    copies.loc[rows, columns] = filled.loc[rows, columns]


def assign_copies(frames: StoreFrames, org: Org) -> pd.DataFrame:
    """The copies of every pair's (and skip-level pair's) 1:1 occurrences, columns
    ``COPY_COLUMNS``, one row per copy."""
    events = frames.events.copy()
    att = frames.attendees.copy()
    att_code, org_code, people = _email_codes(org, frames)
    att["code"] = att_code
    # Organizer: the event's own field, else the attendee the calendar flags as organizer.
    flagged = att.loc[att["is_organizer"] & (att["code"] >= 0)].drop_duplicates("copy_id")
    from_flag = pd.Series(flagged["code"].to_numpy(), index=flagged["copy_id"].to_numpy())
    org_code = np.where(
        org_code >= 0, org_code, from_flag.reindex(events["copy_id"]).fillna(-1).to_numpy()
    ).astype(np.int64)

    parts = _participants(events, att, org_code)
    events["organizer_code"] = np.where(org_code >= 0, org_code, np.nan)
    # A copy that lists nobody says nothing about who takes part (null n): it neither makes
    # nor breaks a 1:1 unless its series lends it a list.
    listed = parts["listed"].to_numpy()
    for name in ("n", "lo", "hi"):
        events[name] = np.where(listed, parts[name].to_numpy(dtype=float), np.nan)
    events["series_key"] = _series_keys(events)
    events["duration"] = events["end"] - events["start"]
    _borrow_from_series(events, ["n", "lo", "hi"], events["n"].notna())
    for name in ("organizer_code", "all_day", "event_type", "recurrence", "duration"):
        _borrow_from_series(events, [name], events[name].notna())
    events["end"] = events["end"].fillna(
        events["start"].fillna(events["original_start"]) + events["duration"]
    )

    events["ident"] = _identity(events)
    pair_of = _pair_of_identity(events, org, people)
    copies = events.merge(pair_of, on="ident", how="inner")
    copies = _with_responses(copies, att)
    organizer = copies["organizer_code"].to_numpy()
    copies["organizer_role"] = choose(
        [organizer == copies["m_code"].to_numpy(), organizer == copies["r_code"].to_numpy()],
        ["manager", "report"],
    )
    copies["cancelled"] = copies["status"] == "cancelled"
    copies["src_code"] = pd.factorize(copies["source"], sort=True)[0]
    copies["mbx_code"] = pd.factorize(copies["mailbox"], sort=True)[0]
    return copies[COPY_COLUMNS].sort_values(
        ["pair_id", "ident", "mbx_code", "src_code"], ignore_index=True
    )


def _series_keys(events: pd.DataFrame) -> pd.Series:
    """A series within one calendar: (source, mailbox, series_id); null for a one-off."""
    has = events["series_id"].notna()
    keys = pd.Series(np.nan, index=events.index)
    if has.any():
        codes = events.loc[has].groupby(["source", "mailbox", "series_id"], sort=True).ngroup()
        keys.loc[has] = codes.astype(float)
    return keys


def _identity(events: pd.DataFrame) -> pd.Series:
    """One number per occurrence across calendars: the UID plus the original start for a series'
    occurrence, the UID alone for a one-off (its first-seen start may differ per calendar)."""
    uid = events["ical_uid"].astype(object).copy()
    none = uid.isna()
    if none.any():
        # No UID: the copy is an occurrence of its own.
        e = events.loc[none]
        uid.loc[none] = "\x1e" + e["source"] + "\x1f" + e["mailbox"] + "\x1f" + e["event_id"]
    uid_code = pd.factorize(uid, sort=True)[0]
    is_series = (events["series_id"].notna() | events["recurrence"].notna()).to_numpy()
    start = events["original_start"].dt.tz_convert(None).to_numpy().astype(np.int64)
    start = np.where(is_series, start, ONE_OFF)
    keys = pd.DataFrame({"uid": uid_code, "start": start}, index=events.index)
    return keys.groupby(["uid", "start"], sort=True).ngroup()


def _pair_of_identity(events: pd.DataFrame, org: Org, people: pd.Index) -> pd.DataFrame:
    """ident -> pair_id, manager, m_code, r_code for the occurrences that are a pair's 1:1:
    every copy that lists participants lists exactly the pair's two people."""
    listed = events.loc[events["n"].notna(), ["ident", "n", "lo", "hi"]]
    g = listed.groupby("ident")
    agg = g.agg(
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
            "manager": pairs["manager"].to_numpy(),
            "m_code": m,
            "r_code": r,
            "lo": np.minimum(m, r).astype(float),
            "hi": np.maximum(m, r).astype(float),
        }
    )
    lookup = lookup[(lookup["m_code"] >= 0) & (lookup["r_code"] >= 0)]
    lookup = lookup.drop_duplicates(["lo", "hi"])
    found = pd.DataFrame({"ident": two.index, "lo": two["lo_min"], "hi": two["hi_min"]})
    return found.merge(lookup, on=["lo", "hi"]).drop(columns=["lo", "hi"])


def _with_responses(copies: pd.DataFrame, att: pd.DataFrame) -> pd.DataFrame:
    """The manager's and the report's attendee rows on each copy, as m_* and r_* columns."""
    cols = ["copy_id", "code", "response", "response_at", "response_seen_at", "last_seen"]
    rows = att.loc[att["copy_id"].isin(copies["copy_id"]), cols]
    # An alias and its primary email both invited: keep the most recently seen answer.
    rows = rows.sort_values(["copy_id", "code", "last_seen"]).drop_duplicates(
        ["copy_id", "code"], keep="last"
    )
    rows = rows.drop(columns="last_seen")
    for prefix, key in (("m", "m_code"), ("r", "r_code")):
        named = rows.rename(
            columns={
                "code": key,
                "response": f"{prefix}_response",
                "response_at": f"{prefix}_response_at",
                "response_seen_at": f"{prefix}_response_seen_at",
            }
        )
        copies = copies.merge(named, on=["copy_id", key], how="left")
    return copies


def occurrences(copies: pd.DataFrame, p: Params) -> pd.DataFrame:
    """One row per 1:1 occurrence (columns ``OCCURRENCE_COLUMNS``) from whole pairs' copies."""
    if copies.empty:
        return _empty_occurrences()
    c = copies.copy()
    key = ["pair_id", "ident"]
    cancelled = c["cancelled"]
    c["cancel_src"] = c["cancelled_at"].where(cancelled)
    c["cancel_seen"] = c["cancel_seen_at"].where(cancelled)
    for prefix in ("m", "r"):
        declined = c[f"{prefix}_response"] == "declined"
        c[f"{prefix}_decl_src"] = c[f"{prefix}_response_at"].where(declined)
        c[f"{prefix}_decl_seen"] = c[f"{prefix}_response_seen_at"].where(declined)
    # The copy seen last says where the occurrence is now; ties broken by calendar, so the
    # order the rows came in never matters.
    c = c.sort_values(["last_seen", "source_updated", "mbx_code", "src_code"], na_position="first")
    g = c.groupby(key, sort=True)
    occ = g.agg(
        start=("start", "last"),
        end=("end", "last"),
        all_day=("all_day", "last"),
        event_type=("event_type", "last"),
        recurrence=("recurrence", "last"),
        organizer_role=("organizer_role", "last"),
        m_response=("m_response", "last"),
        r_response=("r_response", "last"),
        cancelled=("cancelled", "max"),
        cancel_src=("cancel_src", "min"),
        cancel_seen=("cancel_seen", "min"),
        m_decl_src=("m_decl_src", "min"),
        m_decl_seen=("m_decl_seen", "min"),
        r_decl_src=("r_decl_src", "min"),
        r_decl_seen=("r_decl_seen", "min"),
    )
    # A one-off's original start is the start the first sync that saw it found.
    first = c.sort_values(["first_seen", "mbx_code", "src_code"]).groupby(key, sort=True)
    occ["original_start"] = first["original_start"].first()
    occ = occ.reset_index()
    return _decide(occ, p)


def _decide(occ: pd.DataFrame, p: Params) -> pd.DataFrame:
    h = p.health
    occ["start"] = occ["start"].fillna(occ["original_start"])
    occ["end"] = occ["end"].fillna(occ["start"])
    duration = occ["end"] - occ["start"]
    ordinary = occ["event_type"].isna() | occ["event_type"].isin(ORDINARY_TYPES)
    timed = occ["all_day"].astype("boolean").fillna(False).eq(False)
    short = duration <= pd.Timedelta(hours=h.max_duration_hours)
    occ = occ[(ordinary & timed & short).to_numpy()].copy()

    cancelled = occ["cancelled"].astype(bool).to_numpy()
    m_declined = (occ["m_response"] == "declined").to_numpy()
    r_declined = (occ["r_response"] == "declined").to_numpy()
    declined = ~cancelled & (m_declined | r_declined)
    upcoming = ~cancelled & ~declined & (occ["start"] > p.as_of).to_numpy()
    occ["outcome"] = np.select(
        [cancelled, declined, upcoming], ["cancelled", "declined", "upcoming"], default="held"
    )
    # The organizer cancels; when the organizer is unknown, the manager is held to it.
    organizer = occ["organizer_role"].fillna("manager").to_numpy()
    occ["canceller_role"] = choose(
        [cancelled, declined & m_declined & r_declined, declined & m_declined, declined],
        [organizer, organizer, "manager", "report"],
    )
    decl_src = _earliest(occ["m_decl_src"].where(m_declined), occ["r_decl_src"].where(r_declined))
    decl_seen = _earliest(
        occ["m_decl_seen"].where(m_declined), occ["r_decl_seen"].where(r_declined)
    )
    miss_time = pd.Series(pd.NaT, index=occ.index, dtype="datetime64[ns, UTC]")
    miss_time = miss_time.mask(cancelled, occ["cancel_src"].fillna(occ["cancel_seen"]))
    miss_time = miss_time.mask(declined, decl_src.fillna(decl_seen))
    notice = pd.Timedelta(hours=h.late_cancel_hours)
    occ["late"] = (miss_time > occ["original_start"] - notice).fillna(False).astype(bool)
    occ["rescheduled"] = (occ["start"] != occ["original_start"]).astype(bool)
    occ["minutes"] = (occ["end"] - occ["start"]).dt.total_seconds() / 60.0
    return occ[OCCURRENCE_COLUMNS].reset_index(drop=True)


def choose(conditions: list[np.ndarray], choices: list[Any]) -> np.ndarray:
    """Like ``np.select`` (the first true condition wins) with null where none holds."""
    out = np.full(len(conditions[0]), None, dtype=object)
    for condition, choice in reversed(list(zip(conditions, choices, strict=True))):
        out = np.where(condition, choice, out)
    return out


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
            "outcome": pd.Series(dtype=object),
            "canceller_role": pd.Series(dtype=object),
            "late": pd.Series(dtype=bool),
            "rescheduled": pd.Series(dtype=bool),
            "minutes": pd.Series(dtype=float),
            "recurrence": pd.Series(dtype=object),
        }
    )
