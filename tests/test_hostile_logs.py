"""Verbose logs never carry what the client libraries would print of a request: the URLs of an
incremental sync hold its sync tokens and delta links, which are as good as read access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadence.store.database import make_engine
from cadence.store.models import SyncState
from live_company import Live, start


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    yield from start(tmp_path, sqlite_url)


def _tokens(live: Live) -> list[str]:
    engine = make_engine(live.database_url)
    with engine.connect() as conn:
        tokens = [t for t in conn.execute(select(SyncState.token)).scalars() if t]
    engine.dispose()
    return tokens


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_verbose_sync_logs_name_no_token(live: Live, verbosity: str) -> None:
    assert live.cadence("sync", "--quiet").returncode == 0
    tokens = _tokens(live)
    assert tokens, "the first sync saved tokens"
    result = live.cadence(verbosity, "sync")
    assert result.returncode == 0, result.stderr
    for token in tokens:
        # A Google token sits in the query string; a Graph delta link is a whole URL.
        assert token not in result.stderr
        assert token.split("?")[-1] not in result.stderr
    assert "syncToken=" not in result.stderr and "deltatoken" not in result.stderr.lower()
