"""``cadence demo``: the whole path on a synthetic company, served by the loopback stand-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cadence.cli.app import App, common_options, pass_app


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cadence-demo"),
    show_default=True,
    help="Folder for the demo's config, database and reports (made anew each run); a folder "
    "holding anything an earlier demo did not write is refused.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Use a --dir that holds other files anyway (only the demo's own files are replaced).",
)
@click.option("--size", type=click.IntRange(min=12), default=200, show_default=True, help="People.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--serve",
    "serve_it",
    is_flag=True,
    help="Then serve the reports as the web app, with the demo's own sign-in, until Ctrl-C.",
)
@click.option(
    "--bind",
    "bind_to",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where --serve listens (another free port if this one is taken).",
)
@common_options
@pass_app
def demo_command(
    app: App, folder: Path, size: int, seed: int, force: bool, serve_it: bool, bind_to: str
) -> None:
    """Run cadence end to end on a synthetic company, with no account and no network.

    It builds a company whose 1:1s behave as real ones do (steady pairs, a manager who keeps
    cancelling, reports who keep declining, pairs that stopped, new hires, holidays), serves
    its calendars from loopback stand-ins of Google Calendar and Microsoft Graph, syncs them
    through the real connectors into SQLite, and writes every manager's and director's report.

    \b
    Examples:
      cadence demo
      cadence demo --size 1000 --seed 3 --dir /tmp/big-demo
      cadence demo --serve                # then open the address it prints
      cadence --config cadence-demo/cadence.toml report manager EMAIL   # afterwards
    """
    from cadence.sandbox.demo import run_demo

    run = run_demo(folder, size=size, seed=seed, say=app.info, force=force)
    click.echo(f"\nReports ({run.reports_written}) are in {run.reports}")
    click.echo(f"Open {run.index} in a browser; the demo's config is {run.config_path}.")
    if run.findings:
        click.echo("\nThree findings worth a look:")
        for n, finding in enumerate(run.findings, 1):
            click.echo(f"  {n}. {finding}")
    app.info(f"\ndone in {run.seconds:.0f} s")
    if serve_it:
        _serve(run.config_path, run.company, bind_to)


def _serve(config_path: Path, company: Any, bind_to: str) -> None:
    from cadence.config import parse_bind
    from cadence.sandbox.demo_site import demo_site
    from cadence.web.server import log_to_stderr, serve_forever

    try:
        host, port = parse_bind(bind_to, any_port=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bind") from exc
    with demo_site(config_path, company, host, port) as site:
        click.echo(f"\nThe demo's web app: {site.url}/")
        click.echo("Sign in as any of the demo's people; for instance:")
        for role, person in (
            ("a manager", site.manager),
            ("a director", site.director),
            ("an admin, who sees every report", site.admin),
        ):
            click.echo(f"  {person.name} <{person.email}>: {role}")
        click.echo("Ctrl-C stops it.", err=True)
        log_to_stderr()
        serve_forever(site.app, site.sock)
