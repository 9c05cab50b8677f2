"""Hostile and careless org charts: addresses that are not addresses and names with control
characters are refused with their line; deep charts and charts with cycles are walked correctly
(how fast: benchmarks/bench_orgchart.py --shape chain)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cadence.errors import InputError
from cadence.normalised import OrgPerson
from cadence.orgchart import build_hierarchy, parse_csv, reporting_lines, validate_chart


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("email,name,manager_email,team\nboss@acme.test,Boss,,\n" + "\n".join(rows))
    return path


@pytest.mark.parametrize(
    "email",
    [
        "../users/dev.okafor@acme.test",  # a path that would climb out of a Graph URL
        "./ann@acme.test",
        ".ann@acme.test",
        "ann.@acme.test",
        "ann..lee@acme.test",
        "ann lee@acme.test",
        "ann@acme",
        "ann@acme.test/../bob",
        "ann@-acme.test",
        "ann@acme..test",
    ],
)
def test_an_address_that_is_not_an_address_is_refused_with_its_line(
    tmp_path: Path, email: str
) -> None:
    with pytest.raises(InputError) as info:
        parse_csv(_csv(tmp_path, f"{email},Ann,boss@acme.test,"))
    assert "line 3" in str(info.value) and "not a valid email address" in str(info.value)


@pytest.mark.parametrize(
    "email", ["a/b@acme.test", "o'brien@acme.test", "ann+1on1@acme.test", "ann.lee@eu.acme.test"]
)
def test_unusual_but_real_addresses_are_kept(tmp_path: Path, email: str) -> None:
    people = parse_csv(_csv(tmp_path, f"{email},Ann,boss@acme.test,"))
    assert email in {p.email for p in people}


@pytest.mark.parametrize(
    ("column", "character"),
    [
        ("name", "\x00"),
        ("name", "\x1b[31m"),
        ("name", "\x07"),
        ("name", "\x08\x08\x08Boss"),
        ("name", "\x7f"),
        ("name", "\x85"),
        ("team", "\x00"),
        ("team", "\x1b]8;;http://evil\x1b\\"),
    ],
)
def test_a_control_character_in_a_name_is_refused_with_its_line(
    tmp_path: Path, column: str, character: str
) -> None:
    # In the middle of the text: at either end, white space (NEL among it) is trimmed away.
    name, team = (
        ("An" + character + "n", "") if column == "name" else ("Ann", "En" + character + "g")
    )
    with pytest.raises(InputError) as info:
        parse_csv(_csv(tmp_path, f'ann@acme.test,"{name}",boss@acme.test,"{team}"'))
    message = str(info.value)
    assert "line 3" in message and f"{column} contains a control character (U+" in message


def test_a_directory_with_the_same_problems_is_refused_too() -> None:
    people = [
        OrgPerson("boss@acme.test", "Boss"),
        OrgPerson("../users/x@acme.test", "X", "boss@acme.test"),
        OrgPerson("eve@acme.test", "Eve\x1b[2J", "boss@acme.test"),
    ]
    with pytest.raises(InputError) as info:
        validate_chart(people, "directory of source acme")
    assert "not a valid email address" in str(info.value)
    assert "control character (U+001B)" in str(info.value)


def test_a_reporting_line_a_thousand_deep_is_walked_whole() -> None:
    depth = 1000
    people = [OrgPerson("p0@acme.test", "P0")] + [
        OrgPerson(f"p{i}@acme.test", f"P{i}", f"p{i - 1}@acme.test") for i in range(1, depth)
    ]
    h = build_hierarchy(people)
    assert len(h.org_of("p0@acme.test")) == depth - 1
    assert h.org_of("p998@acme.test") == ["p999@acme.test"]
    assert len(h.lines.below) == depth * (depth - 1) // 2
    assert len(h.directors()) == depth - 2 and len(h.skip_level_pairs()) == depth - 2


def test_a_stored_chart_with_a_cycle_is_walked_once_around() -> None:
    # The store is not checked as an import is: a cycle (a -> b -> c -> a) and a line that runs
    # into it (d -> a) must still end, each person's ancestors listed once.
    manager_of = pd.Series(
        {"a": "b", "b": "c", "c": "a", "d": "a", "e": "f"}, dtype=object, name="manager"
    )
    below = reporting_lines(manager_of).below
    ancestors = below.groupby("person")["ancestor"].apply(sorted).to_dict()
    assert ancestors == {
        "a": ["b", "c"],
        "b": ["a", "c"],
        "c": ["a", "b"],
        "d": ["a", "b", "c"],
        "e": ["f"],
    }
    assert not below.duplicated().any()


def test_a_long_stored_cycle_with_a_tail_lists_each_ancestor_once() -> None:
    cycle, tail = 300, 50
    manager_of = {f"c{i}": f"c{(i + 1) % cycle}" for i in range(cycle)}
    manager_of |= {f"t{i}": f"t{i + 1}" for i in range(tail - 1)} | {f"t{tail - 1}": "c0"}
    below = reporting_lines(pd.Series(manager_of, dtype=object)).below
    assert not below.duplicated().any()
    counts = below.groupby("person").size()
    assert (counts[[f"c{i}" for i in range(cycle)]] == cycle - 1).all()
    # t_i is below the rest of the tail above it and the whole cycle.
    assert counts["t0"] == (tail - 1) + cycle and counts[f"t{tail - 1}"] == cycle
