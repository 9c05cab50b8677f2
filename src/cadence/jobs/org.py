"""``cadence org import`` and ``cadence org pull``: the org chart from a CSV or from the sources'
directories, checked whole, then stored in one transaction, so a refused chart changes nothing.

People erased with ``cadence forget`` are left out after the check (:func:`without_forgotten`):
an import must not bring them back, and the chart is checked as it was given, so the same file
or directory is accepted before and after someone is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from cadence.config import Config
from cadence.connectors.base import DirectoryListing
from cadence.errors import CadenceError, UsageError
from cadence.normalised import OrgPerson, normalise_email
from cadence.orgchart import build_hierarchy, parse_csv, validate_chart
from cadence.store.forget import address_hash, forgotten_hashes
from cadence.store.people import load_chart, replace_chart


@dataclass(frozen=True)
class ChartSaved:
    """What a stored chart now holds, and what it replaced."""

    origin: str
    people: int
    before: int
    managers: int
    directors: int
    top: str | None
    forgotten: int = 0  # rows left out: people erased with cadence forget
    unmanaged: int = 0  # people kept whose manager was forgotten: they now have none

    def line(self) -> str:
        text = (
            f"imported {self.people} people from {self.origin} (the chart had {self.before}): "
            f"{self.managers} manager{'s' * (self.managers != 1)}, "
            f"{self.directors} director{'s' * (self.directors != 1)}"
        )
        if self.top is not None or not self.forgotten:
            text += f", top {self.top}"
        if self.forgotten:
            text += f"; left out {self.forgotten} forgotten {_people(self.forgotten)}"
        if self.unmanaged:
            has = "has" if self.unmanaged == 1 else "have"
            text += (
                f"; {self.unmanaged} {_people(self.unmanaged)} whose manager was forgotten "
                f"{has} no manager now"
            )
        return text


def _people(n: int) -> str:
    return "person" if n == 1 else "people"


def without_forgotten(
    people: list[OrgPerson], forgotten: set[str]
) -> tuple[list[OrgPerson], int, int]:
    """A checked chart without the people of ``forgotten`` (hashes of addresses): a person goes
    when their email or any alias is forgotten. Whoever they managed stays, with no manager (at
    the top of their own line), as the pipeline treats an opted-out manager's reports: no
    figure may describe the person who is gone. Returns the chart, how many people were left
    out and how many were left without a manager."""
    if not forgotten:
        return people, 0, 0
    gone = {
        p.email for p in people if any(address_hash(a) in forgotten for a in (p.email, *p.aliases))
    }
    kept = [p for p in people if p.email not in gone]
    unmanaged = sum(p.manager_email in gone for p in kept)
    kept = [replace(p, manager_email=None) if p.manager_email in gone else p for p in kept]
    return kept, len(gone), unmanaged


MAX_SAMPLES = 3  # values a directory said, shown for each reason
MAX_SAID = 80  # characters of each

# The store is opened only once the chart has passed its checks, so a bad chart is reported as
# such even where the database is not set up yet.
OpenStore = Callable[[], Engine]


def _save(open_store: OpenStore, people: list[OrgPerson], origin: str) -> ChartSaved:
    engine = open_store()
    people, forgotten, unmanaged = without_forgotten(people, forgotten_hashes(engine))
    before = len(load_chart(engine))
    replace_chart(engine, people)
    h = build_hierarchy(people)
    return ChartSaved(
        origin,
        len(people),
        before,
        len(h.managers()),
        len(h.directors()),
        h.top,
        forgotten,
        unmanaged,
    )


def import_csv(open_store: OpenStore, config: Config, csv_file: Path | None) -> ChartSaved:
    """The chart from ``csv_file``, else from ``[org] csv``."""
    if csv_file is not None:
        path = csv_file
    elif config.org.csv:
        path = config.resolve(config.org.csv)
        if not path.is_file():
            raise UsageError(f"{path} ([org] csv of {config.path}) does not exist")
    else:
        raise UsageError("name the CSV file (cadence org import FILE.csv) or set [org] csv")
    chart = parse_csv(
        path,
        sources=config.sources,
        country=config.org.country or None,
        timezone=config.org.timezone,
    )
    return _save(open_store, chart, str(path))


def _unfilled_line(name: str, listing: DirectoryListing, config: Config) -> str | None:
    """One line saying whom the directory of source ``name`` could not place, and why."""
    unfilled = listing.unfilled
    parts = []
    for what, label, reasons in (
        ("country", "a country", unfilled.country),
        ("timezone", "a time zone", unfilled.timezone),
    ):
        count = unfilled.count(what)
        if not count:
            continue
        why = []
        for reason, found in sorted(reasons.items(), key=lambda r: (-len(r[1]), r[0])):
            said = sorted({s for _, s in found if s})
            shown = ", ".join(repr(s[:MAX_SAID]) for s in said[:MAX_SAMPLES])
            more = f" and {len(said) - MAX_SAMPLES} more" if len(said) > MAX_SAMPLES else ""
            why.append(f"{len(found)} {reason}" + (f": {shown}{more}" if said else ""))
        parts.append(f"{count} without {label} ({'; '.join(why)})")
    if not parts:
        return None
    country = config.org.country or "none"
    return (
        f"directory of source {name}: of {len(listing.people)} people, {' and '.join(parts)}; "
        f"they take [org] country ({country}) and [org] timezone ({config.org.timezone})"
    )


def _never_read(open_store: OpenStore, config: Config) -> Callable[[str], bool]:
    """Whose calendar a pull must not read for their time zone: people who opted out, and
    people forgotten (when the store can say; a store not set up yet has forgotten nobody)."""
    excluded = {normalise_email(e) for e in config.org.exclude}
    try:
        forgotten = forgotten_hashes(open_store())
    except CadenceError:
        forgotten = set()
    return lambda email: normalise_email(email) in excluded or address_hash(email) in forgotten


def pull(
    open_store: OpenStore,
    config: Config,
    source_name: str | None,
    say: Callable[[str], None] = lambda _: None,
) -> ChartSaved:
    """The chart from one source's directory, or every source's merged (each person's source is
    the one whose directory listed them), checked as one chart."""
    if not config.sources:
        raise UsageError(
            f"no [sources.NAME] in {config.path or 'the configuration'}: nothing to pull from"
        )
    if source_name is not None and source_name not in config.sources:
        known = ", ".join(sorted(config.sources))
        raise UsageError(f"--source {source_name}: no such [sources.NAME] (configured: {known})")
    names = [source_name] if source_name else sorted(config.sources)
    # Imported here: the directory clients are heavy, and only this command needs them.
    from cadence.connectors.directory import fetch_directory

    never_read = _never_read(open_store, config)
    people: list[OrgPerson] = []
    for name in names:
        listing = fetch_directory(config, name, skip=never_read)
        people.extend(replace(p, source=name) for p in listing.people)
        say(f"directory of source {name}: {len(listing.people)} people")
        if (line := _unfilled_line(name, listing, config)) is not None:
            say(line)
    if len(names) == 1:
        origin = f"directory of source {names[0]}"
    else:
        origin = f"directories of sources {', '.join(names)}"
    chart = validate_chart(
        people,
        origin,
        sources=config.sources,
        country=config.org.country or None,
        timezone=config.org.timezone,
    )
    return _save(open_store, chart, origin)
