"""``cadence init``: write a commented config and create or upgrade the schema."""

from __future__ import annotations

from pathlib import Path

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.config import DEFAULT_CONFIG_NAME, TEMPLATE, find_config_path
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
      cadence init --database-url postgresql+psycopg://cadence@db/cadence
    """
    existing = find_config_path(app.config_path)
    if existing is None:
        target = Path.cwd() / DEFAULT_CONFIG_NAME
        target.write_text(TEMPLATE, encoding="utf-8")
        app.config_path = str(target)
        app.info(f"wrote {target}")
    else:
        app.info(f"kept {existing}")
    engine = app.raw_engine()
    before, after = upgrade(engine)
    where = redact(str(engine.url))
    if before == after:
        app.info(f"database {where} is up to date (schema {after})")
    elif before is None:
        app.info(f"created the schema (schema {after}) in {where}")
    else:
        app.info(f"upgraded {where} from schema {before} to {after}")
