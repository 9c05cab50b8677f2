"""`cadence demo` never destroys what it did not create: a --dir holding someone's real database
or archived reports is refused, and the smallest companies --size allows all run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadence.errors import UsageError
from cadence.sandbox.company import build_company
from cadence.sandbox.demo import MARKER, prepare_folder
from cadence.sandbox.world import World


def cadence(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from cadence.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param({"cadence.db": b"SQLite format 3\x00 someone's real data"}, id="a-database"),
        pytest.param({"reports/2026-W40/manager-ann.html": b"<p>archived</p>"}, id="old-reports"),
        pytest.param({"tls/ca.pem": b"the company's CA"}, id="a-tls-folder"),
        pytest.param({"notes.txt": b"nothing the demo writes"}, id="an-unrelated-file"),
        pytest.param({".hidden": b"x"}, id="a-hidden-file"),
    ],
)
def test_a_folder_the_demo_did_not_make_is_refused_and_left_as_it_was(
    tmp_path: Path, plant: dict[str, bytes]
) -> None:
    folder = tmp_path / "existing"
    for name, data in plant.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    before = snapshot(folder)
    out = cadence(tmp_path, "demo", "--dir", str(folder), "--size", "12")
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(folder) in lines[0] and "--force" in lines[0]
    assert "Traceback" not in out.stderr
    assert snapshot(folder) == before


def test_a_file_given_as_the_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "cadence.db"
    target.write_bytes(b"real")
    out = cadence(tmp_path, "demo", "--dir", str(target))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert target.read_bytes() == b"real"


def test_force_replaces_only_the_demos_own_files(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "cadence.db").write_bytes(b"old demo database")
    (folder / "notes.txt").write_text("keep me")
    (folder / "archive").mkdir()
    (folder / "archive" / "r.html").write_text("keep me too")
    with pytest.raises(UsageError):
        prepare_folder(folder)
    prepare_folder(folder, force=True)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert (folder / "archive" / "r.html").read_text() == "keep me too"
    assert not (folder / "cadence.db").exists()
    assert (folder / MARKER).is_file()


def test_a_folder_an_earlier_demo_made_is_reused_without_asking(tmp_path: Path) -> None:
    folder = prepare_folder(tmp_path / "demo")
    (folder / "cadence.db").write_bytes(b"the last demo's")
    (folder / "reports").mkdir()
    (folder / "reports" / "index.html").write_text("last week")
    (folder / "mine.txt").write_text("the user's own note")
    prepare_folder(folder)
    assert not (folder / "cadence.db").exists() and not (folder / "reports").exists()
    assert (folder / "mine.txt").read_text() == "the user's own note"


def test_a_symlink_named_like_a_demo_file_is_removed_not_followed(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("do not delete")
    folder = prepare_folder(tmp_path / "demo")
    os.symlink(precious, folder / "reports")
    prepare_folder(folder)
    assert not (folder / "reports").exists()
    assert (precious / "data").read_text() == "do not delete"


@pytest.mark.parametrize("size", [12, 13, 14, 15])
def test_the_smallest_companies_have_their_stories(size: int) -> None:
    company = build_company(World(), size=size, seed=7)
    assert len(company.people) == size
    assert company.cancelling_manager in company.managers
    assert company.cancelling_manager not in company.directors


def test_the_smallest_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = cadence(tmp_path, "demo", "--size", "12")
    assert out.returncode == 0, out.stderr
    assert "Reports (" in out.stdout and "Traceback" not in out.stderr


def test_the_demo_s_keys_are_private_whatever_the_umask(tmp_path: Path) -> None:
    script = (
        "import os; os.umask(0); from cadence.cli import main; "
        "main(['demo', '--dir', 'd', '--size', '12'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    for key in ("d/google-service-account.json", "d/tls/server-key.pem", "d/cadence.db"):
        mode = (tmp_path / key).stat().st_mode
        assert mode & 0o077 == 0, (key, oct(mode))
