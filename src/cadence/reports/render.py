"""One entry point from a view to text: :func:`render` picks the format's renderer.

JSON is for programs and stays exactly the view; what :func:`words.visible` would hide from a
reader is written as a ``\\uXXXX`` escape, so the parsed value is unchanged while the text on a
terminal or in an editor carries no control or bidirectional character.

The JSON text is the standard library's ``json.dumps(view, indent=2)``, character for character,
but not made by it: with an indent that encoder runs in Python, a call per value, and every
report of a run is saved as JSON (a quarter of a large run's rendering went there).
:func:`json_text` writes each run of plain values (an innermost object or list, the plain items
of an object, a list of plain objects such as a timeline: most of the values) with the C
encoder, one call each, its item separator carrying the newline and indent that ``indent=2``
would put between the items; only the containers holding containers are walked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from cadence.reports import csvfile, html, markdown, words
from cadence.reports.words import RenderSettings

_RENDERERS: dict[tuple[str, str], Callable[[Mapping[str, Any], RenderSettings], str]] = {
    ("manager", "md"): markdown.manager_markdown,
    ("director", "md"): markdown.director_markdown,
    ("manager", "html"): html.manager_html,
    ("director", "html"): html.director_html,
    ("manager", "csv"): lambda view, _settings: csvfile.manager_csv(view),
    ("director", "csv"): lambda view, _settings: csvfile.director_csv(view),
}


INDENT = "  "
# What json.dumps writes as one value (bool is an int), and those exact types, which a set
# lookup in C finds without a Python call per value.
_SCALARS = (str, int, float)
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _not_serialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@cache
def _items_at(depth: int) -> Callable[[Any, int], list[str]]:
    """The C encoder (no indent of its own) separating items as ``indent=2`` does at ``depth``.
    No check for cycles: a view is a tree of dicts and lists."""
    return c_make_encoder(
        None,
        _not_serialisable,
        encode_basestring,
        None,
        ": ",
        ",\n" + INDENT * depth,
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )


def json_text(value: Any, depth: int = 0) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)``, the same text."""
    if isinstance(value, dict):
        return _object(value, depth) if value else "{}"
    if isinstance(value, list | tuple):
        return _array(value, depth) if value else "[]"
    if type(value) is str:
        return encode_basestring(value)
    return "".join(_items_at(depth)(value, 0))


def _object(value: dict[Any, Any], depth: int) -> str:
    """A dict's items one per line: each run of items holding plain values in one C call."""
    inner = INDENT * (depth + 1)
    encode = _items_at(depth + 1)
    plain = list(map(_PLAIN_TYPES.__contains__, map(type, value.values())))
    if all(plain):
        text = "".join(encode(value, 0))[1:-1]
        return f"{{\n{inner}{text}\n{INDENT * depth}}}"
    items = list(value.items())
    parts = []
    start = 0
    for i, is_plain in enumerate(plain):
        if is_plain:
            continue
        if start < i:
            parts.append("".join(encode(dict(items[start:i]), 0))[1:-1])
        key, item = items[i]
        parts.append(f"{_key(key)}: {json_text(item, depth + 1)}")
        start = i + 1
    if start < len(items):
        parts.append("".join(encode(dict(items[start:]), 0))[1:-1])
    return f"{{\n{inner}{f',{chr(10)}{inner}'.join(parts)}\n{INDENT * depth}}}"


def _array(value: list[Any] | tuple[Any, ...], depth: int) -> str:
    inner = INDENT * (depth + 1)
    if _plain_values(value):
        text = "".join(_items_at(depth + 1)(value, 0))[1:-1]
    elif all(type(v) is dict and v and _plain(v) for v in value):
        text = _plain_objects(value, depth + 1)
    else:
        text = f",\n{inner}".join(json_text(v, depth + 1) for v in value)
    return f"[\n{inner}{text}\n{INDENT * depth}]"


def _plain(value: dict[Any, Any]) -> bool:
    return _plain_values(value.values())


def _plain_values(values: Iterable[Any]) -> bool:
    """Whether every value is text, a number, a flag or null (one of another type, a subclass
    say, is walked as any value is: the text is the same)."""
    return all(map(_PLAIN_TYPES.__contains__, map(type, values)))


def _plain_objects(value: list[Any] | tuple[Any, ...], depth: int) -> str:
    """Items (at ``depth``) that are all non-empty dicts of plain values (a timeline), in one C
    call: encoded with their own items' separator, whose newline is never inside a string (JSON
    escapes it), so each ``},<separator>{`` is exactly where one dict ends and the next begins,
    and takes the line breaks ``indent=2`` puts there."""
    items = ",\n" + INDENT * (depth + 1)
    text = "".join(_items_at(depth + 1)(value, 0))[2:-2]  # without "[{" and "}]"
    inner, outer = "\n" + INDENT * (depth + 1), "\n" + INDENT * depth
    between = f"{outer}}},{outer}{{{inner}"
    return f"{{{inner}{text.replace('}' + items + '{', between)}{outer}}}"


def _key(key: Any) -> str:
    """A key as json.dumps writes it: text, a number, a flag or null as the text of its JSON."""
    if isinstance(key, str):
        return encode_basestring(key)
    if key is None or isinstance(key, _SCALARS):
        return encode_basestring(json.dumps(key, allow_nan=False))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _escaped(hidden: re.Match[str]) -> str:
    # Outside its strings JSON is ASCII, so each match is inside a string: escape it there.
    return json.dumps(hidden.group())[1:-1]


def _nothing_hidden(text: str) -> bool:
    """Whether JSON ``text`` holds no character of :data:`words.HIDDEN`, which are all ones
    ``str.isprintable`` refuses; JSON writes the other control characters as escapes, so in
    ASCII text only DEL can be one. Two scans in C spare most reports the regular expression,
    which ran at a fifth of a gigabyte a second over the run's 160 MB of JSON."""
    if text.isascii():
        return "\x7f" not in text
    return text.replace("\n", "").isprintable()


def render(view: Mapping[str, Any], fmt: str, settings: RenderSettings) -> str:
    """A manager's or director's view in one format (``md``, ``html``, ``json`` or ``csv``)."""
    if fmt == "json":
        # Exactly the view; reports/schema/<kind>.schema.json describes it.
        text = json_text(view) + "\n"
        return text if _nothing_hidden(text) else words.HIDDEN.sub(_escaped, text)
    try:
        renderer = _RENDERERS[(view["kind"], fmt)]
    except KeyError:
        raise ValueError(f"no {fmt!r} rendering of a {view['kind']!r} report") from None
    return renderer(view, settings)
