"""``report all``: every manager's and director's report into ``out_dir/<ISO week>/``.

Reports hold people's names and how their 1:1s go, so folders are created 0700 and files 0600
(whatever the umask), and each file is written to a temporary name in its folder and renamed into
place: a reader (a web server, a sync job) never sees half a report, and a failed run leaves the
previous complete file. Each view is rendered once per format and, when mailing, handed to the
outbox with the same text, so nothing is rendered twice.

``out_dir`` and the folders above it are the administrator's: they are followed as configured, a
symbolic link included. The week's folder (and a dry run's ``email/`` in it) is cadence's own, and
whoever can write into ``out_dir`` (a web server's group, say) must not be able to aim a root cron
run anywhere else: that folder is opened without following a symbolic link, and a link, a folder
another user owns or a symbolic link inside it is refused before anything is written. Every file
is then written through the open folder, as a new temporary file (``O_EXCL | O_NOFOLLOW``)
renamed over the old one, so nothing is ever written through a link, even one swapped in during
the run. A report named with ``--out`` is the user's own path and is written through whatever it
names (:func:`write_private`). Every disk error names the file it happened at.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from cadence.errors import UsageError
from cadence.reports import words
from cadence.reports.html import index_html
from cadence.reports.markdown import md
from cadence.reports.render import render
from cadence.reports.words import RenderSettings

DIR_MODE = 0o700
FILE_MODE = 0o600
# Bytes in one file name on ext4, XFS, Btrfs, ZFS and tmpfs.
NAME_MAX = 255
# A report's file name is its stem and at most ".html": this keeps it well inside NAME_MAX, and
# still readable in a listing, whatever the email (RFC 5321 allows 254 characters).
STEM_MAX = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


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

    An email with characters a file name should not carry (``/``, spaces, control characters), or
    too long for :data:`STEM_MAX`, is cleaned, cut and given a short hash of the whole email, so
    two such emails never share a file and every name fits the file system.
    """
    safe = _UNSAFE.sub("_", email).lstrip(".") or "_"
    stem = f"{kind}-{safe}"
    if safe == email and len(stem) <= STEM_MAX:
        return stem
    digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem[: STEM_MAX - len(digest) - 1]}-{digest}"


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Disk errors name ``path``: "No space left on device" alone does not say which disk."""
    try:
        yield
    except OSError as exc:
        if exc.filename == str(path):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


@dataclass
class ReportFolder:
    """A folder of cadence's own, held open: its files are written through ``fd``, so a link
    swapped in for the folder once it was checked changes nothing. ``path`` is for messages."""

    path: Path
    fd: int

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> ReportFolder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_report_folder(base: Path, *names: str) -> ReportFolder:
    """``base/<names...>``, made where missing: ``base`` is the administrator's ``out_dir``,
    followed as configured (missing folders up to it are made 0700, existing ones keep their
    mode); each of ``names`` is a folder of cadence's own, made or checked by :func:`_own_folder`.
    """
    missing = [p for p in (base, *base.parents) if not p.exists()]
    for p in reversed(missing):
        with _naming(p):
            p.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(p, DIR_MODE)  # mkdir's mode is cut by the umask
    with _naming(base):
        fd = os.open(base, _FOLDER)
    path = base
    try:
        for name in names:
            path = path / name
            child = _own_folder(fd, name, path)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return ReportFolder(path, fd)


def _own_folder(parent: int, name: str, path: Path) -> int:
    """The folder ``name`` in ``parent``, made 0700 if missing, as an open descriptor.

    Refused (a :class:`UsageError` naming the path, nothing written): a symbolic link or anything
    else that is not a folder; a folder another user owns (they could read the reports, or plant
    links after this check); a folder holding a symbolic link, which cadence never makes.
    """
    with _naming(path):
        with suppress(FileExistsError):
            os.mkdir(name, DIR_MODE, dir_fd=parent)
        try:
            fd = os.open(name, _FOLDER | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            kind = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
            if stat.S_ISLNK(kind):
                raise _link_refused(path, os.readlink(name, dir_fd=parent)) from None
            raise UsageError(
                f"{path}: not a folder, and cadence writes reports into it: move it away"
            ) from None
    try:
        owner, me = os.fstat(fd).st_uid, os.geteuid()
        if owner != me:
            raise UsageError(
                f"{path}: owned by user id {owner}, not by the user cadence runs as ({me}):"
                " cadence writes reports only into a folder of its own; remove it or chown it"
            )
        with _naming(path):
            os.fchmod(fd, DIR_MODE)
            with os.scandir(fd) as entries:
                link = next((e for e in entries if e.is_symlink()), None)
            if link is not None:
                raise _link_refused(path / link.name, os.readlink(link.name, dir_fd=fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _link_refused(path: Path, target: str) -> UsageError:
    # Whoever planted the link chose its name and target: show them as the reports show text.
    return UsageError(
        words.one_line(
            f"{path}: a symbolic link (to {target}), which cadence did not make and does not"
            " follow: remove it"
        )
    )


def _temp_name(name: str) -> str:
    """A new hidden name beside ``name`` for its temporary file, within :data:`NAME_MAX`."""
    token = secrets.token_hex(4)
    room = NAME_MAX - len(f"..{token}.tmp")
    return f".{os.fsdecode(os.fsencode(name)[:room])}.{token}.tmp"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _replace(folder: int, name: str, data: bytes, path: Path) -> None:
    """``data`` as ``name`` in the open ``folder``: a new 0600 temporary file, renamed over the
    old one (a rename replaces a link; it never writes through it)."""
    temp = _temp_name(name)
    with _naming(path):
        fd = os.open(temp, _NEW, FILE_MODE, dir_fd=folder)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # the umask may have cut the mode; it never widens it
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise


def write_private(path: Path, text: str | bytes, folder: ReportFolder | None = None) -> None:
    """Write ``text`` (UTF-8, or bytes as they are: a Parquet file) to ``path``, readable only
    by the owner; a reader never sees half of it.

    In a folder of cadence's own (``folder``, which ``path`` is in) nothing is followed: see
    :func:`_replace`. Otherwise ``path`` is one a user named (``--out``), written through as a
    shell's ``>`` would: a symbolic link to what it names; a FIFO or a device (``/dev/null``, a
    terminal) straight into it, keeping the node; a regular or new file atomically.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if folder is not None:
        if path.parent != folder.path:
            raise ValueError(f"{path} is not in {folder.path}")
        _replace(folder.fd, path.name, data, path)
        return
    with _naming(path):
        try:
            mode: int | None = path.stat().st_mode
        except FileNotFoundError:  # new, or a link to a file still to be made
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            return
        target = Path(os.path.realpath(path))
        parent = os.open(target.parent, _FOLDER)
    try:
        _replace(parent, target.name, data, path)
    finally:
        os.close(parent)


def write_reports(
    views: Iterable[Mapping[str, Any]],
    out_dir: Path,
    week: str,
    as_of: str,
    formats: Sequence[str],
    settings: RenderSettings,
    outbox: Outbox | None = None,
    progress: Callable[[Written], None] | None = None,
    keep_json: Callable[[Mapping[str, Any], str], None] | None = None,
) -> RunSummary:
    """Render and write every view into ``out_dir/<week>/``, then the folder's index (see
    :func:`write_views` for ``outbox``, ``progress`` and ``keep_json``)."""
    with open_report_folder(out_dir, week) as folder:
        written = write_views(views, folder, formats, settings, outbox, progress, keep_json)
        return write_index(folder, written, week, as_of, settings)


def write_views(
    views: Iterable[Mapping[str, Any]],
    folder: ReportFolder,
    formats: Sequence[str],
    settings: RenderSettings,
    outbox: Outbox | None = None,
    progress: Callable[[Written], None] | None = None,
    keep_json: Callable[[Mapping[str, Any], str], None] | None = None,
) -> list[Written]:
    """Render and write each view into the open ``folder``; with an ``outbox``, also hand each
    person their report; with ``keep_json``, hand it each view with its JSON (the web app's
    saved figures). Several processes may write their share of a run's views into one folder.

    Mail needs the HTML and plain-text (Markdown) renderings whatever ``formats`` says, and
    ``keep_json`` the JSON; each is rendered once and shared with the files.
    """
    wanted = list(dict.fromkeys(formats))
    extra = (["html", "md"] if outbox else []) + (["json"] if keep_json else [])
    needed = list(dict.fromkeys(wanted + extra))
    written = []
    for view in views:
        kind = view["kind"]
        person = view[kind]
        texts = {fmt: render(view, fmt, settings) for fmt in needed}
        entry = Written(kind, person["email"], person["name"])
        stem = file_stem(kind, person["email"])
        for fmt in wanted:
            path = folder.path / f"{stem}.{fmt}"
            write_private(path, texts[fmt], folder)
            entry.files[fmt] = path
        if outbox is not None:
            outbox.deliver(view, texts)
        if keep_json is not None:
            keep_json(view, texts["json"])
        written.append(entry)
        if progress:
            progress(entry)
    return written


def write_index(
    folder: ReportFolder, written: list[Written], week: str, as_of: str, settings: RenderSettings
) -> RunSummary:
    """The run's summary, once every view is written, and the folder's index of them."""
    summary = RunSummary(folder.path, written)
    _write_index(summary, folder, week, words.fmt_as_of(as_of, settings))
    return summary


def _index_rows(written: Iterable[Written], kind: str) -> list[dict[str, Any]]:
    rows = [w for w in written if w.kind == kind]
    rows.sort(key=lambda w: (w.name.casefold(), w.email))
    return [
        {"name": w.name, "email": w.email, "files": [(f, p.name) for f, p in w.files.items()]}
        for w in rows
    ]


def _write_index(summary: RunSummary, folder: ReportFolder, week: str, as_of: str) -> None:
    """``index.html`` and ``index.md``: who has a report this week, with links to the files."""
    managers = _index_rows(summary.written, "manager")
    directors = _index_rows(summary.written, "director")
    html = index_html(week, as_of, managers, directors)
    write_private(folder.path / "index.html", html, folder)
    lines = [f"# cadence reports, week {week}", "", f"As of {as_of}.", ""]
    for title, rows in (("Directors", directors), ("Managers", managers)):
        if not rows:
            continue
        lines += [f"## {title}", ""]
        for r in rows:
            links = " · ".join(f"[{fmt}](<{name}>)" for fmt, name in r["files"])
            lines.append(f"- {md(r['name'])} ({md(r['email'])}): {links}")
        lines.append("")
    write_private(folder.path / "index.md", "\n".join(lines).rstrip() + "\n", folder)
