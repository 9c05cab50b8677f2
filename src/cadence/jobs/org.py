"""``cadence org import`` and ``cadence org pull``: the org chart from a CSV or from the sources'
directories, checked whole, then stored in one transaction, so a refused chart changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from cadence.config import Config
from cadence.connectors.base import DirectoryListing
from cadence.errors import UsageError
from cadence.normalised import OrgPerson
from cadence.orgchart import build_hierarchy, parse_csv, validate_chart
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

    def line(self) -> str:
        return (
            f"imported {self.people} people from {self.origin} (the chart had {self.before}): "
            f"{self.managers} manager{'s' * (self.managers != 1)}, "
            f"{self.directors} director{'s' * (self.directors != 1)}, top {self.top}"
        )


MAX_SAMPLES = 3  # values a directory said, shown for each reason
MAX_SAID = 80  # characters of each

# The store is opened only once the chart has passed its checks, so a bad chart is reported as
# such even where the database is not set up yet.
OpenStore = Callable[[], Engine]


def _save(open_store: OpenStore, people: list[OrgPerson], origin: str) -> ChartSaved:
    engine = open_store()
    before = len(load_chart(engine))
    replace_chart(engine, people)
    h = build_hierarchy(people)
    return ChartSaved(origin, len(people), before, len(h.managers()), len(h.directors()), h.top)


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

    people: list[OrgPerson] = []
    for name in names:
        listing = fetch_directory(config, name)
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
