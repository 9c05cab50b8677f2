"""A process that reads the store allocates with the system allocator and plain pages (Arrow's
mimalloc and numpy's huge pages stalled large reads in the kernel), chosen at its first read and
not on import, and the variables that choose them otherwise win."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine

from cadence.store.database import make_engine
from reports import golden_org

# Prints Arrow's allocator after importing the store's reads, then after one read.
SCRIPT = """
import sys
import pandas as pd
import pyarrow as pa
from cadence.store.database import make_engine
from cadence.store.reads import load_frames
print(pa.default_memory_pool().backend_name)
frames = load_frames(make_engine(sys.argv[1]), pd.Timestamp("2000-01-01", tz="UTC"))
assert len(frames.events) > 0
print(pa.default_memory_pool().backend_name)
"""


def _allocators(url: str, **env: str) -> list[str]:
    variables = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url],
        env={**variables, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.split()


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    engine: Engine = make_engine(sqlite_url)
    golden_org.build(engine)
    engine.dispose()
    return sqlite_url


def test_the_first_read_chooses_the_system_allocator_not_the_import(store_url: str) -> None:
    on_import, after_read = _allocators(store_url)
    assert on_import != "system"  # the wheels' own default, untouched by importing cadence
    assert after_read == "system"


def test_an_allocator_chosen_by_its_variable_wins(store_url: str) -> None:
    assert _allocators(store_url, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == ["mimalloc"] * 2
