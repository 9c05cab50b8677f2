"""``report all``: every manager's and director's report into ``out_dir/<ISO week>/``.

Reports hold people's names and how their 1:1s go, so folders are created 0700 and files 0600
(whatever the umask), and each file is written to a temporary name in its folder and renamed into
place: a reader (a web server, a sync job) never sees half a report, and a failed run leaves the
previous complete file. Each view is rendered once per format and, when mailing, handed to the
outbox with the same text, so nothing is rendered twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cadence.reports import words
from cadence.reports.html import index_html
from cadence.reports.markdown import md
from cadence.reports.render import render
from cadence.reports.words import RenderSettings

DIR_MODE = 0o700
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class Outbox(Protocol):
    """Where each person's report goes by email (SMTP, or .eml files in a dry run)."""

    def deliver(self, view: Mapping[str, Any], texts: Mapping[str, str]) -> None: ...


@dataclass
class Written:
    """One person's report in one run: who, which kind, and its file per format."""

    kind: str
    email: str
    name: str
    files: dict[str, Path] = field(default_factory=dict)


@dataclass
class RunSummary:
    folder: Path
    written: list[Written]

    @property
    def file_count(self) -> int:
        return sum(len(w.files) for w in self.written)


def file_stem(kind: str, email: str) -> str:
    """``manager-ann@acme.test``: readable, and safe as a file name whatever the email holds.

    An email with characters a file name should not carry (``/``, spaces, control characters) is
    cleaned and given a short hash, so two such emails never share a file.
    """
    safe = _UNSAFE.sub("_", email).lstrip(".") or "_"
    if safe != email:
        safe += "-" + hashlib.sha256(email.encode()).hexdigest()[:8]
    return f"{kind}-{safe}"


def make_private_dir(path: Path) -> Path:
    """A folder readable only by the owner, with any missing parents made the same way.

    Parents that already exist keep their modes (an operator may share ``out_dir`` with a web
    server's group on purpose); the folder itself is always set to 0700.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(p, DIR_MODE)  # mkdir's mode is cut by the umask
    os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable only by the owner."""
    # mkstemp creates the file 0600 whatever the umask, and the rename keeps that mode.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(
    views: Iterable[Mapping[str, Any]],
    out_dir: Path,
    week: str,
    as_of: str,
    formats: Sequence[str],
    settings: RenderSettings,
    outbox: Outbox | None = None,
    progress: Callable[[Written], None] | None = None,
) -> RunSummary:
    """Render and write every view; with an ``outbox``, also hand each person their report.

    Mail needs the HTML and plain-text (Markdown) renderings whatever ``formats`` says; they are
    rendered once and shared with the files.
    """
    folder = make_private_dir(out_dir / week)
    wanted = list(dict.fromkeys(formats))
    needed = list(dict.fromkeys(wanted + (["html", "md"] if outbox else [])))
    written = []
    for view in views:
        kind = view["kind"]
        person = view[kind]
        texts = {fmt: render(view, fmt, settings) for fmt in needed}
        entry = Written(kind, person["email"], person["name"])
        stem = file_stem(kind, person["email"])
        for fmt in wanted:
            path = folder / f"{stem}.{fmt}"
            write_private(path, texts[fmt])
            entry.files[fmt] = path
        if outbox is not None:
            outbox.deliver(view, texts)
        written.append(entry)
        if progress:
            progress(entry)
    summary = RunSummary(folder, written)
    _write_index(summary, week, words.fmt_as_of(as_of, settings))
    return summary


def _index_rows(written: Iterable[Written], kind: str) -> list[dict[str, Any]]:
    rows = [w for w in written if w.kind == kind]
    rows.sort(key=lambda w: (w.name.casefold(), w.email))
    return [
        {"name": w.name, "email": w.email, "files": [(f, p.name) for f, p in w.files.items()]}
        for w in rows
    ]


def _write_index(summary: RunSummary, week: str, as_of: str) -> None:
    """``index.html`` and ``index.md``: who has a report this week, with links to the files."""
    managers = _index_rows(summary.written, "manager")
    directors = _index_rows(summary.written, "director")
    write_private(summary.folder / "index.html", index_html(week, as_of, managers, directors))
    lines = [f"# cadence reports, week {week}", "", f"As of {as_of}.", ""]
    for title, rows in (("Directors", directors), ("Managers", managers)):
        if not rows:
            continue
        lines += [f"## {title}", ""]
        for r in rows:
            links = " · ".join(f"[{fmt}](<{name}>)" for fmt, name in r["files"])
            lines.append(f"- {md(r['name'])} ({md(r['email'])}): {links}")
        lines.append("")
    write_private(summary.folder / "index.md", "\n".join(lines).rstrip() + "\n")
