"""``cadence serve`` and ``cadence demo --serve`` as people run them: a new process, its output,
its exit status, and the demo's sign-in followed by hand as a browser would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from html import unescape
from pathlib import Path

import httpx
import pytest

from conftest import CLI

CADENCE = [sys.executable, "-c", "from cadence.cli import main; main()"]


@pytest.fixture
def cadence_cli(in_process_cli: CLI) -> Callable[..., tuple[int, str]]:
    """The CLI in this process: its exit code and standard error."""
    return lambda *args: (lambda code, _out, err: (code, err))(*in_process_cli(*args))


def _config(tmp_path: Path, serve: str) -> Path:
    path = tmp_path / "cadence.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/c.db"\n{serve}', encoding="utf-8")
    return path


OIDC = '[serve.oidc]\nissuer = "http://127.0.0.1:9"\nclient_id = "x"\n'


def test_serve_refuses_what_it_cannot_run_with_one_line(
    cadence_cli: Callable[..., tuple[int, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cadence_cli("--config", str(_config(tmp_path, "")), "init")[0] == 0
    code, err = cadence_cli("--config", str(_config(tmp_path, "")), "serve")
    assert code == 2 and "[serve.oidc] issuer and client_id are required" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, err = cadence_cli("--config", str(_config(tmp_path, OIDC)), "serve")
    assert code == 2 and "$CADENCE_SESSION_SECRET" in err
    monkeypatch.setenv("CADENCE_SESSION_SECRET", "short")
    code, err = cadence_cli("--config", str(_config(tmp_path, OIDC)), "serve")
    assert code == 2 and "at least 32 characters" in err and "short" not in err
    monkeypatch.setenv("CADENCE_SESSION_SECRET", "s" * 40)
    monkeypatch.setenv("CADENCE_OIDC_SECRET", "oidc-secret")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = cadence_cli(
            "--config", str(_config(tmp_path, OIDC)), "serve", "--bind", f"127.0.0.1:{port}"
        )
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err
    code, err = cadence_cli("--config", str(_config(tmp_path, OIDC)), "serve", "--bind", "nowhere")
    assert code == 2 and "Invalid value for --bind: must be HOST:PORT" in err


def test_demo_serve_signs_a_printed_manager_in(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CADENCE_CONFIG", None)
    process = subprocess.Popen(
        [
            *CADENCE,
            "demo",
            "--serve",
            "--size",
            "40",
            "--dir",
            str(tmp_path / "demo"),
            "--bind",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("an admin" in line for line in lines):
            line = process.stdout.readline()
            assert line, "the demo ended before serving: " + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        url = re.search(r"The demo's web app: (http://127\.0\.0\.1:\d+)/", text)
        people = re.findall(r"^  (.+) <([^>]+)>: (a manager|a director|an admin)", text, re.M)
        assert url and [role for _, _, role in people] == ["a manager", "a director", "an admin"]
        base = url.group(1)
        manager = people[0][1]
        with httpx.Client(timeout=30) as browser:
            login = browser.get(f"{base}/")
            assert login.status_code == 302
            authorize = browser.get(base + login.headers["location"])
            picker = browser.get(authorize.headers["location"])
            assert picker.status_code == 200
            links = [unescape(h) for h in re.findall(r'href="([^"]+)"', picker.text)]
            (chosen,) = [h for h in links if h.endswith("email=" + manager.replace("@", "%40"))]
            issuer = authorize.headers["location"].split("/authorize")[0]
            callback = browser.get(issuer + chosen if chosen.startswith("/") else chosen)
            done = browser.get(callback.headers["location"])
            assert done.status_code == 302 and "cadence_session" in browser.cookies
            home = browser.get(base + "/")
            assert home.status_code == 200 and "Your team" in home.text
            team = re.search(r'href="(/manager/[^"]+)"', home.text)
            assert team and browser.get(base + team.group(1)).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
