"""``cadence status``: where every mailbox's sync stands, and how the last run went."""

from __future__ import annotations

import json

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.jobs.status import status, status_exit_code


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--failed", is_flag=True, help="Only mailboxes whose last sync failed.")
@common_options
@pass_app
def status_command(app: App, as_json: bool, failed: bool) -> int:
    """Each mailbox's last sync, its outcome and its error, if any; then the last run.

    Exits 1 when the last run failed (the step and the reason are shown), else 3 when a
    mailbox's last sync failed, so a monitor can alert on either.

    \b
    Examples:
      cadence status
      cadence status --failed
      cadence status --json | jq '.mailboxes[] | select(.outcome == "failed")'
    """
    found = status(app.store, failed_only=failed)
    mailboxes, run = found["mailboxes"], found["last_run"]
    exit_code = status_exit_code(found)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return exit_code
    if not mailboxes:
        click.echo("No mailboxes yet: configure a source and run `cadence sync`.")
    else:
        width = max(len(m["mailbox"]) for m in mailboxes)
        click.echo(f"{'source':<16} {'mailbox':<{width}} {'outcome':<8} last run")
        for m in mailboxes:
            line = f"{m['source']:<16} {m['mailbox']:<{width}} {m['outcome']:<8} {m['last_run']}"
            click.echo(line + (f"  {m['error']}" if m["error"] else ""))
    if run:
        click.echo(f"\nlast run: {run['command']} started {run['started_at']}", nl=False)
        summary = dict(run["summary"] or {})
        if summary.get("outcome") == "failed":
            click.echo(
                f", failed in {summary.pop('failed_step', '?')} at {run['finished_at']}: "
                f"{summary.pop('error', '')}"
            )
        else:
            click.echo(f", finished {run['finished_at']}" if run["finished_at"] else ", unfinished")
        summary.pop("outcome", None)
        if summary:
            click.echo("  " + ", ".join(f"{k}: {v}" for k, v in summary.items()))
    return exit_code
