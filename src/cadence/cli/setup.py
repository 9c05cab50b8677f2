"""``cadence init``: write a commented config and create or upgrade the schema."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.config import DEFAULT_CONFIG_NAME, TEMPLATE
from cadence.errors import ConfigError
from cadence.store.database import redact, upgrade


@click.command("init")
@common_options
@pass_app
def init_command(app: App) -> None:
    """Write a commented cadence.toml (an existing one is left untouched) and create or
    upgrade the database schema.

    \b
    Examples:
      cadence init
      cadence init --config /etc/cadence/cadence.toml
      cadence init --database-url postgresql+psycopg://cadence@db/cadence
    """
    # The config named by --config or $CADENCE_CONFIG is the one to write if it is missing.
    named = app.config_path or os.environ.get("CADENCE_CONFIG")
    target = Path(named) if named else Path.cwd() / DEFAULT_CONFIG_NAME
    if target.is_file():
        app.info(f"kept {target}")
    else:
        if not target.parent.is_dir():
            raise ConfigError(f"{target}: its folder {target.parent} does not exist")
        target.write_text(TEMPLATE, encoding="utf-8")
        app.info(f"wrote {target}")
    app.config_path = str(target)
    engine = app.raw_engine()
    before, after = upgrade(engine)
    where = redact(str(engine.url))
    if before == after:
        app.info(f"database {where} is up to date (schema {after})")
    elif before is None:
        app.info(f"created the schema (schema {after}) in {where}")
    else:
        app.info(f"upgraded {where} from schema {before} to {after}")
