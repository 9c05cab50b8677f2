"""One entry point from a view to text: :func:`render` picks the format's renderer.

JSON is for programs and stays exactly the view; what :func:`words.visible` would hide from a
reader is written as a ``\\uXXXX`` escape, so the parsed value is unchanged while the text on a
terminal or in an editor carries no control or bidirectional character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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


def _escaped(hidden: re.Match[str]) -> str:
    # Outside its strings JSON is ASCII, so each match is inside a string: escape it there.
    return json.dumps(hidden.group())[1:-1]


def render(view: Mapping[str, Any], fmt: str, settings: RenderSettings) -> str:
    """A manager's or director's view in one format (``md``, ``html``, ``json`` or ``csv``)."""
    if fmt == "json":
        # Exactly the view; reports/schema/<kind>.schema.json describes it.
        text = json.dumps(view, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        return words.HIDDEN.sub(_escaped, text)
    try:
        renderer = _RENDERERS[(view["kind"], fmt)]
    except KeyError:
        raise ValueError(f"no {fmt!r} rendering of a {view['kind']!r} report") from None
    return renderer(view, settings)
