"""A nightly run that dies like a killed process at the k-th save or report write.

Run as ``python kill_child.py KILL_AT NOW_ISO`` with ``CADENCE_CONFIG`` and
``CADENCE_DATABASE_URL`` set. ``KILL_AT`` 0 never dies; the run then prints how many kill
points it passed. The points: inside a page's transaction (events written, nothing committed),
right after a page's commit (its token maybe with it), and before each report file is written.
Dying is ``os._exit``: no cleanup, no rollback, no flush, as with SIGKILL.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import cadence.jobs.sync as runner
import cadence.reports.writer as writer
import cadence.store.upsert as events
from cadence.config import load_config, resolve_database_url
from cadence.jobs.nightly import run_nightly
from cadence.store.database import make_engine

kill_at = int(sys.argv[1])
now = datetime.fromisoformat(sys.argv[2])
passed = 0
lock = threading.Lock()


def point() -> None:
    global passed
    with lock:
        passed += 1
        if passed == kill_at:
            os._exit(137)


def before(f: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        point()
        return f(*args, **kwargs)

    return wrapped


def after(f: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = f(*args, **kwargs)
        point()
        return result

    return wrapped


events.save_events = after(events.save_events)  # inside the page's transaction
runner.save_page = after(runner.save_page)  # once the page is committed
writer.write_private = before(writer.write_private)

config = load_config()
engine = make_engine(resolve_database_url(config))
run_nightly(config, engine, now=lambda: now)
print(passed)
