"""People who opted out (``[org] exclude``): their 1:1s are counted nowhere, no report names
them, and their manager's report says how many opted out only when the team reaches the floor."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.errors import UsageError
from cadence.jobs.figures import compute
from cadence.pipeline.views import director_view, manager_view
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.store.database import make_engine
from pipeline.builders import AS_OF, BOSS, add_people, at, store, team, weekly

# Dana directs Mia (five reports and Olga, who opted out), Nick (Pat, Quinn and Oscar, who
# opted out) and Omar, a manager who opted out, with his two reports Uma and Vic.
ROWS = [
    (BOSS, "Dana", None),
    *team(BOSS, "Mia", "Nick", "Omar"),
    *team("mia@acme.test", "Ann", "Bea", "Cal", "Dee", "Eli", "Olga"),
    *team("nick@acme.test", "Pat", "Quinn", "Oscar"),
    *team("omar@acme.test", "Uma", "Vic"),
]
OPTED_OUT = {"olga@acme.test": "Olga", "oscar@acme.test": "Oscar", "omar@acme.test": "Omar"}
FORMATS = ("md", "html", "json", "csv")


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    add_people(engine, ROWS, aliases={"o.k@acme.test": "omar@acme.test"})
    meetings = []
    for email, _, manager in ROWS:
        if manager:
            meetings += weekly(
                f"s-{email}", at(7 * 11), 12, people=(manager, email), organizer=manager
            )
    store(engine, meetings)
    yield engine
    engine.dispose()


def _config(exclude: list[str]) -> object:
    return parse_config({"org": {"exclude": exclude}})


def test_opted_out_people_are_counted_nowhere_and_named_nowhere(db: Engine) -> None:
    # Omar is excluded by an alias, and Olga's address in another case: both still match.
    config = _config(["OLGA@acme.test", "oscar@acme.test", "o.k@acme.test"])
    result = compute(db, config, AS_OF)  # type: ignore[arg-type]
    plain = compute(db, parse_config({}), AS_OF)
    assert "omar@acme.test" not in result.managers()
    with pytest.raises(UsageError):
        manager_view(result, "omar@acme.test")
    mia = manager_view(result, "mia@acme.test")
    assert [r["email"] for r in mia["reports"]] == [
        f"{n}@acme.test" for n in ("ann", "bea", "cal", "dee", "eli")
    ]
    assert mia["summary"]["direct_reports"] == 5 and mia["opted_out"] == 1
    nick = manager_view(result, "nick@acme.test")
    assert nick["summary"]["direct_reports"] == 2 and nick["opted_out"] is None  # 3 < the floor
    # Everyone else's figures are those of a run where nobody opted out.
    before = {r["email"]: r for r in manager_view(plain, "mia@acme.test")["reports"]}
    for row in mia["reports"]:
        assert row == before[row["email"]]
    # Omar's team is under no director: every figure of it would describe him.
    dana = director_view(result, BOSS, result)
    assert dana["summary"] is None or dana["summary"]["direct_reports"] == 5 + 2 + 2
    settings = RenderSettings.from_config(config)  # type: ignore[arg-type]
    views = [manager_view(result, m) for m in result.managers()]
    views += [director_view(result, d, result) for d in result.directors()]
    for view in views:
        for fmt in FORMATS:
            text = render(view, fmt, settings).lower()
            for email, name in OPTED_OUT.items():
                assert email not in text and f"{name.lower()} " not in text, (view["kind"], fmt)
                assert "o.k@acme.test" not in text


def test_the_manager_is_told_how_many_opted_out_only_above_the_floor(db: Engine) -> None:
    config = _config(["olga@acme.test", "oscar@acme.test"])
    result = compute(db, config, AS_OF)  # type: ignore[arg-type]
    settings = RenderSettings.from_config(config)  # type: ignore[arg-type]
    mia = manager_view(result, "mia@acme.test")
    for fmt in ("md", "html"):
        assert "1 person on your team opted out of cadence" in render(mia, fmt, settings)
    nick = manager_view(result, "nick@acme.test")
    for fmt in ("md", "html"):
        assert "opted out" not in render(nick, fmt, settings)
    nobody = manager_view(compute(db, parse_config({}), AS_OF), "mia@acme.test")
    assert nobody["opted_out"] == 0 and "opted out" not in render(nobody, "md", settings)
    small = compute(
        db,
        parse_config({"org": {"exclude": ["olga@acme.test"]}, "report": {"min_group_size": 7}}),
        AS_OF,
    )
    assert manager_view(small, "mia@acme.test")["opted_out"] is None  # 6 < 7
    assert json.loads(render(mia, "json", settings))["opted_out"] == 1
