"""The frames the store hands the pipeline: their columns, and what a frame row means.

This is the contract between the two. The store (``cadence.store.reads``) fills these frames from
SQL and the pipeline computes from them; neither imports the other, both import this module, so it
needs nothing but pandas. docs/metrics.md ("Frames") documents every column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Besides these, ``events`` has ``listed`` (how many people, resources aside, the copy lists) and
# ``copy_id``; ``attendees`` has ``copy_id``, the number of the event copy it belongs to.
EVENT_COLUMNS = (
    "source",
    "mailbox",
    "event_id",
    "series_id",
    "ical_uid",
    "original_start",
    "start",
    "end",
    "all_day",
    "event_type",
    "status",
    "organizer",
    "recurrence",
    "source_updated",
    "cancelled_at",
    "cancel_seen_at",
    "first_seen",
    "last_seen",
)
ATTENDEE_COLUMNS = (
    "source",
    "mailbox",
    "event_id",
    "email",
    "response",
    "is_organizer",
    "is_resource",
    "response_at",
    "response_seen_at",
    "last_seen",
)
# The columns that are times: UTC-aware pandas datetimes, whichever database they came from.
EVENT_TIMES = (
    "original_start",
    "start",
    "end",
    "source_updated",
    "cancelled_at",
    "cancel_seen_at",
    "first_seen",
    "last_seen",
)
ATTENDEE_TIMES = ("response_at", "response_seen_at", "last_seen")
# The people frame: the org chart's people. ``country`` and ``timezone`` say where each works
# (``DE``, ``US-CA``; an IANA name), null when the chart did not say and had no default.
PEOPLE_COLUMNS = ("email", "name", "manager_email", "team", "country", "timezone")
# A copy listing more people than this is no pair's 1:1, even if aliases merge a few of them:
# only its count of people is read, never its attendee rows, so that an all-hands invitation in
# thousands of calendars costs one number per copy.
MAX_LISTED = 4


@dataclass(frozen=True)
class StoreFrames:
    """The store's rows as frames (columns: docs/metrics.md "Frames").

    ``events`` has one row per occurrence per calendar, numbered by ``copy_id`` (0..n-1, its
    position); ``attendees`` carries the ``copy_id`` of the event copy it belongs to, and holds no
    rows for a copy that lists more than :data:`MAX_LISTED` people. ``people``:
    :data:`PEOPLE_COLUMNS`; ``aliases``: alias, email.
    """

    people: pd.DataFrame
    aliases: pd.DataFrame
    events: pd.DataFrame
    attendees: pd.DataFrame
