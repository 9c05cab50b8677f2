"""The ``cadence`` command: the one place where errors become messages and exit codes.

Domain code raises :mod:`cadence.errors`; :func:`main` turns them into one-line messages on
stderr with the exit codes README.md lists (0 ok, 1 failed, 2 bad usage or input, 3 some mailboxes
failed). ``-v`` adds the traceback. :func:`cadence.logs.fail` writes that line, as a JSON object
when the command was asked for JSON logs. Each command group lives in a module of its own here.
"""

from __future__ import annotations

import sys

import click

from cadence import __version__, logs
from cadence.cli.app import App, common_options
from cadence.cli.demo import demo_command
from cadence.cli.export import export_command
from cadence.cli.forget import forget_command
from cadence.cli.nightly import nightly_command
from cadence.cli.org import org_group
from cadence.cli.report import report_group
from cadence.cli.serve import serve_command
from cadence.cli.setup import init_command
from cadence.cli.status import status_command
from cadence.cli.sync import sync_command
from cadence.errors import CadenceError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run `cadence COMMAND --help` for a command's options and examples.",
)
@click.version_option(__version__, "--version", prog_name="cadence")
@common_options
def cli() -> None:
    """How healthy are your 1:1s? cadence reads calendars and reports, for every manager and
    director, how often 1:1s happen, how often they are cancelled and who cancels.

    \b
    A first run:
      cadence init                      # writes cadence.toml, creates the database
      cadence org import people.csv     # the org chart
      cadence sync                      # reads every mailbox
      cadence report manager ann@acme.test
    """


cli.add_command(init_command)
cli.add_command(status_command)
cli.add_command(org_group)
cli.add_command(report_group)
cli.add_command(sync_command)
cli.add_command(demo_command)
cli.add_command(nightly_command)
cli.add_command(serve_command)
cli.add_command(forget_command)
cli.add_command(export_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cadence`` script."""
    try:
        rv = cli.main(args=argv, prog_name="cadence", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        logs.fail(exc.format_message(), show=exc.show)
        sys.exit(exc.exit_code)
    except CadenceError as exc:
        logs.fail(str(exc), verbose=App.verbose_requested())
        sys.exit(exc.exit_code)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        logs.fail(f"{where}{exc.strerror or exc}", verbose=App.verbose_requested())
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
