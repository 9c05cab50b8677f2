"""Serving the web app: uvicorn on a socket bound first (so a port taken is a one-line error,
and a demo can ask for any free port and print the one it got), in the foreground for
``cadence serve`` or in a thread for the demo's tests and the load test."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from types import TracebackType
from typing import Any, Self

import uvicorn

from cadence.errors import UsageError

ACCESS_FORMAT = "%(asctime)s %(name)s %(message)s"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket at ``host:port`` (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def log_to_stderr() -> None:
    """Access-log lines and sign-in refusals on standard error, one line each, with the time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(ACCESS_FORMAT))
    web = logging.getLogger("cadence.web")
    web.addHandler(handler)
    web.setLevel(logging.INFO)
    web.propagate = False


def _server(app: Any) -> uvicorn.Server:
    # Behind a reverse proxy its X-Forwarded-* headers are honoured from the loopback only.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    return uvicorn.Server(config)


def serve_forever(app: Any, sock: socket.socket) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM)."""
    _server(app).run(sockets=[sock])


class ServerThread:
    """The app served in a thread, as a context manager (tests, the load benchmark)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.server = _server(app)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            threading.Event().wait(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
