"""Bad input at every edge gets a clear one-line error naming the place, and changes nothing:
a wrong key file, a database that does not answer, a report folder that is read-only or full.
(A broken config: test_config.py and test_cli.py; an org CSV with a cycle: test_orgchart.py;
a secret missing from the environment: test_nightly.py.)"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadence.sandbox.demo import GOOGLE
from live_company import Live, small_tmpfs, start


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    yield from start(tmp_path, sqlite_url)


def test_a_wrong_key_file_is_named_and_nothing_is_synced(live: Live) -> None:
    key = live.folder / "google-service-account.json"
    key.write_text('{"type": "service_account", "private_key": "not a key"}')
    result = live.cadence("sync")
    assert result.returncode == 2
    assert f"[sources.{GOOGLE}] service_account_file" in result.stderr
    assert str(key) in result.stderr and "Traceback" not in result.stderr
    assert live.served.google.total == 0 and live.served.graph.total == 0
    status = live.cadence("status", "--json")
    assert '"last_run": null' in status.stdout


def test_a_database_that_does_not_answer(live: Live) -> None:
    url = "postgresql+psycopg://cadence:hunter2@127.0.0.1:9/cadence"
    result = live.cadence("status", "--database-url", url)
    assert result.returncode == 1
    assert "cannot open the database postgresql+psycopg://cadence:***@127.0.0.1:9" in result.stderr
    assert "hunter2" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real full disk, and remountable read-only."""
    yield from small_tmpfs(tmp_path, "256k")


def test_a_read_only_report_folder(live: Live, small_disk: Path) -> None:
    assert live.cadence("sync", "--quiet").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = live.cadence("report", "all", "--out", str(small_disk))
    assert result.returncode == 1
    assert str(small_disk) in result.stderr and "Read-only file system" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_disk_leaves_no_half_written_report(live: Live, small_disk: Path) -> None:
    assert live.cadence("sync", "--quiet").returncode == 0
    result = live.cadence("report", "all", "--format", "html", "--out", str(small_disk))
    assert result.returncode == 1
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    leftovers = [p.name for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for page in small_disk.rglob("*.html"):
        assert page.read_text().rstrip().endswith("</html>"), f"{page} is cut short"
