"""The loopback HTTP server both calendar stand-ins run on, with faults, latency and counters.

A stand-in subclasses :class:`StandIn` and implements :meth:`StandIn.route` (a :class:`Request`
in, a :class:`Response` out) and :meth:`StandIn.classify` (which kind of call a request is, and
for which mailbox). This module does the rest, the same way for both:

- serving on ``127.0.0.1`` at a free port, in a thread, as a context manager; HTTPS when given an
  ``ssl.SSLContext`` (the Graph stand-in);
- **faults** per test: :meth:`StandIn.fault` queues a :class:`Fault` matched by call kind and
  mailbox (an HTTP status with a JSON body and optional ``Retry-After``, a dropped connection, a
  slow answer, a malformed body), for the next N matching requests or always, optionally after
  letting the first K matching requests through (to fail "after page k");
- **latency** on demand (``latency`` seconds slept per request, for benchmarks). Each request
  is served on its own thread and sleeps there, holding no lock, so concurrent requests overlap
  their latency rather than queue behind one another;
- a **quota**, off by default: ``quota_per_minute`` requests a minute for the whole stand-in (a
  source-wide budget, as Google's per-project and Graph's per-tenant quotas are), a token bucket
  (:class:`TokenBucket`). The exact rule: the bucket holds at most ``quota_burst`` tokens (by
  default :data:`QUOTA_BURST_SECONDS` seconds' worth of the budget, at least one), starts full
  and gains ``quota_per_minute / 60`` tokens a second, continuously. A request arriving while
  the bucket holds a whole token spends it and is served; otherwise it is refused, spends
  nothing, and is answered in the provider's shape (:meth:`StandIn.quota_refusal`) after the
  same ``latency`` as any answer. So in any span of ``t`` seconds at most ``burst + rate * t``
  requests are served; and a client spending the budget alone, pacing itself with a bucket of
  the same rate and a burst ``b`` no larger, is never refused (the server's bucket never holds
  less than the client's),
  with ``burst - b`` tokens to spare for requests that arrive bunched by network or scheduling
  jitter. What a request costs is the provider's unit (:meth:`StandIn.charges_quota`: Google
  charges every API call but OAuth's; Graph each part of a ``$batch``, the envelope nothing).
  Refusals are counted in :attr:`StandIn.quota_refused`, apart from the counters below;
- **counters**: total requests served (refused ones over the quota not among them), per call
  kind, per mailbox;
- **paths as the real services read them** (:attr:`Request.segments`): dot segments resolved
  first, then split at ``/``, then each segment percent-decoded once, so ``%2F`` stays inside
  its segment and ``..`` climbs. A client that sends a mailbox unencoded is then routed where
  Google or Graph would route it, and a test sees what that costs.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

FAULT_KINDS = frozenset({"status", "drop", "slow", "malformed"})
QUOTA_BURST_SECONDS = 5.0  # the default burst: this many seconds' worth of the budget
# Float slack when comparing tokens: a client pacing at exactly the rate must not be refused for
# a rounding error of the refill arithmetic.
_TOKEN_SLACK = 1e-9
# Connections waiting to be accepted: a benchmark opens hundreds at once, and the default (5)
# would drop their SYNs and cost each a second of retransmission.
LISTEN_BACKLOG = 1024


def path_segments(path: str) -> tuple[str, ...]:
    """A raw request path as a server routes it: ``.`` and ``..`` resolved (RFC 3986 5.2.4),
    split at ``/`` (empty segments dropped), and only then each segment percent-decoded."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return tuple(unquote(segment) for segment in kept)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, as sent: still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments, decoded, as the real services route them (:func:`path_segments`)."""
        return path_segments(self.path)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


@dataclass
class Fault:
    """One fault rule. ``kind`` and ``mailbox`` ``None`` match any request.

    ``action``: ``status`` (answer ``status`` with ``body`` and ``retry_after``), ``drop`` (close
    the connection without an answer), ``slow`` (sleep ``delay`` seconds, then answer normally),
    ``malformed`` (200 with a body that is not JSON). ``times``: how many matching requests it
    hits (``None``: always); ``skip``: how many matching requests pass untouched first.
    """

    action: str = "status"
    status: int = 500
    body: Any = None
    retry_after: str | None = None
    delay: float = 0.0
    kind: str | None = None
    mailbox: str | None = None
    times: int | None = 1
    skip: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in FAULT_KINDS:
            raise ValueError(f"fault action must be one of {sorted(FAULT_KINDS)}")

    def matches(self, kind: str, mailbox: str | None) -> bool:
        return (self.kind is None or self.kind == kind) and (
            self.mailbox is None or self.mailbox == mailbox
        )

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


class TokenBucket:
    """A budget of ``per_minute`` requests a minute, with bursts of up to ``burst`` (the rule is
    in the module's docstring); safe to share between threads."""

    def __init__(
        self,
        per_minute: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a quota must allow some requests a minute")
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = burst if burst is not None else max(1.0, self.rate * QUOTA_BURST_SECONDS)
        if self.burst < 1:
            raise ValueError("a quota's burst must hold at least one request")
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """Spend a token: ``None`` when there was one; else nothing is spent, and the answer is
        how many seconds until there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1 - _TOKEN_SLACK:
                self._tokens = max(0.0, self._tokens - 1)
                return None
            return (1 - self._tokens) / self.rate


class StandIn:
    """Base of the stand-ins: subclasses implement :meth:`route` and :meth:`classify`."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        latency: float = 0.0,
        quota_per_minute: float | None = None,
        quota_burst: float | None = None,
    ):
        self.latency = latency
        self._ssl = ssl_context
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.total = 0
        self.by_kind: Counter[str] = Counter()
        self.by_mailbox: Counter[str] = Counter()
        self.quota_refused = 0  # requests (Graph: $batch parts) refused over the quota
        # The bucket itself, replaceable (a test gives it a manual clock); ``quota_per_minute``
        # and ``quota_burst`` are the usual way to set it.
        self.quota: TokenBucket | None = None
        self._quota_burst = quota_burst
        self.quota_per_minute = quota_per_minute
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the quota ------------------------------------------------------------------------------

    @property
    def quota_per_minute(self) -> float | None:
        """The source-wide budget in requests a minute (``None``: no quota). Setting it (or
        :attr:`quota_burst`) starts a new, full bucket."""
        return self.quota.per_minute if self.quota is not None else None

    @quota_per_minute.setter
    def quota_per_minute(self, per_minute: float | None) -> None:
        self.quota = None if per_minute is None else TokenBucket(per_minute, self._quota_burst)

    @property
    def quota_burst(self) -> float | None:
        """How many requests the bucket holds at most. Set ``None`` for the default,
        :data:`QUOTA_BURST_SECONDS` seconds' worth of the budget (at least one)."""
        return self.quota.burst if self.quota is not None else self._quota_burst

    @quota_burst.setter
    def quota_burst(self, burst: float | None) -> None:
        self._quota_burst = burst
        self.quota_per_minute = self.quota_per_minute

    def charges_quota(self, request: Request, kind: str) -> bool:
        """Whether a request is charged to the quota (one unit), in the provider's accounting."""
        return True

    def quota_refusal(self, retry_after: float) -> Response:
        """The provider's answer to a request over the quota; ``retry_after``: seconds until the
        budget has room again."""
        return Response(
            429,
            {"error": {"code": 429, "message": "Too many requests."}},
            {"Retry-After": retry_seconds(retry_after)},
        )

    def spend_quota(self, request: Request, kind: str) -> float | None:
        """Charge a request to the quota: ``None`` when it is within the budget (or free, or
        there is no quota); else the seconds until there is room, and the refusal is counted."""
        bucket = self.quota
        if bucket is None or not self.charges_quota(request, kind):
            return None
        wait = bucket.take()
        if wait is not None:
            with self._lock:
                self.quota_refused += 1
        return wait

    # -- what a stand-in implements -------------------------------------------------------------

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def classify(self, request: Request) -> tuple[str, str | None]:
        """(call kind, mailbox or ``None``) of a request, for faults and counters."""
        return "other", None

    def admit(self, kind: str, mailbox: str | None) -> Response | None:
        """A refusal (e.g. 429 over a per-mailbox concurrency limit), or ``None`` to serve.

        Every admitted request is matched by one :meth:`release` when it has been answered.
        """
        return None

    def release(self, kind: str, mailbox: str | None) -> None:
        """The end of a request :meth:`admit` let in."""

    # -- faults and counters --------------------------------------------------------------------

    def fault(self, fault: Fault | None = None, **kw: Any) -> Fault:
        """Queue a fault (a :class:`Fault`, or its fields as keywords); returns it."""
        f = fault or Fault(**kw)
        with self._lock:
            self._faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.total = 0
            self.by_kind.clear()
            self.by_mailbox.clear()
            self.quota_refused = 0

    def _count(self, kind: str, mailbox: str | None) -> None:
        self.total += 1
        self.by_kind[kind] += 1
        if mailbox:
            self.by_mailbox[mailbox] += 1

    def _take_fault(self, kind: str, mailbox: str | None) -> Fault | None:
        with self._lock:
            self._count(kind, mailbox)
            for f in self._faults:
                if f.spent or not f.matches(kind, mailbox):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                f.hits += 1
                return f
        return None

    # -- serving --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` (no trailing slash)."""
        assert self._httpd is not None, "the stand-in is not started"
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        httpd.daemon_threads = True
        if self._ssl is not None:
            httpd.socket = self._ssl.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        # A short poll interval: stop() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="stand-in", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def retry_seconds(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least one."""
    return str(max(1, math.ceil(wait)))


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG


def _handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real clients expect
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the client's
        # delayed ACK hold the body back ~40 ms per answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and benchmarks make thousands of requests."""

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            kind, mailbox = stand_in.classify(request)
            wait = stand_in.spend_quota(request, kind)
            if wait is not None:
                if stand_in.latency:
                    time.sleep(stand_in.latency)
                self._send(stand_in.quota_refusal(wait))
                return
            refused = stand_in.admit(kind, mailbox)
            if refused is not None:
                with stand_in._lock:
                    stand_in._count(kind, mailbox)
                self._send(refused)
                return
            try:
                self._answer(request, kind, mailbox)
            finally:
                stand_in.release(kind, mailbox)

        def _answer(self, request: Request, kind: str, mailbox: str | None) -> None:
            # Latency is spent while admitted: it is the time a request holds its slot.
            if stand_in.latency:
                time.sleep(stand_in.latency)
            fault = stand_in._take_fault(kind, mailbox)
            if fault is not None and fault.action == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.action == "slow":
                time.sleep(fault.delay)
            if fault is not None and fault.action == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                response = Response(fault.status, fault.body, headers)
            elif fault is not None and fault.action == "malformed":
                response = Response(200, b'{"items": [ {"id": "trunc')
            else:
                try:
                    response = stand_in.route(request)
                except Exception as exc:  # a stand-in bug: answer 500 rather than hang
                    response = Response(500, {"error": {"code": 500, "message": repr(exc)}})
            self._send(response)

        def _send(self, response: Response) -> None:
            payload = response.payload()
            self.send_response(response.status)
            headers = {"Content-Type": "application/json; charset=UTF-8", **response.headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler
