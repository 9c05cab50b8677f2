"""Which connector serves which kind of source: the one place that maps ``kind`` to code.

Connectors are imported lazily so that a Google-only install never loads msal, and the other way
round. Each connector class takes ``(config, source, retry=None)``.
"""

from __future__ import annotations

from cadence.config import Config, GoogleSource, OutlookSource
from cadence.connectors.base import CalendarConnector
from cadence.connectors.retry import RetryPolicy
from cadence.errors import ConfigError


def connect(
    config: Config, source_name: str, retry: RetryPolicy | None = None
) -> CalendarConnector:
    """The connector of ``[sources.<source_name>]``."""
    try:
        source = config.sources[source_name]
    except KeyError:
        raise ConfigError(
            f"{config._where()}: no source named {source_name!r} (have {sorted(config.sources)})"
        ) from None
    retry = retry or RetryPolicy(max_retries=config.sync.max_retries)
    if isinstance(source, GoogleSource):
        from cadence.connectors.google import GoogleConnector

        return GoogleConnector(config, source, retry)
    if isinstance(source, OutlookSource):
        from cadence.connectors.outlook import OutlookConnector

        return OutlookConnector(config, source, retry)
    raise ConfigError(f"[sources.{source_name}] has an unknown kind")  # pragma: no cover
