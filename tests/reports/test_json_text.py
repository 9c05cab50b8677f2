"""The JSON of a report is ``json.dumps(view, indent=2)`` to the character, though cadence writes
it its own way (the standard library's indenting encoder runs in Python, a call per value): every
saved week and every ``--format json`` depends on the two being the same text."""

from __future__ import annotations

import json
import math
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.reports.render import json_text, render
from cadence.reports.words import HIDDEN, RenderSettings
from reports.sample_views import director_view, manager_view


def stdlib(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


class Code(IntEnum):
    ONE = 1


class Text(str):
    pass


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from([Code.ONE, Text("sub}, {class")])
)
KEYS = st.text() | st.integers() | st.booleans() | st.none()
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(st.dictionaries(st.text(), SCALARS, max_size=4), max_size=4)
        | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400)
@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert json_text(value) == stdlib(value)


@pytest.mark.parametrize(
    "value",
    [
        [{"a": "},\n    {"}, {"b": 1}],  # a string that looks like the seam between two objects
        [{"a": 1}, {}],
        [{}, {"a": 1}],
        {"t": [{"a": [1]}, {"a": 2}]},
        ({"a": 1}, [2, (3,)]),
        {1.5: [], None: {}, True: "x", 7: [{"k": -0.0}]},
    ],
)
def test_awkward_values(value: Any) -> None:
    assert json_text(value) == stdlib(value)


@pytest.mark.parametrize("value", [{"a": math.nan}, [math.inf], {"a": [object()]}, {(1,): 1}])
def test_what_json_dumps_refuses_is_refused(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as theirs:
        stdlib(value)
    with pytest.raises(theirs.type):
        json_text(value)


def test_reports_are_json_dumps_of_their_views() -> None:
    for view in (manager_view(), director_view()):
        assert render(view, "json", RenderSettings()) == stdlib(view) + "\n"


@pytest.mark.parametrize("name", ["Zoë Ünal", "del\x7fete", "right\u202eleft", "nbsp\xa0é", "ok"])
def test_hidden_characters_are_escaped_whatever_else_the_text_holds(name: str) -> None:
    view = manager_view()
    view["manager"]["name"] = name
    text = render(view, "json", RenderSettings())
    assert json.loads(text) == json.loads(stdlib(view))
    assert not HIDDEN.search(text)
    assert text == HIDDEN.sub(lambda m: json.dumps(m.group())[1:-1], stdlib(view) + "\n")
