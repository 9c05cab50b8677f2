"""``cadence org import`` / ``org pull`` at the CLI edge: exit codes, messages, the stored chart."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cadence.cli import main
from cadence.normalised import OrgPerson
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.world import World
from cadence.store.people import load_chart
from outlook_support import CLIENT_ID, SECRET, SECRET_ENV

ROOT = Path(__file__).resolve().parents[1]
CADENCE = ROOT / ".venv" / "bin" / "cadence"

GOOD = """\
email,name,manager_email,team,source,aliases
ann@acme.test,Ann,,exec,acme-google,ann.a@acme.test
bob@acme.test,Bob,ann.a@acme.test,eng,acme-google,
cat@acme.test,Cat,bob@acme.test,eng,acme-m365,
dan@acme.test,Dan,cat@acme.test,eng,acme-m365,
eve@acme.test,Eve,ann@acme.test,sales,acme-google,
"""

CONFIG = """\
[sources.acme-google]
kind = "google"
service_account_file = "sa.json"

[sources.acme-m365]
kind = "outlook"
tenant_id = "t"
client_id = "c"
client_secret_env = "CADENCE_TEST_M365_SECRET"
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a config naming two sources, and no CADENCE_* variables leaking in."""
    for key in list(os.environ):
        if key.startswith("CADENCE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cadence.toml").write_text(CONFIG)
    (tmp_path / "people.csv").write_text(GOOD)
    return tmp_path


def cadence(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> tuple[int, str, str]:
    """Run the real entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--database-url", db_url])
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_import_stores_the_chart_and_says_what_it_holds(
    workdir: Path, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = cadence(capsys, db_url, "org", "import", "people.csv")
    assert code == 0, err
    assert err.strip() == (
        "imported 5 people from people.csv (the chart had 0): "
        "3 managers, 2 directors, top ann@acme.test"
    )
    stored = {p.email: p for p in load_chart(engine)}
    # No timezone column: everyone works in [org] timezone (UTC by default).
    assert stored["bob@acme.test"] == OrgPerson(
        "bob@acme.test", "Bob", "ann@acme.test", "eng", "acme-google", (), timezone="UTC"
    )
    assert stored["ann@acme.test"].aliases == ("ann.a@acme.test",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            GOOD + "bob@acme.test,Bob again,ann@acme.test,,,\n",
            "people.csv line 7: duplicate email bob@acme.test (also line 3)",
            id="duplicate",
        ),
        pytest.param(
            GOOD + "fay@acme.test,Fay,zed@acme.test,,,\n",
            "people.csv line 7: manager zed@acme.test is not in the file",
            id="unknown-manager",
        ),
        pytest.param(
            GOOD.replace("ann@acme.test,Ann,,", "ann@acme.test,Ann,dan@acme.test,"),
            "reporting cycle (each reports to the next): ann@acme.test (line 2) -> "
            "dan@acme.test (line 5) -> cat@acme.test (line 4) -> bob@acme.test (line 3) -> "
            "ann@acme.test",
            id="cycle",
        ),
        pytest.param(
            GOOD + "fay@acme.test,Fay,,,,\n",
            "only the top may: ann@acme.test (line 2), fay@acme.test (line 7)",
            id="two-tops",
        ),
        pytest.param(
            GOOD.replace("acme-m365", "acme-365", 1),
            "people.csv line 4: source 'acme-365' is not a configured [sources.NAME]",
            id="unknown-source",
        ),
        pytest.param(
            GOOD.replace("manager_email", "manager"),
            "people.csv line 1: unknown column(s) 'manager'; missing column(s) manager_email",
            id="wrong-columns",
        ),
        pytest.param(
            (GOOD + "fay@acme.test,F\xe4y,ann@acme.test,,,\n").encode("cp1252"),
            "people.csv line 7: not UTF-8 text (byte 0xe4)",
            id="not-utf8",
        ),
        pytest.param(b"", "people.csv: the file is empty", id="empty"),
    ],
)
def test_a_refused_import_is_exit_2_and_keeps_the_old_chart(
    workdir: Path,
    engine: Engine,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    text: str | bytes,
    expected: str,
) -> None:
    assert cadence(capsys, db_url, "org", "import", "people.csv")[0] == 0
    before = load_chart(engine)
    bad = workdir / "people.csv"
    if isinstance(text, bytes):
        bad.write_bytes(text)
    else:
        bad.write_text(text)
    code, out, err = cadence(capsys, db_url, "org", "import", "people.csv")
    assert code == 2
    assert expected in err, err
    assert err.startswith("Error: ") and "Traceback" not in err and out == ""
    assert load_chart(engine) == before


def test_re_import_replaces_the_whole_chart(
    workdir: Path, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cadence(capsys, db_url, "org", "import", "people.csv")[0] == 0
    (workdir / "next.csv").write_text(
        "email,name,manager_email,aliases\n"
        "zoe@acme.test,Zoe,,bob@acme.test\n"  # yesterday's person is today's alias
        "ann@acme.test,Ann,bob@acme.test,\n"
    )
    code, _out, err = cadence(capsys, db_url, "org", "import", "next.csv")
    assert code == 0, err
    assert "imported 2 people from next.csv (the chart had 5): 1 manager, 0 directors" in err
    assert load_chart(engine) == [
        OrgPerson("ann@acme.test", "Ann", "zoe@acme.test", timezone="UTC"),
        OrgPerson("zoe@acme.test", "Zoe", None, aliases=("bob@acme.test",), timezone="UTC"),
    ]


def test_import_defaults_to_the_configured_csv_relative_to_the_config(
    workdir: Path,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    (workdir / "cadence.toml").write_text('[org]\ncsv = "people.csv"\n')
    monkeypatch.chdir(elsewhere)
    config = str(workdir / "cadence.toml")
    code, _out, err = cadence(capsys, sqlite_url, "org", "import", "--config", config)
    assert code == 0, err
    assert f"from {workdir / 'people.csv'}" in err
    (workdir / "cadence.toml").write_text("")
    code, _out, err = cadence(capsys, sqlite_url, "org", "import", "--config", config)
    assert code == 2 and "name the CSV file" in err


def test_quiet_prints_nothing_and_a_missing_file_is_exit_2(
    workdir: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cadence(capsys, sqlite_url, "org", "import", "people.csv", "--quiet") == (0, "", "")
    code, _out, err = cadence(capsys, sqlite_url, "org", "import", "missing.csv")
    assert code == 2 and "missing.csv" in err and "does not exist" in err


def test_import_into_a_database_without_schema_says_run_init(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{workdir / 'new.db'}"
    code, _out, err = cadence(capsys, url, "org", "import", "people.csv")
    assert code == 1 and "run `cadence init`" in err


def test_pull_refuses_an_unknown_source_or_none_configured(
    workdir: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = cadence(capsys, sqlite_url, "org", "pull", "--source", "nope")
    assert code == 2
    assert "--source nope: no such [sources.NAME] (configured: acme-google, acme-m365)" in err
    (workdir / "cadence.toml").write_text("")
    code, _out, err = cadence(capsys, sqlite_url, "org", "pull")
    assert code == 2 and "no [sources.NAME]" in err and "nothing to pull from" in err


def test_the_installed_command_end_to_end(workdir: Path) -> None:
    """As cron runs it: the installed script, a fresh database, a good then a bad import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    env["CADENCE_DATABASE_URL"] = f"sqlite:///{workdir / 'e2e.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CADENCE), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
        )

    assert run("init").returncode == 0
    good = run("org", "import", "people.csv")
    assert good.returncode == 0, good.stderr
    assert "imported 5 people" in good.stderr
    (workdir / "people.csv").write_text(GOOD + "fay@acme.test,Fay,fay@acme.test,,,\n")
    bad = run("org", "import", "people.csv")
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("Error: people.csv line 7: fay@acme.test is their own manager")


# --- org pull, against the Google and Microsoft stand-ins ---------------------------------------


@pytest.fixture
def directory_servers(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[World, GoogleStandIn, GraphStandIn]]:
    """One company split over two directories: ann (top) and dan on Google, bob and cat on
    Microsoft 365; cat manages dan across the two. With the two stand-ins serving them."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    world = World()
    world.add_person("ann@acme.test", "Ann", side="google")
    world.add_person("bob@acme.test", "Bob", "ann@acme.test", side="outlook")
    world.add_person("cat@acme.test", "Cat", "ann@acme.test", side="outlook")
    world.add_person("dan@acme.test", "Dan", "cat@acme.test", side="google")
    with GoogleStandIn(world, undelegated=set()) as google, GraphStandIn(world) as graph:
        graph.register_app(CLIENT_ID, secret=SECRET)
        tables = {
            "acme-google": {
                "kind": "google",
                "service_account_file": str(google.write_key(workdir / "sa.json")),
                "admin_email": "ann@acme.test",
                "api_endpoint": google.calendar_endpoint,
                "directory_endpoint": google.directory_endpoint,
            },
            "acme-m365": graph.source_config(CLIENT_ID, client_secret_env=SECRET_ENV),
        }
        lines = []
        for name, table in tables.items():
            lines.append(f"[sources.{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        (workdir / "cadence.toml").write_text("\n".join(lines) + "\n")
        yield world, google, graph


@pytest.fixture
def directories(directory_servers: tuple[World, GoogleStandIn, GraphStandIn]) -> World:
    """The company of :func:`directory_servers`."""
    return directory_servers[0]


def test_pull_merges_every_directory_then_a_partial_pull_is_refused(
    directories: World, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cadence(capsys, db_url, "org", "import", "people.csv")[0] == 0
    code, _out, err = cadence(capsys, db_url, "org", "pull")
    assert code == 0, err
    assert "directory of source acme-google: 2 people" in err
    assert "directory of source acme-m365: 2 people" in err
    assert (
        "imported 4 people from directories of sources acme-google, acme-m365 "
        "(the chart had 5): 2 managers, 1 director, top ann@acme.test"
    ) in err
    # The directories say nobody's zone: everyone works in [org] timezone.
    pulled = [
        OrgPerson("ann@acme.test", "Ann", None, source="acme-google", timezone="UTC"),
        OrgPerson("bob@acme.test", "Bob", "ann@acme.test", source="acme-m365", timezone="UTC"),
        OrgPerson("cat@acme.test", "Cat", "ann@acme.test", source="acme-m365", timezone="UTC"),
        OrgPerson("dan@acme.test", "Dan", "cat@acme.test", source="acme-google", timezone="UTC"),
    ]
    assert load_chart(engine) == pulled
    # Google alone lists dan, whose manager is on the Microsoft side: refused, nothing changed.
    code, _out, err = cadence(capsys, db_url, "org", "pull", "--source", "acme-google")
    assert code == 2
    assert err.strip().endswith(
        "Error: directory of source acme-google, user dan@acme.test: "
        "manager cat@acme.test is not in the directory (nobody's email or alias)"
    )
    assert load_chart(engine) == pulled


def test_pull_refuses_a_chart_with_two_tops_naming_them(
    directories: World, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directories.add_person("zed@acme.test", "Zed", side="outlook")
    code, _out, err = cadence(capsys, sqlite_url, "org", "pull")
    assert code == 2
    assert (
        "directories of sources acme-google, acme-m365: "
        "2 people have no manager, only the top may: ann@acme.test, zed@acme.test"
    ) in err
