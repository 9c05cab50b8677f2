"""``cadence status``: where every mailbox's sync stands, and how the last run went."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.cli.app import App, common_options, pass_app
from cadence.store.models import Mailbox, RunLog, SyncState


def _when(t: datetime | None) -> str:
    return t.isoformat(timespec="seconds") if t else "never"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--failed", is_flag=True, help="Only mailboxes whose last sync failed.")
@common_options
@pass_app
def status_command(app: App, as_json: bool, failed: bool) -> int:
    """Each mailbox's last sync, its outcome and its error, if any; then the last run.

    Exits 3 when a mailbox's last sync failed, so a monitor can alert on it.

    \b
    Examples:
      cadence status
      cadence status --failed
      cadence status --json | jq '.mailboxes[] | select(.outcome == "failed")'
    """
    engine = app.store
    # An ORM session: a Core connection would spread SyncState into its columns.
    with Session(engine) as conn:
        rows = conn.execute(
            select(Mailbox.source, Mailbox.email, SyncState)
            .join(
                SyncState,
                (SyncState.source == Mailbox.source) & (SyncState.mailbox == Mailbox.email),
                isouter=True,
            )
            .order_by(Mailbox.source, Mailbox.email)
        ).all()
        last_run = conn.execute(select(RunLog).order_by(RunLog.id.desc()).limit(1)).scalar()
    mailboxes: list[dict[str, Any]] = []
    for source, email, state in rows:
        entry = {
            "source": source,
            "mailbox": email,
            "last_run": _when(state.last_run_at) if state else "never",
            "last_success": _when(state.last_success_at) if state else "never",
            "outcome": (state.outcome if state else None) or "never",
            "error": state.error if state else None,
        }
        if not failed or entry["outcome"] == "failed":
            mailboxes.append(entry)
    any_failed = any(m["outcome"] == "failed" for m in mailboxes)
    run: dict[str, Any] | None = None
    if last_run is not None:
        run = {
            "command": last_run.command,
            "started_at": _when(last_run.started_at),
            "finished_at": _when(last_run.finished_at) if last_run.finished_at else None,
            "summary": json.loads(last_run.summary) if last_run.summary else None,
        }
    if as_json:
        click.echo(json.dumps({"mailboxes": mailboxes, "last_run": run}, indent=2))
        return 3 if any_failed else 0
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
        click.echo(f", finished {run['finished_at']}" if run["finished_at"] else ", unfinished")
        if run["summary"]:
            click.echo("  " + ", ".join(f"{k}: {v}" for k, v in run["summary"].items()))
    return 3 if any_failed else 0
