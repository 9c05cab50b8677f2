"""One row of the run log per run, finished whatever happens to the run.

A run that fails part-way must look like a failure in ``cadence status``: the row says which step
it was in and why, in one line, and the exception still reaches the command line. Only a run
killed outright (``kill -9``, a power cut) leaves its row unfinished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from cadence.store.database import short_message
from cadence.store.runs import finish_run, start_run

log = logging.getLogger("cadence.runs")


def one_line(exc: BaseException) -> str:
    """An exception as one short line, secrets masked, for the run log and ``cadence status``."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return short_message(text)


@dataclass
class LoggedRun:
    """The run in progress: the step it is in, and the summary it will be recorded with."""

    id: int
    step: str = "start"
    summary: dict[str, Any] = field(default_factory=dict)


@contextmanager
def logged_run(engine: Engine, command: str, now: Callable[[], datetime]) -> Iterator[LoggedRun]:
    """A row of the run log for the ``with`` block: ``outcome`` ``ok``, or ``failed`` with the
    ``failed_step`` and the ``error``, added to the summary the block leaves in the run."""
    run = LoggedRun(start_run(engine, command, now()))
    try:
        yield run
    except BaseException as exc:
        failed = {**run.summary, "outcome": "failed", "failed_step": run.step}
        failed["error"] = one_line(exc)
        try:
            finish_run(engine, run.id, now(), failed)
        except Exception as also:  # the store itself may be what failed: the first error wins
            log.warning("could not record the failed run: %s", one_line(also))
        raise
    finish_run(engine, run.id, now(), {**run.summary, "outcome": "ok"})
