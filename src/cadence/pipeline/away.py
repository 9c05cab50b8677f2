"""Away time: when a person, and so a pair, is out of office or on a public holiday
(docs/metrics.md "Away: absences and holidays").

A 1:1 cancelled while either person is away is nobody's fault: it will be "excused". This module
only says *when* people are away; deciding what that excuses (outcomes, health, reports) is the
caller's. Everything is computed from the store's frames and plain parameters
(:class:`AwayParams`), vectorised: the only Python loops run once per distinct time zone (to
localise midnights) and once per distinct country (to ask the ``holidays`` package for its
dates), never per event or per person.

A person is away:

1. during each out-of-office event in their own calendar: a stored event whose ``event_type`` is
   ``outOfOffice`` (Google ``eventType: outOfOffice``, Graph ``showAs: oof``), whose status is not
   ``cancelled`` and whose mailbox, resolved like every email of the pipeline
   (:meth:`cadence.pipeline.org.Org.resolve`), is the person, unless the person's own attendee row
   on it says ``declined``. A timed one is away from its start to its end; an all-day one from
   local midnight of its first date to local midnight after its last date, in the person's zone;
2. on each public holiday of their country (and subdivision), as the ``holidays`` package lists it
   with its default categories (public holidays, "observed" days included), from local midnight
   to local midnight.

Decisions where the rules are silent (a manager should be able to predict every one):

- **Whose absence**: only the mailbox's owner is made away. An out-of-office event in someone
  else's calendar never makes the attendees it lists away, even the other person of the pair.
- **Declined**: the person's own answer is read from the most recently seen attendee row that
  resolves to them (an alias and the primary email may both be listed); two rows seen at the same
  time that disagree count as declined; no row means not declined.
- **People listed twice** (an alias and its primary email, two cases of one email): the row that
  names a country is the person's, so that the order of the rows never matters.
- **Times**: a missing start is the original start. A timed absence with no end, or an end at or
  before its start, is no time at all. All-day dates are the UTC dates of the stored start and end
  (the connectors store an all-day event at UTC midnights of its dates, the end being the day
  after the last one); an end that is not a midnight is rounded up to the next date, and a
  missing end, or one not after the start date, makes a one-day absence.
- **Midnight**: local midnight of a date, in the person's zone. A midnight that never happens
  (clocks jump forward at 00:00, e.g. America/Havana in March, America/Santiago in September)
  is moved forward past the gap (the day starts at 01:00); one that happens twice (clocks go back
  to 00:00, America/Havana in November) is the earlier of its two instants. The same instant
  ends one day and starts the next, so consecutive days always touch and merge. A day is
  therefore 23, 24 or 25 hours long.
- **Zones**: the people frame's optional ``timezone`` column (an IANA name). Absent column, null,
  empty or a name the system's zone database does not know: the default zone
  (:attr:`AwayParams.timezone`, the ``[org] timezone``). A manager with no people row of their
  own (named only as someone's ``manager_email``) has the default zone and the default country;
  a mailbox nobody in the chart owns keeps its out-of-office time, in the default zone (it is in
  no pair).
- **Countries**: the optional ``country`` column, ISO 3166-1 alpha-2 with an optional
  subdivision (``US-CA``, ``GB-SCT``, ``DE-BY``), trimmed and upper-cased. Null or empty: the
  default country (:attr:`AwayParams.country`, none unless given). A country the package does not
  know: no holidays. A known country with a subdivision it does not know: the country's national
  holidays (a typo in the region should not hide New Year's Day).
- **Which days**: holidays are listed for the dates from :attr:`AwayParams.since` (less a day,
  for zones ahead of UTC) to :attr:`AwayParams.until` or :data:`HORIZON` after the latest end of
  a counted out-of-office event, whichever is later (plus a day); :meth:`AwayParams.from_params`
  takes the run's load range and as-of plus :data:`HORIZON`. So an away stretch running past
  as-of ends where it really ends (an absence up to 31 December followed by New Year's Day): a
  run of holidays alone lasts a few days, and each out-of-office event is followed by a horizon
  of its own. Listing no more than that keeps the pairs' intervals (two people's holidays each)
  to the span the figures ask about. Out-of-office events are never clipped: every stored one
  counts.
- **Merging**: away time is a union. Intervals are half-open ``[start, end)`` UTC instants;
  overlapping and touching intervals (one's end is the next one's start) are one stretch, so after
  merging a key's intervals are sorted, disjoint and separated by a gap.
- **Instants**: an instant is in away time when ``start <= instant < end``: away at the first
  instant of an absence, no longer at its end.

The frames: a person's away time (:func:`person_away`) has ``person, start, end``; a pair's
(:func:`pair_away`) ``pair_id, start, end``; both sorted by key then start, times
``datetime64[ns, UTC]``. :func:`in_away`, :func:`away_between`, :func:`away_days` and
:func:`away_until` read a pair's merged intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import numpy as np
import pandas as pd

from cadence.frames import StoreFrames
from cadence.pipeline.org import Org
from cadence.pipeline.params import DAY_NS, NAT, Params, in_days, instants_ns

OUT_OF_OFFICE = "outOfOffice"
HOLIDAY = "holiday"
ABSENCE = "out_of_office"
# How far past as-of, and past the latest out-of-office end, holidays are listed: longer than
# any run of consecutive public holidays (a few days), so a stretch of away time is never cut.
HORIZON = pd.Timedelta(days=14)
UTC_NS = "datetime64[ns, UTC]"

ABSENCE_COLUMNS = ["person", "start", "end", "kind"]
PERSON_COLUMNS = ["person", "start", "end"]
PAIR_COLUMNS = ["pair_id", "start", "end"]

Times = pd.Series | pd.Timestamp


@dataclass(frozen=True)
class AwayParams:
    """What away time needs besides the frames: the span of instants it will be asked about
    (``since`` to ``until``, UTC-aware: holidays are listed for those years), the default zone
    for people with none, and the default country (an ISO code as in the ``country`` column, or
    None for no holidays) for people with none."""

    since: pd.Timestamp
    until: pd.Timestamp
    timezone: str
    country: str | None = None

    @classmethod
    def from_params(
        cls, p: Params, country: str | None = None, horizon: pd.Timedelta = HORIZON
    ) -> AwayParams:
        """The run's load range (:attr:`Params.load_since`) to as-of plus ``horizon``, in the
        run's zone."""
        return cls(
            since=p.load_since, until=p.as_of + horizon, timezone=p.timezone, country=country
        )


# --- times as int64 nanoseconds ------------------------------------------------------------------


def _times(ns: np.ndarray) -> pd.Series:
    """int64 nanoseconds as UTC-aware times."""
    return pd.Series(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).dt.tz_localize("UTC")


# --- merging -------------------------------------------------------------------------------------


def merge_intervals(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The union of each key's ``[start, end)`` intervals: columns ``key, start, end``, sorted by
    key then start; a key's stretches are disjoint and never touch. Intervals with a null key or
    time, or no length, are left out.

    One sort, then a running maximum of the ends within each key: a row starts a new stretch
    when it is the key's first or starts after every earlier interval of the key has ended.
    """
    start, end = instants_ns(frame["start"]), instants_ns(frame["end"])
    codes, keys = pd.factorize(frame[key].to_numpy(), sort=True)
    ok = (codes >= 0) & (start != NAT) & (end != NAT) & (end > start)
    codes, start, end = codes[ok], start[ok], end[ok]
    order = np.lexsort((start, codes))
    c, s, e = codes[order], start[order], end[order]
    reach = pd.Series(e).groupby(c).cummax().to_numpy()
    new = np.ones(len(c), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (s[1:] > reach[:-1])
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(c) - 1) if len(first) else first
    out_key = pd.Series(np.asarray(keys)[c[first]])
    return pd.DataFrame({key: out_key, "start": _times(s[first]), "end": _times(reach[last])})


# --- people: zone and country --------------------------------------------------------------------


def _text(people: pd.DataFrame, name: str) -> pd.Series:
    """An optional text column, trimmed, empty as null (absent column: all null)."""
    if name not in people.columns:
        return pd.Series(pd.NA, index=people.index, dtype="string")
    values = people[name].astype("string").str.strip()
    return values.mask(values == "")


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _zones(names: pd.Series, default: str) -> pd.Series:
    """Each zone name, or ``default`` when null or unknown (checked once per distinct name)."""
    distinct = pd.unique(names.dropna())
    known = {n: n for n in distinct if _valid_zone(str(n))}
    return names.map(known).fillna(default).astype(object)


def _people(frames: StoreFrames, org: Org, ap: AwayParams) -> pd.DataFrame:
    """Index person (resolved email): ``zone`` (always a valid name) and ``country`` (normalised
    ISO code, or None); of a person listed twice, the row naming a country."""
    people = frames.people
    country = _text(people, "country").str.upper()
    default_country = ap.country.strip().upper() if ap.country and ap.country.strip() else None
    if default_country is not None:
        country = country.fillna(default_country)
    frame = pd.DataFrame(
        {
            "person": org.resolve(people["email"]).to_numpy(),
            "zone": _zones(_text(people, "timezone"), ap.timezone).to_numpy(),
            "country": country.astype(object).to_numpy(),
        }
    )
    # A person listed twice (an alias, another case): the row naming a country wins, then the
    # smallest country and zone, so that the order of the rows never matters.
    frame = frame[frame["person"].notna()].sort_values(
        ["person", "country", "zone"], na_position="last", kind="stable"
    )
    frame = frame.drop_duplicates("person")
    # Managers named only as someone's manager still have holidays (of the default country).
    managers = pd.Index(org.people["manager_email"].dropna().unique())
    others = managers.difference(pd.Index(frame["person"]))
    extra = pd.DataFrame({"person": others, "zone": ap.timezone, "country": default_country})
    return pd.concat([frame, extra], ignore_index=True).set_index("person")


# --- local midnights -----------------------------------------------------------------------------


def _midnights(days: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """The UTC instant (int64 ns) of local midnight starting each date (``datetime64[D]``) in
    each zone: a midnight that never happens moves forward past the gap, one that happens twice
    is the earlier. One localisation per distinct zone."""
    out = np.full(len(days), NAT, dtype=np.int64)
    local = days.astype("datetime64[ns]")
    groups = pd.Series(np.arange(len(days))).groupby(pd.Series(zones, dtype=object)).indices
    for zone, rows in groups.items():
        utc = pd.DatetimeIndex(local[rows]).tz_localize(
            ZoneInfo(str(zone)),
            ambiguous=np.ones(len(rows), dtype=bool),
            nonexistent="shift_forward",
        )
        out[rows] = instants_ns(utc)
    return out


# --- out of office -------------------------------------------------------------------------------


def _declined(
    frames: StoreFrames, copy_ids: np.ndarray, person: np.ndarray, org: Org
) -> np.ndarray:
    """Per out-of-office copy: whether its owner's own latest attendee row says declined."""
    att = frames.attendees
    position = pd.Index(copy_ids).get_indexer(pd.Index(att["copy_id"]))
    rows = att[position >= 0]
    at = position[position >= 0]
    out = np.zeros(len(copy_ids), dtype=bool)
    if rows.empty:
        return out
    codes, emails = pd.factorize(rows["email"].to_numpy())
    resolved = org.resolve(pd.Series(np.asarray(emails, dtype=object))).to_numpy()
    who = np.full(len(codes), None, dtype=object)
    who[codes >= 0] = resolved[codes[codes >= 0]]
    mine = pd.DataFrame(
        {
            "at": at,
            "declined": (rows["response"] == "declined").to_numpy(dtype=bool),
            "seen": instants_ns(rows["last_seen"]),
        }
    )[who == person[at]]
    # Latest answer wins; two answers seen at the same time that disagree: the decline.
    latest = mine.sort_values(["seen", "declined"], kind="stable")
    latest = latest.drop_duplicates("at", keep="last")
    out[latest["at"].to_numpy()] = latest["declined"].to_numpy()
    return out


def _out_of_office(
    frames: StoreFrames, org: Org, people: pd.DataFrame, ap: AwayParams
) -> pd.DataFrame:
    """Each counted out-of-office event as ``person, start, end`` (UTC, before merging)."""
    events = frames.events
    oof = (events["event_type"] == OUT_OF_OFFICE).to_numpy(dtype=bool)
    oof &= (events["status"] != "cancelled").to_numpy(dtype=bool)
    rows = events[oof]
    person = org.resolve(rows["mailbox"]).to_numpy(dtype=object)
    keep = ~pd.isna(person)
    keep &= ~_declined(frames, rows["copy_id"].to_numpy(), person, org)
    start = instants_ns(rows["start"].fillna(rows["original_start"]))
    keep &= start != NAT
    rows, person, start = rows[keep], person[keep], start[keep]
    end = instants_ns(rows["end"])
    all_day = rows["all_day"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    # All-day: the stored UTC dates, then local midnights in the owner's zone.
    first = np.floor_divide(start, DAY_NS)
    after = -np.floor_divide(-end, DAY_NS)
    after = np.where((end == NAT) | (after <= first), first + 1, after)
    zone = pd.Series(person, dtype=object).map(people["zone"]).fillna(ap.timezone).to_numpy()
    days = np.concatenate([first[all_day], after[all_day]]).astype("datetime64[D]")
    local = _midnights(days, np.concatenate([zone[all_day], zone[all_day]]))
    n = int(all_day.sum())
    start[all_day], end[all_day] = local[:n], local[n:]
    return pd.DataFrame({"person": person, "start": _times(start), "end": _times(end)})


# --- holidays ------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def holiday_dates(country: str, first_year: int, last_year: int) -> tuple[np.datetime64, ...]:
    """The dates the ``holidays`` package lists (default categories) for an ISO code with an
    optional subdivision (``US-CA``), over the years given: none for a country it does not know,
    the national ones for a subdivision it does not know."""
    code, _, subdivision = country.strip().upper().partition("-")
    years = range(first_year, last_year + 1)
    found = None
    for subdiv in dict.fromkeys([subdivision or None, None]):
        try:
            found = holidays.country_holidays(code, subdiv=subdiv, years=years)
            break
        except NotImplementedError:
            continue
    if found is None:
        return ()
    return tuple(np.datetime64(day, "D") for day in sorted(found.keys()))


def _holidays(people: pd.DataFrame, ap: AwayParams, until: pd.Timestamp) -> pd.DataFrame:
    """Each person's holidays from ``ap.since`` to ``until`` (a day more each side) as
    ``person, start, end``: local midnight to local midnight. Computed once per distinct
    (country, zone), then given to its people."""
    first_day = (ap.since - pd.Timedelta(days=1)).tz_convert("UTC").tz_localize(None).floor("D")
    last_day = (until + pd.Timedelta(days=1)).tz_convert("UTC").tz_localize(None).floor("D")
    first_year, last_year = first_day.year, last_day.year
    listed = people[people["country"].notna()]
    combos = listed[["country", "zone"]].drop_duplicates()
    dates = {c: holiday_dates(c, first_year, last_year) for c in combos["country"].unique()}
    per_country = pd.DataFrame(
        {
            "country": np.repeat(list(dates), [len(d) for d in dates.values()]).astype(object),
            "day": np.array([d for ds in dates.values() for d in ds], dtype="datetime64[D]"),
        }
    )
    span = (per_country["day"] >= first_day.to_datetime64()) & (
        per_country["day"] <= last_day.to_datetime64()
    )
    days = combos.merge(per_country[span], on="country")
    day = days["day"].to_numpy(dtype="datetime64[D]")
    zone = days["zone"].to_numpy(dtype=object)
    bounds = _midnights(np.concatenate([day, day + 1]), np.concatenate([zone, zone]))
    days["start"], days["end"] = _times(bounds[: len(day)]), _times(bounds[len(day) :])
    rows = listed.reset_index().merge(days, on=["country", "zone"])
    return rows[["person", "start", "end"]]


# --- the public figures --------------------------------------------------------------------------


def _absence_rows(frames: StoreFrames, org: Org, ap: AwayParams) -> pd.DataFrame:
    """Every absence before merging, in no particular order: ``person, start, end, kind``."""
    people = _people(frames, org, ap)
    out_of_office = _out_of_office(frames, org, people, ap)
    until = ap.until
    if len(out_of_office):
        until = max(until, out_of_office["end"].max() + HORIZON)
    parts = [
        out_of_office.assign(kind=ABSENCE),
        _holidays(people, ap, until).assign(kind=HOLIDAY),
    ]
    rows = pd.concat(parts, ignore_index=True)
    return rows.astype({"person": object, "kind": object, "start": UTC_NS, "end": UTC_NS})


def absences(frames: StoreFrames, org: Org, ap: AwayParams) -> pd.DataFrame:
    """Every absence before merging: ``person, start, end, kind`` (``out_of_office`` or
    ``holiday``), sorted by person, start, end and kind."""
    rows = _absence_rows(frames, org, ap)
    return rows.sort_values(ABSENCE_COLUMNS, kind="stable", ignore_index=True)[ABSENCE_COLUMNS]


def person_away(frames: StoreFrames, org: Org, ap: AwayParams) -> pd.DataFrame:
    """Each person's away time: merged ``[start, end)`` intervals (``person, start, end``)."""
    # Merging sorts by itself: the rows need no order of their own first.
    return merge_intervals(_absence_rows(frames, org, ap), "person")


def pair_away(person: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Each pair's away time, the union of both people's: ``pair_id, start, end`` from
    :func:`person_away`'s frame and a pairs frame (index pair_id; manager, report)."""
    ids = pairs.index.to_numpy()
    link = pd.concat(
        [
            pd.DataFrame({"pair_id": ids, "person": pairs[side].to_numpy()})
            for side in ("manager", "report")
        ],
        ignore_index=True,
    )
    rows = link.merge(person[PERSON_COLUMNS], on="person")
    return merge_intervals(rows[PAIR_COLUMNS], "pair_id")


def in_away(intervals: pd.DataFrame, pair_id: object, instants: object) -> np.ndarray:
    """Whether each instant lies in its pair's away time (``start <= instant < end``): one
    boolean per (pair_id, instant), in their order. ``intervals`` are merged (:func:`pair_away`);
    a null instant, or a pair with no away time, is not away."""
    q_pair = np.asarray(pair_id)
    q_time = instants_ns(instants)
    i_pair = intervals["pair_id"].to_numpy()
    i_start, i_end = instants_ns(intervals["start"]), instants_ns(intervals["end"])
    n = len(i_pair)
    codes = pd.factorize(np.concatenate([i_pair, q_pair]))[0]
    time = np.concatenate([i_start, q_time])
    # Intervals sort before the instants at their start, so "the last interval starting at or
    # before each instant" is the last interval row before it in this order.
    is_query = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(q_pair), dtype=bool)])
    order = np.lexsort((is_query, time, codes))
    marker = np.where(is_query[order], -1, np.arange(len(order)))
    latest = np.maximum.accumulate(marker) if len(order) else marker
    at = np.flatnonzero(is_query[order])
    found = latest[at]
    row = order[np.maximum(found, 0)]  # the interval's row (meaningless where found < 0)
    query = order[at]
    inside = (found >= 0) & (codes[row] == codes[query]) & (time[query] != NAT)
    inside &= time[query] < np.concatenate([i_end, q_time])[row]
    out = np.zeros(len(q_pair), dtype=bool)
    out[query - n] = inside
    return out


def _pair_index(intervals: pd.DataFrame, pairs: pd.Index | None, *bounds: Times) -> pd.Index:
    """The pairs a per-pair answer covers: ``pairs``, else the first per-pair bound's index,
    else every pair with away time."""
    if pairs is not None:
        return pd.Index(pairs, name="pair_id")
    for bound in bounds:
        if isinstance(bound, pd.Series):
            return pd.Index(bound.index, name="pair_id")
    return pd.Index(np.sort(intervals["pair_id"].unique()), name="pair_id")


def _per_pair(bound: Times, pairs: pd.Index) -> np.ndarray:
    """A bound (one instant, or a Series by pair_id) as int64 ns per pair of ``pairs``."""
    if isinstance(bound, pd.Series):
        return instants_ns(bound.reindex(pairs))
    return np.full(len(pairs), instants_ns([bound])[0], dtype=np.int64)


def _rows(intervals: pd.DataFrame, pairs: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The intervals of ``pairs``: each row's position in ``pairs``, its start and end (ns)."""
    position = pairs.get_indexer(pd.Index(intervals["pair_id"]))
    keep = position >= 0
    return (
        position[keep],
        instants_ns(intervals["start"])[keep],
        instants_ns(intervals["end"])[keep],
    )


def away_between(
    intervals: pd.DataFrame, t0: Times, t1: Times, pairs: pd.Index | None = None
) -> pd.Series:
    """Per pair, how much of ``[t0, t1)`` is away time (timedelta; zero when t1 <= t0, null when
    either bound is). ``t0`` and ``t1`` are instants or Series by pair_id (e.g. ``last_held``
    and as-of, for "stale": days since last held, less away time)."""
    index = _pair_index(intervals, pairs, t0, t1)
    lo, hi = _per_pair(t0, index), _per_pair(t1, index)
    null = (lo == NAT) | (hi == NAT)
    lo, hi = np.where(null, 0, lo), np.where(null, 0, hi)
    at, start, end = _rows(intervals, index)
    overlap = np.clip(np.minimum(end, hi[at]) - np.maximum(start, lo[at]), 0, None)
    total = np.zeros(len(index), dtype=np.int64)
    np.add.at(total, at, overlap)
    total = np.where(null, NAT, total)
    return pd.Series(total.view("timedelta64[ns]"), index=index, name="away")


def away_days(
    intervals: pd.DataFrame, window_start: Times, as_of: Times, pairs: pd.Index | None = None
) -> pd.Series:
    """Per pair, the days (24-hour spans, exact float) of the window ``(window_start, as_of]``
    spent in away time."""
    return in_days(away_between(intervals, window_start, as_of, pairs)).rename("away_days")


def away_until(intervals: pd.DataFrame, as_of: Times, pairs: pd.Index | None = None) -> pd.Series:
    """Per pair, when as-of lies in away time (``start <= as_of < end``), the end of that merged
    stretch (UTC), else null. ``intervals`` are merged (:func:`pair_away`)."""
    index = _pair_index(intervals, pairs, as_of)
    when = _per_pair(as_of, index)
    at, start, end = _rows(intervals, index)
    inside = (when[at] != NAT) & (start <= when[at]) & (when[at] < end)
    out = np.full(len(index), NAT, dtype=np.int64)
    out[at[inside]] = end[inside]
    return _times(out).set_axis(index).rename("away_until")
