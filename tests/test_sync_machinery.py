"""The kind-agnostic sync machinery: the retry policy and the planning of a round."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence.config import SyncConfig
from cadence.connectors.base import Window
from cadence.connectors.retry import Retryable, RetryPolicy, parse_retry_after
from cadence.errors import AuthError, SyncError
from cadence.jobs.sync import plan_round
from cadence.store.models import SyncState

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


class Flaky:
    def __init__(self, failures: int, exc: Exception) -> None:
        self.failures, self.exc, self.calls = failures, exc, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "done"


def test_retries_what_the_classifier_allows_then_succeeds() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=3, sleep=sleeps.append)
    fn = Flaky(2, ConnectionResetError())
    assert policy.call(fn, lambda exc: Retryable("reset")) == "done"
    assert fn.calls == 3 and len(sleeps) == 2


def test_gives_up_after_max_retries_with_the_reason() -> None:
    policy = RetryPolicy(max_retries=2, sleep=lambda s: None)
    fn = Flaky(10, ConnectionResetError())
    with pytest.raises(SyncError, match="gave up after 3 attempts: reset") as info:
        policy.call(fn, lambda exc: Retryable("reset"))
    assert fn.calls == 3 and isinstance(info.value.__cause__, ConnectionResetError)


def test_not_retryable_propagates_at_once() -> None:
    policy = RetryPolicy(sleep=lambda s: pytest.fail("must not sleep"))
    fn = Flaky(1, KeyError("bug"))
    with pytest.raises(KeyError):
        policy.call(fn, lambda exc: None)
    assert fn.calls == 1


def test_a_retry_after_beyond_the_limit_fails_instead_of_waiting() -> None:
    policy = RetryPolicy(sleep=lambda s: pytest.fail("must not sleep"), max_retry_after=300)
    with pytest.raises(SyncError, match="asked to wait 3600 s"):
        policy.call(Flaky(1, OSError()), lambda exc: Retryable("busy", retry_after=3600))


@given(attempt=st.integers(0, 20), slow=st.booleans(), seed=st.integers(0, 2**32))
def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling(
    attempt: int, slow: bool, seed: int
) -> None:
    policy = RetryPolicy(base=0.5, cap=32, slow_factor=8, rng=random.Random(seed))
    factor = 8 if slow else 1
    delay = policy.delay(attempt, Retryable("x", slow=slow))
    assert 0 <= delay <= min(32 * factor, 0.5 * factor * 2**attempt)


@given(seconds=st.integers(0, 10_000))
def test_retry_after_is_honoured_exactly_up_to_the_limit(seconds: int) -> None:
    policy = RetryPolicy(max_retry_after=300)
    assert policy.delay(5, Retryable("x", retry_after=seconds)) == min(seconds, 300)


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now


def state(**kw: object) -> SyncState:
    return SyncState(source="s", mailbox="m", **kw)


def test_first_sync_and_full_read_the_configured_window() -> None:
    sync = SyncConfig(lookback_days=180, horizon_days=35)
    fresh = Window(NOW - timedelta(days=180), NOW + timedelta(days=35))
    assert plan_round(None, sync, NOW, full=False) == (None, fresh)
    saved = state(
        token="t", window_start=NOW - timedelta(days=200), window_end=NOW + timedelta(weeks=3)
    )
    assert plan_round(saved, sync, NOW, full=True) == (None, fresh)


def test_incremental_keeps_the_token_window_until_the_horizon_runs_low() -> None:
    sync = SyncConfig(lookback_days=180, horizon_days=35, rebaseline_days=7)
    start, end = NOW - timedelta(days=200), NOW + timedelta(days=8)
    saved = state(token="t", window_start=start, window_end=end)
    assert plan_round(saved, sync, NOW, full=False) == ("t", Window(start, end))
    token, window = plan_round(saved, sync, NOW + timedelta(days=2), full=False)
    assert token is None and window.end == NOW + timedelta(days=37)


@pytest.mark.parametrize("tblib_installed", [False, True])
def test_one_error_raised_in_two_mailboxes_names_each_its_own(tblib_installed: bool) -> None:
    if tblib_installed:  # as Dask's distributed installs it, which changes how errors copy
        import tblib.pickling_support

        tblib.pickling_support.install()
    # A failed $batch answers every part with the same exception object.
    shared = AuthError("Graph refused access (HTTP 403)")
    first, second = shared.about("ann@acme.test"), shared.about("bob@acme.test")
    assert str(first) == "ann@acme.test: Graph refused access (HTTP 403)"
    assert str(second) == "bob@acme.test: Graph refused access (HTTP 403)"
    assert isinstance(second, AuthError) and str(shared) == "Graph refused access (HTTP 403)"
    precise = SyncError("time zone 'Mars/Base' is not an IANA name", where="event AAMk-1")
    assert precise.about("ann@acme.test") is precise
