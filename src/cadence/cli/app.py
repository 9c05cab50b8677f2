"""What every command shares: the global options, the configuration and the open store."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from cadence.config import Config, PipelineConfig, load_config, resolve_database_url
from cadence.store.database import make_engine, open_store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """The run's settings, gathered from options given before or after the command name."""

    config_path: str | None = None
    database_url: str | None = None
    verbose: int = 0
    quiet: bool = False
    engine: str | None = None  # --engine and --scheduler of the report commands
    scheduler: str | None = None

    @cached_property
    def config(self) -> Config:
        config = load_config(self.config_path, database_url=self.database_url)
        if self.engine or self.scheduler:
            pipeline = PipelineConfig(
                engine=self.engine or config.pipeline.engine,
                scheduler=self.scheduler or config.pipeline.scheduler,
            )
            config = replace(config, pipeline=pipeline)
        return config

    @property
    def url(self) -> str:
        return resolve_database_url(self.config)

    @cached_property
    def store(self) -> Engine:
        """The database, refusing a schema that is behind (run ``cadence init``)."""
        return open_store(self.url)

    def raw_engine(self) -> Engine:
        """The database without the schema check, for ``cadence init``."""
        return make_engine(self.url)

    @property
    def interactive(self) -> bool:
        """Progress is shown on a terminal, never under cron or with ``--quiet``."""
        return not self.quiet and sys.stderr.isatty()

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    @staticmethod
    def verbose_requested() -> bool:
        ctx = click.get_current_context(silent=True)
        app = ctx.find_object(App) if ctx else None
        if app is not None:
            return app.verbose > 0
        return any(a in ("-v", "--verbose") or a.startswith("-vv") for a in sys.argv[1:])


def set_app(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback that records the option's value on the :class:`App`."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        app = ctx.ensure_object(App)
        if name == "verbose":
            if value:
                app.verbose = max(app.verbose, value)
                # cadence's own lines (and alembic's) get more detail; client libraries stay at
                # WARNING: their INFO and DEBUG lines carry request URLs with sync tokens.
                logging.basicConfig(level=logging.WARNING)
                for logger in ("cadence", "alembic"):
                    logging.getLogger(logger).setLevel(logging.DEBUG if value > 1 else logging.INFO)
        elif name == "quiet":
            app.quiet = app.quiet or bool(value)
        elif value is not None:
            setattr(app, name, value)
        return value

    return callback


def common_options(f: F) -> F:
    """``--config``, ``--database-url``, ``-v`` and ``--quiet``, on the group and every command."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=set_app("config_path"),
            help="Config file (default $CADENCE_CONFIG, else ./cadence.toml).",
        ),
        click.option(
            "--database-url",
            expose_value=False,
            callback=set_app("database_url"),
            help="Database URL; wins over the config and $CADENCE_DATABASE_URL.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=set_app("verbose"),
            help="More detail; with errors, the traceback.",
        ),
        click.option(
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=set_app("quiet"),
            help="Only errors: no progress, no summary.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


pass_app = click.make_pass_decorator(App, ensure=True)
