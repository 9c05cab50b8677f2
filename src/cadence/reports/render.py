"""One entry point from a view to text: :func:`render` picks the format's renderer."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cadence.reports import csvfile, html, markdown
from cadence.reports.words import RenderSettings

_RENDERERS: dict[tuple[str, str], Callable[[Mapping[str, Any], RenderSettings], str]] = {
    ("manager", "md"): markdown.manager_markdown,
    ("director", "md"): markdown.director_markdown,
    ("manager", "html"): html.manager_html,
    ("director", "html"): html.director_html,
    ("manager", "csv"): lambda view, _settings: csvfile.manager_csv(view),
    ("director", "csv"): lambda view, _settings: csvfile.director_csv(view),
}


def render(view: Mapping[str, Any], fmt: str, settings: RenderSettings) -> str:
    """A manager's or director's view in one format (``md``, ``html``, ``json`` or ``csv``)."""
    if fmt == "json":
        # Exactly the view; reports/schema/<kind>.schema.json describes it.
        return json.dumps(view, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        renderer = _RENDERERS[(view["kind"], fmt)]
    except KeyError:
        raise ValueError(f"no {fmt!r} rendering of a {view['kind']!r} report") from None
    return renderer(view, settings)
