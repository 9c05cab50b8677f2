"""Email each manager and director their own report: HTML with a plain-text (Markdown) part.

Settings are the ``[email]`` section (host, port, security ``starttls`` | ``ssl`` | ``none``,
username, ``password_env``, from_addr, subject_prefix, timeout_seconds). The password is read from
the environment variable ``password_env`` names, and never logged. A message goes only to the
person the report is about: the recipient is taken from the view itself, never from a list that
could be shuffled. One SMTP connection serves the whole run; a recipient the server refuses is
recorded and the run goes on, so one bad address does not cost everyone else their report.

Address headers are built from :class:`email.headerregistry.Address` objects, never by pasting
strings, so a display name from the directory is quoted or encoded as a whole: ``Dubois, Zoë`` or
``Zoë, boss@attacker.test`` stays one name of one recipient. The email library folds some names
wrongly (text that looks like an RFC 2047 encoded word, ``=?utf-8?q?...?=``, is decoded and
written back unquoted; a long name folded at 78 columns loses its quotes), so headers are folded
at 998 columns, and :func:`recipient` breaks the encoded-word form up and reads its own header
back: if a name would still add or change a recipient, the message goes to the bare address.

A dry run writes each message as an ``.eml`` file (0600) instead of sending it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import replace
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import default
from email.utils import make_msgid
from pathlib import Path
from types import TracebackType
from typing import Any

from cadence.config import Config, EmailConfig
from cadence.errors import CadenceError, ConfigError
from cadence.reports.words import RenderSettings, iso_week, one_line
from cadence.reports.writer import ReportFolder, file_stem, open_report_folder, write_private

# Headers are folded at RFC 5322's limit of 998 characters a line, not the usual 78: folding a long
# display name shorter, the email library drops its quotes (a long "Smith, Ann ..." becomes a
# list of recipients) or a space in it. Bodies are encoded first, under the default policy, so
# their lines keep RFC 2045's 76.
_HEADERS = default.clone(max_line_length=998)
# What the email library raises for an address it cannot take, besides ValueError (and its
# defects, which are ValueErrors): an empty string, a parse it gives up on.
_BAD_ADDRESS = (ValueError, IndexError, AttributeError, MessageError)


def subject(view: Mapping[str, Any], prefix: str, settings: RenderSettings) -> str:
    week = iso_week(view["as_of"], settings)
    what = "Your 1:1s" if view["kind"] == "manager" else "Your org's 1:1 trends"
    return f"{prefix} {what}, week {week}".strip()


def recipient(name: object, email: str) -> Address:
    """The To address of the person ``email`` is: exactly that mailbox, named ``name``.

    The name is one line (:func:`one_line`, spaces collapsed), and ``=?`` in it becomes ``= ?``:
    no real name holds the start of an encoded word, and a mail program would decode it into
    other text. If the header still would not read back as this one mailbox, the name is
    dropped. Raises ``ValueError`` when no message can be addressed to ``email``.
    """
    try:
        bare = Address(addr_spec=email)
    except _BAD_ADDRESS as exc:
        raise ValueError(str(exc) or "not an email address") from None
    if bare.addr_spec != email:  # a comment or spaces the envelope would not carry
        raise ValueError(f"not a plain address (it reads as {bare.addr_spec})")
    display = " ".join(one_line(name).split()).replace("=?", "= ?")
    if not display:
        return bare
    try:
        named = Address(display_name=display, addr_spec=email)
        folded = _HEADERS.header_factory("To", named).fold(policy=_HEADERS)
        back = HeaderParser(policy=default).parsestr(folded + "\n")["To"].addresses
    except _BAD_ADDRESS:
        return bare
    return named if [a.addr_spec for a in back] == [email] else bare


def sender(email: EmailConfig, where: str) -> Address:
    """``[email] from_addr`` (``cadence@acme.test`` or ``Cadence <cadence@acme.test>``) as one
    address, or a :class:`ConfigError` naming the key."""
    found: tuple[Address, ...] = ()
    with suppress(*_BAD_ADDRESS):
        header = default.header_factory("From", email.from_addr)
        if not header.defects:  # a defect: a line break, say
            found = header.addresses
    if len(found) != 1 or not found[0].username or not found[0].domain:
        raise ConfigError(f"{where}: [email] from_addr {email.from_addr!r} is not one address")
    return found[0]


def build_message(
    view: Mapping[str, Any],
    texts: Mapping[str, str],
    email: EmailConfig,
    settings: RenderSettings,
    from_addr: Address,
) -> EmailMessage:
    """The report as a message to the person it is about: plain text first, HTML preferred.
    ``from_addr`` is :func:`sender`'s reading of ``email.from_addr``."""
    person = view[view["kind"]]
    msg = EmailMessage(policy=default)
    msg["Subject"] = subject(view, email.subject_prefix, settings)
    msg["From"] = from_addr
    msg["To"] = recipient(person["name"], person["email"])
    msg["Message-ID"] = make_msgid(domain=from_addr.domain)
    msg.set_content(texts["md"], subtype="plain", charset="utf-8")
    msg.add_alternative(texts["html"], subtype="html", charset="utf-8")
    msg.policy = _HEADERS  # the bodies are encoded: from here on only headers are folded
    return msg


def _where(config: Config) -> str:
    return str(config.path) if config.path else "configuration"


def _check(config: Config) -> tuple[EmailConfig, Address]:
    email = config.email
    where = _where(config)
    if not email.host:
        raise ConfigError(f"{where}: [email] host is not set: cannot send reports")
    if not email.from_addr:
        raise ConfigError(f"{where}: [email] from_addr is not set")
    return email, sender(email, where)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class SmtpOutbox:
    """Sends over one SMTP connection, opened on entry and closed on exit."""

    def __init__(self, config: Config, settings: RenderSettings) -> None:
        self.email, self.sender = _check(config)
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
            msg = build_message(view, texts, self.email, self.settings, self.sender)
        except ValueError as exc:  # an address no message can carry
            self.refused[to] = f"cannot address a message to it: {exc}"
            return
        try:
            self._smtp.send_message(msg, to_addrs=[to])
        except smtplib.SMTPNotSupportedError as exc:  # a non-ASCII address, and no SMTPUTF8
            self.refused[to] = f"the server cannot take this address: {exc}"
            return
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
    """A dry run: each message as ``<folder>/<kind>-<email>.eml``, nothing sent.

    ``folder`` is the job's ``<out_dir>/<week>/email``: the week's folder and ``email/`` are
    cadence's own, opened as :func:`open_report_folder` opens them.
    """

    def __init__(self, config: Config, settings: RenderSettings, folder: Path) -> None:
        self.email = config.email
        if not self.email.from_addr:
            # A dry run needs no server, but the messages still need a sender.
            self.email = replace(self.email, from_addr="cadence@localhost")
        self.sender = sender(self.email, _where(config))
        self.settings = settings
        self.folder = folder
        self.sent: list[str] = []
        self.refused: dict[str, str] = {}
        self._open: ReportFolder | None = None

    def __enter__(self) -> EmlOutbox:
        week = self.folder.parent
        self._open = open_report_folder(week.parent, week.name, self.folder.name)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def deliver(self, view: Mapping[str, Any], texts: Mapping[str, str]) -> None:
        assert self._open is not None, "use EmlOutbox as a context manager"
        person = view[view["kind"]]
        try:
            msg = build_message(view, texts, self.email, self.settings, self.sender)
        except ValueError as exc:  # as SmtpOutbox: one bad address does not stop the run
            self.refused[person["email"]] = f"cannot address a message to it: {exc}"
            return
        path = self._open.path / f"{file_stem(view['kind'], person['email'])}.eml"
        write_private(path, msg.as_string(), self._open)
        self.sent.append(person["email"])
