"""A stand-in for the Microsoft identity platform: OpenID configuration and the token endpoint
of the client-credentials grant, for one tenant and its registered apps.

It checks what Entra ID checks for a daemon app: the client id is registered in the tenant, and
either its client secret matches, or its client assertion is a JWT signed with a certificate
registered for the app (``x5t``/``x5t#S256`` naming it), addressed to this token endpoint, issued
by and about the app, and not expired. Tokens it issues are opaque and remembered, so the Graph
stand-in can tell a valid bearer from a made-up one. Error bodies have Entra's shape
(``error``, ``error_description`` with an AADSTS code) and never echo what the client sent.

It is transport-free: the HTTP server of :mod:`cadence.sandbox.graph` routes requests here.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599


@dataclass
class RegisteredApp:
    """An app registration: its secrets and certificates, and the resource it may call."""

    client_id: str
    secrets: tuple[str, ...] = ()
    certificates: tuple[x509.Certificate, ...] = ()


@dataclass
class Entra:
    """One tenant of the identity platform, served under ``{base}/{tenant_id}``."""

    tenant_id: str
    resource: (
        str  # e.g. "https://graph.microsoft.com": the scope a token is for is "<resource>/.default"
    )
    apps: dict[str, RegisteredApp] = field(default_factory=dict)
    token_lifetime: int = TOKEN_LIFETIME
    token_requests: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, app: RegisteredApp) -> None:
        self.apps[app.client_id] = app

    # -- discovery -----------------------------------------------------------------------------

    def openid_configuration(self, base_url: str) -> dict[str, Any]:
        root = f"{base_url}/{self.tenant_id}"
        return {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    # -- token endpoint ------------------------------------------------------------------------

    def token(self, form: dict[str, str], token_endpoint: str) -> tuple[int, dict[str, Any]]:
        """Answer one token request: (HTTP status, JSON body)."""
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "AADSTS70003", "grant type not supported")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return _error(
                400,
                "unauthorized_client",
                "AADSTS700016",
                f"Application was not found in the directory '{self.tenant_id}'.",
            )
        scopes = form.get("scope", "").split()
        if f"{self.resource}/.default" not in scopes:
            return _error(400, "invalid_scope", "AADSTS1002012", "The provided scope is not valid.")
        if "client_secret" in form:
            given = form["client_secret"].encode()
            if not any(hmac.compare_digest(given, s.encode()) for s in app.secrets):
                return _error(
                    401,
                    "invalid_client",
                    "AADSTS7000215",
                    f"Invalid client secret provided for app '{app.client_id}'.",
                )
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            why = _check_assertion(form.get("client_assertion", ""), app, token_endpoint)
            if why:
                return _error(401, "invalid_client", "AADSTS700027", why)
        else:
            return _error(
                401,
                "invalid_client",
                "AADSTS7000218",
                "The request must contain client_secret or client_assertion.",
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }

    def valid(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries a live token this tenant issued."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self._tokens.get(authorization[len("Bearer ") :])
        return expiry is not None and expiry > time.time()


def _error(status: int, error: str, code: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": error,
        "error_description": f"{code}: {description}",
        "error_codes": [int(code.removeprefix("AADSTS"))],
    }


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _check_assertion(assertion: str, app: RegisteredApp, token_endpoint: str) -> str | None:
    """Why a client assertion is refused, or ``None`` when it is good."""
    try:
        head_b64, body_b64, sig_b64 = assertion.split(".")
        header = json.loads(_b64decode(head_b64))
        claims = json.loads(_b64decode(body_b64))
        signature = _b64decode(sig_b64)
    except ValueError:
        return "The client assertion is not a well-formed JWT."
    cert = _named_certificate(header, app)
    if cert is None:
        return f"Client assertion contains a certificate not registered for app '{app.client_id}'."
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return "Only RSA certificates are supported."
    signed = f"{head_b64}.{body_b64}".encode()
    pad: padding.AsymmetricPadding
    alg = header.get("alg")
    if alg == "RS256":
        pad = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    else:
        return f"Client assertion algorithm {alg!r} is not supported."
    try:
        key.verify(signature, signed, pad, hashes.SHA256())
    except InvalidSignature:
        return "Client assertion failed signature validation."
    now = time.time()
    if claims.get("aud") != token_endpoint:
        return "The audience of the client assertion is not this token endpoint."
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return "The issuer and subject of the client assertion must be the client id."
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now:
        return "The client assertion has expired."
    if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > now + 300:
        return "The client assertion is not valid yet."
    return None


def _named_certificate(header: dict[str, Any], app: RegisteredApp) -> x509.Certificate | None:
    for cert in app.certificates:
        sha1 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode()  # noqa: S303
        sha256 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
        # msal keeps base64 padding on x5t; Entra accepts either.
        if str(header.get("x5t", "")).rstrip("=") == sha1 or (
            str(header.get("x5t#S256", "")).rstrip("=") == sha256
        ):
            return cert
    return None
