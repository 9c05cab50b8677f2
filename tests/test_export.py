"""``cadence export``: the Parquet files a BI tool reads, against the golden org in a real store.

The files must have the schema docs/export.md documents, carry the very figures the reports
compute at each week's as-of, and, pseudonymised, hold no email or name, only the keyed hashes an
HR system can compute itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import re
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cadence.cli import main
from cadence.config import parse_config
from cadence.counts import PAIR_COUNTS, TREND_COUNTS
from cadence.jobs.export import export_weeks
from cadence.jobs.figures import compute
from cadence.normalised import normalise_email
from cadence.store.database import make_engine
from reports import golden_org

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-23T12:00:00+00:00"  # Monday noon: the golden org's as-of
WEEKS = ["2026-W46", "2026-W47", "2026-W48"]
SALT = "correct horse battery staple"
FILES = ("pairs.parquet", "trends.parquet")
PEOPLE = [(email, name) for email, name, _ in golden_org.PEOPLE]


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The command in this process, as a user runs it: exit code and standard error."""
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("CADENCE_") or k == "HR_SALT"]:
            mp.delenv(name)
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        with (
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
            pytest.raises(SystemExit) as info,
        ):
            main(list(args))
    return int(info.value.code or 0), err.getvalue()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    folder = tmp_path_factory.mktemp("export-db")
    shutil.copy(sqlite_template, folder / "cadence.db")
    url = f"sqlite:///{folder / 'cadence.db'}"
    engine = make_engine(url)
    golden_org.build(engine)
    engine.dispose()
    return url


def export(db: str, out: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    code, err = cli(
        "export", "--format", "parquet", "--out", str(out), "--weeks", "3", "--as-of", AS_OF,
        "--database-url", db, *extra, env=env,
    )  # fmt: skip
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def plain(db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(db, tmp_path_factory.mktemp("plain") / "new" / "bi")


@pytest.fixture(scope="module")
def hashed(db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hashed")
    return export(db, out, "--pseudonymize", env={"CADENCE_EXPORT_SALT": SALT})


def read(folder: Path, name: str) -> list[dict[str, object]]:
    return pq.read_table(folder / name).to_pylist()


def documented(name: str) -> list[tuple[str, str, bool, bool]]:
    """(column, type, nullable, hashed) of each row of the file's table in docs/export.md."""
    text = (ROOT / "docs" / "export.md").read_text()
    section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| ([^|]+?) \| (hashed)? ?\|", section, re.M)
    return [(col, kind, null != "never", hashed == "hashed") for col, kind, null, hashed in rows]


def pseudonym(text: str) -> str:
    return hmac.new(SALT.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("name", FILES)
def test_the_files_have_the_documented_schema_and_are_private(plain: Path, name: str) -> None:
    schema = pq.read_schema(plain / name)
    written = [(f.name, str(f.type), f.nullable) for f in schema]
    assert written == [(col, kind, null) for col, kind, null, _ in documented(name)]
    assert schema.metadata[b"cadence.pseudonymized"] == b"false"
    assert stat.S_IMODE((plain / name).stat().st_mode) == 0o600
    # A new folder is made private; nothing but the two files is left in it.
    assert stat.S_IMODE(plain.stat().st_mode) == 0o700
    assert sorted(p.name for p in plain.iterdir()) == sorted(FILES)


def test_each_week_holds_the_pipelines_figures_at_that_weeks_as_of(plain: Path, db: str) -> None:
    pairs, trends = read(plain, "pairs.parquet"), read(plain, "trends.parquet")
    as_ofs = {row["week"]: row["as_of"] for row in pairs}
    assert as_ofs == {
        "2026-W46": datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC),
        "2026-W47": datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC),
        "2026-W48": datetime.fromisoformat(AS_OF),  # the latest week: --as-of itself
    }
    engine = make_engine(db)
    config = parse_config({})
    figures = [c for c, *_ in documented("pairs.parquet")][10:]  # status .. away_until
    for week, as_of in as_ofs.items():
        result = compute(engine, config, as_of)
        expected = {
            (r["kind"], r["manager"], r["report"]): {
                "via_email": r["via"],
                **{c: None if r[c] != r[c] else r[c] for c in figures},  # NaN/NaT: null
            }
            for r in result.pairs.to_dict("records")
        }
        got = {
            (r["kind"], r["manager_email"], r["report_email"]): {
                "via_email": r["via_email"],
                **{c: r[c] for c in figures},
            }
            for r in pairs
            if r["week"] == week
        }
        assert got.keys() == expected.keys()
        for key, row in got.items():
            assert row == expected[key], (week, key)  # exact: nothing is rounded
        for row in trends:
            if row["week"] != week:
                continue
            manager = row["manager_email"]
            if row["scope"] == "org":
                sums = result.trend([manager])[-1]
            else:
                reports = list(result.pairs_of(manager)["report"])
                sums = result.trend(reports, own=True)[-1]
            assert [row[c] for c in TREND_COUNTS] == list(sums), (week, row)
        assert sorted(r["manager_email"] for r in trends if r["week"] == week) == sorted(
            result.managers() * 2
        )
    engine.dispose()
    # What a people-analytics analyst sees: Bob's streak building week by week, as it stood then.
    bob = {
        r["week"]: (r["status"], r["missed"], r["consecutive_missed"], r["manager_name"])
        for r in pairs
        if r["report_email"] == golden_org.BOB and r["kind"] == "pair"
    }
    assert bob["2026-W48"] == ("unhealthy", 3, 3, "Ann Archer")
    assert bob["2026-W46"][2] < bob["2026-W48"][2]
    ann_team = [r for r in trends if r["manager_email"] == golden_org.ANN and r["scope"] == "team"]
    assert [r["week"] for r in ann_team] == WEEKS


def test_pseudonymised_files_hold_no_email_or_name_only_their_hmacs(
    plain: Path, hashed: Path
) -> None:
    texts = [t for person in PEOPLE for t in person]
    clear = b"".join((plain / name).read_bytes() for name in FILES)
    assert golden_org.ANN.encode() in clear  # the check below can see an email where one is
    for name in FILES:
        data = (hashed / name).read_bytes()
        leaked = [t for t in texts if t.encode() in data]
        assert leaked == [], name
        assert pq.read_schema(hashed / name).metadata[b"cadence.pseudonymized"] == b"true"

    for name in FILES:
        hashed_cols = {c for c, _, _, h in documented(name) if h}
        rows = read(hashed, name)
        expected = []
        for row in read(plain, name):
            row = dict(row)
            for c in hashed_cols:
                if row[c] is not None:
                    text = normalise_email(row[c]) if c.endswith("_email") else row[c]
                    row[c] = pseudonym(text)
            expected.append(row)
        key = str  # the same rows, sorted by what each file holds
        assert sorted(rows, key=key) == sorted(expected, key=key)
        assert all(
            re.fullmatch(r"[0-9a-f]{64}", row[c]) for row in rows for c in hashed_cols if row[c]
        )
    finn = pseudonym(golden_org.FORMULA)  # a name is hashed as stored
    assert finn in {r["report_name"] for r in read(hashed, "pairs.parquet")}


def test_the_same_salt_gives_the_same_pseudonyms_and_another_salt_others(
    db: str, hashed: Path, tmp_path: Path
) -> None:
    config = tmp_path / "cadence.toml"
    config.write_text('[export]\nsalt_env = "HR_SALT"\n')
    again = export(db, tmp_path / "again", "--pseudonymize", "--config", str(config),
                   env={"HR_SALT": SALT})  # fmt: skip
    other = export(db, tmp_path / "other", "--pseudonymize", env={"CADENCE_EXPORT_SALT": "x"})
    for name in FILES:
        assert pq.read_table(again / name).equals(pq.read_table(hashed / name))
    first = {r["manager_email"] for r in read(hashed, "trends.parquet")}
    second = {r["manager_email"] for r in read(other, "trends.parquet")}
    assert first.isdisjoint(second)


@pytest.mark.parametrize("salt", [None, ""])
def test_no_salt_is_one_line_exit_2_and_nothing_written(
    db: str, tmp_path: Path, salt: str | None
) -> None:
    out = tmp_path / "bi"
    env = {} if salt is None else {"CADENCE_EXPORT_SALT": salt}
    code, err = cli("export", "--out", str(out), "--pseudonymize", "--database-url", db, env=env)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "$CADENCE_EXPORT_SALT" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("where", ["file", "below a file"])
def test_an_out_that_is_a_file_is_exit_2_and_nothing_written(
    db: str, tmp_path: Path, where: str
) -> None:
    file = tmp_path / "taken"
    file.write_text("mine\n")
    out = file if where == "file" else file / "bi"
    code, err = cli("export", "--out", str(out), "--as-of", AS_OF, "--database-url", db)
    assert code == 2, err
    assert "Traceback" not in err
    assert file.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_weeks_default_to_the_trend_and_a_new_export_replaces_the_files(
    db: str, tmp_path: Path
) -> None:
    config = tmp_path / "cadence.toml"
    config.write_text("[report]\ntrend_weeks = 2\n")
    out = tmp_path / "bi"
    for _ in range(2):
        code, err = cli(
            "export", "--out", str(out), "--as-of", AS_OF, "--window-weeks", "1",
            "--config", str(config), "--database-url", db,
        )  # fmt: skip
        assert code == 0, err
    assert "wrote" in err and str(out) in err
    pairs = pq.read_table(out / "pairs.parquet")
    assert sorted(set(pairs.column("week").to_pylist())) == WEEKS[1:]
    assert set(pairs.column("window_weeks").to_pylist()) == {1}
    assert pairs.schema.field("scheduled").type == pa.int32()
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert set(PAIR_COUNTS) <= set(pairs.column_names)


def test_weeks_end_on_sunday_evening_local_across_a_change_of_clocks() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks went back on Sunday 25 October 2026
    as_of = datetime(2026, 11, 2, 0, 30, tzinfo=berlin)  # just after Monday midnight there
    runs = export_weeks(as_of, 3, berlin)
    assert [label for label, _ in runs] == ["2026-W43", "2026-W44", "2026-W45"]
    assert [at.astimezone(berlin).isoformat() for _, at in runs] == [
        "2026-10-25T23:59:59+01:00",
        "2026-11-01T23:59:59+01:00",
        "2026-11-02T00:30:00+01:00",
    ]
