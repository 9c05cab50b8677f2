"""Log lines for people (text) or for log collectors (one JSON object a line).

Only cadence's own loggers are configured; client libraries stay at WARNING so their debug
output (which may carry request headers) never reaches the logs. Messages never carry secrets:
errors from the connectors are built to name the mailbox and the reason only.

With JSON logs every line on stderr is a JSON object, because a collector that meets one line of
plain text (a library's log line, a warning, the command's last error) either drops it or breaks
the stream. So :func:`configure` also formats what reaches the root logger (alembic's lines when
``-v`` lets them through), routes Python's warnings and uncaught exceptions through it, and
:func:`fail` writes the command's error line the same way.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is data.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

log = logging.getLogger("cadence")
_format = "text"  # what the last configure() chose: the error line follows it
_verbose = 0


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


class _JsonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure` puts on the root logger, known again by its class."""


def configure(log_format: str = "text", verbose: int = 0, quiet: bool = False) -> None:
    """Send cadence's logs to stderr in ``log_format`` (``text`` or ``json``)."""
    global _format, _verbose
    _format, _verbose = log_format, verbose
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
    root = logging.getLogger()
    if log_format == "json":
        # Replaces the text handler `-v` gave the root logger; the root's level is left as
        # `-v` set it, so JSON logs show exactly the lines text logs would.
        everything = _JsonHandler(sys.stderr)
        everything.setFormatter(JsonFormatter())
        root.handlers[:] = [everything]
        logging.captureWarnings(True)
        sys.excepthook = _uncaught
        threading.excepthook = _uncaught_in_thread
    else:
        root.handlers[:] = [h for h in root.handlers if not isinstance(h, _JsonHandler)]
        logging.captureWarnings(False)
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__


def fail(message: str, *, verbose: bool = False, show: Callable[[], None] | None = None) -> None:
    """The command's last line for an error being handled: ``Error: message`` (after the
    traceback with ``verbose``; ``show`` instead, when given, prints click's own text), or with
    JSON logs one JSON object at level error (the traceback inside it with ``verbose``)."""
    if _format != "json":
        if show is not None:
            show()
            return
        if verbose:
            traceback.print_exc()
        print(f"Error: {message}", file=sys.stderr, flush=True)
        return
    exc_info = sys.exc_info() if verbose else None
    log.error(message, exc_info=exc_info, extra={"event": "error"})


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An exception nothing caught, as one JSON line: what it was, and with ``-v`` where."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    exc_info = (kind, exc, tb) if _verbose else None
    log.critical(f"unexpected {kind.__name__}: {exc}", exc_info=exc_info, extra={"event": "crash"})


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _uncaught(args.exc_type, args.exc_value, args.exc_traceback)
