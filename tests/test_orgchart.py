"""The org chart: CSV parsing, every refusal with its place, the hierarchy, and the stored chart."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cadence.errors import InputError, StoreError
from cadence.normalised import OrgPerson
from cadence.orgchart import build_hierarchy, parse_csv, validate_chart
from cadence.store.database import make_engine
from cadence.store.people import load_chart, replace_chart

GOOD = """\
email,name,manager_email,team,aliases
Ann@Acme.test ,Ann Top,,exec,ann.a@acme.test; A@Acme.test
bob@acme.test,Bob,ANN.A@acme.test,eng,
cat@acme.test,"Cat, the second",bob@acme.test,eng,
dan@acme.test,Dan,cat@acme.test,,
eve@acme.test,Eve,ann@acme.test,sales,eve.old@acme.test
"""


def write(tmp_path: Path, text: str | bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str | bytes, sources: tuple[str, ...] = ()) -> str:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        parse_csv(path, sources=sources)
    message = str(err.value)
    assert str(path) in message
    return message


def test_a_good_file_is_read_normalised_with_aliases_resolved(tmp_path: Path) -> None:
    people = parse_csv(write(tmp_path, GOOD))
    by_email = {p.email: p for p in people}
    assert list(by_email) == [
        "ann@acme.test",
        "bob@acme.test",
        "cat@acme.test",
        "dan@acme.test",
        "eve@acme.test",
    ]
    ann = by_email["ann@acme.test"]
    assert ann.manager_email is None and ann.team == "exec"
    assert ann.aliases == ("ann.a@acme.test", "a@acme.test")
    # A manager given by alias, in any case, is that person.
    assert by_email["bob@acme.test"].manager_email == "ann@acme.test"
    assert by_email["cat@acme.test"].name == "Cat, the second"
    assert by_email["dan@acme.test"].team is None and by_email["dan@acme.test"].aliases == ()


def test_column_order_is_free_and_a_bom_is_fine(tmp_path: Path) -> None:
    text = "\ufeffManager_Email, Name ,EMAIL\n,Ann,ann@acme.test\nann@acme.test,Bob,bob@acme.test\n"
    people = parse_csv(write(tmp_path, text))
    assert [(p.email, p.name, p.manager_email) for p in people] == [
        ("ann@acme.test", "Ann", None),
        ("bob@acme.test", "Bob", "ann@acme.test"),
    ]


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path: Path) -> None:
    text = "email,name,manager_email\n\nann@acme.test,Ann,\n,,\n\nbob@acme.test,Bob,zed@acme.test\n"
    message = refusal(tmp_path, text)
    assert "line 6" in message and "zed@acme.test" in message


def test_a_quoted_newline_keeps_line_numbers_right(tmp_path: Path) -> None:
    text = 'email,name,manager_email\nann@acme.test,"Ann\nTop",\nbob@acme.test,Bob,bob@acme.test\n'
    message = refusal(tmp_path, text)
    assert "line 4" in message and "own manager" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,ann@acme.test\n"
            "BOB@acme.test ,Bob again,ann@acme.test\n",
            ["line 4", "duplicate email bob@acme.test", "line 3"],
            id="duplicate-email",
        ),
        pytest.param(
            "email,name,manager_email,aliases\nann@acme.test,Ann,,a@acme.test\n"
            "bob@acme.test,Bob,ann@acme.test,A@acme.test\n",
            ["line 3", "alias a@acme.test", "line 2"],
            id="duplicate-alias",
        ),
        pytest.param(
            "email,name,manager_email,aliases\nann@acme.test,Ann,,bob@acme.test\n"
            "bob@acme.test,Bob,ann@acme.test,\n",
            ["line 2", "alias bob@acme.test is the email of line 3"],
            id="alias-is-someones-email",
        ),
        pytest.param(
            "email,name,manager_email,aliases\nann@acme.test,Ann,,ann@acme.test\n",
            ["line 2", "their own email"],
            id="alias-is-own-email",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,zed@acme.test\n",
            ["line 3", "manager zed@acme.test is not in the file"],
            id="unknown-manager",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,dan@acme.test\n"
            "cat@acme.test,Cat,bob@acme.test\ndan@acme.test,Dan,cat@acme.test\n",
            [
                "reporting cycle",
                "bob@acme.test (line 3)",
                "cat@acme.test (line 4)",
                "dan@acme.test (line 5)",
            ],
            id="cycle",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,\n",
            ["2 people have no manager", "ann@acme.test (line 2)", "bob@acme.test (line 3)"],
            id="two-tops",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,bob@acme.test\n"
            "bob@acme.test,Bob,ann@acme.test\n",
            ["no top", "reporting cycle", "ann@acme.test (line 2)", "bob@acme.test (line 3)"],
            id="no-top",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,bob@acme.test\n",
            ["line 3", "bob@acme.test is their own manager"],
            id="self-manager",
        ),
        pytest.param(
            "email,name,manager_email,aliases\nann@acme.test,Ann,,b@acme.test\n"
            "bob@acme.test,Bob,bob@acme.test,\nb@acme.test,B,ann@acme.test,\n",
            [
                "2 problems",
                "line 2: alias b@acme.test is the email of line 4",
                "line 3: bob@acme.test is their own manager",
            ],
            id="several-problems-in-one-message",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob at acme.test,Bob,ann@acme.test\n",
            ["line 3", "email 'bob at acme.test' is not a valid email address"],
            id="malformed-email",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,Ann <ann@acme.test>\n",
            ["line 3", "manager_email 'ann <ann@acme.test>' is not a valid"],
            id="malformed-manager-email",
        ),
        pytest.param(
            "email,name,manager_email,aliases\nann@acme.test,Ann,,ann@acme\n",
            ["line 2", "alias 'ann@acme' is not a valid"],
            id="malformed-alias",
        ),
        pytest.param(
            "email,name,manager_email\n,Ann,\n",
            ["line 2", "email is empty"],
            id="empty-email",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,,\n",
            ["line 2", "name is empty"],
            id="empty-name",
        ),
        pytest.param(
            "email,name,boss\nann@acme.test,Ann,\n",
            ["line 1", "unknown column(s) 'boss'", "missing column(s) manager_email"],
            id="wrong-columns",
        ),
        pytest.param(
            "ann@acme.test,Ann,\nbob@acme.test,Bob,ann@acme.test\n",
            ["line 1", "missing column(s) email, name, manager_email", "header"],
            id="no-header",
        ),
        pytest.param(
            "email,name,manager_email,email\nann@acme.test,Ann,,ann@acme.test\n",
            ["line 1", "repeated column(s) email"],
            id="repeated-column",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\n"
            "bob@acme.test,Smith, Bob,ann@acme.test\n",
            ["line 3", "4 fields, the header has 3", "double quotes"],
            id="unquoted-comma",
        ),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob\n",
            ["line 3", "2 fields, the header has 3"],
            id="too-few-fields",
        ),
        pytest.param(
            'email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,"Bob,ann@acme.test\n',
            ["line 3", "not valid CSV"],
            id="unterminated-quote",
        ),
        pytest.param("email,name,manager_email\n", ["header but no people"], id="header-only"),
        pytest.param("", ["the file is empty"], id="empty-file"),
        pytest.param(" \n\n", ["the file is empty"], id="blank-file"),
        pytest.param(
            "email,name,manager_email\nann@acme.test,Zo\xeb,\n".encode("latin-1"),
            ["line 2", "not UTF-8", "0xeb"],
            id="latin-1",
        ),
        pytest.param(
            "email,name,manager_email\n".encode("utf-16"),
            ["line 1", "not UTF-8"],
            id="utf-16",
        ),
    ],
)
def test_refusals_name_the_file_and_line(
    tmp_path: Path, text: str | bytes, expected: list[str]
) -> None:
    message = refusal(tmp_path, text)
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_trailing_optional_cells_may_be_left_out(tmp_path: Path) -> None:
    text = (
        "email,name,manager_email,team,aliases\n"
        "ann@acme.test,Ann,\n"
        "bob@acme.test,Bob,ann@acme.test,eng\n"
    )
    people = parse_csv(write(tmp_path, text))
    assert [(p.email, p.team, p.aliases) for p in people] == [
        ("ann@acme.test", None, ()),
        ("bob@acme.test", "eng", ()),
    ]
    # A required cell may not: that row is misaligned.
    message = refusal(tmp_path, "email,name,manager_email,team\nann@acme.test,Ann\n")
    assert "line 2: 2 fields, the header has 4" in message


def test_source_must_be_a_configured_one(tmp_path: Path) -> None:
    text = (
        "email,name,manager_email,source\nann@acme.test,Ann,,acme-google\n"
        "bob@acme.test,Bob,ann@acme.test,acme-m356\n"
    )
    message = refusal(tmp_path, text, sources=("acme-google", "acme-m365"))
    assert "line 3" in message and "'acme-m356' is not a configured [sources.NAME]" in message
    assert "acme-google, acme-m365" in message
    # With no sources configured yet, the column is kept as given.
    people = parse_csv(tmp_path / "people.csv")
    assert [p.source for p in people] == ["acme-google", "acme-m356"]


def test_many_problems_are_capped_and_counted(tmp_path: Path) -> None:
    rows = "".join(f"p{i}@acme.test,P{i},nobody@acme.test\n" for i in range(25))
    message = refusal(tmp_path, "email,name,manager_email\nann@acme.test,Ann,\n" + rows)
    assert message.startswith(f"{tmp_path / 'people.csv'}: 25 problems, nothing was changed:")
    assert "line 3:" in message and "line 12:" in message and "line 13:" not in message
    assert "... and 15 more" in message


def test_a_directory_chart_is_named_by_origin_and_user() -> None:
    people = [
        OrgPerson("ann@acme.test", "Ann"),
        OrgPerson("bob@acme.test", "Bob", "zed@acme.test"),
    ]
    with pytest.raises(InputError) as err:
        validate_chart(people, "directory of source acme-google")
    assert str(err.value) == (
        "directory of source acme-google, user bob@acme.test: "
        "manager zed@acme.test is not in the directory (nobody's email or alias)"
    )
    with pytest.raises(InputError, match="no people"):
        validate_chart([], "directory of source acme-google")
    two_tops = [OrgPerson("ann@acme.test", "Ann"), OrgPerson("", "Nobody"), OrgPerson("b@x.y", "B")]
    with pytest.raises(InputError) as err:
        validate_chart(two_tops, "directories of sources a, b")
    assert str(err.value) == (
        "directories of sources a, b: 2 problems, nothing was changed:\n"
        "  user 'Nobody': email is empty\n"
        "  2 people have no manager, only the top may: ann@acme.test, b@x.y"
    )


# --- the hierarchy ------------------------------------------------------------------------------


def test_hierarchy_of_a_small_chart(tmp_path: Path) -> None:
    h = build_hierarchy(parse_csv(write(tmp_path, GOOD)))
    assert h.top == "ann@acme.test"
    assert h.direct_reports("A@acme.test") == ["bob@acme.test", "eve@acme.test"]
    assert h.direct_reports("dan@acme.test") == []
    assert h.pairs() == [
        ("ann@acme.test", "bob@acme.test"),
        ("ann@acme.test", "eve@acme.test"),
        ("bob@acme.test", "cat@acme.test"),
        ("cat@acme.test", "dan@acme.test"),
    ]
    assert h.skip_level_pairs() == [
        ("ann@acme.test", "cat@acme.test"),
        ("bob@acme.test", "dan@acme.test"),
    ]
    assert h.org_of("ann@acme.test") == [
        "bob@acme.test",
        "cat@acme.test",
        "dan@acme.test",
        "eve@acme.test",
    ]
    assert h.org_of("bob@acme.test") == ["cat@acme.test", "dan@acme.test"]
    assert h.managers() == ["ann@acme.test", "bob@acme.test", "cat@acme.test"]
    assert h.directors() == ["ann@acme.test", "bob@acme.test"]
    assert h.resolve(" EVE.OLD@acme.test") == "eve@acme.test"
    assert h.resolve("nobody@acme.test") is None
    assert h.manager_of("eve.old@acme.test") == "ann@acme.test"
    assert h.person("a@acme.test").name == "Ann Top"
    with pytest.raises(KeyError, match=r"nobody@acme\.test"):
        h.org_of("nobody@acme.test")


def _random_chart(seed: int, n: int) -> tuple[str, list[str], dict[str, str | None]]:
    """A random valid tree as CSV text, with random case, spaces, aliases and managers given by
    alias; returns the text, the emails and each one's manager (the reference)."""
    rng = random.Random(seed)
    emails = [f"p{i}@acme.test" for i in range(n)]
    rng.shuffle(emails)
    manager: dict[str, str | None] = {emails[0]: None}
    for i in range(1, n):
        # Deep chains and wide fans both occur: pick among the last few or anyone so far.
        j = rng.randrange(max(0, i - 3), i) if rng.random() < 0.5 else rng.randrange(i)
        manager[emails[i]] = emails[j]
    aliases = {e: [f"alt{k}.{e}" for k in range(rng.randrange(3))] for e in emails}

    def mess(email: str) -> str:
        return rng.choice([email, email.upper(), f" {email} "])

    order = emails[:]
    rng.shuffle(order)  # rows in any order: a report may come before their manager
    rows = ["aliases,manager_email,name,email"]
    for e in order:
        m = manager[e]
        given = "" if m is None else mess(rng.choice([m, *aliases[m]]))
        rows.append(f"{';'.join(aliases[e])},{given},Person {e},{mess(e)}")
    return "\n".join(rows) + "\n", emails, manager


def _naive_org(manager: dict[str, str | None], director: str) -> set[str]:
    """Everyone with ``director`` somewhere up their chain, walking each chain in full."""
    below = set()
    for person in manager:
        m = manager[person]
        while m is not None:
            if m == director:
                below.add(person)
                break
            m = manager[m]
    return below


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_any_valid_chart_imports_and_orgs_are_everyone_below(
    sqlite_url: str, tmp_path: Path, seed: int, n: int
) -> None:
    text, emails, manager = _random_chart(seed, n)
    people = parse_csv(write(tmp_path, text))
    engine = make_engine(sqlite_url)
    try:
        replace_chart(engine, people)  # every example replaces the previous one
        stored = load_chart(engine)
    finally:
        engine.dispose()
    assert sorted(p.email for p in stored) == sorted(emails)
    h = build_hierarchy(stored)
    assert {p.email: p.manager_email for p in stored} == manager
    assert h.top == emails[0]
    # Direct reports plus the top cover everyone, each exactly once.
    listed = [r for m in h.managers() for r in h.direct_reports(m)]
    assert sorted([*listed, emails[0]]) == sorted(emails)
    naive_managers = {m for m in manager.values() if m is not None}
    assert set(h.managers()) == naive_managers
    for person in emails:
        org = set(h.org_of(person))
        assert org == _naive_org(manager, person)
        is_director = bool(org & naive_managers)
        assert (person in h.directors()) == is_director
    expected_skips = {
        (manager[m], r) for r, m in manager.items() if m is not None and manager[m] is not None
    }
    assert set(h.skip_level_pairs()) == expected_skips


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 200), data=st.data())
def test_any_cycle_is_refused_naming_its_people(seed: int, n: int, data: st.DataObject) -> None:
    _text, emails, manager = _random_chart(seed, n)
    # Point someone's manager at a person in their own org (or at themselves): a cycle.
    candidates = [e for e in emails if e != emails[0]]
    person = data.draw(st.sampled_from(candidates))
    below = sorted(_naive_org(manager, person) | {person})
    new_manager = data.draw(st.sampled_from(below))
    people = [OrgPerson(e, f"P {e}", new_manager if e == person else manager[e]) for e in emails]
    with pytest.raises(InputError) as err:
        validate_chart(people, "test")
    message = str(err.value)
    if new_manager == person:
        assert f"{person} is their own manager" in message
    else:
        assert "reporting cycle" in message and person in message and new_manager in message


# --- the stored chart ---------------------------------------------------------------------------


def test_round_trip_and_re_import_replaces(engine: Engine, tmp_path: Path) -> None:
    assert load_chart(engine) == []
    people = parse_csv(write(tmp_path, GOOD))
    replace_chart(engine, people)
    stored = load_chart(engine)
    assert stored == sorted(
        (
            OrgPerson(p.email, p.name, p.manager_email, p.team, p.source, tuple(sorted(p.aliases)))
            for p in people
        ),
        key=lambda p: p.email,
    )
    smaller = "email,name,manager_email,aliases\nzoe@acme.test,Zoe,,ann@acme.test\n"
    replace_chart(engine, parse_csv(write(tmp_path, smaller, "second.csv")))
    assert load_chart(engine) == [
        OrgPerson("zoe@acme.test", "Zoe", None, None, None, ("ann@acme.test",))
    ]


def test_a_replace_that_fails_midway_keeps_the_old_chart(engine: Engine, tmp_path: Path) -> None:
    replace_chart(engine, parse_csv(write(tmp_path, GOOD)))
    before = load_chart(engine)
    # Unvalidated people whose second row collides: the insert fails after the old rows were
    # deleted inside the transaction, which must roll back whole.
    clash = [OrgPerson("zoe@acme.test", "Zoe"), OrgPerson("zoe@acme.test", "Zoe again")]
    with pytest.raises(StoreError, match="the old one is kept"):
        replace_chart(engine, clash)
    assert load_chart(engine) == before
