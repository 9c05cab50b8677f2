"""Hostile input and careless admins, as the people who run cadence and read its reports meet them.

Files and paths: a week folder, a dry run's ``email/`` or a report file that is a symbolic link
(anyone who can write into ``out_dir`` could otherwise aim a root cron run anywhere), a folder
another user owns, ``--out`` to a link, a FIFO, a device or ``-``, an email too long for a file
name, a full, read-only or forbidden disk. Email headers: display names that would add a
recipient or change one, checked on what a real SMTP server on loopback received. Text that lies
to the eye: terminal escapes, control characters and bidirectional controls in names, in every
format a person reads.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from contextlib import suppress
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_bad_input
from cadence.config import Config
from cadence.errors import ConfigError, UsageError
from cadence.reports.mailer import EmlOutbox, SmtpOutbox
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.reports.writer import write_reports
from reports import test_cli_report, test_mailer
from reports.sample_views import AS_OF, director_view, manager_view, other_manager_view
from reports.test_cli_report import GOLDEN, Invoke
from reports.test_mailer import Inbox, _config

# The fixtures of the tests these extend: the golden org's database and the CLI run in-process,
# the STARTTLS server on loopback, a real 256 KiB tmpfs.
db = test_cli_report.db
cadence = test_cli_report.cadence
smtp = test_mailer.smtp
small_disk = test_bad_input.small_disk

SETTINGS = RenderSettings()
WEEK = "2026-W48"
CLI_AS_OF = "2026-11-23T12:00:00+00:00"  # the golden org's as-of, in week 2026-W48
# A valid email of 252 characters (local part 64, labels of 63): too long for a file name.
LONG = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59
# Another that shares the first 200 characters with LONG.
LONG_TWIN = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "e" * 59


def _manager(email: str, name: str) -> dict[str, Any]:
    view = other_manager_view()
    view["manager"] = {"email": email, "name": name}
    return view


def _write(out: Path, views: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return write_reports(
        views or [director_view(), manager_view()], out, WEEK, AS_OF, ["md", "html"], SETTINGS,
        **kw,
    )  # fmt: skip


def _listing(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry below ``folder``: its mode and content (a link: its target), to compare."""
    found: dict[str, tuple[int, bytes | str]] = {}
    for p in sorted(folder.rglob("*")):
        st_ = p.lstat()
        if p.is_symlink():
            found[str(p)] = (st_.st_mode, os.readlink(p))
        elif p.is_file():
            found[str(p)] = (st_.st_mode, p.read_bytes())
        else:
            found[str(p)] = (st_.st_mode, "")
    return found


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """Where a planted link points: a folder (0755) holding a file someone cares about."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (folder / "passwd").chmod(0o644)
    return folder


def _untouched(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["passwd"]
    assert (folder / "passwd").read_text() == "root:x:0:0::/root:/bin/sh\n"
    assert stat.S_IMODE((folder / "passwd").stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


# --- Files and paths: symbolic links cadence did not make ------------------------------------


def test_report_all_refuses_a_week_folder_that_is_a_symlink(
    db: str, tmp_path: Path, cadence: Invoke, elsewhere: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / WEEK).symlink_to(elsewhere)
    code, _, stderr = cadence(
        "report", "all", "--as-of", CLI_AS_OF, "--out", str(out), "--database-url", db
    )
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert str(out / WEEK) in stderr and "symbolic link" in stderr
    _untouched(elsewhere)
    assert (out / WEEK).is_symlink()


@pytest.mark.parametrize("target", ["folder", "file", "nothing"])
def test_a_linked_week_folder_is_refused_whatever_it_points_at(
    tmp_path: Path, elsewhere: Path, target: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    aim = {"folder": elsewhere, "file": elsewhere / "passwd", "nothing": elsewhere / "new"}[target]
    (out / WEEK).symlink_to(aim)
    with pytest.raises(UsageError, match=re.escape(str(out / WEEK))):
        _write(out)
    _untouched(elsewhere)


def test_a_report_file_that_is_a_symlink_stops_the_run_before_anything_is_written(
    tmp_path: Path, elsewhere: Path
) -> None:
    folder = tmp_path / "out" / WEEK
    folder.mkdir(parents=True)
    link = folder / "manager-ann@acme.test.md"
    link.symlink_to(elsewhere / "passwd")
    before = _listing(tmp_path / "out")
    with pytest.raises(UsageError, match=re.escape(str(link))):
        _write(tmp_path / "out")
    after = _listing(tmp_path / "out")
    # Nothing written, the link left for the admin; the folder itself was made private first, so
    # that no one else could plant a link once it was checked.
    assert after.pop(str(folder))[0] == stat.S_IFDIR | 0o700
    before.pop(str(folder))
    assert after == before
    _untouched(elsewhere)


def test_a_dry_runs_email_folder_that_is_a_symlink_is_refused(
    tmp_path: Path, elsewhere: Path
) -> None:
    folder = tmp_path / "out" / WEEK
    folder.mkdir(parents=True)
    (folder / "email").symlink_to(elsewhere)
    with pytest.raises(UsageError, match=re.escape(str(folder / "email"))):
        with EmlOutbox(Config(), SETTINGS, folder / "email") as outbox:
            _write(tmp_path / "out", outbox=outbox)
    _untouched(elsewhere)
    assert [p.name for p in folder.iterdir()] == ["email"]


def test_a_week_folder_another_user_owns_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the folder to another user")
    folder = tmp_path / "out" / WEEK
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    os.chown(folder, 4321, 4321)  # made by the web server's user, say, ahead of the run
    with pytest.raises(UsageError, match=re.escape(str(folder)) + ".*owned by user id 4321"):
        _write(tmp_path / "out")
    assert list(folder.iterdir()) == []  # they would have read every report
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777


def test_a_week_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / WEEK).write_text("not a folder\n")
    with pytest.raises(UsageError, match=re.escape(str(tmp_path / "out" / WEEK))):
        _write(tmp_path / "out")
    assert (tmp_path / "out" / WEEK).read_text() == "not a folder\n"


def test_an_out_dir_that_is_a_symlink_is_the_admins_choice_and_followed(tmp_path: Path) -> None:
    real = tmp_path / "srv" / "reports"
    real.mkdir(parents=True)
    (tmp_path / "out").symlink_to(real)
    summary = _write(tmp_path / "out")
    assert summary.folder == tmp_path / "out" / WEEK
    names = sorted(p.name for p in (real / WEEK).iterdir())
    assert "manager-ann@acme.test.html" in names and "index.html" in names


# --- Files and paths: --out writes through what the user named --------------------------------


def _director(db: str, cadence: Invoke, out: str) -> tuple[int, str, str]:
    return cadence(
        "report", "director", "dana@acme.test", "--as-of", CLI_AS_OF, "--out", out,
        "--database-url", db,
    )  # fmt: skip


@pytest.mark.parametrize("existing", [True, False])
def test_out_to_a_symlink_writes_the_file_it_names(
    db: str, tmp_path: Path, cadence: Invoke, existing: bool
) -> None:
    target = tmp_path / "shared" / "dana.md"
    target.parent.mkdir()
    if existing:
        target.write_text("last week's\n")
    link = tmp_path / "latest.md"
    link.symlink_to(target)
    code, stdout, stderr = _director(db, cadence, str(link))
    assert code == 0, stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == (GOLDEN / "director-dana@acme.test.md").read_text()
    assert stdout == ""


def test_out_to_a_fifo_writes_into_it(db: str, tmp_path: Path, cadence: Invoke) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as f:  # blocks until cadence opens it for writing
            received.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code, _, stderr = _director(db, cadence, str(fifo))
    reader.join(timeout=20)
    assert code == 0, stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a file"
    assert received == [(GOLDEN / "director-dana@acme.test.md").read_bytes()]


def test_out_to_a_character_device_writes_through_it(
    db: str, tmp_path: Path, cadence: Invoke
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for mknod")
    # A null device of the test's own (major 1, minor 3), so that the test can never replace the
    # machine's /dev/null, whatever the code under test does.
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    code, stdout, stderr = _director(db, cadence, str(null))
    assert code == 0, stderr
    assert stat.S_ISCHR(null.lstat().st_mode), "the device was replaced by a regular file"
    assert stdout == "" and null.read_bytes() == b""


def test_out_dash_is_standard_output(db: str, tmp_path: Path, cadence: Invoke) -> None:
    code, stdout, stderr = _director(db, cadence, "-")
    assert code == 0, stderr
    assert stdout == (GOLDEN / "director-dana@acme.test.md").read_text()
    assert not (tmp_path / "-").exists()


# --- Files and paths: names that fit, errors that say where ----------------------------------


def test_long_emails_get_readable_unique_files_and_the_index_links_them(tmp_path: Path) -> None:
    views = [
        _manager(LONG, "Lou Long"),
        _manager(LONG_TWIN, "Lou Twin"),
        _manager("x/" + LONG[2:], "Lou Slash"),  # long and unsafe
        manager_view(),  # after them: still gets a report
    ]
    folder = tmp_path / "out" / WEEK
    with EmlOutbox(Config(), SETTINGS, folder / "email") as outbox:
        summary = write_reports(
            views, tmp_path / "out", WEEK, AS_OF, ["md", "html", "json", "csv"], SETTINGS, outbox
        )
    assert [w.email for w in summary.written] == [LONG, LONG_TWIN, "x/" + LONG[2:], "ann@acme.test"]
    names = []
    for w in summary.written:
        assert sorted(w.files) == ["csv", "html", "json", "md"]
        for path in w.files.values():
            assert path.parent == folder and path.is_file()
            assert len(path.name.encode()) <= 255
            names.append(path.name)
    assert len(set(names)) == len(names)  # the twins do not share a file
    assert all(n.startswith("manager-aaaaaaaaaaaaaaaa") for n in names[:8])  # still readable
    on_disk = {p.name for p in folder.iterdir() if p.is_file()} - {"index.html", "index.md"}
    index = (folder / "index.html").read_text()
    hrefs = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', index)}
    assert hrefs == on_disk == set(names)
    md_links = set(re.findall(r"\]\(<([^>]+)>\)", (folder / "index.md").read_text()))
    assert md_links == on_disk
    emails = sorted(p.name for p in (folder / "email").iterdir())
    assert len(emails) == 4 and all(len(n.encode()) <= 255 for n in emails)
    assert outbox.refused == {}


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as f, suppress(OSError):
        while f.write(b"\0" * 4096):
            pass


def test_a_full_disk_names_the_report_folder(db: str, small_disk: Path, cadence: Invoke) -> None:
    out = small_disk / "reports"
    (out / WEEK).mkdir(parents=True)
    _fill(small_disk)
    code, _, stderr = cadence(
        "report", "all", "--as-of", CLI_AS_OF, "--format", "html", "--out", str(out),
        "--database-url", db,
    )  # fmt: skip
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert "No space left on device" in stderr and str(out / WEEK) in stderr
    assert [p.name for p in small_disk.rglob("*.tmp")] == []


def test_a_read_only_disk_names_the_report_folder(
    db: str, small_disk: Path, cadence: Invoke
) -> None:
    out = small_disk / "reports"
    (out / WEEK).mkdir(parents=True)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, _, stderr = cadence(
        "report", "all", "--as-of", CLI_AS_OF, "--out", str(out), "--database-url", db
    )
    assert code == 1
    assert "Read-only file system" in stderr and str(out / WEEK) in stderr
    assert "Traceback" not in stderr


def _as_another_user(run: Any) -> list[str | None]:
    """``run()`` in a forked child with nobody's user id (root may write anywhere): the filename
    and reason of the disk error it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                run()
                result: list[str | None] = [None, None]
            except OSError as exc:
                result = [exc.filename, exc.strerror]
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return list(json.loads(data))


def test_permission_denied_names_the_report_folder() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    shared = Path(tempfile.mkdtemp(prefix="cadence-hostile-"))
    try:
        shared.chmod(0o755)
        out = shared / "reports"
        out.mkdir(mode=0o755)  # root's: the service user may read it, not write into it
        filename, reason = _as_another_user(lambda: _write(out))
        assert reason == "Permission denied" and str(out / WEEK) in (filename or "")
    finally:
        shutil.rmtree(shared)


# --- Email headers: one name of one recipient ------------------------------------------------

ZOE = "zoe@acme.test"
LONG_ASCII = " ".join(["Smith, Ann"] * 25)
LONG_ACCENTS = " ".join(["Dubois, Zoë"] * 12)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Dubois, Zoë", "Dubois, Zoë"),
        ("Zoë, boss@attacker.test", "Zoë, boss@attacker.test"),
        ("Zoë; boss@attacker.test", "Zoë; boss@attacker.test"),
        ('Zoë "the boss" Dubois', 'Zoë "the boss" Dubois'),
        ("Zoë <boss@attacker.test>", "Zoë <boss@attacker.test>"),
        ("Dubois, Ann <boss@attacker.test>", "Dubois, Ann <boss@attacker.test>"),
        ("zoe@home.test", "zoe@home.test"),
        ("山田, 太郎", "山田, 太郎"),
        # Text shaped as an RFC 2047 encoded word would be decoded into another address.
        ("=?utf-8?q?boss=40attacker.test?=", "= ?utf-8?q?boss=40attacker.test?="),
        ("=?utf-8?b?Ym9zc0BhdHRhY2tlci50ZXN0?=, Zoë", "= ?utf-8?b?Ym9zc0BhdHRhY2tlci50ZXN0?=, Zoë"),
        (LONG_ASCII, LONG_ASCII),
        (LONG_ACCENTS, LONG_ACCENTS),
        # Longer than a header line may be: the library would fold it into a list of addresses,
        # so the message goes to the bare address.
        (" ".join(["Smith, Ann"] * 100), ""),
        ("Zoë\r\nBcc: boss@attacker.test", "Zoë Bcc: boss@attacker.test"),
        ("Zoë\u202e, boss@attacker.test", "Zoë\ufffd, boss@attacker.test"),
    ],
    ids=[
        "comma", "comma-address", "semicolon", "quotes", "angle-brackets", "ascii-angle",
        "at-sign", "cjk", "encoded-word", "encoded-word-b", "long-ascii", "long-non-ascii",
        "longer-than-a-line",
        "crlf", "bidi",
    ],
)  # fmt: skip
def test_a_display_name_is_one_name_of_one_recipient(
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    shown: str,
) -> None:
    inbox, port = smtp
    with SmtpOutbox(_config(port, monkeypatch), SETTINGS) as outbox:
        write_reports([_manager(ZOE, name)], tmp_path, WEEK, AS_OF, ["md"], SETTINGS, outbox)
    assert outbox.refused == {}
    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == [ZOE]
    msg = BytesParser(policy=default).parsebytes(envelope.original_content or b"")
    to = msg["To"].addresses  # what a mail program shows, and what reply-all answers
    assert [(a.addr_spec, a.display_name) for a in to] == [(ZOE, shown)]
    assert msg["Cc"] is None and msg["Bcc"] is None and msg["Reply-To"] is None
    assert all(len(line) <= 998 for line in (envelope.original_content or b"").splitlines())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list(',;:"<>@()[]\\.=? _aZë日\r\n\u202e')), max_size=120))
def test_no_display_name_adds_or_changes_a_recipient(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        eml = Path(folder) / WEEK / "email"
        with EmlOutbox(Config(), SETTINGS, eml) as outbox:
            outbox.deliver(_manager(ZOE, name), {"md": "hi\n", "html": "<p>hi</p>\n"})
        (message,) = eml.iterdir()
        msg = BytesParser(policy=default).parsebytes(message.read_bytes())
    assert [a.addr_spec for a in msg["To"].addresses] == [ZOE]


def test_a_from_address_with_a_name_is_one_sender(
    smtp: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    config = _config(port, monkeypatch, from_addr='"Cadence, reports" <cadence@acme.test>')
    with SmtpOutbox(config, SETTINGS) as outbox:
        write_reports([manager_view()], tmp_path, WEEK, AS_OF, ["md"], SETTINGS, outbox)
    (envelope,) = inbox.envelopes
    msg = BytesParser(policy=default).parsebytes(envelope.original_content or b"")
    sender = msg["From"].addresses
    assert [(a.addr_spec, a.display_name) for a in sender] == [
        ("cadence@acme.test", "Cadence, reports")
    ]
    assert re.fullmatch(r"<[^<>@]+@acme\.test>", msg["Message-ID"])


@pytest.mark.parametrize(
    "from_addr",
    [
        "cadence@acme.test\r\nBcc: boss@attacker.test",
        "a@acme.test, b@acme.test",
        "Cadence, reports <cadence@acme.test>",  # unquoted: two addresses
        "cadence",
    ],
)
def test_a_from_address_that_is_not_one_address_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, from_addr: str
) -> None:
    with pytest.raises(ConfigError, match=r"\[email\] from_addr"):
        SmtpOutbox(_config(25, monkeypatch, from_addr=from_addr), SETTINGS)


# --- Text that lies to the eye ---------------------------------------------------------------

HIDDEN = {
    "escape-sequence": "\x1b[2J\x1b]0;owned\x07",
    "bell": "\x07",
    "backspace": "\b\b\b",
    "nul": "\x00",
    "c1-csi": "\x9b31m",
    "del": "\x7f",
    "rlo": "\u202e",
    "embeddings": "\u202a\u202b\u202c\u202d",
    "isolates": "\u2066\u2067\u2068\u2069",
    "marks": "\u200e\u200f",
    "arabic-letter-mark": "\u061c",
    "zero-width-space": "\u200b",
    "byte-order-mark": "\ufeff",
    "tags": "\U000e0041\U000e0042",
}


def _hidden(text: str, variant: str) -> list[str]:
    """The variant's unprintable characters (not an escape sequence's letters) left in ``text``."""
    return [ch for ch in dict.fromkeys(HIDDEN[variant]) if not ch.isprintable() and ch in text]


def _hostile_view(variant: str) -> dict[str, Any]:
    view = manager_view()
    view["manager"]["name"] = f"Ann{HIDDEN[variant]}Archer"
    for e in view["reports"]:
        if e["email"] == "bob@acme.test":
            e["name"] = f"Bob{HIDDEN[variant]}Baker"
            e["email"] = f"bob{HIDDEN[variant]}@acme.test"
    return view


@pytest.mark.parametrize("fmt", ["md", "html", "csv"])
@pytest.mark.parametrize("variant", list(HIDDEN))
def test_hidden_characters_show_as_a_replacement_mark(fmt: str, variant: str) -> None:
    text = render(_hostile_view(variant), fmt, SETTINGS)
    assert _hidden(text, variant) == []
    assert "Bob\ufffd" in text and "Baker" in text
    if fmt != "csv":  # the CSV carries the reports, not the manager's name
        assert "Ann\ufffd" in text


@pytest.mark.parametrize("variant", list(HIDDEN))
def test_json_escapes_them_and_keeps_the_exact_name(variant: str) -> None:
    view = _hostile_view(variant)
    text = render(view, "json", SETTINGS)
    assert _hidden(text, variant) == []
    assert json.loads(text) == view


def test_a_director_report_and_its_charts_show_them_too() -> None:
    view = director_view()
    view["director"]["name"] = "Dana\u202e\x1b[31mDiaz"
    view["sub_orgs"][0]["label"] = "Ann\u2066Archer"
    view["managers"][0]["manager"]["name"] = "Ann\u200bArcher"
    for fmt in ("md", "html", "csv"):
        text = render(view, fmt, SETTINGS)
        assert not {"\u202e", "\x1b", "\u2066", "\u200b"} & set(text), fmt
    page = render(view, "html", SETTINGS)
    assert "<title>Weekly cancellation rate, org of Dana\ufffd\ufffd[31mDiaz</title>" in page


def test_the_index_and_the_email_show_them_too(tmp_path: Path) -> None:
    view = _hostile_view("rlo")
    folder = tmp_path / WEEK
    with EmlOutbox(Config(), SETTINGS, folder / "email") as outbox:
        write_reports([view], tmp_path, WEEK, AS_OF, ["md"], SETTINGS, outbox)
    for index in ("index.md", "index.html"):
        text = (folder / index).read_text()
        assert "\u202e" not in text and "Ann\ufffdArcher" in text
    (eml,) = (folder / "email").iterdir()
    msg = BytesParser(policy=default).parsebytes(eml.read_bytes())
    assert [a.display_name for a in msg["To"].addresses] == ["Ann\ufffdArcher"]
    for part in ("plain", "html"):
        body = msg.get_body(preferencelist=(part,))
        assert body is not None
        content = body.get_content()
        assert "\u202e" not in content and "Bob\ufffdBaker" in content


def test_existing_escaping_still_holds_around_them() -> None:
    view = manager_view()
    names = {
        "eve@acme.test": "<img src=x onerror=alert(1)>\u202e",
        "finn@acme.test": '=HYPERLINK("http://x")\u202e',
        "gus@acme.test": "\u202e=1+2",
        "cleo@acme.test": "\ufeff@SUM(A1)",
    }
    for e in view["reports"]:
        e["name"] = names.get(e["email"], e["name"])
    page = render(view, "html", SETTINGS)
    assert "&lt;img src=x onerror=alert(1)&gt;\ufffd" in page and "<img" not in page
    rows = list(csv.reader(io.StringIO(render(view, "csv", SETTINGS))))
    cells = {r[3]: r[4] for r in rows[1:]}
    assert cells["finn@acme.test"] == '\'=HYPERLINK("http://x")\ufffd'
    assert cells["gus@acme.test"] == "\ufffd=1+2"  # no longer a formula, and not hidden either
    assert cells["cleo@acme.test"] == "\ufffd@SUM(A1)"


def test_names_that_differ_only_by_a_hidden_character_still_look_different() -> None:
    view = manager_view()
    for e in view["reports"]:
        if e["email"] == "gus@acme.test":
            e["name"] = "Bob\u200bBaker"  # posing as Bob Baker
    text = render(view, "md", SETTINGS)
    assert "### Bob Baker:" in text and "### Bob\ufffdBaker:" in text


def test_line_breaks_in_a_name_are_still_spaces() -> None:
    view = manager_view()
    view["manager"]["name"] = "Ann\r\n# Archer\tSmith"
    text = render(view, "md", SETTINGS)
    assert text.startswith("# 1:1 health for Ann # Archer Smith, week")
