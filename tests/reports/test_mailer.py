"""Email through a real SMTP server on loopback (aiosmtpd): each person gets only their report."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from cadence.config import Config, EmailConfig
from cadence.errors import CadenceError, ConfigError
from cadence.reports.mailer import EmlOutbox, SmtpOutbox
from cadence.reports.words import RenderSettings
from cadence.reports.writer import write_reports
from cadence.sandbox.tls import make_tls
from reports.sample_views import AS_OF, director_view, manager_view, other_manager_view

SETTINGS = RenderSettings()
VIEWS = [director_view(), manager_view(), other_manager_view()]
# Who each report is about, and names that only that report may carry.
OWN = {
    "dana@acme.test": {"Dana Diaz"},
    "ann@acme.test": {"Bob Baker", "Gus Green"},
    "hal@acme.test": {"Ivy Ives", "Jon Jones"},
}


@dataclass
class Inbox:
    envelopes: list[Envelope] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return [
            (
                list(e.rcpt_tos),
                email.message_from_bytes(e.original_content or b"", policy=default),  # type: ignore[misc]
            )
            for e in self.envelopes
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
        b"cadence",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """A STARTTLS server with login, trusting a throwaway CA the way the system store would."""
    tls = make_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls.server_context(),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _config(port: int, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Config:
    monkeypatch.setenv("CADENCE_TEST_SMTP_PASSWORD", "s3cret")
    settings = EmailConfig(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="cadence",
        password_env="CADENCE_TEST_SMTP_PASSWORD",
        from_addr="cadence@acme.test",
        timeout_seconds=10,
    )
    return Config(email=replace(settings, **kw))


def _text_and_html(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_each_person_gets_their_own_report_only(
    smtp: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    config = _config(port, monkeypatch)
    with SmtpOutbox(config, SETTINGS) as outbox:
        write_reports(VIEWS, tmp_path, "2026-W48", AS_OF, ["md"], SETTINGS, outbox)
    received = inbox.messages()
    assert sorted(r[0][0] for r in received) == sorted(OWN)
    for rcpt, msg in received:
        (to,) = rcpt
        assert msg["To"].addresses[0].addr_spec == to
        assert msg["From"] == "cadence@acme.test"
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = _text_and_html(msg)
        assert html.lstrip().startswith("<!doctype html>")
        kind = "director" if to == "dana@acme.test" else "manager"
        expected = "Your org's 1:1 trends" if kind == "director" else "Your 1:1s"
        assert msg["Subject"] == f"[cadence] {expected}, week 2026-W48"
        for other, names in OWN.items():
            for name in names:
                if other == to:
                    assert name in plain and name in html, (to, name)
                else:
                    assert name not in plain and name not in html, (to, name)


def test_refused_recipient_is_reported_and_the_rest_still_sent(
    smtp: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    inbox.refuse.add("ann@acme.test")
    with SmtpOutbox(_config(port, monkeypatch), SETTINGS) as outbox:
        write_reports(VIEWS, tmp_path, "2026-W48", AS_OF, ["md"], SETTINGS, outbox)
    assert set(outbox.refused) == {"ann@acme.test"} and "550" in outbox.refused["ann@acme.test"]
    assert sorted(r[0][0] for r in inbox.messages()) == ["dana@acme.test", "hal@acme.test"]


def test_wrong_password_fails_without_showing_it(
    smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = smtp
    config = _config(port, monkeypatch)
    monkeypatch.setenv("CADENCE_TEST_SMTP_PASSWORD", "wrong-pass")
    with pytest.raises(CadenceError, match=r"cannot send through 127\.0\.0\.1") as info:
        SmtpOutbox(config, SETTINGS).__enter__()
    assert "wrong-pass" not in str(info.value)


def test_missing_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"\[email\] host is not set"):
        SmtpOutbox(Config(), SETTINGS)
    config = _config(25, monkeypatch, password_env="CADENCE_TEST_UNSET_VARIABLE")
    with pytest.raises(ConfigError, match="CADENCE_TEST_UNSET_VARIABLE"):
        SmtpOutbox(config, SETTINGS)


def test_dry_run_writes_eml_files(tmp_path: Path) -> None:
    folder = tmp_path / "2026-W48" / "email"
    with EmlOutbox(Config(), SETTINGS, folder) as outbox:
        write_reports(VIEWS, tmp_path, "2026-W48", AS_OF, ["md"], SETTINGS, outbox)
    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        "director-dana@acme.test.eml",
        "manager-ann@acme.test.eml",
        "manager-hal@acme.test.eml",
    ]
    msg = email.message_from_bytes(
        (folder / "manager-hal@acme.test.eml").read_bytes(), policy=default
    )
    assert msg["To"].addresses[0].addr_spec == "hal@acme.test"
    plain, html = _text_and_html(msg)  # type: ignore[arg-type]
    assert "Ivy Ives" in plain and "Ivy Ives" in html and "Bob Baker" not in html
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_a_name_with_a_line_break_adds_no_header(
    smtp: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    hostile = other_manager_view()
    hostile["manager"]["name"] = "Hal\r\nBcc: eve@evil.test"
    broken = manager_view()
    broken["manager"]["email"] = "ann@acme.test\r\nBcc: eve@evil.test"
    with SmtpOutbox(_config(port, monkeypatch), SETTINGS) as outbox:
        write_reports([hostile, broken], tmp_path, "2026-W48", AS_OF, ["md"], SETTINGS, outbox)
    ((rcpt, msg),) = inbox.messages()  # the broken address is refused, the other still sent
    assert rcpt == ["hal@acme.test"]
    assert msg["Bcc"] is None
    # The would-be header is now only words inside the quoted display name.
    assert [a.addr_spec for a in msg["To"].addresses] == ["hal@acme.test"]
    assert list(outbox.refused) == ["ann@acme.test\r\nBcc: eve@evil.test"]
