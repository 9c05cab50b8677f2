"""A source's request budget: a token bucket that every thread, process and host of a night shares.

Why: a night spread over threads, Dask workers or ``--shard`` hosts would otherwise spend the
provider's quota without knowing the others do, and learn of it only from 403/429 answers, each
costing a backoff. With the budget, the night sends requests no faster than ``[sources.NAME]
requests_per_minute``, so its length is the quota's floor (requests / budget), not a guess.

The bucket holds at most one second's worth of requests (so a burst never exceeds what the
provider's per-minute window takes in a second) and refills continuously at the budget's rate.
A caller *reserves* what it needs in one step: the tokens are taken at once, the bucket may go
negative, and the caller sleeps until the refill has paid its share back. Callers therefore
queue in the order they asked, and a reservation is one statement, never a retry loop.

- On PostgreSQL the bucket is a row of ``request_budgets``, updated in one ``INSERT ... ON
  CONFLICT DO UPDATE ... RETURNING`` with the database server's clock, so every host sees one
  bucket whatever its own clock says. To keep that to a few statements a second, each process
  reserves a block (a quarter of a second's worth) and hands it out to its threads itself.
- On SQLite (one host, one process at a time: sharded and clustered nights need PostgreSQL) the
  same bucket is kept in memory: taking SQLite's one write lock per request would slow the
  night's page writes.

A budget of 0 requests a minute is no budget: :func:`open_budget` returns ``None`` and callers
send as fast as their concurrency allows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, text

# Seconds of the budget the bucket can hold (the largest burst), and that a process reserves at
# once from the shared row.
BURST_SECONDS = 1.0
BLOCK_SECONDS = 0.25

_RESERVE = text(
    """
    INSERT INTO request_budgets (source, tokens, refilled_at)
    VALUES (:source, :capacity - :n, EXTRACT(EPOCH FROM clock_timestamp())::float8)
    ON CONFLICT (source) DO UPDATE SET
        tokens = LEAST(
            :capacity,
            request_budgets.tokens
            + :rate * (EXTRACT(EPOCH FROM clock_timestamp())::float8 - request_budgets.refilled_at)
        ) - :n,
        refilled_at = EXTRACT(EPOCH FROM clock_timestamp())::float8
    RETURNING tokens
    """
)


class RequestBudget:
    """``take(n)`` blocks until ``n`` more requests fit the source's budget.

    ``reserve(n)`` takes ``n`` tokens from the bucket and answers how many seconds the caller
    must wait before they are its own (0 when the bucket had them)."""

    def __init__(
        self,
        per_minute: int,
        reserve: Callable[[int], float],
        block: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._reserve = reserve
        self._block = max(1, block)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._left = 0  # reserved by this process, not yet handed out
        self._ready_at = 0.0  # monotonic time at which what is left is this process's

    def take(self, n: int = 1) -> None:
        with self._lock:
            if self._left < n:
                wanted = max(self._block, n - self._left)
                wait = self._reserve(wanted)
                self._ready_at = max(self._ready_at, time.monotonic() + wait)
                self._left += wanted
            self._left -= n
            pause = self._ready_at - time.monotonic()
        if pause > 0:
            self._sleep(pause)


def open_budget(engine: Engine, source: str, per_minute: int) -> RequestBudget | None:
    """The budget of ``source`` for this process: shared through the store on PostgreSQL, in
    memory on SQLite; ``None`` when ``per_minute`` is 0 (no budget)."""
    if per_minute <= 0:
        return None
    rate = per_minute / 60.0
    capacity = max(1.0, rate * BURST_SECONDS)
    if engine.dialect.name == "postgresql":

        def reserve(n: int) -> float:
            with engine.begin() as conn:
                tokens = conn.execute(
                    _RESERVE, {"source": source, "capacity": capacity, "n": n, "rate": rate}
                ).scalar_one()
            return max(0.0, -float(tokens) / rate)

        return RequestBudget(per_minute, reserve, block=round(rate * BLOCK_SECONDS))
    bucket = _MemoryBucket(rate, capacity)
    # One process: no statements to save, so no blocks either (a block would only add a burst).
    return RequestBudget(per_minute, bucket.reserve, block=1)


class _MemoryBucket:
    """The bucket of :data:`_RESERVE`, kept in this process."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens = capacity
        self.refilled_at = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self, n: int) -> float:
        with self._lock:
            now = time.monotonic()
            refill = self.rate * (now - self.refilled_at)
            self.tokens = min(self.capacity, self.tokens + refill) - n
            self.refilled_at = now
            return max(0.0, -self.tokens / self.rate)
