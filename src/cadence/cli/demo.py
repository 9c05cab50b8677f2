"""``cadence demo``: the whole path on a synthetic company, served by the loopback stand-ins."""

from __future__ import annotations

from pathlib import Path

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
@common_options
@pass_app
def demo_command(app: App, folder: Path, size: int, seed: int, force: bool) -> None:
    """Run cadence end to end on a synthetic company, with no account and no network.

    It builds a company whose 1:1s behave as real ones do (steady pairs, a manager who keeps
    cancelling, reports who keep declining, pairs that stopped, new hires, holidays), serves
    its calendars from loopback stand-ins of Google Calendar and Microsoft Graph, syncs them
    through the real connectors into SQLite, and writes every manager's and director's report.

    \b
    Examples:
      cadence demo
      cadence demo --size 1000 --seed 3 --dir /tmp/big-demo
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
