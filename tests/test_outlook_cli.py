"""``cadence org pull``, ``cadence sync`` and ``cadence status`` for a Microsoft 365 source, at
the command line, against the Graph stand-in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadence.cli import main
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.world import World
from outlook_support import CLIENT_ID, SECRET, SECRET_ENV, company


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphStandIn]:
    for key in list(os.environ):
        if key.startswith("CADENCE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.chdir(tmp_path)
    world = World()
    company(world)
    with GraphStandIn(world) as g:
        g.register_app(CLIENT_ID, secret=SECRET)
        table = g.source_config(CLIENT_ID, client_secret_env=SECRET_ENV)
        lines = ["[sources.m365]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
        (tmp_path / "cadence.toml").write_text("\n".join(lines) + "\n")
        yield g


def cadence(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--database-url", db_url])
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_org_pull_sync_and_status(
    graph: GraphStandIn, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cadence(capsys, sqlite_url, "org", "pull")
    assert code == 0, err
    assert "3 people" in err
    code, _, err = cadence(capsys, sqlite_url, "sync", "--quiet")
    assert (code, err) == (0, "")
    code, out, _ = cadence(capsys, sqlite_url, "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert {m["mailbox"]: m["outcome"] for m in status["mailboxes"]} == {
        "ann@acme.test": "ok",
        "bob@acme.test": "ok",
        "cy@acme.test": "ok",
    }
    # A mailbox Graph refuses fails alone: exit 3, named on stderr and in status.
    denied = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}
    graph.fault(kind="delta", mailbox="cy@acme.test", status=403, body=denied, times=None)
    code, _, err = cadence(capsys, sqlite_url, "sync", "--quiet")
    assert code == 3
    assert "cy@acme.test" in err and "ErrorAccessDenied" in err
    assert "ann@acme.test" not in err
    code, out, _ = cadence(capsys, sqlite_url, "status", "--failed")
    assert code == 3 and "cy@acme.test" in out and "bob@acme.test" not in out


def test_a_wrong_secret_stops_org_pull_with_one_line(
    graph: GraphStandIn,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "Wrong-Secret-0xDEADBEEF"
    monkeypatch.setenv(SECRET_ENV, wrong)
    code, out, err = cadence(capsys, sqlite_url, "org", "pull")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("Error: ")
    assert wrong not in err + out and "AADSTS7000215" in err
