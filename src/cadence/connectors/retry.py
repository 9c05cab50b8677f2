"""The failure map and the retry policy both connectors share.

Which failures are worth retrying, and what the others mean, is the API's business, so each
connector has one *classifier* of the same shape: a function that looks at a library's exception
and returns

- a :class:`Retryable`: try again, maybe after the server's ``Retry-After``, maybe with the longer
  backoff of an abuse limit;
- a :class:`cadence.errors.SyncError` (``TokenExpired``, ``AuthError``): cadence's words for it,
  which :meth:`RetryPolicy.call` raises chained to the original;
- ``None``: not the API's failure (a bug): the exception propagates unchanged.

Neither the classifier nor the policy names the mailbox: the sync job does, once
(:meth:`cadence.errors.SyncError.about`). After ``max_retries`` retries the policy raises
:class:`cadence.errors.SyncError` naming the last reason, chained to the last exception.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from cadence.errors import SyncError

T = TypeVar("T")


@dataclass(frozen=True)
class Retryable:
    """A classifier's verdict that a failure is worth another try."""

    reason: str
    retry_after: float | None = None  # seconds, from the server's Retry-After
    slow: bool = False  # an abuse or daily limit: back off much longer


class MalformedAnswer(ValueError):
    """A 2xx answer whose body is not the JSON object the API documents (a proxy's page, a cut
    body): worth another try."""


Verdict = Retryable | SyncError | None
Classifier = Callable[[BaseException], Verdict]


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base: float = 0.5  # seconds: the first backoff's ceiling
    cap: float = 32.0  # no single wait longer than this...
    slow_factor: float = (
        8.0  # ...except for ``slow`` verdicts, whose base and cap are this much more
    )
    max_retry_after: float = 300.0  # a server asking for longer than this is not waited for
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, verdict: Retryable) -> float:
        """How long to wait before retry number ``attempt`` (0-based)."""
        if verdict.retry_after is not None:
            return min(max(verdict.retry_after, 0.0), self.max_retry_after)
        factor = self.slow_factor if verdict.slow else 1.0
        ceiling = min(self.cap * factor, self.base * factor * 2**attempt)
        return self.rng.uniform(0, ceiling)  # full jitter: spreads many workers apart

    def call(self, fn: Callable[[], T], classify: Classifier) -> T:
        """``fn()``, retried as ``classify`` says, up to ``max_retries`` times."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                verdict = classify(exc)
                if verdict is None:
                    raise
                if isinstance(verdict, SyncError):
                    raise verdict from exc
                if attempt >= self.max_retries:
                    raise SyncError(
                        f"gave up after {attempt + 1} attempts: {verdict.reason}", retryable=True
                    ) from exc
                if verdict.retry_after is not None and verdict.retry_after > self.max_retry_after:
                    raise SyncError(
                        f"{verdict.reason}; the server asked to wait {verdict.retry_after:.0f} s",
                        retryable=True,
                    ) from exc
                self.sleep(self.delay(attempt, verdict))
                attempt += 1


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
