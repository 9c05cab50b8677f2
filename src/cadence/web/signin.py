"""Sign-in with the company's OpenID Connect issuer (Google Workspace, Microsoft Entra ID, ...).

The authorization code flow with PKCE, through Authlib's Starlette client: it keeps the state,
the nonce and the PKCE verifier in a short-lived signed cookie of their own (``cadence_login``,
ten minutes), checks the state on the way back, and verifies the ID token (signature against the
issuer's published keys, issuer, audience, expiry, nonce; only the algorithms the issuer
announces, so never ``alg: none``). The person is then the token's email, which must be
verified, mapped through the org chart (aliases included): someone the chart does not hold gets
a polite refusal and no session. Entra ID says nothing of ``email_verified``: with a
single-tenant issuer (``https://login.microsoftonline.com/<tenant id>/v2.0``) every account is
one of the tenant's own, and its ``email`` (or else its ``preferred_username``, the sign-in
name) is taken; a multi-tenant issuer (``common``, ``organizations``) is never trusted so.

The return address after sign-in (``next``) is a path on this site only: anything else (another
host, ``//host``, a backslash trick, a scheme) is replaced by ``/``, so the login is no open
redirect.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Authlib's httpx client warns on import that httpx has a successor; the warning is for
# Authlib's maintainers, and printed under `cadence serve` it would only worry an operator.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth, OAuthError

from cadence.config import Config

log = logging.getLogger("cadence.web")

LOGIN_COOKIE = "cadence_login"
LOGIN_SECONDS = 600
SCOPE = "openid email profile"


def safe_next(value: str | None) -> str:
    """A return address that stays on this site: a local path, else ``/``."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@dataclass(frozen=True)
class SignedIn:
    """What a verified ID token says of the person."""

    email: str
    name: str


class SignInFailed(Exception):
    """The issuer's answer could not be trusted (a wrong state, a bad token, an unverified
    email); the message says why, for the log, and names no secret."""


def issuer_client(config: Config, client_secret: str) -> Any:
    """The Authlib client of ``[serve.oidc]``'s issuer (its discovery document is read on
    first use)."""
    oidc = config.serve.oidc
    oauth = OAuth()
    oauth.register(
        "company",
        client_id=oidc.client_id,
        client_secret=client_secret,
        server_metadata_url=oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    return oauth.create_client("company")


ENTRA_HOST = "login.microsoftonline.com"
ENTRA_SHARED_TENANTS = frozenset({"common", "organizations", "consumers"})


def single_entra_tenant(issuer: str) -> bool:
    """Whether ``issuer`` is one Entra ID tenant's (whose accounts the tenant owns)."""
    parts = urlsplit(issuer)
    segments = [s for s in parts.path.split("/") if s]
    return (
        parts.hostname == ENTRA_HOST
        and len(segments) >= 1
        and segments[0].lower() not in ENTRA_SHARED_TENANTS
    )


async def verified_person(client: Any, request: Any, issuer: str) -> SignedIn:
    """The person the issuer's answer on ``/auth/callback`` signs in, verified."""
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        raise SignInFailed(f"the issuer refused: {exc.error}") from exc
    except Exception as exc:  # joserfc's errors: a bad signature, algorithm or claim
        raise SignInFailed(f"the ID token did not verify: {type(exc).__name__}") from exc
    claims = token.get("userinfo") or {}
    email = claims.get("email")
    if single_entra_tenant(issuer) and "email_verified" not in claims:
        email = email or claims.get("preferred_username")
    elif claims.get("email_verified") is not True:
        raise SignInFailed("the ID token's email is not verified")
    if not isinstance(email, str) or not email:
        raise SignInFailed("the ID token carries no email")
    name = claims.get("name")
    return SignedIn(email=email, name=name if isinstance(name, str) else email)
