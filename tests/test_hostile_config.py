"""Careless configuration and key files, and the logs a collector reads, as cron meets them.

Every check runs the real ``cadence`` in a child process against a small company served by both
stand-ins, and asserts what an administrator sees: exit 2, one line naming the config file, the
key (and the key file), no traceback, and nothing changed: no request to any API, no run in the
run log, no mailbox state. With ``--log-format json`` every line on stderr is a JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import func, select

from cadence.config import Config, GoogleSource, OutlookSource, load_config
from cadence.sandbox.demo import GOOGLE, MICROSOFT
from cadence.sandbox.tls import make_client_certificate
from cadence.store.database import make_engine
from cadence.store.models import Event, Mailbox, RunLog, SyncState
from live_company import CADENCE, Live, start

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """One company for the module: every test leaves it as it found it (that is the point)."""
    folder = tmp_path_factory.mktemp("company")
    shutil.copy(sqlite_template, folder / "cadence.db")
    yield from start(folder, f"sqlite:///{folder / 'cadence.db'}")


@pytest.fixture
def live(company: Live) -> Iterator[Live]:
    """The company with its config and key files restored after the test."""
    files = [company.served.config_path, company.folder / "google-service-account.json"]
    saved = {path: path.read_bytes() for path in files}
    company.served.google.reset_counts()
    company.served.graph.reset_counts()
    yield company
    for path, data in saved.items():
        if path.is_dir():
            shutil.rmtree(path)
        path.write_bytes(data)


def counts(live: Live) -> dict[str, int]:
    """Rows a sync or a nightly would write."""
    engine = make_engine(live.database_url)
    try:
        with engine.connect() as conn:
            return {
                model.__tablename__: conn.execute(
                    select(func.count()).select_from(model)
                ).scalar_one()
                for model in (RunLog, SyncState, Mailbox, Event)
            }
    finally:
        engine.dispose()


def set_key(config: Path, section: str, key: str, value: str) -> None:
    """``key = value`` (TOML) in ``[section]`` of the config, replacing the key if it is there
    and adding the section if it is not."""
    lines = config.read_text(encoding="utf-8").splitlines()
    header = f"[{section}]"
    if header not in lines:
        lines += ["", header, f"{key} = {value}"]
    else:
        i = lines.index(header) + 1
        while i < len(lines) and not lines[i].startswith("["):
            if lines[i].split("=")[0].strip() == key:
                lines[i] = f"{key} = {value}"
                break
            i += 1
        else:
            lines.insert(lines.index(header) + 1, f"{key} = {value}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


NIGHTLY = ("nightly", "--quiet")  # as cron runs it: without --quiet it first says it started


def refused(live: Live, before: dict[str, int], command: str | tuple[str, ...], *named: str) -> str:
    """Run ``cadence <command>``; assert it stopped as bad configuration, naming ``named``."""
    result = live.cadence(*((command,) if isinstance(command, str) else command))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for text in (str(live.served.config_path), *named):
        assert text in lines[0], (text, lines[0])
    assert live.served.google.total == 0 and live.served.graph.total == 0, "an API was called"
    assert counts(live) == before, "something was written"
    return lines[0]


# -- item: every number has a range, checked at load -----------------------------------------

RANGES = [
    ("health", "cancel_streak_unhealthy", "0", "must be at least 1, got 0"),
    ("health", "cancel_streak_at_risk", "-2", "must be at least 1, got -2"),
    ("health", "stale_factor", "-3", "must be above 0, got -3"),
    ("health", "stale_factor", "inf", "must be a finite number, got inf"),
    ("health", "late_cancel_hours", "nan", "must be a finite number, got nan"),
    ("health", "late_cancel_hours", "-1", "must be at least 0"),
    ("health", "max_duration_hours", "0", "must be above 0"),
    ("health", "stale_default_days", "-inf", "must be a finite number"),
    ("health", "high_cancellation_min_scheduled", "0", "must be at least 1"),
    ("health", "high_cancellation_unhealthy", "1.5", "must be at most 1, got 1.5"),
    ("health", "high_cancellation_at_risk", "0", "must be above 0"),
    ("health", "manager_cancels_min", "0", "must be at least 1"),
    ("health", "manager_cancels_share", "2", "must be at most 1"),
    ("sync", "lookback_days", "4000", "must be at most 3660, got 4000"),
    ("sync", "horizon_days", "0", "must be at least 1"),
    ("sync", "concurrency", "-1", "must be at least 1, got -1"),
    ("sync", "concurrency", "10000", "must be at most 64"),
    ("sync", "max_retries", "-1", "must be at least 0"),
    ("sync", "max_retries", "1000", "must be at most 20"),
    ("email", "port", "0", "must be at least 1"),
    ("email", "port", "70000", "must be at most 65535"),
    ("email", "timeout_seconds", "0", "must be above 0"),
    ("email", "timeout_seconds", "inf", "must be a finite number"),
    ("report", "window_weeks", "100000", "must be at most 520"),
    ("report", "trend_weeks", "0", "must be at least 1"),
    ("report", "min_group_size", "0", "must be at least 1"),
    (f"sources.{GOOGLE}", "concurrency", "-1", "must be at least 0, got -1"),
    (f"sources.{MICROSOFT}", "concurrency", "1000", "must be at most 64"),
]


@pytest.mark.parametrize(("section", "key", "value", "why"), RANGES)
def test_a_number_out_of_its_range_is_named_before_anything_runs(
    live: Live, section: str, key: str, value: str, why: str
) -> None:
    before = counts(live)
    set_key(live.served.config_path, section, key, value)
    line = refused(live, before, "sync", f"[{section}] {key} {why}")
    assert line.startswith("Error: ")


ORDERS = [
    ("health", {"cancel_streak_at_risk": "4"}, "[health] cancel_streak_at_risk must not be above"),
    (
        "health",
        {"high_cancellation_unhealthy": "0.3", "high_cancellation_at_risk": "0.4"},
        "[health] high_cancellation_at_risk must not be above high_cancellation_unhealthy (0.3)",
    ),
    ("sync", {"rebaseline_days": "40"}, "[sync] rebaseline_days must be less than horizon_days"),
    (
        "sync",
        {"horizon_days": "7", "rebaseline_days": "7"},
        "[sync] rebaseline_days must be less than horizon_days (7)",
    ),
]


@pytest.mark.parametrize(("section", "keys", "message"), ORDERS)
def test_thresholds_in_the_wrong_order_are_named(
    live: Live, section: str, keys: dict[str, str], message: str
) -> None:
    before = counts(live)
    for key, value in keys.items():
        set_key(live.served.config_path, section, key, value)
    refused(live, before, "sync", message)


TEXTS = [
    ("email", "subject_prefix", '"[cadence]\\r\\nBcc: everyone@acme.test"', "U+000D"),
    ("email", "from_addr", '"cadence@acme.test\\nBcc: everyone@acme.test"', "U+000A"),
    ("email", "host", '"smtp.acme.test\\r\\n"', "U+000D"),
    ("org", "csv", '"people.csv\\u2028"', "U+2028"),
]


@pytest.mark.parametrize(("section", "key", "value", "char"), TEXTS)
def test_line_breaks_in_text_values_are_refused(
    live: Live, section: str, key: str, value: str, char: str
) -> None:
    before = counts(live)
    set_key(live.served.config_path, section, key, value)
    line = refused(live, before, NIGHTLY, f"[{section}] {key} must not hold control characters")
    assert char in line and "Bcc" not in line


OTHERS = [
    ("report", "formats", "[]", "[report] formats must name at least one of"),
    (f"sources.{MICROSOFT}", "tenant_id", '"../other-tenant"', "tenant_id must be the tenant's"),
    (
        f"sources.{MICROSOFT}",
        "graph_url",
        '"https://graph.acme.test:99999/v1.0"',
        "graph_url must be a URL with a port from 1 to 65535",
    ),
    (f"sources.{GOOGLE}", "api_endpoint", '"ftp://calendar.acme.test/"', "api_endpoint must be"),
]


@pytest.mark.parametrize(("section", "key", "value", "message"), OTHERS)
def test_values_that_cannot_work_are_refused_at_load(
    live: Live, section: str, key: str, value: str, message: str
) -> None:
    before = counts(live)
    set_key(live.served.config_path, section, key, value)
    refused(live, before, NIGHTLY, message)


def test_every_number_of_the_config_has_a_range_and_the_docs_say_it() -> None:
    from cadence.config import (
        EmailConfig,
        HealthConfig,
        ReportConfig,
        SyncConfig,
        number_range,
    )

    rows = DOCS.read_text(encoding="utf-8").splitlines()
    tables: list[tuple[str, type[Any]]] = [
        ("sync", SyncConfig),
        ("report", ReportConfig),
        ("health", HealthConfig),
        ("email", EmailConfig),
        ("sources.NAME", GoogleSource),
        ("sources.NAME", OutlookSource),
    ]
    for section, cls in tables:
        for f in fields(cls):
            if f.type not in ("int", "float"):
                continue
            limit = number_range(cls, f.name)
            assert limit is not None, f"[{section}] {f.name} has no range"
            row = [r for r in rows if r.startswith(f"| {section} | {f.name} |")]
            assert row, f"docs/configuration.md has no row for [{section}] {f.name}"
            assert f"| {limit.text()}" in row[0], (section, f.name, limit.text(), row[0])


# -- item: key files parse before any mailbox is read ----------------------------------------


def google_key(live: Live) -> dict[str, Any]:
    return dict(json.loads((live.folder / "google-service-account.json").read_text()))


def pem(key: Any, password: bytes | None = None) -> str:
    encryption: Any = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode()
    )


BROKEN_PEM = "-----BEGIN PRIVATE KEY-----\nAAAAnotakey\n-----END PRIVATE KEY-----\n"
GOOGLE_KEYS: list[tuple[str, Any, str]] = [
    ("an empty object", {}, '"type" is missing'),
    ("a list", [], "a JSON list where an object is expected"),
    (
        "a user's credentials",
        {"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"},
        "a user's OAuth credentials",
    ),
    ("no private_key", {"private_key": None}, '"private_key" is missing'),
    ("a number for private_key", {"private_key": 42}, '"private_key" is not a text value'),
    ("private_key not PEM", {"private_key": "hello"}, '"private_key" holds no PEM private key'),
    ("a PEM that does not parse", {"private_key": BROKEN_PEM}, "does not parse"),
    ("an encrypted key", {"private_key": "encrypted"}, "holds an encrypted private key"),
    ("an EC key", {"private_key": "ec"}, "of type EC, not RSA"),
    ("no token_uri", {"token_uri": None}, '"token_uri" is missing'),
]


@pytest.mark.parametrize(
    ("shape", "change", "why"), GOOGLE_KEYS, ids=[case[0] for case in GOOGLE_KEYS]
)
def test_a_google_key_of_the_wrong_shape_is_a_config_error(
    live: Live, shape: str, change: Any, why: str
) -> None:
    key = live.folder / "google-service-account.json"
    if isinstance(change, dict) and change and "type" not in change:
        content: Any = google_key(live)
        for field, value in change.items():
            if value is None:
                del content[field]
            elif value == "encrypted":
                content[field] = pem(rsa.generate_private_key(65537, 2048), b"passphrase")
            elif value == "ec":
                content[field] = pem(ec.generate_private_key(ec.SECP256R1()))
            else:
                content[field] = value
    else:
        content = change
    key.write_text(json.dumps(content), encoding="utf-8")
    before = counts(live)
    line = refused(live, before, "sync", f"[sources.{GOOGLE}] service_account_file", str(key), why)
    assert "BEGIN" not in line, "key material in the message"


@pytest.mark.parametrize(
    ("what", "data", "why"),
    [
        ("not JSON", b'{"type": "service_account",', "not JSON"),
        ("not UTF-8", b'{"type": "\xff\xfe"}', "not UTF-8 text"),
        ("a folder", None, "is a folder, not a file"),
    ],
)
def test_a_google_key_file_that_cannot_be_read_is_a_config_error_for_the_nightly(
    live: Live, what: str, data: bytes | None, why: str
) -> None:
    key = live.folder / "google-service-account.json"
    if data is None:
        key.unlink()
        key.mkdir()
    else:
        key.write_bytes(data)
    before = counts(live)
    refused(live, before, NIGHTLY, f"[sources.{GOOGLE}] service_account_file", str(key), why)


def cleared(path: Path) -> Path:
    """``path`` with nothing at it (an earlier test's file or folder removed)."""
    if path.is_dir():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    return path


def use_certificate(live: Live, content: str | None, thumbprint: str) -> Path:
    """Point the Microsoft source at a certificate file holding ``content`` (``None``: a
    folder)."""
    path = cleared(live.folder / "cadence-app.pem")
    if content is None:
        path.mkdir()
    else:
        path.write_text(content, encoding="utf-8")
    set_key(live.served.config_path, f"sources.{MICROSOFT}", "certificate_file", f'"{path}"')
    set_key(
        live.served.config_path,
        f"sources.{MICROSOFT}",
        "certificate_thumbprint",
        f'"{thumbprint}"',
    )
    return path


BROKEN_CERT = "-----BEGIN CERTIFICATE-----\nAAAAnotacert\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("what", "why"),
    [
        ("garbage", "holds no PEM private key (convert a .pfx"),
        ("the certificate alone", "holds no PEM private key"),
        ("a key that does not parse", "holds a private key that does not parse"),
        ("an encrypted key", "holds an encrypted private key"),
        ("an EC key", "of type EC, not RSA"),
        ("a certificate that does not parse", "holds a certificate that does not parse"),
        ("a folder", "is a folder, not a file"),
    ],
)
def test_a_graph_certificate_file_that_does_not_parse_is_a_config_error(
    live: Live, what: str, why: str
) -> None:
    cert = make_client_certificate()
    content = {
        "garbage": "not a certificate at all\n",
        "the certificate alone": cert.certificate_pem,
        "a key that does not parse": BROKEN_PEM + cert.certificate_pem,
        "an encrypted key": pem(rsa.generate_private_key(65537, 2048), b"pw")
        + cert.certificate_pem,
        "an EC key": pem(ec.generate_private_key(ec.SECP256R1())),
        "a certificate that does not parse": cert.private_key_pem + BROKEN_CERT,
        "a folder": None,
    }[what]
    path = use_certificate(live, content, cert.thumbprint)
    before = counts(live)
    line = refused(live, before, "sync", f"[sources.{MICROSOFT}] certificate_file", str(path), why)
    assert "BEGIN" not in line


def test_a_thumbprint_that_is_not_one_is_a_config_error(live: Live) -> None:
    cert = make_client_certificate()
    use_certificate(live, cert.private_key_pem + cert.certificate_pem, "not-a-thumbprint")
    before = counts(live)
    refused(live, before, "sync", f"[sources.{MICROSOFT}] certificate_thumbprint must be")


@pytest.mark.parametrize(
    ("what", "data"),
    [
        ("garbage", b"not a certificate\n"),
        ("an empty file", b""),
        ("a private key", b"private key"),
        ("a certificate in DER", b"der"),
        ("a folder", None),
    ],
)
def test_a_ca_file_that_does_not_load_is_a_config_error(
    live: Live, what: str, data: bytes | None
) -> None:
    cert = make_client_certificate()
    path = cleared(live.folder / "private-ca.pem")
    if data is None:
        path.mkdir()
    elif data == b"private key":
        path.write_text(cert.private_key_pem)
    elif data == b"der":
        from cryptography import x509

        der = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
        path.write_bytes(der.public_bytes(serialization.Encoding.DER))
    else:
        path.write_bytes(data)
    set_key(live.served.config_path, f"sources.{MICROSOFT}", "ca_file", f'"{path}"')
    before = counts(live)
    why = "is a folder, not a file" if data is None else "holds no PEM certificate that loads"
    refused(live, before, "sync", f"[sources.{MICROSOFT}] ca_file", str(path), why)


# -- item: JSON logs are JSON for every line -------------------------------------------------


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as a JSON object (a line that is not one fails, shown as it is)."""
    entries = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n--- stderr ---\n{stderr}")
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def child(folder: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """``cadence`` (or ``code``) in a clean folder with none of the developer's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    command = [sys.executable, "-c", code, *args] if code else [*CADENCE, *args]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


UNREACHABLE = "postgresql+psycopg://cadence:hunter2@127.0.0.1:9/cadence"


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_a_nightly_that_cannot_open_its_database_logs_only_json(
    tmp_path: Path, verbose: list[str]
) -> None:
    result = child(
        tmp_path, *verbose, "nightly", "--log-format", "json", "--database-url", UNREACHABLE
    )
    assert result.returncode == 1
    entries = json_lines(result.stderr)
    last = entries[-1]
    assert last["level"] == "error" and "cannot open the database" in last["message"]
    assert "hunter2" not in result.stderr
    assert ("traceback" in last) == bool(verbose)


def test_a_nightly_on_a_missing_database_logs_only_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    result = child(tmp_path, "nightly", "-v", "--log-format", "json", "--database-url", url)
    assert result.returncode == 1
    last = json_lines(result.stderr)[-1]
    assert last["level"] == "error" and "run `cadence init`" in last["message"]
    assert "SchemaOutOfDate" in last["traceback"]


def test_a_nightly_with_a_bad_config_logs_its_error_as_json(live: Live) -> None:
    set_key(live.served.config_path, "health", "stale_factor", "inf")
    result = live.cadence("nightly", "--log-format", "json")
    assert result.returncode == 2
    (entry,) = json_lines(result.stderr)
    assert entry["level"] == "error"
    assert "[health] stale_factor must be a finite number" in entry["message"]
    assert str(live.served.config_path) in entry["message"]


def test_a_bad_option_of_a_json_nightly_is_a_json_line(tmp_path: Path) -> None:
    result = child(tmp_path, "nightly", "--log-format", "json", "--shard", "5/4")
    assert result.returncode == 2
    (entry,) = json_lines(result.stderr)
    assert entry["level"] == "error" and "--shard" in entry["message"]


WARNS = """
import warnings
import cadence.cli.app as app

opened = app.open_store

def open_store(url):
    warnings.warn("a library changes its mind", FutureWarning)
    return opened(url)

app.open_store = open_store
from cadence.cli import main
main()
"""


def test_a_warning_during_a_json_nightly_is_a_json_line(tmp_path: Path) -> None:
    result = child(
        tmp_path, "nightly", "--log-format", "json", "--database-url", UNREACHABLE, code=WARNS
    )
    entries = json_lines(result.stderr)
    warned = [e for e in entries if "a library changes its mind" in e["message"]]
    assert warned and warned[0]["level"] == "warning" and warned[0]["logger"] == "py.warnings"
    assert entries[-1]["level"] == "error"


def test_a_json_nightly_with_v_logs_alembic_s_lines_as_json(live: Live) -> None:
    result = live.cadence("-v", "nightly", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    entries = json_lines(result.stderr)
    assert any(e["logger"].startswith("alembic") for e in entries), entries
    assert any(e.get("event") == "summary" for e in entries)


UPGRADES = """
import logging, sys
from cadence import logs
from cadence.store.database import make_engine, upgrade

logging.basicConfig(level=logging.INFO)  # what -v does
logs.configure("json", verbose=1)
upgrade(make_engine(sys.argv[1]))
"""


def test_upgrading_the_schema_under_json_logs_logs_only_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = child(tmp_path, url, code=UPGRADES)
    assert result.returncode == 0, result.stderr
    entries = json_lines(result.stderr)
    upgrades = [e for e in entries if e["message"].startswith("Running upgrade")]
    assert upgrades and all(e["logger"] == "alembic.runtime.migration" for e in upgrades)


def test_the_config_the_company_runs_on_is_valid(company: Live) -> None:
    """The baseline every test above changes one thing of."""
    config: Config = load_config(company.served.config_path)
    assert set(config.sources) == {GOOGLE, MICROSOFT}
