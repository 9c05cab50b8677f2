"""Where each person works (country, time zone): the CSV's columns, ``[org] country``, the store's
columns and their migration, and what ``cadence org pull`` fills from the two directories."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from cadence.connectors.places import WINDOWS_ZONES, country_of, iana_zone
from cadence.errors import InputError
from cadence.normalised import OrgPerson
from cadence.orgchart import parse_csv
from cadence.sandbox.world import World
from cadence.store.database import _alembic_config, head_revision, upgrade
from cadence.store.people import load_chart, replace_chart
from cadence.store.reads import load_frames
from test_migrations import empty_engine  # noqa: F401 - a fixture
from test_org_cli import cadence, directories, directory_servers, workdir  # noqa: F401 - fixtures

HEADER = "email,name,manager_email,country,timezone\n"
TOP = "ann@acme.test,Ann,,DE,Europe/Berlin\n"


def chart(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + TOP + "".join(rows))
    return path


def places(people: list[OrgPerson]) -> dict[str, tuple[str | None, str | None]]:
    return {p.email: (p.country, p.timezone) for p in people}


# --- the CSV ------------------------------------------------------------------------------------


def test_codes_and_subdivisions_in_any_case_are_kept_as_the_chart_spells_them(
    tmp_path: Path,
) -> None:
    path = chart(
        tmp_path,
        "bob@acme.test,Bob,ann@acme.test,us-ca,america/los_angeles\n",
        "cat@acme.test,Cat,ann@acme.test,GB-SCT, Europe/London \n",
        "dan@acme.test,Dan,ann@acme.test,de-by,\n",
        "eve@acme.test,Eve,ann@acme.test,,Asia/Tokyo\n",
    )
    people = parse_csv(path, country="FR", timezone="Europe/Paris")
    assert places(people) == {
        "ann@acme.test": ("DE", "Europe/Berlin"),
        "bob@acme.test": ("US-CA", "America/Los_Angeles"),
        "cat@acme.test": ("GB-SCT", "Europe/London"),
        "dan@acme.test": ("DE-BY", "Europe/Paris"),  # an empty cell: [org] timezone
        "eve@acme.test": ("FR", "Asia/Tokyo"),  # an empty cell: [org] country
    }


def test_without_the_columns_or_a_default_nobody_has_a_country(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,ann@acme.test")
    assert places(parse_csv(path, timezone="UTC")) == {
        "ann@acme.test": (None, "UTC"),
        "bob@acme.test": (None, "UTC"),
    }


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            "XX,",
            "people.csv line 3: country 'XX' is not an ISO 3166-1 alpha-2 country code the "
            "holidays package knows (such as DE, GB, US; a subdivision after a dash: US-CA)",
        ),
        ("Germany,", "people.csv line 3: country 'Germany' is not an ISO 3166-1 alpha-2"),
        (
            "US-ZZ,",
            "people.csv line 3: country 'US-ZZ': 'ZZ' is not a subdivision of US the holidays "
            "package knows (AK, AL, AR, AS, AZ, CA, CO, CT, DC, DE and ",
        ),
        (
            ",Europe/Berln",
            "people.csv line 3: timezone 'Europe/Berln' is not an IANA time zone "
            "(did you mean Europe/Berlin?)",
        ),
        (",W. Europe Standard Time", "people.csv line 3: timezone 'W. Europe Standard Time' is"),
    ],
)
def test_an_unknown_country_subdivision_or_zone_is_refused_with_its_line(
    tmp_path: Path, cells: str, message: str
) -> None:
    path = chart(tmp_path, f"bob@acme.test,Bob,ann@acme.test,{cells}\n")
    with pytest.raises(InputError) as info:
        parse_csv(path)
    assert str(info.value).replace(str(path), "people.csv").startswith(message)
    assert "\n" not in str(info.value)


def test_a_refused_import_exits_2_and_keeps_the_stored_chart(
    workdir: Path,  # noqa: F811 - the fixture
    engine: Engine,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cadence(capsys, db_url, "org", "import", "people.csv")[0] == 0
    before = load_chart(engine)
    chart(workdir, "bob@acme.test,Bob,ann@acme.test,de-xx,\n")
    code, _out, err = cadence(capsys, db_url, "org", "import", "people.csv")
    assert code == 2
    assert err.strip() == (
        "Error: people.csv line 3: country 'de-xx': 'xx' is not a subdivision of DE the holidays "
        "package knows (Augsburg, BB, BE, BW, BY, HB, HE, HH, MV, NI and 7 more)"
    )
    assert load_chart(engine) == before


def test_org_country_is_everyones_unless_the_chart_says_and_a_typo_is_refused(
    workdir: Path,  # noqa: F811 - the fixture
    engine: Engine,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = workdir / "cadence.toml"
    config.write_text('[org]\ncountry = "de-by"\ntimezone = "Europe/Berlin"\n')
    chart(workdir, "bob@acme.test,Bob,ann@acme.test,US-NY,America/New_York\n")
    (workdir / "people.csv").write_text(
        (workdir / "people.csv").read_text() + "cat@acme.test,Cat,ann@acme.test,,\n"
    )
    assert cadence(capsys, db_url, "org", "import", "people.csv")[0] == 0
    assert places(load_chart(engine)) == {
        "ann@acme.test": ("DE", "Europe/Berlin"),
        "bob@acme.test": ("US-NY", "America/New_York"),
        "cat@acme.test": ("DE-BY", "Europe/Berlin"),
    }
    config.write_text('[org]\ncountry = "XX"\n')
    code, _out, err = cadence(capsys, db_url, "org", "import", "people.csv")
    assert code == 2
    assert err.strip().startswith(
        f"Error: {config}: [org] country 'XX' is not an ISO 3166-1 alpha-2 country code"
    )
    assert len(err.strip().splitlines()) == 1


# --- the store ----------------------------------------------------------------------------------


def test_the_store_keeps_them_and_the_people_frame_carries_them(engine: Engine) -> None:
    people = [
        OrgPerson("ann@acme.test", "Ann", country="DE-BY", timezone="Europe/Berlin"),
        OrgPerson("bob@acme.test", "Bob", "ann@acme.test", country="US-CA"),
        OrgPerson("cat@acme.test", "Cat", "ann@acme.test", timezone="Asia/Tokyo"),
    ]
    replace_chart(engine, people)
    assert load_chart(engine) == people
    frame = load_frames(engine, pd.Timestamp("2026-01-01", tz="UTC")).people
    rows = frame.set_index("email")[["country", "timezone"]].astype(object)
    assert rows.where(rows.notna(), None).to_dict("index") == {
        "ann@acme.test": {"country": "DE-BY", "timezone": "Europe/Berlin"},
        "bob@acme.test": {"country": "US-CA", "timezone": None},
        "cat@acme.test": {"country": None, "timezone": "Asia/Tokyo"},
    }


def test_a_database_at_0001_upgrades_keeping_its_people_and_downgrades(
    empty_engine: Engine,  # noqa: F811 - the fixture
) -> None:
    config = _alembic_config(empty_engine)
    command.upgrade(config, "0001")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO people (email, name, manager_email, team, source) VALUES "
                "('ann@acme.test', 'Ann', NULL, 'exec', 'g'), "
                "('bob@acme.test', 'Bob', 'ann@acme.test', NULL, NULL)"
            )
        )
    assert upgrade(empty_engine) == ("0001", head_revision())
    assert load_chart(empty_engine) == [
        OrgPerson("ann@acme.test", "Ann", None, "exec", "g"),
        OrgPerson("bob@acme.test", "Bob", "ann@acme.test"),
    ]
    replace_chart(
        empty_engine,
        [
            OrgPerson("ann@acme.test", "Ann", None, "exec", "g", country="DE"),
            OrgPerson("bob@acme.test", "Bob", "ann@acme.test", timezone="UTC"),
        ],
    )
    command.downgrade(config, "0001")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("people")}
    assert columns == {"email", "name", "manager_email", "team", "source"}
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT email, team FROM people ORDER BY email")).all()
    assert [tuple(r) for r in rows] == [("ann@acme.test", "exec"), ("bob@acme.test", None)]


# --- org pull -----------------------------------------------------------------------------------


def pull(capsys: pytest.CaptureFixture[str], db_url: str) -> list[str]:
    code, _out, err = cadence(capsys, db_url, "org", "pull")
    assert code == 0, err
    return err.strip().splitlines()


def test_pull_fills_both_from_the_directories_and_says_nothing_more(
    directories: World,  # noqa: F811 - the fixture
    engine: Engine,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = directories
    w.add_person("ann@acme.test", "Ann", country="US-CA", timezone="America/Los_Angeles")
    w.add_person("dan@acme.test", "Dan", "cat@acme.test", country="GB", timezone="Europe/London")
    w.add_person(
        "bob@acme.test",
        "Bob",
        "ann@acme.test",
        "outlook",
        country="DE-BY",
        timezone="W. Europe Standard Time",
    )
    w.add_person(
        "cat@acme.test",
        "Cat",
        "ann@acme.test",
        "outlook",
        country="Germany",
        timezone="Tokyo Standard Time",
    )
    lines = pull(capsys, db_url)
    assert lines[:2] == [
        "directory of source acme-google: 2 people",
        "directory of source acme-m365: 2 people",
    ]
    assert len(lines) == 3 and lines[2].startswith("imported 4 people")
    assert places(load_chart(engine)) == {
        "ann@acme.test": ("US-CA", "America/Los_Angeles"),
        "bob@acme.test": ("DE-BY", "Europe/Berlin"),  # W. Europe Standard Time
        "cat@acme.test": ("DE", "Asia/Tokyo"),  # "Germany", Tokyo Standard Time
        "dan@acme.test": ("GB", "Europe/London"),
    }


def test_pull_says_how_many_it_could_not_fill_and_why(
    directories: World,  # noqa: F811 - the fixture
    workdir: Path,  # noqa: F811 - the fixture
    engine: Engine,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = workdir / "cadence.toml"
    config.write_text(config.read_text() + '[org]\ncountry = "FR"\ntimezone = "Europe/Paris"\n')
    w = directories
    w.add_person("ann@acme.test", "Ann", country="US", timezone="America/New_York")
    w.add_person("dan@acme.test", "Dan", "cat@acme.test", country="Atlantis")  # no code, no zone
    w.add_person(
        "bob@acme.test",
        "Bob",
        "ann@acme.test",
        "outlook",
        country="Narnia",
        timezone="Mars Standard Time",
    )
    w.add_person("cat@acme.test", "Cat", "ann@acme.test", "outlook", timezone="GMT Standard Time")
    w.add_person(
        "eve@acme.test",
        "Eve",
        "ann@acme.test",
        "outlook",
        country="NL",
        timezone="Europe/Amsterdam",
    )
    lines = pull(capsys, db_url)
    assert lines[1] == (
        "directory of source acme-google: of 2 people, 1 without a country (1 without an "
        "address with a countryCode) and 1 without a time zone (1 whose calendar has no "
        "timeZone); they take [org] country (FR) and [org] timezone (Europe/Paris)"
    )
    assert lines[3] == (
        "directory of source acme-m365: of 3 people, 2 without a country (1 whose country names "
        "none the holidays package knows: 'Narnia'; 1 without usageLocation or country) and 1 "
        "without a time zone (1 whose time zone is neither IANA nor a Windows zone cadence maps: "
        "'Mars Standard Time'); they take [org] country (FR) and [org] timezone (Europe/Paris)"
    )
    assert places(load_chart(engine)) == {
        "ann@acme.test": ("US", "America/New_York"),
        "bob@acme.test": ("FR", "Europe/Paris"),
        "cat@acme.test": ("FR", "Europe/London"),
        "dan@acme.test": ("FR", "Europe/Paris"),
        "eve@acme.test": ("NL", "Europe/Amsterdam"),
    }


def test_every_windows_zone_cadence_maps_reads_as_its_iana_zone() -> None:
    assert len(WINDOWS_ZONES) > 100
    for windows, zone in WINDOWS_ZONES.items():
        assert iana_zone(windows) == zone, windows
        assert iana_zone(windows.lower()) == zone, windows
    assert iana_zone("Europe/Berlin") == "Europe/Berlin"
    assert iana_zone("Customized Time Zone") is None


@pytest.mark.parametrize(
    ("said", "region", "country"),
    [
        ("United States", "CA", "US-CA"),
        ("Germany", "Bavaria", "DE"),  # a region's name, not a code: the country alone
        ("DEU", None, "DE"),
        ("de", "by", "DE-BY"),
        ("UK", None, "GB"),
        ("Atlantis", None, None),
    ],
)
def test_a_directorys_country_names_and_codes(
    said: str, region: str | None, country: str | None
) -> None:
    assert country_of(said, region) == country
