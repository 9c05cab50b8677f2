"""The web app's routes, security headers and access log.

    /                                      the signed-in person's own reports (admins: everyone's)
    /manager/EMAIL/WEEK[.json]             a manager's report for a week
    /director/EMAIL/WEEK[.json]            a director's report for a week
    /director/EMAIL/WEEK/sub-org/HEAD[.json]  one sub-org of that report
    /login, /auth/callback, /logout        sign-in and sign-out
    /healthz                               whether the store answers (no sign-in)

Every report route answers JSON with ``Accept: application/json`` or a ``.json`` suffix, and HTML
otherwise, from the same saved figures and behind the same rule (:mod:`cadence.web.access`). A
page the person may not see answers 404, like a page that does not exist. Every response
carries a Content-Security-Policy that allows no script at all and no framing, no referrer, and
``no-store``; each page view writes one access-log line (who, what, the answer's status), never
a figure, a query string or a token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cadence.config import Config
from cadence.normalised import normalise_email
from cadence.reports.words import RenderSettings
from cadence.store.database import store_answers
from cadence.web.access import Viewer, may_see
from cadence.web.pages import Nav, OrgDirectory, Pages, WeekFigures, parse_view, sub_org_page
from cadence.web.sessions import COOKIE, Sessions
from cadence.web.signin import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SignInFailed,
    issuer_client,
    safe_next,
    verified_person,
)

access_log = logging.getLogger("cadence.web.access")
log = logging.getLogger("cadence.web")

JSON_SUFFIX = ".json"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class Guard:
    """Security headers on every answer, and one access-log line per request."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.headers = [*HEADERS, HSTS] if https else HEADERS

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_guarded(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                names = {name for name, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self.headers
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_guarded)
        finally:
            who = scope.get("state", {}).get("viewer") or "-"
            access_log.info(
                "%s %s %s %d %.0fms",
                who,
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )


class RenderedPages:
    """The last pages drawn, by everything that goes into one: a page is drawn again only when
    its saved figures, its week list or its reader changes. Drawing a report with its charts
    costs tens of milliseconds; on Monday morning most people open theirs more than once."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[Any, ...], page: str) -> None:
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def wants_json(request: Request, last_segment: str) -> tuple[bool, str]:
    """Whether the answer is JSON, and the last path segment without a ``.json`` suffix."""
    if last_segment.endswith(JSON_SUFFIX):
        return True, last_segment[: -len(JSON_SUFFIX)]
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept, last_segment


class WebApp:
    """The routes, over one store and one configuration."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        session_key: bytes,
        client_secret: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.engine = engine
        self.now = now
        serve = config.serve
        self.base = serve.public_url
        self.https = self.base.startswith("https://")
        self.admins = {normalise_email(a) for a in serve.admins}
        self.sessions = Sessions(
            engine,
            session_key,
            absolute=timedelta(hours=serve.session_hours),
            idle=timedelta(minutes=serve.idle_minutes),
        )
        self.directory = OrgDirectory(engine)
        self.figures = WeekFigures(engine, config, now)
        self.pages = Pages(RenderSettings.from_config(config))
        self.client = issuer_client(config, client_secret)
        self.rendered = RenderedPages()
        self.session_key = session_key

    # -- who is asking --------------------------------------------------------------------------

    def viewer(self, request: Request) -> Viewer | None:
        email = self.sessions.who(request.cookies.get(COOKIE), self.now())
        if email is None:
            return None
        person = self.directory.resolve(email)
        if person is None:  # left the org chart since signing in
            return None
        request.state.viewer = person.email
        admin = person.email in self.admins or any(
            normalise_email(a) in self.admins for a in person.aliases
        )
        return Viewer(email=person.email, name=person.name, admin=admin)

    def _nav(
        self, viewer: Viewer, week: str, link: Callable[[str], str], json_url: str | None
    ) -> Nav:
        return Nav(
            viewer_name=viewer.name,
            viewer_email=viewer.email,
            admin=viewer.admin,
            week=week,
            weeks=self.figures.weeks(),
            link=link,
            json_url=json_url,
        )

    def _sign_in_first(self, request: Request, as_json: bool) -> Response:
        if as_json:
            return JSONResponse({"error": "sign in first", "login": "/login"}, status_code=401)
        return RedirectResponse("/login?next=" + quote(request.url.path, safe="/@"), 302)

    def _not_found(self, as_json: bool, viewer: Viewer | None) -> Response:
        if as_json:
            return JSONResponse({"error": "not found"}, status_code=404)
        text = self.pages.message(
            "Not found", "There is no page here for you. Your own reports are on the home page."
        )
        return HTMLResponse(text, status_code=404)

    # -- pages ----------------------------------------------------------------------------------

    def report(self, request: Request) -> Response:
        kind = request.url.path.split("/")[1]
        subject = request.path_params["email"]
        as_json, week = wants_json(request, request.path_params["week"])
        viewer = self.viewer(request)
        if viewer is None:
            return self._sign_in_first(request, as_json)
        subject = normalise_email(subject)
        if not may_see(viewer, kind, subject):
            return self._not_found(as_json, viewer)
        text = self.figures.view_json(week, kind, subject)
        if text is None:
            return self._not_found(as_json, viewer)
        if as_json:
            return Response(text, media_type="application/json")
        here = f"/{kind}/{quote(subject, safe='@')}"
        nav = self._nav(viewer, week, lambda w: f"{here}/{w}", f"{here}/{week}.json")
        key = (kind, subject, week, viewer.name, viewer.admin, tuple(nav.weeks), hash(text))
        page = self.rendered.get(key)
        if page is None:
            view = parse_view(text)
            if kind == "manager":
                page = self.pages.manager(view, nav)
            else:
                page = self.pages.director(
                    view, nav, lambda head: f"{here}/{week}/sub-org/{quote(head, safe='@')}"
                )
            self.rendered.put(key, page)
        return HTMLResponse(page)

    def sub_org(self, request: Request) -> Response:
        subject = normalise_email(request.path_params["email"])
        week = request.path_params["week"]
        as_json, head = wants_json(request, request.path_params["head"])
        viewer = self.viewer(request)
        if viewer is None:
            return self._sign_in_first(request, as_json)
        if not may_see(viewer, "director", subject):
            return self._not_found(as_json, viewer)
        text = self.figures.view_json(week, "director", subject)
        page = None if text is None else sub_org_page(parse_view(text), head, self.directory)
        if page is None:
            return self._not_found(as_json, viewer)
        if as_json:
            return JSONResponse(page)
        here = f"/director/{quote(subject, safe='@')}"
        tail = f"/sub-org/{quote(normalise_email(head), safe='@')}"
        nav = self._nav(viewer, week, lambda w: f"{here}/{w}{tail}", f"{here}/{week}{tail}.json")
        return HTMLResponse(self.pages.sub_org(page, nav, f"{here}/{week}"))

    def home(self, request: Request) -> Response:
        as_json = wants_json(request, "")[0]
        viewer = self.viewer(request)
        if viewer is None:
            return self._sign_in_first(request, as_json)
        week = self.figures.current()
        subjects = self.figures.subjects(week)
        own = [
            SimpleNamespace(
                kind=k, email=e, name=viewer.name, url=f"/{k}/{quote(e, safe='@')}/{week}"
            )
            for k, e in subjects
            if e == viewer.email
        ]
        others = []
        if viewer.admin:
            others = [
                SimpleNamespace(
                    kind=k,
                    email=e,
                    name=self.directory.name(e),
                    url=f"/{k}/{quote(e, safe='@')}/{week}",
                )
                for k, e in subjects
                if e != viewer.email
            ]
            others.sort(key=lambda r: (r.kind != "director", r.name.casefold(), r.email))
        if as_json:
            rows = [{"kind": r.kind, "email": r.email, "url": r.url} for r in [*own, *others]]
            return JSONResponse({"week": week, "reports": rows})
        nav = self._nav(viewer, week, lambda w: "/", None)
        return HTMLResponse(self.pages.home(nav, own, others))

    def healthz(self, request: Request) -> Response:
        if store_answers(self.engine):
            return JSONResponse({"status": "ok", "store": "answers"})
        return JSONResponse({"status": "failing", "store": "does not answer"}, status_code=503)

    # -- signing in and out ---------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        request.session["next"] = safe_next(request.query_params.get("next"))
        redirect: Response = await self.client.authorize_redirect(
            request, self.base + "/auth/callback"
        )
        return redirect

    async def callback(self, request: Request) -> Response:
        issuer = self.config.serve.oidc.issuer
        try:
            signed_in = await verified_person(self.client, request, issuer)
        except SignInFailed as exc:
            log.warning("sign-in refused: %s", exc)
            text = self.pages.message(
                "Sign-in did not work",
                "Your sign-in could not be checked, or it took too long. Please try again.",
                sign_in="/login",
            )
            return HTMLResponse(text, status_code=400)
        next_path = safe_next(request.session.pop("next", None))
        person = await run_in_threadpool(self.directory.resolve, signed_in.email)
        if person is None:
            log.info("sign-in of someone not in the org chart refused")
            text = self.pages.message(
                "No reports for you here",
                f"You are signed in as {signed_in.email}, but cadence's org chart does not list "
                "you, so there is nothing here for you to see. If this is wrong, ask whoever "
                "runs cadence to check the org chart.",
            )
            return HTMLResponse(text, status_code=403)
        # Sessions that ran out are deleted as people sign in, so the table keeps only live ones.
        await run_in_threadpool(self.sessions.sweep, self.now())
        cookie = await run_in_threadpool(self.sessions.start, person.email, self.now())
        request.state.viewer = person.email
        response = RedirectResponse(next_path, status_code=302)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(self.sessions.absolute.total_seconds()),
            httponly=True,
            secure=self.https,
            samesite="lax",
            path="/",
        )
        return response

    def logout_page(self, request: Request) -> Response:
        viewer = self.viewer(request)
        text = self.pages.message(
            "Sign out",
            "Sign out of cadence on this browser?" if viewer else "You are not signed in.",
            sign_out=viewer is not None,
        )
        return HTMLResponse(text)

    def logout(self, request: Request) -> Response:
        self.sessions.end(request.cookies.get(COOKIE))
        text = self.pages.message("Signed out", "You are signed out of cadence.", sign_in="/login")
        response = HTMLResponse(text)
        response.delete_cookie(COOKIE, path="/", secure=self.https, httponly=True, samesite="lax")
        return response

    def starlette(self) -> Starlette:
        routes = [
            Route("/", self.home),
            Route("/healthz", self.healthz),
            Route("/login", self.login),
            Route("/auth/callback", self.callback),
            Route("/logout", self.logout_page, methods=["GET"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/manager/{email}/{week}", self.report),
            Route("/director/{email}/{week}", self.report),
            Route("/director/{email}/{week}/sub-org/{head}", self.sub_org),
        ]
        middleware = [
            Middleware(Guard, https=self.https),
            Middleware(
                SessionMiddleware,
                secret_key=self.session_key.hex(),
                session_cookie=LOGIN_COOKIE,
                max_age=LOGIN_SECONDS,
                same_site="lax",
                https_only=self.https,
            ),
        ]
        return Starlette(routes=routes, middleware=middleware)


def create_app(
    config: Config,
    engine: Engine,
    *,
    session_key: bytes,
    client_secret: str,
    now: Callable[[], datetime] | None = None,
) -> Starlette:
    """The ASGI app of ``cadence serve`` over ``engine``'s store."""
    kwargs: dict[str, Any] = {"now": now} if now else {}
    return WebApp(
        config, engine, session_key=session_key, client_secret=client_secret, **kwargs
    ).starlette()
