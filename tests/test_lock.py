"""The nightly lock: a second run is refused with the holder's name; a dead holder frees it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import Engine

from cadence.errors import LockHeld
from cadence.store.database import make_engine
from cadence.store.lock import run_lock


def test_second_run_is_refused_and_names_the_holder(engine: Engine, db_url: str) -> None:
    other = make_engine(db_url)
    try:
        with run_lock(engine, "nightly") as holder:
            assert f"pid {os.getpid()}" in holder
            with pytest.raises(LockHeld) as info:
                with run_lock(other, "nightly"):
                    pass
            assert "nightly" in str(info.value) and f"pid {os.getpid()}" in str(info.value)
        with run_lock(other, "nightly"):
            pass  # released when the first run ended
    finally:
        other.dispose()


def test_a_killed_holder_leaves_no_stale_lock(db_url: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from cadence.store.database import make_engine
        from cadence.store.lock import run_lock
        with run_lock(make_engine({db_url!r}), "nightly"):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        engine = make_engine(db_url)
        with pytest.raises(LockHeld, match=f"pid {proc.pid}"):
            with run_lock(engine):
                pass
        proc.kill()
        proc.wait(timeout=10)
        with run_lock(engine):
            pass
        engine.dispose()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_shards_run_side_by_side_but_never_beside_a_whole_run(engine: Engine, db_url: str) -> None:
    other = make_engine(db_url)
    try:
        with run_lock(engine, "nightly shard 1/3", shard=1):
            with run_lock(other, "nightly shard 2/3", shard=2):
                pass  # two shards share the database
            with pytest.raises(LockHeld):
                with run_lock(other, "nightly shard 1/3", shard=1):
                    pass  # but not one shard twice
            for whole in ("sync", "nightly"):
                with pytest.raises(LockHeld):
                    with run_lock(other, whole):
                        pass  # nor a run of the whole org beside a shard
        with run_lock(engine, "sync"):
            with pytest.raises(LockHeld, match="cadence sync pid"):
                with run_lock(other, "nightly shard 2/3", shard=2):
                    pass  # nor a shard beside a run of the whole org
        with run_lock(other, "nightly shard 3/3", shard=3):
            pass  # everything released
    finally:
        other.dispose()
