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
import io
import json
import re
import tempfile
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.config import Config
from cadence.errors import ConfigError
from cadence.reports.mailer import EmlOutbox, SmtpOutbox
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.reports.writer import write_reports
from reports import test_mailer
from reports.sample_views import AS_OF, director_view, manager_view, other_manager_view
from reports.test_mailer import Inbox, _config

# The STARTTLS server on loopback of the mailer's tests.
smtp = test_mailer.smtp

SETTINGS = RenderSettings()
WEEK = "2026-W48"


def _manager(email: str, name: str) -> dict[str, Any]:
    view = other_manager_view()
    view["manager"] = {"email": email, "name": name}
    return view


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
