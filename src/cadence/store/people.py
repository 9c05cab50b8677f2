"""Keep the org chart: replace it whole in one transaction, and load it back.

The chart is only ever replaced whole (``cadence org import`` / ``org pull``), never edited row by
row, so a reader sees either the old chart or the new one, never a mix, and a failed replace
leaves the old chart as it was. Checking the chart is :func:`cadence.orgchart.validate_chart`'s
job, done before anything here is called.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, Table, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from cadence.errors import StoreError
from cadence.normalised import OrgPerson, normalise_email
from cadence.store.database import first_line
from cadence.store.models import Alias, Person

PEOPLE: Table = Person.__table__  # type: ignore[assignment]
ALIASES: Table = Alias.__table__  # type: ignore[assignment]


def replace_chart(engine: Engine, people: Sequence[OrgPerson]) -> None:
    """Make ``people`` (a validated chart) the whole org chart, atomically."""
    rows = [
        {
            "email": p.email,
            "name": p.name,
            "manager_email": p.manager_email,
            "team": p.team,
            "source": p.source,
            "country": p.country,
            "timezone": p.timezone,
        }
        for p in people
    ]
    aliases = [{"alias": a, "email": p.email} for p in people for a in p.aliases]
    try:
        with engine.begin() as conn:
            conn.execute(delete(ALIASES))
            conn.execute(delete(PEOPLE))
            if rows:
                conn.execute(insert(PEOPLE), rows)
            if aliases:
                conn.execute(insert(ALIASES), aliases)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not save the org chart (the old one is kept): {first_line(exc)}"
        ) from exc


def load_chart(engine: Engine) -> list[OrgPerson]:
    """The stored org chart, sorted by email (empty before the first import)."""
    with engine.connect() as conn:
        aliases: dict[str, list[str]] = {}
        for alias, email in conn.execute(select(ALIASES.c.alias, ALIASES.c.email)):
            aliases.setdefault(email, []).append(alias)
        rows = conn.execute(select(PEOPLE).order_by(PEOPLE.c.email)).mappings()
        return [
            OrgPerson(
                email=r["email"],
                name=r["name"],
                manager_email=r["manager_email"],
                team=r["team"],
                source=r["source"],
                aliases=tuple(sorted(aliases.get(r["email"], ()))),
                country=r["country"],
                timezone=r["timezone"],
            )
            for r in rows
        ]


def mailbox_emails(engine: Engine, source: str | None = None) -> list[str]:
    """The org chart's mailboxes (normalised, sorted), all or those of one source."""
    query = select(PEOPLE.c.email).order_by(PEOPLE.c.email)
    if source is not None:
        query = query.where(PEOPLE.c.source == source)
    with engine.connect() as conn:
        return [normalise_email(e) for e in conn.execute(query).scalars()]
