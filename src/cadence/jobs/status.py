"""``cadence status``: where every mailbox's sync stands, and how the last run went, as the plain
dict that ``cadence status --json`` prints and the table is drawn from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from cadence.store.runs import last_run, mailbox_statuses


def _when(t: datetime | None) -> str:
    return t.isoformat(timespec="seconds") if t else "never"


def status(engine: Engine, *, failed_only: bool = False) -> dict[str, Any]:
    """``{"mailboxes": [...], "last_run": {...} | None}``; ``failed_only`` keeps the mailboxes
    whose last sync failed."""
    mailboxes: list[dict[str, Any]] = []
    for m in mailbox_statuses(engine):
        entry = {
            "source": m.source,
            "mailbox": m.mailbox,
            "last_run": _when(m.last_run_at),
            "last_success": _when(m.last_success_at),
            "outcome": m.outcome or "never",
            "error": m.error,
        }
        if not failed_only or entry["outcome"] == "failed":
            mailboxes.append(entry)
    run = last_run(engine)
    return {
        "mailboxes": mailboxes,
        "last_run": None
        if run is None
        else {
            "command": run.command,
            "started_at": _when(run.started_at),
            "finished_at": _when(run.finished_at) if run.finished_at else None,
            "summary": run.summary,
        },
    }


def status_exit_code(found: dict[str, Any]) -> int:
    """1 when the last run failed, 3 when some mailbox's last sync failed, else 0."""
    run = found["last_run"]
    if run and (run["summary"] or {}).get("outcome") == "failed":
        return 1
    return 3 if any(m["outcome"] == "failed" for m in found["mailboxes"]) else 0
