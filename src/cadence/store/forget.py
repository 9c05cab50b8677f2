"""Erasure: every SQL statement of ``cadence forget``, and what later syncs need to keep a
forgotten person out of the store.

A person may ask for their data to be erased. cadence keeps them in many tables (the org chart,
their calendar, other people's invitations that list them, sync state, run summaries, saved
reports, web sessions), so :func:`erase` removes all of it in one transaction: a crash or a
database error leaves either everything erased or nothing. What stays is the SHA-256 of each of
their normalised addresses (``forgotten_people``): enough for a sync or an org import to
recognise them and skip them, not enough to name them.

Their address on other people's events is not deleted but replaced by a placeholder
(:func:`new_placeholder`): a meeting of three people that lost one attendee row would look like
a 1:1 of the other two and change their figures. The placeholder is random, one per person per
run, never derived from the address (a hash of it could be checked against a guess).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, delete, exists, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from cadence.normalised import normalise_email
from cadence.store.models import (
    MICROSECOND,
    Alias,
    Attendee,
    Base,
    Event,
    ForgottenPerson,
    Mailbox,
    Person,
    RunLog,
    SavedView,
    SyncState,
    WebSession,
)

PLACEHOLDER_DOMAIN = "forgotten.invalid"  # RFC 2606: .invalid is never a real domain
NAME_REPLACEMENT = "[forgotten]"

PEOPLE: Table = Person.__table__  # type: ignore[assignment]
ALIASES: Table = Alias.__table__  # type: ignore[assignment]
MAILBOXES: Table = Mailbox.__table__  # type: ignore[assignment]
STATES: Table = SyncState.__table__  # type: ignore[assignment]
EVENTS: Table = Event.__table__  # type: ignore[assignment]
ATTENDEES: Table = Attendee.__table__  # type: ignore[assignment]
RUNS: Table = RunLog.__table__  # type: ignore[assignment]
SAVED: Table = SavedView.__table__  # type: ignore[assignment]
SESSIONS: Table = WebSession.__table__  # type: ignore[assignment]
FORGOTTEN: Table = ForgottenPerson.__table__  # type: ignore[assignment]


def address_hash(address: str) -> str:
    """The SHA-256 (hex) of a normalised address: what ``forgotten_people`` keeps."""
    return hashlib.sha256(normalise_email(address).encode()).hexdigest()


def new_placeholder() -> str:
    """A fresh anonymous address, ``forgotten-<random hex>@forgotten.invalid``."""
    return f"forgotten-{secrets.token_hex(8)}@{PLACEHOLDER_DOMAIN}"


# -- who someone is ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownPerson:
    """A person of the org chart as erasure needs them: every address, and their name."""

    email: str
    aliases: tuple[str, ...]
    name: str


def person_of(engine: Engine, address: str) -> KnownPerson | None:
    """The org chart's person whose email or alias ``address`` is, or ``None``."""
    address = normalise_email(address)
    with engine.connect() as conn:
        primary = conn.execute(
            select(ALIASES.c.email).where(func.lower(ALIASES.c.alias) == address)
        ).scalar()
        primary = normalise_email(primary) if primary else address
        row = conn.execute(
            select(PEOPLE.c.email, PEOPLE.c.name).where(func.lower(PEOPLE.c.email) == primary)
        ).first()
        if row is None:
            return None
        aliases = conn.execute(
            select(ALIASES.c.alias)
            .where(func.lower(ALIASES.c.email) == primary)
            .order_by(ALIASES.c.alias)
        ).scalars()
        return KnownPerson(primary, tuple(normalise_email(a) for a in aliases), row.name)


# -- what later syncs and imports skip ---------------------------------------------------------


def forgotten_hashes(engine: Engine) -> set[str]:
    """The hashes (:func:`address_hash`) of every forgotten address."""
    with engine.connect() as conn:
        return set(conn.execute(select(FORGOTTEN.c.email_hash)).scalars())


def forgotten_placeholders(engine: Engine) -> dict[str, str]:
    """Every forgotten address's hash -> a fresh placeholder for this run.

    The addresses one ``cadence forget`` recorded (a person's email and aliases) share their
    ``forgotten_at``, and so share one placeholder: an invitation listing two of them lists one
    anonymous person.
    """
    with engine.connect() as conn:
        rows = conn.execute(select(FORGOTTEN.c.email_hash, FORGOTTEN.c.forgotten_at)).all()
    per_run: dict[datetime, str] = {}
    return {h: per_run.setdefault(at, new_placeholder()) for h, at in rows}


def forget_undo(engine: Engine, address: str, *, dry_run: bool = False) -> int:
    """Stop skipping ``address`` and every address forgotten with it (same ``forgotten_at``):
    returns how many hashes went (0: it was not forgotten). Erased data stays erased."""
    with engine.connect() as conn, conn.begin() as transaction:
        at = conn.execute(
            select(FORGOTTEN.c.forgotten_at).where(FORGOTTEN.c.email_hash == address_hash(address))
        ).scalar()
        if at is None:
            return 0
        gone = conn.execute(delete(FORGOTTEN).where(FORGOTTEN.c.forgotten_at == at)).rowcount
        if dry_run:
            transaction.rollback()
        return int(gone)


# -- the erasure ---------------------------------------------------------------------------------


@dataclass
class Erasure:
    """What :func:`erase` did (or, in a dry run, would do), by table name: rows ``deleted`` and
    rows ``changed`` (an address replaced by the placeholder, a manager cleared, a free text
    scrubbed), and the hashes ``added`` to ``forgotten_people``."""

    deleted: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    added: int = 0

    @property
    def found(self) -> int:
        """Rows that held something of the person (the hashes not counted)."""
        return sum(self.deleted.values()) + sum(self.changed.values())

    def tables(self) -> list[tuple[str, int, int]]:
        """(table, deleted, changed) of every table touched, in the schema's order."""
        counts = [
            (t.name, self.deleted.get(t.name, 0), self.changed.get(t.name, 0))
            for t in Base.metadata.sorted_tables
        ]
        return [c for c in counts if c[1] or c[2]]

    def _delete(self, table: Table, n: int) -> None:
        if n:
            self.deleted[table.name] = self.deleted.get(table.name, 0) + n

    def _change(self, table: Table, n: int) -> None:
        if n:
            self.changed[table.name] = self.changed.get(table.name, 0) + n


def _among(column: ColumnElement[Any], addresses: Collection[str]) -> ColumnElement[bool]:
    # Stored addresses are normalised on the way in; lower() makes sure of it at no real cost
    # (erasure scans these tables anyway: no index leads with an address column).
    return func.lower(column).in_(sorted(addresses))


def erase(
    engine: Engine,
    addresses: Collection[str],
    names: Collection[str] = (),
    *,
    now: datetime,
    dry_run: bool = False,
) -> Erasure:
    """Erase the person of ``addresses`` (their email and aliases) in one transaction, and
    record each address's hash; with ``dry_run``, count the same and roll it all back.

    ``names`` (their name in the org chart) are scrubbed, with their addresses, from the free
    texts that may quote them. Running it again finds nothing and changes nothing.
    """
    addresses = {normalise_email(a) for a in addresses if a.strip()}
    erasure = Erasure()
    with engine.connect() as conn, conn.begin() as transaction:
        placeholder = new_placeholder()
        _erase_calendar(conn, addresses, placeholder, erasure)
        _erase_chart(conn, addresses, erasure)
        n = conn.execute(delete(SESSIONS).where(_among(SESSIONS.c.email, addresses))).rowcount
        erasure._delete(SESSIONS, n)
        _scrub_texts(conn, addresses, names, placeholder, erasure)
        if erasure.found:
            # Every saved week: other people's reports name them too (their manager's, their
            # directors'); the web app recomputes a week nobody saved, the nightly saves anew.
            erasure._delete(SAVED, conn.execute(delete(SAVED)).rowcount)
        erasure.added = _record(conn, addresses, now)
        if dry_run:
            transaction.rollback()
    return erasure


def _erase_calendar(
    conn: Connection, addresses: set[str], placeholder: str, erasure: Erasure
) -> None:
    """Their mailbox's events go; on everyone else's, they become ``placeholder``."""
    own = _among(ATTENDEES.c.mailbox, addresses)
    erasure._delete(ATTENDEES, conn.execute(delete(ATTENDEES).where(own)).rowcount)
    own = _among(EVENTS.c.mailbox, addresses)
    erasure._delete(EVENTS, conn.execute(delete(EVENTS).where(own)).rowcount)
    # An invitation listing two of their addresses keeps one attendee row: the placeholder is
    # one person, and the row's key holds the address.
    other = ATTENDEES.alias("other")
    twice = delete(ATTENDEES).where(
        _among(ATTENDEES.c.email, addresses),
        exists().where(
            other.c.source == ATTENDEES.c.source,
            other.c.mailbox == ATTENDEES.c.mailbox,
            other.c.event_id == ATTENDEES.c.event_id,
            _among(other.c.email, addresses),
            func.lower(other.c.email) < func.lower(ATTENDEES.c.email),
        ),
    )
    erasure._delete(ATTENDEES, conn.execute(twice).rowcount)
    listed = update(ATTENDEES).where(_among(ATTENDEES.c.email, addresses))
    erasure._change(ATTENDEES, conn.execute(listed.values(email=placeholder)).rowcount)
    organised = update(EVENTS).where(_among(EVENTS.c.organizer, addresses))
    erasure._change(EVENTS, conn.execute(organised.values(organizer=placeholder)).rowcount)
    n = conn.execute(delete(STATES).where(_among(STATES.c.mailbox, addresses))).rowcount
    erasure._delete(STATES, n)
    n = conn.execute(delete(MAILBOXES).where(_among(MAILBOXES.c.email, addresses))).rowcount
    erasure._delete(MAILBOXES, n)


def _erase_chart(conn: Connection, addresses: set[str], erasure: Erasure) -> None:
    """Their row and aliases go; whoever they managed is left with no manager (the pipeline
    treats an opted-out manager's reports the same way: no figure of theirs may describe the
    person who is gone)."""
    either = or_(_among(ALIASES.c.alias, addresses), _among(ALIASES.c.email, addresses))
    erasure._delete(ALIASES, conn.execute(delete(ALIASES).where(either)).rowcount)
    n = conn.execute(delete(PEOPLE).where(_among(PEOPLE.c.email, addresses))).rowcount
    erasure._delete(PEOPLE, n)
    managed = update(PEOPLE).where(_among(PEOPLE.c.manager_email, addresses))
    erasure._change(PEOPLE, conn.execute(managed.values(manager_email=None)).rowcount)


def _scrubber(
    addresses: Iterable[str], names: Iterable[str], placeholder: str
) -> Callable[[str], str]:
    """A free text with each address (also as JSON escapes it) made the placeholder, and each
    name, as a whole word, ``[forgotten]``; case-insensitively."""
    found: list[tuple[re.Pattern[str], str]] = []
    for address in sorted(addresses, key=len, reverse=True):  # an alias may hold another
        for spelled in {address, json.dumps(address)[1:-1]}:
            found.append((re.compile(re.escape(spelled), re.IGNORECASE), placeholder))
    for name in sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True):
        for spelled in {name, json.dumps(name)[1:-1]}:
            word = re.compile(rf"(?<!\w){re.escape(spelled)}(?!\w)", re.IGNORECASE)
            found.append((word, NAME_REPLACEMENT))

    def scrub(text: str) -> str:
        for pattern, replacement in found:
            text = pattern.sub(replacement, text)  # neither holds a backslash
        return text

    return scrub


def _scrub_texts(
    conn: Connection,
    addresses: set[str],
    names: Collection[str],
    placeholder: str,
    erasure: Erasure,
) -> None:
    """Their addresses and name out of the free texts that may quote them: a mailbox's last
    sync error (another mailbox's error may name them) and the run log's summaries."""
    scrub = _scrubber(addresses, names, placeholder)
    for table, text, keys in (
        (STATES, STATES.c.error, (STATES.c.source, STATES.c.mailbox)),
        (RUNS, RUNS.c.summary, (RUNS.c.id,)),
    ):
        erasure._change(table, _scrub_column(conn, table, text, keys, scrub))


def _scrub_column(
    conn: Connection,
    table: Table,
    text: Column[str | None],
    keys: Sequence[Column[Any]],
    scrub: Callable[[str], str],
) -> int:
    # In Python, not SQL: SQLite has no case-insensitive replace, and these tables hold one row
    # per mailbox or per run.
    changed = 0
    for row in conn.execute(select(*keys, text).where(text.is_not(None))):
        *key, value = row
        new = scrub(value)
        if new != value:
            where = [k == v for k, v in zip(keys, key, strict=True)]
            conn.execute(update(table).where(*where).values({text.name: new}))
            changed += 1
    return changed


def _record(conn: Connection, addresses: Collection[str], now: datetime) -> int:
    """Add each address's hash (those not yet there); returns how many were added.

    The run's rows get an instant no earlier run has, so that :func:`forget_undo` and
    :func:`forgotten_placeholders` can tell which addresses were forgotten together.
    """
    hashes = {address_hash(a) for a in addresses}
    known = set(
        conn.execute(
            select(FORGOTTEN.c.email_hash).where(FORGOTTEN.c.email_hash.in_(sorted(hashes)))
        ).scalars()
    )
    new = sorted(hashes - known)
    if not new:
        return 0
    latest = conn.execute(select(func.max(FORGOTTEN.c.forgotten_at))).scalar()
    at = now if latest is None or latest < now else latest + MICROSECOND
    conn.execute(FORGOTTEN.insert(), [{"email_hash": h, "forgotten_at": at} for h in new])
    return len(new)
