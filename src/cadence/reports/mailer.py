"""Email each manager and director their own report: HTML with a plain-text (Markdown) part.

Settings are the ``[email]`` section (host, port, security ``starttls`` | ``ssl`` | ``none``,
username, ``password_env``, from_addr, subject_prefix, timeout_seconds). The password is read from
the environment variable ``password_env`` names, and never logged. A message goes only to the
person the report is about: the recipient is taken from the view itself, never from a list that
could be shuffled. One SMTP connection serves the whole run; a recipient the server refuses is
recorded and the run goes on, so one bad address does not cost everyone else their report.

A dry run writes each message as an ``.eml`` file (0600) instead of sending it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from types import TracebackType
from typing import Any

from cadence.config import Config, EmailConfig
from cadence.errors import CadenceError, ConfigError
from cadence.reports.words import RenderSettings, iso_week, one_line
from cadence.reports.writer import file_stem, make_private_dir, write_private


def subject(view: Mapping[str, Any], prefix: str, settings: RenderSettings) -> str:
    week = iso_week(view["as_of"], settings)
    what = "Your 1:1s" if view["kind"] == "manager" else "Your org's 1:1 trends"
    return f"{prefix} {what}, week {week}".strip()


def build_message(
    view: Mapping[str, Any],
    texts: Mapping[str, str],
    email: EmailConfig,
    settings: RenderSettings,
) -> EmailMessage:
    """The report as a message to the person it is about: plain text first, HTML preferred."""
    person = view[view["kind"]]
    msg = EmailMessage()
    msg["Subject"] = subject(view, email.subject_prefix, settings)
    msg["From"] = email.from_addr
    # A name from the directory may hold a line break; on one line, formataddr quotes or encodes
    # it, so it can neither add a header nor stop the run.
    msg["To"] = formataddr((one_line(person["name"]), person["email"]))
    msg["Message-ID"] = make_msgid(domain=email.from_addr.rpartition("@")[2] or None)
    msg.set_content(texts["md"], subtype="plain", charset="utf-8")
    msg.add_alternative(texts["html"], subtype="html", charset="utf-8")
    return msg


def _check(config: Config) -> EmailConfig:
    email = config.email
    where = str(config.path) if config.path else "configuration"
    if not email.host:
        raise ConfigError(f"{where}: [email] host is not set: cannot send reports")
    if not email.from_addr:
        raise ConfigError(f"{where}: [email] from_addr is not set")
    return email


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class SmtpOutbox:
    """Sends over one SMTP connection, opened on entry and closed on exit."""

    def __init__(self, config: Config, settings: RenderSettings) -> None:
        self.email = _check(config)
        self.password = (
            config.secret("email", "password_env", self.email.password_env)
            if self.email.username
            else ""
        )
        self.settings = settings
        self.sent: list[str] = []
        self.refused: dict[str, str] = {}
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpOutbox:
        e = self.email
        smtp: smtplib.SMTP | None = None
        try:
            if e.security == "ssl":
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(e.host, e.port, timeout=e.timeout_seconds, context=context)
            else:
                smtp = smtplib.SMTP(e.host, e.port, timeout=e.timeout_seconds)
                if e.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if e.username:
                smtp.login(e.username, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                smtp.close()
            raise CadenceError(
                f"[email] cannot send through {e.host}:{e.port} ({e.security}): {exc}"
            ) from exc
        self._smtp = smtp
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def deliver(self, view: Mapping[str, Any], texts: Mapping[str, str]) -> None:
        assert self._smtp is not None, "use SmtpOutbox as a context manager"
        to = view[view["kind"]]["email"]
        try:
            msg = build_message(view, texts, self.email, self.settings)
        except ValueError as exc:  # an address no message can carry
            self.refused[to] = f"cannot address a message to it: {exc}"
            return
        try:
            self._smtp.send_message(msg, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            self.refused[to] = "; ".join(
                f"{code} {_text(text)}" for code, text in exc.recipients.values()
            )
            return
        except smtplib.SMTPResponseException as exc:
            self.refused[to] = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            return
        self.sent.append(to)


class EmlOutbox:
    """A dry run: each message as ``<folder>/<kind>-<email>.eml``, nothing sent."""

    def __init__(self, config: Config, settings: RenderSettings, folder: Path) -> None:
        self.email = config.email
        if not self.email.from_addr:
            # A dry run needs no server, but the messages still need a sender.
            self.email = replace(self.email, from_addr="cadence@localhost")
        self.settings = settings
        self.folder = folder
        self.sent: list[str] = []
        self.refused: dict[str, str] = {}

    def __enter__(self) -> EmlOutbox:
        make_private_dir(self.folder)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def deliver(self, view: Mapping[str, Any], texts: Mapping[str, str]) -> None:
        person = view[view["kind"]]
        try:
            msg = build_message(view, texts, self.email, self.settings)
        except ValueError as exc:  # as SmtpOutbox: one bad address does not stop the run
            self.refused[person["email"]] = f"cannot address a message to it: {exc}"
            return
        path = self.folder / f"{file_stem(view['kind'], person['email'])}.eml"
        write_private(path, msg.as_string())
        self.sent.append(person["email"])
