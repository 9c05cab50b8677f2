"""Log lines for people (text) or for log collectors (one JSON object a line).

Only cadence's own loggers are configured; client libraries stay at WARNING so their debug
output (which may carry request headers) never reaches the logs. Messages never carry secrets:
errors from the connectors are built to name the mailbox and the reason only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is data.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(log_format: str = "text", verbose: int = 0, quiet: bool = False) -> None:
    """Send cadence's logs to stderr in ``log_format`` (``text`` or ``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("cadence")
    logger.handlers[:] = [handler]
    logger.propagate = False
    level = logging.DEBUG if verbose > 1 else logging.INFO
    logger.setLevel(logging.WARNING if quiet else level)
