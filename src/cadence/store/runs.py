"""The run log and the mailbox status: what ``cadence status`` reads.

Every ``sync`` and ``nightly`` writes one row to ``runs`` when it starts (so a run that died
shows as unfinished) and fills in its end and its summary when it finishes. The summary is a
JSON object whose keys the jobs define once (docs/operations.md lists them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from cadence.store.database import short_message
from cadence.store.models import Mailbox, RunLog, SyncState


def start_run(engine: Engine, command: str, started: datetime) -> int:
    """A new row of the run log; returns its id for :func:`finish_run`."""
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(RunLog).values(command=command, started_at=started).returning(RunLog.id)
        ).scalar_one()
        return int(run_id)


def finish_run(engine: Engine, run_id: int, finished: datetime, summary: dict[str, Any]) -> None:
    """Complete a row of the run log; an ``error`` in the summary is kept as one short line
    with its secrets masked, as every error the store keeps."""
    if isinstance(summary.get("error"), str):
        summary = {**summary, "error": short_message(summary["error"])}
    with engine.begin() as conn:
        conn.execute(
            update(RunLog)
            .where(RunLog.id == run_id)
            .values(finished_at=finished, summary=json.dumps(summary))
        )


@dataclass(frozen=True)
class MailboxStatus:
    source: str
    mailbox: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    outcome: str | None
    error: str | None


@dataclass(frozen=True)
class RunRecord:
    command: str
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None


def mailbox_statuses(engine: Engine) -> list[MailboxStatus]:
    """Every registered mailbox with its last sync's outcome, by source and address."""
    # An ORM session: a Core connection would spread SyncState into its columns.
    with Session(engine) as session:
        rows = session.execute(
            select(Mailbox.source, Mailbox.email, SyncState)
            .join(
                SyncState,
                (SyncState.source == Mailbox.source) & (SyncState.mailbox == Mailbox.email),
                isouter=True,
            )
            .order_by(Mailbox.source, Mailbox.email)
        ).all()
    return [
        MailboxStatus(
            source=source,
            mailbox=email,
            last_run_at=state.last_run_at if state else None,
            last_success_at=state.last_success_at if state else None,
            outcome=state.outcome if state else None,
            error=state.error if state else None,
        )
        for source, email, state in rows
    ]


def last_run(engine: Engine) -> RunRecord | None:
    """The newest row of the run log, or ``None`` before the first run."""
    with Session(engine) as session:
        run = session.execute(select(RunLog).order_by(RunLog.id.desc()).limit(1)).scalar()
        if run is None:
            return None
        return RunRecord(
            command=run.command,
            started_at=run.started_at,
            finished_at=run.finished_at,
            summary=json.loads(run.summary) if run.summary else None,
        )
