"""Read and check cadence's one TOML configuration file.

Lookup order (docs/configuration.md): ``--config PATH``, else ``$CADENCE_CONFIG``, else
``./cadence.toml``; with none of them present every key takes its default.
``$CADENCE_DATABASE_URL`` (or the CLI's ``--database-url``) wins over ``[database] url``.
Relative paths are relative to the folder that holds the config file, so cron can run cadence
from anywhere.

Secrets never live in the file: a key ending in ``_env`` names an environment variable, a key
ending in ``_file`` names a file. Unknown keys and wrong types are errors that name the file and
the key, so a typo never silently falls back to a default.

Every number has its range beside its key (:func:`limits`), checked at load with the cross-key
rules (:func:`_check`): a careless ``concurrency = -1`` or ``stale_factor = inf`` is a one-line
error naming the file and the key before anything runs, not a crash halfway through a night or
figures that quietly mean nothing. No string may hold a control character: the values end up in
mail headers, URLs and log lines, where a line break starts a new header or a new line.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cadence.errors import ConfigError
from cadence.orgchart import country_code

DEFAULT_CONFIG_NAME = "cadence.toml"
# The formats a report can be written in: `[report] formats` is checked against them, the report
# commands offer them, and cadence.reports.render renders each.
FORMATS = ("md", "html", "json", "csv")
# More workers than this only meet the APIs' throttling (Graph: 4 requests at once per mailbox,
# Google: about 10,000 a minute per project) and the database's writer.
MAX_CONCURRENCY = 64
MAX_RATE = 10_000_000  # requests a minute
_SCHEDULER = re.compile(r"(tcp|tls)://[^\s/]+:\d{1,5}")
MAX_DAYS = 3660  # ten years: further than any calendar API is asked, or any figure looks
MAX_WEEKS = 520


@dataclass(frozen=True)
class Range:
    """The values a number of the configuration may take: ``low`` to ``high`` (``None``: no
    bound), ``low`` itself excluded when ``above``. Floats must be finite as well."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def why(self, value: float) -> str | None:
        """What is wrong with ``value`` (``None``: nothing)."""
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return f"must be {'above' if self.above else 'at least'} {_show(self.low)}"
        if self.high is not None and value > self.high:
            return f"must be at most {_show(self.high)}"
        return None

    def text(self) -> str:
        """The range as docs/configuration.md writes it beside its key."""
        low = None if self.low is None else _show(self.low)
        high = None if self.high is None else _show(self.high)
        if self.above:
            return f"above {low}, at most {high}" if high is not None else f"above {low}"
        if low is not None and high is not None:
            return f"{low} to {high}"
        return f"at least {low}" if low is not None else f"at most {high}"


def limits(low: float | None = None, high: float | None = None, *, above: bool = False) -> Any:
    """Field metadata giving a number its :class:`Range`."""
    return {"range": Range(low, high, above)}


def number_range(cls: type[Any], key: str) -> Range | None:
    """The range of a numeric key of a config dataclass."""
    found = {f.name: f for f in fields(cls)}[key].metadata.get("range")
    return found if isinstance(found, Range) else None


def _show(value: float) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///cadence.db"


@dataclass(frozen=True)
class StoreConfig:
    # Events that started longer ago are deleted at the end of each nightly; 0 keeps everything.
    retention_days: int = field(default=400, metadata=limits(0, MAX_DAYS))


@dataclass(frozen=True)
class OrgConfig:
    csv: str = ""
    timezone: str = "UTC"
    # Where a person the chart gives no country works ("" none): DE, US-CA (docs/org-chart.md).
    country: str = ""
    # People who opted out: never synced, never reported, never named.
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportConfig:
    # The variable holding the salt of `cadence export --pseudonymize` (HMAC-SHA-256 key).
    salt_env: str = "CADENCE_EXPORT_SALT"


@dataclass(frozen=True)
class SyncConfig:
    lookback_days: int = field(default=180, metadata=limits(0, MAX_DAYS))
    horizon_days: int = field(default=35, metadata=limits(1, MAX_DAYS))
    concurrency: int = field(default=8, metadata=limits(1, MAX_CONCURRENCY))
    # A saved token's window is renewed (a full round) once less than this many days of the
    # horizon remain, so future 1:1s never fall outside what cadence watches; less than
    # horizon_days, or every round would be a full one.
    rebaseline_days: int = field(default=7, metadata=limits(1, MAX_DAYS))
    # The backoff doubles up to 32 s: 20 retries already wait about ten minutes for one call.
    max_retries: int = field(default=6, metadata=limits(0, 20))
    # A Dask cluster ("tcp://host:8786") that runs the nightly's syncs and figures; "" none.
    scheduler: str = ""
    # Mailboxes one cluster task syncs (docs/operations.md says how it was chosen).
    batch_mailboxes: int = field(default=200, metadata=limits(1, 100_000))


@dataclass(frozen=True)
class ReportConfig:
    window_weeks: int = field(default=12, metadata=limits(1, MAX_WEEKS))
    trend_weeks: int = field(default=26, metadata=limits(1, MAX_WEEKS))
    out_dir: str = "reports"
    min_group_size: int = field(default=5, metadata=limits(1, 1000))  # 1: no floor
    formats: tuple[str, ...] = ("md",)


@dataclass(frozen=True)
class PipelineConfig:
    """Where the figures are computed: pandas in this process, or Dask (``scheduler``: a name
    such as ``threads`` or ``processes``, or a cluster's address, ``tcp://host:8786``)."""

    engine: str = "pandas"
    scheduler: str = ""


@dataclass(frozen=True)
class HealthConfig:
    """Every threshold of a pair's health (docs/metrics.md "Health"), with its default."""

    # 0: only a miss after the start is late.
    late_cancel_hours: float = field(default=24, metadata=limits(0, 8760))
    max_duration_hours: float = field(default=3, metadata=limits(0, 24, above=True))
    cancel_streak_unhealthy: int = field(default=3, metadata=limits(1))
    cancel_streak_at_risk: int = field(default=2, metadata=limits(1))  # <= unhealthy
    stale_factor: float = field(default=2, metadata=limits(0, above=True))
    stale_default_days: float = field(default=14, metadata=limits(0, MAX_DAYS, above=True))
    high_cancellation_min_scheduled: int = field(default=4, metadata=limits(1))
    # Rates: a rate of 0 would flag every pair.
    high_cancellation_unhealthy: float = field(default=0.5, metadata=limits(0, 1, above=True))
    high_cancellation_at_risk: float = field(default=0.25, metadata=limits(0, 1, above=True))
    manager_cancels_min: int = field(default=2, metadata=limits(1))
    # 0: any share of the misses, as long as manager_cancels_min are the manager's.
    manager_cancels_share: float = field(default=0.5, metadata=limits(0, 1))


@dataclass(frozen=True)
class EmailConfig:
    host: str = ""
    port: int = field(default=587, metadata=limits(1, 65535))
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""
    password_env: str = ""
    from_addr: str = ""
    subject_prefix: str = "[cadence]"
    timeout_seconds: float = field(default=30, metadata=limits(0, 3600, above=True))

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class GoogleSource:
    name: str
    kind: str = "google"
    service_account_file: str = ""
    admin_email: str = ""
    customer: str = "my_customer"
    api_endpoint: str = ""
    directory_endpoint: str = ""
    concurrency: int = field(default=0, metadata=limits(0, MAX_CONCURRENCY))  # 0: [sync]'s
    # Calendar API calls a minute, shared by every host of a night: the project's quota.
    requests_per_minute: int = field(default=10_000, metadata=limits(0, MAX_RATE))


@dataclass(frozen=True)
class OutlookSource:
    name: str
    kind: str = "outlook"
    tenant_id: str = ""
    client_id: str = ""
    client_secret_env: str = ""
    certificate_file: str = ""
    certificate_thumbprint: str = ""
    authority: str = ""
    validate_authority: bool = True
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: str = ""  # a CA bundle for a private authority or the stand-in; empty: the system's
    concurrency: int = field(default=0, metadata=limits(0, MAX_CONCURRENCY))  # 0: [sync]'s
    # Graph's limits are per mailbox, which one sync never nears: no source-wide budget (0).
    requests_per_minute: int = field(default=0, metadata=limits(0, MAX_RATE))

    @property
    def authority_url(self) -> str:
        return self.authority or f"https://login.microsoftonline.com/{self.tenant_id}"

    @property
    def thumbprint_hex(self) -> str:
        """The thumbprint as msal takes it: hex digits alone (portals show colons or spaces)."""
        return re.sub(r"[:\s]", "", self.certificate_thumbprint)


@dataclass(frozen=True)
class OidcConfig:
    """The company's OpenID Connect issuer for ``cadence serve`` (Google, Entra ID, ...)."""

    issuer: str = ""
    client_id: str = ""
    client_secret_env: str = "CADENCE_OIDC_SECRET"  # noqa: S105  (a variable's name)


@dataclass(frozen=True)
class ServeConfig:
    bind: str = "127.0.0.1:8080"
    base_url: str = ""  # the address people use; empty: http://<bind>
    session_secret_env: str = "CADENCE_SESSION_SECRET"  # noqa: S105  (a variable's name)
    session_hours: float = field(default=12, metadata=limits(0, 24 * 30, above=True))
    idle_minutes: float = field(default=60, metadata=limits(0, 24 * 60 * 30, above=True))
    admins: tuple[str, ...] = ()
    oidc: OidcConfig = field(default_factory=OidcConfig)

    @property
    def public_url(self) -> str:
        """The address people use, without a trailing slash."""
        return (self.base_url or f"http://{self.bind}").rstrip("/")

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_bind(self.bind)


Source = GoogleSource | OutlookSource
SOURCE_KINDS: dict[str, type[GoogleSource] | type[OutlookSource]] = {
    "google": GoogleSource,
    "outlook": OutlookSource,
}


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    org: OrgConfig = field(default_factory=OrgConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    sources: dict[str, Source] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are taken from."""
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, value: str) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.org.timezone)

    def secret(self, section: str, key: str, env_name: str) -> str:
        """The secret held by the environment variable a ``*_env`` key names."""
        if not env_name:
            raise ConfigError(f"{self._where()}: [{section}] {key} is not set")
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(
                f"{self._where()}: [{section}] {key} names ${env_name}, which is not set"
            )
        return value

    def _where(self) -> str:
        return str(self.path) if self.path else "configuration"


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read, by the lookup order of the module docstring; ``None`` when there
    is none."""
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        return p.resolve()
    env = os.environ.get("CADENCE_CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found (from $CADENCE_CONFIG)")
        return p.resolve()
    p = Path.cwd() / DEFAULT_CONFIG_NAME
    return p.resolve() if p.is_file() else None


def load_config(
    explicit: str | os.PathLike[str] | None = None, database_url: str | None = None
) -> Config:
    """Find, parse and check the configuration; the database URL override wins over all."""
    path = find_config_path(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(data, path, database_url=database_url)


def parse_config(
    data: dict[str, Any], path: Path | None = None, database_url: str | None = None
) -> Config:
    where = str(path) if path else "configuration"
    sections: dict[str, Any] = {}
    plain = {
        "database": DatabaseConfig,
        "store": StoreConfig,
        "org": OrgConfig,
        "sync": SyncConfig,
        "report": ReportConfig,
        "pipeline": PipelineConfig,
        "health": HealthConfig,
        "email": EmailConfig,
        "export": ExportConfig,
    }
    for key, value in data.items():
        if key in ("sources", "serve"):
            continue
        if key not in plain:
            raise ConfigError(f"{where}: unknown section [{key}]")
        sections[key] = _build(plain[key], value, where, key)
    if "serve" in data:
        serve = data["serve"]
        if not isinstance(serve, dict):
            raise ConfigError(f"{where}: [serve] must be a table")
        serve = dict(serve)
        oidc = _build(OidcConfig, serve.pop("oidc", {}), where, "serve.oidc")
        sections["serve"] = replace(_build(ServeConfig, serve, where, "serve"), oidc=oidc)
    sources: dict[str, Source] = {}
    raw_sources = data.get("sources", {})
    if not isinstance(raw_sources, dict):
        raise ConfigError(f"{where}: [sources] must be a table of [sources.NAME] sections")
    for name, raw in raw_sources.items():
        label = f"sources.{name}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [{label}] must be a table")
        kind = raw.get("kind")
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"{where}: [{label}] kind must be one of {sorted(SOURCE_KINDS)}, got {kind!r}"
            )
        sources[name] = _build(SOURCE_KINDS[kind], raw, where, label, name=name)
    config = Config(path=path, sources=sources, **sections)
    url = database_url or os.environ.get("CADENCE_DATABASE_URL")
    if url:
        config = replace(config, database=DatabaseConfig(url=url))
    _check(config, where)
    return config


def _build(cls: type[Any], raw: Any, where: str, section: str, **fixed: Any) -> Any:
    """An instance of a config dataclass from a TOML table; ``fixed`` keys are not the user's."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{section}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)} - set(fixed)
    values: dict[str, Any] = dict(fixed)
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} in [{section}]")
        values[key] = _coerce(value, hints[key], where, section, key)
    return cls(**values)


# Control characters (CR, LF, tab, escapes, NUL) and the line and paragraph separators.
_BREAKING = frozenset({"Cc", "Zl", "Zp"})
# A GUID, or a verified domain name such as contoso.onmicrosoft.com: it is a segment of the
# authority's URL path.
_TENANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_URL_KEYS = {
    GoogleSource: ("api_endpoint", "directory_endpoint"),
    OutlookSource: ("authority", "graph_url"),
}


def _coerce(value: Any, hint: Any, where: str, section: str, key: str) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(
            f"{where}: [{section}] {key} must be {expected}, got {type(value).__name__} {value!r}"
        )

    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        breaking = [i for i, c in enumerate(value) if unicodedata.category(c) in _BREAKING]
        if breaking:
            # Named by position, not echoed: the value may be a URL with a password in it.
            raise ConfigError(
                f"{where}: [{section}] {key} must not hold control characters or line breaks, "
                f"got U+{ord(value[breaking[0]]):04X} at character {breaking[0] + 1}"
            )
        return value
    if get_origin(hint) is tuple:
        (item,) = get_args(hint)[:1]
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise wrong(f"a list of {item.__name__}")
        return tuple(value)
    raise wrong(str(hint))  # pragma: no cover - every field type is handled above


def _check(config: Config, where: str) -> None:
    """Ranges and cross-key rules that types alone cannot say."""

    def bad(section: str, key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: [{section}] {key} {why}")

    try:
        ZoneInfo(config.org.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad("org", "timezone", f"is not a known time zone: {config.org.timezone!r}") from exc
    if config.org.country:
        try:
            country_code(config.org.country)
        except ValueError as exc:
            raise bad("org", "country", str(exc)) from exc
    tables: list[tuple[str, Any]] = [
        ("store", config.store),
        ("sync", config.sync),
        ("report", config.report),
        ("health", config.health),
        ("email", config.email),
        ("serve", config.serve),
    ]
    tables += [(f"sources.{name}", source) for name, source in config.sources.items()]
    for section, table in tables:
        for f in fields(table):
            value = getattr(table, f.name)
            limit = f.metadata.get("range")
            if isinstance(limit, Range) and (why := limit.why(value)) is not None:
                raise bad(section, f.name, f"{why}, got {_show(value)}")
    sync, health = config.sync, config.health
    if sync.rebaseline_days >= sync.horizon_days:
        raise bad(
            "sync",
            "rebaseline_days",
            f"must be less than horizon_days ({sync.horizon_days}), got {sync.rebaseline_days}: "
            "every round would be a full one",
        )
    for rule in ("cancel_streak", "high_cancellation"):
        at_risk, unhealthy = (
            getattr(health, f"{rule}_at_risk"),
            getattr(health, f"{rule}_unhealthy"),
        )
        if at_risk > unhealthy:
            raise bad(
                "health",
                f"{rule}_at_risk",
                f"must not be above {rule}_unhealthy ({_show(unhealthy)}), got {_show(at_risk)}",
            )
    _check_serve(config.serve, bad)
    keep = config.store.retention_days
    # A report reaches back its window or its trend, and a week more for "what changed"; a full
    # sync reads lookback_days back: keeping less would refuse every report, or delete each
    # night what every full sync reads again.
    needed = max(
        7 * (max(config.report.window_weeks, config.report.trend_weeks) + 1),
        config.sync.lookback_days,
    )
    if keep and keep < needed:
        raise bad(
            "store",
            "retention_days",
            f"must be 0 (keep everything) or at least {needed}, got {keep}: reports reach back "
            f"{7 * (max(config.report.window_weeks, config.report.trend_weeks) + 1)} days "
            f"([report] window_weeks, trend_weeks and a week) and a full sync "
            f"{config.sync.lookback_days} ([sync] lookback_days)",
        )
    for person in config.org.exclude:
        if "@" not in person:
            raise bad("org", "exclude", f"must be email addresses, got {person!r}")
    if not config.report.formats:
        raise bad("report", "formats", f"must name at least one of {list(FORMATS)}")
    unknown = set(config.report.formats) - set(FORMATS)
    if unknown:
        raise bad("report", "formats", f"has unknown formats {sorted(unknown)}")
    if config.pipeline.engine not in {"pandas", "dask"}:
        raise bad("pipeline", "engine", "must be pandas or dask")
    if config.sync.scheduler and not _SCHEDULER.fullmatch(config.sync.scheduler):
        raise bad(
            "sync",
            "scheduler",
            f"must be a Dask scheduler's address, tcp://HOST:PORT, got {config.sync.scheduler!r}",
        )
    if config.email.security not in {"starttls", "ssl", "none"}:
        raise bad("email", "security", "must be starttls, ssl or none")
    for name, source in config.sources.items():
        section = f"sources.{name}"
        for key in _URL_KEYS[type(source)]:
            url = getattr(source, key)
            if url and (why := _url_problem(url)):
                raise bad(section, key, f"{why}, got {url!r}")
        if isinstance(source, GoogleSource) and not source.service_account_file:
            raise bad(section, "service_account_file", "is required for a google source")
        if isinstance(source, OutlookSource):
            if not source.tenant_id or not source.client_id:
                raise bad(section, "tenant_id/client_id", "are required for an outlook source")
            if not _TENANT.fullmatch(source.tenant_id):
                raise bad(
                    section,
                    "tenant_id",
                    "must be the tenant's GUID or domain name (contoso.onmicrosoft.com), "
                    f"got {source.tenant_id!r}",
                )
            if not source.client_secret_env and not source.certificate_file:
                raise bad(
                    section,
                    "client_secret_env",
                    "or certificate_file (with certificate_thumbprint) is required",
                )
            if source.certificate_file and not source.certificate_thumbprint:
                raise bad(section, "certificate_thumbprint", "is required with certificate_file")
            if source.certificate_thumbprint and not _THUMBPRINT.fullmatch(source.thumbprint_hex):
                raise bad(
                    section,
                    "certificate_thumbprint",
                    "must be the certificate's SHA-1 thumbprint, 40 hex digits (colons allowed), "
                    f"got {source.certificate_thumbprint!r}",
                )


def parse_bind(value: str, *, any_port: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets) as host and port; ``any_port`` allows port 0
    (any free one). ValueError says what is wrong."""
    host, _, port = value.rpartition(":")
    low = 0 if any_port else 1
    if not host or not port.isdigit() or not low <= int(port) < 65536:
        raise ValueError(f"must be HOST:PORT (127.0.0.1:8080), got {value!r}")
    return host.strip("[]"), int(port)


def _check_serve(serve: ServeConfig, bad: Any) -> None:
    try:
        parse_bind(serve.bind)
    except ValueError as exc:
        raise bad("serve", "bind", str(exc)) from exc
    if serve.base_url and (why := _url_problem(serve.base_url)):
        raise bad("serve", "base_url", why)
    if serve.oidc.issuer and (why := _url_problem(serve.oidc.issuer)):
        raise bad("serve.oidc", "issuer", why)
    for admin in serve.admins:
        if "@" not in admin:
            raise bad("serve", "admins", f"must be email addresses, got {admin!r}")


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an API's base URL (``None``: it can)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be a URL with a port from 1 to 65535"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// (or http://) URL with a host"
    if port == 0:
        return "must be a URL with a port from 1 to 65535"
    return None


def resolve_database_url(config: Config) -> str:
    """The database URL with a relative SQLite path made relative to the config's folder."""
    url = config.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:" and not rest.startswith("file:"):
            return prefix + str(config.resolve(rest))
    return url


TEMPLATE = """\
# cadence configuration. Every key has a default; uncomment what you change.
# Secrets are never written here: a key ending in _env names an environment variable,
# a key ending in _file names a file. Relative paths are relative to this file's folder.

[database]
url = "sqlite:///cadence.db"      # or postgresql+psycopg://user@host/db; $CADENCE_DATABASE_URL wins

[store]
retention_days = 400              # events older than this are deleted each night; 0 keeps all

[org]
# csv = "people.csv"              # email,name,manager_email[,team][,source][,aliases]
timezone = "UTC"                  # weeks and days are cut here; people's zone unless the chart says
# country = "DE"                  # where people work unless the chart says (holidays): DE, US-CA
# exclude = ["someone@example.com"]  # opted out: never synced, never reported, never named

[sync]
lookback_days = 180               # how far back a first sync reads
horizon_days = 35                 # how far ahead it reads
# concurrency = 8                 # mailboxes synced at once
# scheduler = "tcp://host:8786"   # run the nightly on a Dask cluster (docs/operations.md)
# batch_mailboxes = 200           # mailboxes per cluster task

[report]
window_weeks = 12
trend_weeks = 26
out_dir = "reports"
min_group_size = 5                # privacy floor of director reports; 1 turns it off
# formats = ["md", "html"]        # what `cadence report all` and `cadence nightly` write (md)

[pipeline]
engine = "pandas"                 # or "dask", to compute partitioned by manager
# scheduler = ""                  # dask: "threads", "processes" or a cluster, "tcp://host:8786"

[health]                          # thresholds of docs/metrics.md "Health", all overridable
late_cancel_hours = 24
# cancel_streak_unhealthy = 3
# cancel_streak_at_risk = 2
# stale_factor = 2
# stale_default_days = 14
# high_cancellation_min_scheduled = 4
# high_cancellation_unhealthy = 0.5
# high_cancellation_at_risk = 0.25
# manager_cancels_min = 2
# manager_cancels_share = 0.5

# [email]                         # set host to send reports by email
# host = "smtp.example.com"
# port = 587
# security = "starttls"           # starttls | ssl | none
# username = "cadence@example.com"
# password_env = "CADENCE_SMTP_PASSWORD"
# from_addr = "cadence@example.com"

# [serve]                         # `cadence serve`: the reports behind your single sign-on
# bind = "127.0.0.1:8080"
# base_url = "https://cadence.example.com"   # the address people use (sign-in, cookies)
# session_secret_env = "CADENCE_SESSION_SECRET"
# session_hours = 12              # a session ends this long after sign-in
# idle_minutes = 60               # or after this long unused
# admins = ["people-ops@example.com"]        # may see every report
#
# [serve.oidc]
# issuer = "https://accounts.google.com"     # or https://login.microsoftonline.com/<tenant>/v2.0
# client_id = "..."
# client_secret_env = "CADENCE_OIDC_SECRET"

# [export]                        # `cadence export --pseudonymize`
# salt_env = "CADENCE_EXPORT_SALT"

# [sources.acme-google]
# kind = "google"
# service_account_file = "sa.json"  # key with domain-wide delegation; its token_uri is honoured
# admin_email = "admin@acme.test"   # impersonated for the Directory API
# api_endpoint = ""                 # empty: Google's; set for a private endpoint or a stand-in
# directory_endpoint = ""
# requests_per_minute = 10000       # Calendar API calls a minute, all hosts together; 0 none

# [sources.acme-m365]
# kind = "outlook"
# tenant_id = "..."
# client_id = "..."
# client_secret_env = "CADENCE_M365_SECRET"   # or certificate_file + certificate_thumbprint
# authority = ""                    # empty: https://login.microsoftonline.com/<tenant_id>
# validate_authority = true         # false for a private or stand-in authority
# graph_url = "https://graph.microsoft.com/v1.0"
# requests_per_minute = 0           # Graph's limits are per mailbox; 0: no source-wide budget
"""
