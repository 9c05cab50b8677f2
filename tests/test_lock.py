"""The nightly lock: a second run is refused with the holder's name; a dead holder frees it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from contextlib import ExitStack

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

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


def test_the_holder_named_is_this_databases_not_another_on_the_same_server(
    postgres_url: str,
) -> None:
    # Two cadence databases on one server (staging and production, say), both locked: a refused
    # run names the run that holds its own database, never the other one's.
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"cadence_other_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    elsewhere = make_engine(make_url(postgres_url).set(database=name).render_as_string(False))
    here, again = make_engine(postgres_url), make_engine(postgres_url)
    try:
        with ExitStack() as held:
            for n in range(8):  # several holders there, so a wrong one would be the likely pick
                held.enter_context(run_lock(elsewhere, f"sync{n}", shard=n + 1))
            held.enter_context(run_lock(here, "nightly"))
            with pytest.raises(LockHeld) as info:
                held.enter_context(run_lock(again, "nightly"))
            refused = str(info.value)
            assert refused.startswith("another run holds the database lock: cadence nightly")
    finally:
        for engine in (elsewhere, here, again):
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
