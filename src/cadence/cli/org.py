"""``cadence org import`` and ``cadence org pull``: load the org chart from a CSV or a directory.

Both check the whole chart first (:func:`cadence.orgchart.validate_chart`) and only then replace
the stored chart, in one transaction: a refused chart changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.errors import UsageError
from cadence.normalised import OrgPerson
from cadence.orgchart import build_hierarchy, parse_csv, validate_chart
from cadence.store.people import load_chart, replace_chart


@click.group("org")
def org_group() -> None:
    """The org chart: who manages whom (see docs/org-chart.md)."""


def _save(app: App, people: list[OrgPerson], origin: str) -> None:
    """Replace the stored chart and say in one line what it now holds."""
    engine = app.store
    before = len(load_chart(engine))
    replace_chart(engine, people)
    h = build_hierarchy(people)
    managers, directors = len(h.managers()), len(h.directors())
    app.info(
        f"imported {len(people)} people from {origin} (the chart had {before}): "
        f"{managers} manager{'s' * (managers != 1)}, "
        f"{directors} director{'s' * (directors != 1)}, top {h.top}"
    )


@org_group.command("import")
@click.argument("csv_file", required=False, type=click.Path(exists=True, dir_okay=False))
@common_options
@pass_app
def import_command(app: App, csv_file: str | None) -> None:
    """Load the org chart from FILE.csv (default: [org] csv of the config), replacing the
    old one.

    Columns: email,name,manager_email, optionally team, source, aliases (other emails,
    ';'-separated), in any order, with a header line. A file with any problem is refused with
    its line numbers, and the stored chart is left as it was.

    \b
    Examples:
      cadence org import people.csv
      cadence org import                # the [org] csv file of cadence.toml
    """
    config = app.config
    if csv_file is not None:
        path = Path(csv_file)
    elif config.org.csv:
        path = config.resolve(config.org.csv)
        if not path.is_file():
            raise UsageError(f"{path} ([org] csv of {config.path}) does not exist")
    else:
        raise UsageError("name the CSV file (cadence org import FILE.csv) or set [org] csv")
    people = parse_csv(path, sources=config.sources)
    _save(app, people, str(path))


@org_group.command("pull")
@click.option(
    "--source",
    "source_name",
    metavar="NAME",
    help="Pull from this [sources.NAME] only (default: every configured source, merged).",
)
@common_options
@pass_app
def pull_command(app: App, source_name: str | None) -> None:
    """Load the org chart from the Google or Microsoft directory of the configured sources,
    replacing the old one.

    With several sources and no --source, every directory is pulled and merged (each person's
    source is the one whose directory listed them) and then checked as one chart. A chart with
    any problem is refused, and the stored chart is left as it was.

    \b
    Examples:
      cadence org pull
      cadence org pull --source acme-google
    """
    config = app.config
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
        listed = fetch_directory(config, name)
        people.extend(replace(p, source=name) for p in listed)
        app.info(f"directory of source {name}: {len(listed)} people")
    if len(names) == 1:
        origin = f"directory of source {names[0]}"
    else:
        origin = f"directories of sources {', '.join(names)}"
    _save(app, validate_chart(people, origin, sources=config.sources), origin)
