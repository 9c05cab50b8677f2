"""``cadence nightly``: sync every source, then write (and send) every report, as one locked run.

The lock (:mod:`cadence.store.lock`) keeps two runs from overlapping; a sharded run
(``--shard I/N``) syncs only its share of the mailboxes under a lock of its own, so several hosts
sharing one PostgreSQL database can split the work, and leaves the reports to one
``cadence report all`` after the shards are done. Every run ends by deleting the events older
than ``[store] retention_days`` (a shard, those of its own mailboxes): last, so that a run that
fails earlier deletes nothing, and the night's reports are written before anything is forgotten.
With ``--scheduler`` (or ``[sync] scheduler``) the syncs run as tasks on a Dask cluster and the
figures are computed there (:mod:`cadence.jobs.cluster`); the lock, the reports and the
retention stay with this process. The run's summary goes to the log (stderr) and to the
``runs`` table, where ``cadence status`` shows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from cadence.config import Config, PipelineConfig
from cadence.errors import UsageError
from cadence.jobs.cluster import require_shared_store, sync_on_cluster
from cadence.jobs.retention import delete_old_events
from cadence.jobs.run_log import logged_run
from cadence.jobs.sync import Progress, SyncSummary, prepare, sync_sources
from cadence.reports.words import one_line
from cadence.store.lock import run_lock

log = logging.getLogger("cadence.nightly")


@dataclass
class NightlySummary:
    sync: SyncSummary
    reports_written: int = 0
    report_files: int = 0
    reports_folder: str | None = None
    emailed: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    events_deleted: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The run log's summary: the sync's keys, then what was published."""
        return {
            **self.sync.as_dict(),
            "reports_written": self.reports_written,
            "emailed": self.emailed,
            "email_refused": len(self.refused),
            "events_deleted": self.events_deleted,
            "seconds": round(self.seconds, 1),
        }


def parse_shard(value: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 2/4), got {value!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {value}: I must be between 1 and N")
    return index, count


def run_nightly(
    config: Config,
    engine: Engine,
    *,
    shard: tuple[int, int] | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> NightlySummary:
    """Sync, then publish every report (unless sharded); raises LockHeld if a run is going.

    With a Dask ``scheduler`` (default ``[sync] scheduler``), the syncs and the figures run on
    that cluster (:mod:`cadence.jobs.cluster`)."""
    from cadence.jobs.report_all import publish_all

    scheduler = scheduler if scheduler is not None else config.sync.scheduler
    if scheduler and shard is not None:
        raise UsageError(
            "a nightly on a cluster syncs every mailbox: use --scheduler or --shard, not both"
        )
    if scheduler:
        require_shared_store(engine)
        # The figures on the same cluster: the Dask engine, partitioned by manager.
        config = replace(config, pipeline=PipelineConfig(engine="dask", scheduler=scheduler))
    what = "nightly" if shard is None else f"nightly shard {shard[0]}/{shard[1]}"
    clock = time.monotonic()
    with run_lock(engine, what, shard=None if shard is None else shard[0]):
        plan, connectors = prepare(config, engine, shard=shard)
        # After the checks: a refused config or key is then the run's only line.
        log.info("%s started", what, extra={"event": "start", "shard": _shard_text(shard)})
        with logged_run(engine, "nightly", now) as run:
            run.step = "sync"
            if scheduler:
                sync = sync_on_cluster(config, engine, plan, scheduler, progress=progress, now=now)
            else:
                sync = sync_sources(config, engine, plan, connectors, progress=progress, now=now)
            for r in sync.failed:
                log.error(
                    "sync failed: %s: %s: %s",
                    r.source,
                    r.mailbox,
                    one_line(r.error or ""),
                    extra={"event": "mailbox_failed", "source": r.source, "mailbox": r.mailbox},
                )
            summary = NightlySummary(sync=sync)
            run.summary = summary.as_dict()
            if shard is None:
                run.step = "reports"
                email = config.email.enabled
                written, refused = publish_all(
                    engine,
                    config,
                    as_of=now(),
                    window_weeks=None,
                    formats=config.report.formats,
                    out_dir=config.resolve(config.report.out_dir),
                    email=email,
                )
                summary.reports_written = len(written.written)
                summary.report_files = written.file_count
                summary.reports_folder = str(written.folder)
                summary.refused = refused
                summary.emailed = len(written.written) - len(refused) if email else 0
                for address, reason in refused.items():
                    log.error(
                        "email refused: %s: %s",
                        one_line(address),
                        one_line(reason),
                        extra={"event": "refused"},
                    )
            run.summary = summary.as_dict()
            run.step = "retention"
            summary.events_deleted = delete_old_events(config, engine, now(), shard=shard).events
            summary.seconds = time.monotonic() - clock
            run.summary = summary.as_dict()
        log.info(_line(summary, shard), extra={"event": "summary", **summary.as_dict()})
        return summary


def _shard_text(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


def _line(s: NightlySummary, shard: tuple[int, int] | None) -> str:
    text = (
        f"nightly: {len(s.sync.ok)} mailboxes synced, {len(s.sync.failed)} failed, "
        f"{s.sync.events_saved} events changed"
    )
    if shard is None:
        text += f", {s.reports_written} reports written to {s.reports_folder}"
        if s.emailed or s.refused:
            text += f", {s.emailed} emailed, {len(s.refused)} refused"
    else:
        text += " (sharded: run `cadence report all` once every shard is done)"
    if s.events_deleted:
        text += f", {s.events_deleted} events past retention deleted"
    return text + f", in {s.seconds:.0f} s"
