"""``cadence report ...`` as cron and people run it: the installed entry point, exit codes,
standard output or files, and the options docs/reports.md documents."""

from __future__ import annotations

import email
import json
import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path

import pytest

from cadence.cli.report import parse_as_of
from cadence.config import parse_config
from cadence.errors import UsageError
from cadence.store.database import make_engine
from reports import golden_org
from test_cli import run

GOLDEN = Path(__file__).parent / "golden"
Invoke = Callable[..., tuple[int, str, str]]
AS_OF = "2026-11-23T12:00:00+00:00"


@pytest.fixture
def cadence(in_process_cli: Invoke) -> Invoke:
    """The CLI in this process. One test below runs the installed entry point as cron would."""
    return in_process_cli


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    folder = tmp_path_factory.mktemp("cli")
    shutil.copy(sqlite_template, folder / "cadence.db")
    url = f"sqlite:///{folder / 'cadence.db'}"
    engine = make_engine(url)
    golden_org.build(engine)
    engine.dispose()
    return url


def test_manager_json_on_stdout_is_the_golden_view(db: str, tmp_path: Path) -> None:
    result = run(
        "report", "manager", "Ann@ACME.test", "--as-of", AS_OF, "--format", "json",
        "--database-url", db, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = (GOLDEN / "manager-ann@acme.test.json").read_text()
    assert json.loads(result.stdout) == json.loads(expected)


@pytest.mark.parametrize("kind", ["manager-ann", "director-dana"])
def test_the_dask_engine_gives_the_golden_reports(db: str, cadence: Invoke, kind: str) -> None:
    command, email = kind.split("-")
    code, out, err = cadence(
        "report", command, f"{email}@acme.test", "--as-of", AS_OF, "--format", "json",
        "--engine", "dask", "--scheduler", "synchronous", "--database-url", db,
    )  # fmt: skip
    assert code == 0, err
    expected = (GOLDEN / f"{kind}@acme.test.json").read_text()
    assert json.loads(out) == json.loads(expected)


def test_window_weeks(db: str, cadence: Invoke) -> None:
    code, out, err = cadence(
        "report", "manager", "ann@acme.test", "--as-of", AS_OF, "--window-weeks", "4",
        "--database-url", db,
    )  # fmt: skip
    assert code == 0, err
    assert "over the last 4 weeks" in out
    assert "no 1:1 in 4 weeks and none planned" in out  # Cleo


def test_director_to_a_private_file(db: str, tmp_path: Path, cadence: Invoke) -> None:
    out = tmp_path / "dana.md"
    code, stdout, stderr = cadence(
        "report", "director", "dana@acme.test", "--as-of", AS_OF, "--out", str(out),
        "--database-url", db,
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout == ""
    assert out.read_text() == (GOLDEN / "director-dana@acme.test.md").read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_all_with_formats_and_an_email_dry_run(db: str, tmp_path: Path, cadence: Invoke) -> None:
    code, _, stderr = cadence(
        "report", "all", "--as-of", AS_OF, "--format", "csv", "--format", "json",
        "--out", str(tmp_path / "out"), "--email", "--dry-run", "--database-url", db,
    )  # fmt: skip
    assert code == 0, stderr
    week = tmp_path / "out" / "2026-W48"
    assert "wrote 6 reports (12 files)" in stderr
    assert sorted(p.suffix for p in week.glob("manager-*")) == [".csv"] * 4 + [".json"] * 4
    emails = sorted(p.name for p in (week / "email").iterdir())
    assert emails == sorted(
        f"{kind}-{e}.eml"
        for kind, people in (
            ("director", (golden_org.ANN, golden_org.DANA)),
            ("manager", (golden_org.ANN, golden_org.BOB, golden_org.DANA, golden_org.HAL)),
        )
        for e in people
    )
    msg = email.message_from_bytes((week / "email" / "manager-bob@acme.test.eml").read_bytes(),
                                   policy=default)  # fmt: skip
    assert msg["To"].addresses[0].addr_spec == "bob@acme.test"  # type: ignore[attr-defined]


def test_formats_default_to_the_config(db: str, tmp_path: Path, cadence: Invoke) -> None:
    (tmp_path / "cadence.toml").write_text(
        f'[database]\nurl = "{db}"\n[report]\nformats = ["json"]\nout_dir = "weekly"\n'
    )
    code, _, stderr = cadence("report", "all", "--as-of", AS_OF, "--quiet")
    assert code == 0, stderr
    assert stderr == ""
    files = sorted(p.name for p in (tmp_path / "weekly" / "2026-W48").iterdir())
    assert files == sorted([p.name for p in GOLDEN.glob("*.json")] + ["index.html", "index.md"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("manager", "gus@acme.test"), "gus@acme.test is not a manager"),
        (("director", "hal@acme.test"), "hal@acme.test is not a director"),
        (("manager", "ann@acme.test", "--as-of", "last tuesday"), "--as-of 'last tuesday'"),
        (("manager", "ann@acme.test", "--format", "pdf"), "'pdf' is not one of"),
        (("all", "--email"), "[email] host is not set"),
    ],
)
def test_bad_usage_is_exit_2_with_one_line(
    db: str, tmp_path: Path, cadence: Invoke, args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = cadence("report", *args, "--database-url", db)
    assert code == 2, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "reports").exists()


def test_as_of_forms() -> None:
    config = parse_config({"org": {"timezone": "Europe/Paris"}})
    paris = config.tz
    assert parse_as_of("2026-11-23", config) == datetime(2026, 11, 23, tzinfo=paris)
    assert parse_as_of("2026-11-23T09:30", config) == datetime(2026, 11, 23, 9, 30, tzinfo=paris)
    offset = parse_as_of("2026-11-23T09:30:00-05:00", config)
    assert offset.utcoffset() == timedelta(hours=-5)
    assert parse_as_of("2030-01-01T00:00:00Z", config) == datetime(2030, 1, 1, tzinfo=UTC)
    now = parse_as_of(None, config)
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(UsageError, match="not an ISO-8601"):
        parse_as_of("23/11/2026", config)
