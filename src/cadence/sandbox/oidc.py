"""A loopback OpenID Connect provider, so the web app signs people in through the real
authorization-code flow (PKCE S256, signed ID tokens, discovery, JWKS) with no network.

The web app's sign-in is security code: a stand-in that waves everything through would let a
broken client pass its tests. This one refuses what a real provider refuses (an unregistered
redirect URI, a reused or expired code, a wrong PKCE verifier, a wrong client secret) and signs
its ID tokens with a fresh RSA key per instance, served in its JWKS. Tests also get the other
side: :meth:`SignInStandIn.id_token` makes tokens a provider would *not* issue (signed with a key
outside the JWKS, unsigned, for another audience, expired), and :meth:`SignInStandIn.next_id_token`
slips one into the real flow, to show the app refuses them.

Instead of a password prompt, ``/authorize`` shows a "people picker": one plain link per account,
so a demo (or a test following links) picks who signs in. ``login_hint`` skips the picker.

Signing uses ``cryptography`` alone (RS256 is PKCS#1 v1.5 over SHA-256), so the sandbox needs no
JOSE library of its own; the tests verify its tokens with ``joserfc``, as Authlib does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cadence.sandbox.server import Request, Response, StandIn

CODE_LIFETIME = 60.0  # seconds an authorization code may wait for its token request
ACCESS_TOKEN_LIFETIME = 3600
ID_TOKEN_LIFETIME = 300
SCOPES = ("openid", "email", "profile")
PICKER_TITLE = "Sign in to the cadence demo — choose who you are"
CSP = "default-src 'none'; style-src 'unsafe-inline'"

# RFC 7636 4.2: an S256 challenge is BASE64URL(SHA-256), 43 characters, no padding; a verifier
# is 43 to 128 unreserved characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")

_ROUTES = {
    (".well-known", "openid-configuration"): "discovery",
    ("jwks",): "jwks",
    ("authorize",): "authorize",
    ("authorize", "choose"): "choose",
    ("token",): "token",
    ("userinfo",): "userinfo",
}

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:32rem;padding:0 1rem}"
    "ul{list-style:none;padding:0}li{margin:.5rem 0}"
    "a{display:block;padding:.75rem 1rem;border:1px solid #ccc;border-radius:.5rem;"
    "text-decoration:none;color:inherit}a:hover{background:#f3f3f3}"
    ".email{display:block;color:#666;font-size:.9em}"
)


@dataclass(frozen=True)
class Account:
    """Someone who can sign in."""

    email: str
    name: str
    email_verified: bool = True


@dataclass
class _Grant:
    """What an authorization code stands for, until the token request redeems it."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str
    email: str
    scope: str
    expires: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Access:
    email: str
    scope: str
    expires: float


class _AuthorizeError(Exception):
    """A refusal sent back to the client's redirect URI (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class SignInStandIn(StandIn):
    """An OpenID provider on ``http://127.0.0.1:PORT`` for one client and a set of accounts."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str] = (),
        latency: float = 0.0,
    ) -> None:
        super().__init__(latency=latency)
        self.accounts: dict[str, Account] = {a.email: a for a in accounts}
        self.client_id = client_id
        self.client_secret = client_secret
        # Empty: any loopback http redirect (the demo picks its port at run time).
        self.redirect_uris: set[str] = set(redirect_uris)
        self.code_lifetime = CODE_LIFETIME  # tests may shorten it to see a code expire
        self.codes_issued = 0
        self.tokens_issued = 0
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._other: rsa.RSAPrivateKey | None = None  # made on first use: generation is slow
        self.kid = _thumbprint(self._key.public_key())
        self._state = threading.Lock()  # codes and tokens; the base's lock guards its counters
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        self._next_id_token: str | None = None

    # -- what tests use -------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.url

    def jwks(self) -> dict[str, Any]:
        """The public key set served at ``/jwks``."""
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "n": _b64(_int_bytes(numbers.n)),
                    "e": _b64(_int_bytes(numbers.e)),
                    "kid": self.kid,
                    "alg": "RS256",
                    "use": "sig",
                }
            ]
        }

    def id_token(
        self,
        claims: dict[str, Any] | None = None,
        *,
        email: str | None = None,
        nonce: str | None = None,
        key: str = "good",
        alg: str = "RS256",
        omit: Iterable[str] = (),
    ) -> str:
        """An ID token as this provider would issue it for ``email``, then bent as asked.

        ``email`` defaults to the first account by email; an unknown one is still used (a token
        for someone the provider does not know). ``claims`` override or add claims after the
        defaults, ``omit`` removes them. ``key="other"`` signs with a key that is not in the JWKS
        but carries the good key's ``kid``. ``alg``: ``RS256``; ``none`` (unsigned,
        ``header.payload.``); ``HS256`` (HMAC keyed with the client secret, which a client
        expecting RS256 must still refuse).
        """
        if key not in ("good", "other"):
            raise ValueError('key must be "good" or "other"')
        body = self._claims(self._account_for(email), " ".join(SCOPES), nonce, int(time.time()))
        body.update(claims or {})
        for name in omit:
            body.pop(name, None)
        return self._sign(body, key=key, alg=alg)

    def next_id_token(self, token: str) -> None:
        """Have the next successful token answer carry ``token`` as its ``id_token`` (once)."""
        with self._state:
            self._next_id_token = token

    # -- routing --------------------------------------------------------------------------------

    def classify(self, request: Request) -> tuple[str, str | None]:
        return _ROUTES.get(request.segments, "other"), None

    def route(self, request: Request) -> Response:
        kind, _ = self.classify(request)
        handlers: dict[str, tuple[tuple[str, ...], Callable[[Request], Response]]] = {
            "discovery": (("GET", "HEAD"), lambda r: Response(200, self._configuration())),
            "jwks": (("GET", "HEAD"), lambda r: Response(200, self.jwks())),
            # GET only: both may issue a code, which a HEAD must not.
            "authorize": (("GET",), lambda r: self._authorize(r, chosen=False)),
            "choose": (("GET",), lambda r: self._authorize(r, chosen=True)),
            "token": (("POST",), self._token),
            "userinfo": (("GET", "POST"), self._userinfo),
        }
        if kind not in handlers:
            return Response(404, {"error": "not_found"})
        methods, handler = handlers[kind]
        if request.method not in methods:
            return Response(405, {"error": "method_not_allowed"}, {"Allow": ", ".join(methods)})
        return handler(request)

    def _configuration(self) -> dict[str, Any]:
        iss = self.issuer
        return {
            "issuer": iss,
            "authorization_endpoint": f"{iss}/authorize",
            "token_endpoint": f"{iss}/token",
            "jwks_uri": f"{iss}/jwks",
            "userinfo_endpoint": f"{iss}/userinfo",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": [
                *("iss", "sub", "aud", "exp", "iat", "nonce", "at_hash"),
                *("email", "email_verified", "name"),
            ],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["authorization_code"],
        }

    # -- authorization endpoint -----------------------------------------------------------------

    def redirect_allowed(self, uri: str) -> bool:
        """Whether the client may be sent to ``uri``: registered exactly, or (none registered)
        a plain loopback ``http`` URL."""
        if self.redirect_uris:
            return uri in self.redirect_uris
        return _is_loopback(uri)

    def _authorize(self, request: Request, *, chosen: bool) -> Response:
        query = request.query
        params = {k: v[0] for k, v in query.items()}
        # Until client and redirect URI are known good, errors stay on this page: redirecting
        # to an unvalidated URI would make this an open redirector.
        if len(query.get("client_id", [])) != 1 or params["client_id"] != self.client_id:
            return _page(400, "Unknown client", "<p>This application is not registered.</p>")
        redirect_uri = params.get("redirect_uri", "")
        if len(query.get("redirect_uri", [])) != 1 or not self.redirect_allowed(redirect_uri):
            return _page(
                400,
                "Redirect URI not allowed",
                "<p>The redirect_uri is not registered for this application.</p>",
            )
        state = params.get("state")
        try:
            self._check_request(query, params)
        except _AuthorizeError as refused:
            answer = {"error": refused.error, "error_description": refused.description}
            if state is not None:
                answer["state"] = state
            return _redirect(redirect_uri, answer)
        if chosen:
            account = self._account(params.get("email", ""))
            if account is None or len(query.get("email", [])) != 1:
                return _page(400, "No such account", "<p>Nobody by that email can sign in.</p>")
        else:
            account = self._account(params.get("login_hint", ""))
            if account is None:
                return self._picker(params)
        code = self._issue_code(params, account)
        answer = {"code": code}
        if state is not None:
            answer["state"] = state
        return _redirect(redirect_uri, answer)

    def _check_request(self, query: dict[str, list[str]], params: dict[str, str]) -> None:
        repeated = sorted(k for k, v in query.items() if len(v) > 1)
        if repeated:
            # RFC 6749 3.1: parameters must not repeat; a client reading the last copy while
            # the provider reads the first is how parameter pollution slips through.
            raise _AuthorizeError("invalid_request", f"repeated parameter: {repeated[0]}")
        response_type = params.get("response_type")
        if response_type is None:
            raise _AuthorizeError("invalid_request", "response_type is required")
        if response_type != "code":
            raise _AuthorizeError("unsupported_response_type", "only response_type=code")
        if "openid" not in params.get("scope", "").split():
            raise _AuthorizeError("invalid_scope", "the scope must include openid")
        if params.get("code_challenge_method") != "S256":
            raise _AuthorizeError("invalid_request", "PKCE with code_challenge_method=S256")
        if not _CHALLENGE.fullmatch(params.get("code_challenge", "")):
            raise _AuthorizeError("invalid_request", "code_challenge is missing or malformed")

    def _picker(self, params: dict[str, str]) -> Response:
        kept = {k: v for k, v in params.items() if k != "email"}
        items = []
        for account in sorted(self.accounts.values(), key=lambda a: (a.name, a.email)):
            href = "/authorize/choose?" + urlencode({**kept, "email": account.email})
            items.append(
                f'<li><a href="{html.escape(href)}">{html.escape(account.name)}'
                f' <span class="email">{html.escape(account.email)}</span></a></li>'
            )
        listing = f"<ul>{''.join(items)}</ul>" if items else "<p>No accounts can sign in.</p>"
        return _page(200, PICKER_TITLE, listing)

    def _issue_code(self, params: dict[str, str], account: Account) -> str:
        code = secrets.token_urlsafe(32)
        now = time.time()
        grant = _Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            nonce=params.get("nonce"),
            code_challenge=params["code_challenge"],
            email=account.email,
            scope=params["scope"],
            expires=now + self.code_lifetime,
        )
        with self._state:
            # Codes are kept a while past expiry so a late replay still revokes its tokens.
            for old in [c for c, g in self._codes.items() if g.expires < now - 600]:
                del self._codes[old]
            self._codes[code] = grant
            self.codes_issued += 1
        return code

    # -- token endpoint -------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _token_error(400, "invalid_request", "send an urlencoded form")
        query = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        if any(len(v) > 1 for v in query.values()):
            return _token_error(400, "invalid_request", "repeated parameter")
        form = {k: v[0] for k, v in query.items()}

        basic = _basic_credentials(request.headers.get("authorization"))
        if basic is not None:
            if "client_secret" in form:  # RFC 6749 2.3: one authentication method per request
                return _token_error(400, "invalid_request", "more than one client authentication")
            client_ok = any(self._client_ok(cid, secret) for cid, secret in basic)
            if "client_id" in form and form["client_id"] != self.client_id:
                client_ok = False
        else:
            client_ok = self._client_ok(form.get("client_id"), form.get("client_secret"))
        if not client_ok:
            return _token_error(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return _token_error(400, "unsupported_grant_type", "only authorization_code")

        now = time.time()
        with self._state:
            grant = self._codes.get(form.get("code", ""))
            if grant is not None and grant.used:
                # RFC 6749 4.1.2: a code presented twice revokes the tokens it gave.
                for token in grant.access_tokens:
                    self._access.pop(token, None)
                grant = None
            elif grant is not None:
                grant.used = True  # any attempt spends the code, even one that fails below
        if grant is None or grant.expires < now or grant.client_id != self.client_id:
            return _token_error(400, "invalid_grant", "the code is unknown, used or expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _token_error(400, "invalid_grant", "redirect_uri differs from authorization")
        if not _pkce_ok(form.get("code_verifier", ""), grant.code_challenge):
            return _token_error(400, "invalid_grant", "code_verifier does not match")
        account = self.accounts.get(grant.email)
        if account is None:
            return _token_error(400, "invalid_grant", "the account is gone")

        access_token = secrets.token_urlsafe(32)
        claims = self._claims(account, grant.scope, grant.nonce, int(now))
        claims["at_hash"] = _at_hash(access_token)
        id_token = self._sign(claims, key="good", alg="RS256")
        with self._state:
            self._access[access_token] = _Access(
                account.email, grant.scope, now + ACCESS_TOKEN_LIFETIME
            )
            grant.access_tokens.append(access_token)
            if self._next_id_token is not None:
                id_token, self._next_id_token = self._next_id_token, None
            self.tokens_issued += 1
        return Response(
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "id_token": id_token,
                "scope": grant.scope,
            },
            dict(_NO_STORE),
        )

    def _client_ok(self, client_id: str | None, secret: str | None) -> bool:
        if client_id is None or secret is None:
            return False
        return client_id == self.client_id and hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        )

    # -- userinfo endpoint ----------------------------------------------------------------------

    def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._state:
            access = self._access.get(token.strip()) if scheme.lower() == "bearer" else None
        account = self.accounts.get(access.email) if access else None
        if access is None or access.expires < time.time() or account is None:
            return Response(
                401,
                {"error": "invalid_token"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        claims = self._claims(account, access.scope, None, int(time.time()))
        keep = {"sub", "email", "email_verified", "name"}
        return Response(200, {k: v for k, v in claims.items() if k in keep})

    # -- tokens ---------------------------------------------------------------------------------

    def _account(self, email: str) -> Account | None:
        if email in self.accounts:
            return self.accounts[email]
        folded = email.casefold()
        return next((a for e, a in self.accounts.items() if e.casefold() == folded), None)

    def _account_for(self, email: str | None) -> Account:
        if email is None:
            if not self.accounts:
                raise ValueError("no accounts: pass email=")
            return self.accounts[min(self.accounts)]
        return self._account(email) or Account(email, email.partition("@")[0])

    def _claims(self, account: Account, scope: str, nonce: str | None, now: int) -> dict[str, Any]:
        scopes = scope.split()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": _subject(account.email),
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if "email" in scopes:
            claims["email"] = account.email
            claims["email_verified"] = account.email_verified
        if "profile" in scopes:
            claims["name"] = account.name
        return claims

    def _sign(self, claims: dict[str, Any], *, key: str, alg: str) -> str:
        if alg == "none":
            return f"{_b64_json({'alg': 'none'})}.{_b64_json(claims)}."
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64_json(header)}.{_b64_json(claims)}".encode()
        if alg == "RS256":
            signature = self._private(key).sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "HS256":
            signature = hmac.digest(self.client_secret.encode(), signing_input, "sha256")
        else:
            raise ValueError('alg must be "RS256", "HS256" or "none"')
        return f"{signing_input.decode()}.{_b64(signature)}"

    def _private(self, key: str) -> rsa.RSAPrivateKey:
        if key == "good":
            return self._key
        with self._state:
            if self._other is None:
                self._other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._other


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_error(status: int, error: str, description: str) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="cadence sign-in stand-in"'
    return Response(status, {"error": error, "error_description": description}, headers)


def _redirect(uri: str, params: dict[str, str]) -> Response:
    # Keep the registered URI's own query (RFC 6749 3.1.2), adding to it.
    sep = "&" if "?" in uri else "?"
    if uri.endswith(("?", "&")):
        sep = ""
    return Response(302, b"", {"Location": uri + sep + urlencode(params), **_NO_STORE})


def _page(status: int, title: str, body: str) -> Response:
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>\n"
    )
    return Response(
        status,
        document.encode(),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


def _is_loopback(uri: str) -> bool:
    """A plain ``http://127.0.0.1`` or ``http://localhost`` URL, any port and path, with nothing
    (userinfo, backslash, fragment, control characters) that parsers read differently."""
    if not uri.isascii() or any(ord(c) <= 0x20 or c in "\x7f\\#" for c in uri):
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and "@" not in parts.netloc
        and parts.hostname in ("127.0.0.1", "localhost")
    )


def _basic_credentials(header: str | None) -> list[tuple[str, str]] | None:
    """The (client id, secret) readings of a Basic header: RFC 6749 2.3.1 form-encodes both,
    many clients (Authlib among them) do not, so both readings are tried. ``None``: no Basic."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        return []
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return []
    return [(client_id, secret), (unquote_plus(client_id), unquote_plus(secret))]


def _pkce_ok(verifier: str, challenge: str) -> bool:
    if not _VERIFIER.fullmatch(verifier):
        return False
    computed = _b64(hashlib.sha256(verifier.encode()).digest())
    return hmac.compare_digest(computed, challenge)


def _at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: left half of SHA-256 of the token (for RS256), base64url."""
    return _b64(hashlib.sha256(access_token.encode()).digest()[:16])


def _subject(email: str) -> str:
    """A stable, opaque subject per email: the same person keeps it across stand-in restarts."""
    return hashlib.sha256(f"cadence-sandbox:{email.casefold()}".encode()).hexdigest()[:24]


def _thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint, used as the ``kid``."""
    numbers = key.public_numbers()
    canonical = json.dumps(
        {"e": _b64(_int_bytes(numbers.e)), "kty": "RSA", "n": _b64(_int_bytes(numbers.n))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())
