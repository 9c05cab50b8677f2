"""Server-side sessions behind a signed cookie.

The cookie holds a random secret and its HMAC under the session key (``[serve]
session_secret_env``); the store keeps only the secret's SHA-256 with the person and the times
(:mod:`cadence.store.web_sessions`). A cookie is honoured only when its signature is right, its
row exists, it was used within ``idle_minutes`` and began within ``session_hours``: a tampered
cookie fails the signature, a copied one dies with sign-out or expiry, and the database alone
signs nobody in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from cadence.store.web_sessions import (
    add_session,
    end_expired_sessions,
    end_session,
    find_session,
    touch_session,
)

COOKIE = "cadence_session"
# Writing "last seen" on every page would make each view a write; a minute is precise enough
# for an idle timeout counted in tens of minutes.
TOUCH_EVERY = timedelta(minutes=1)
SECRET_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Sessions:
    engine: Engine
    key: bytes
    absolute: timedelta
    idle: timedelta

    def _mac(self, secret: str) -> str:
        return _b64(hmac.new(self.key, secret.encode(), hashlib.sha256).digest())

    @staticmethod
    def _hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def _secret(self, cookie: str | None) -> str | None:
        """The secret of a cookie whose signature is right (else None)."""
        if not cookie or cookie.count(".") != 1:
            return None
        secret, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(secret).encode()):
            return None
        return secret

    def start(self, email: str, now: datetime) -> str:
        """A new session for ``email``; returns the cookie's value."""
        secret = _b64(secrets.token_bytes(SECRET_BYTES))
        add_session(self.engine, self._hash(secret), email, now)
        return f"{secret}.{self._mac(secret)}"

    def who(self, cookie: str | None, now: datetime) -> str | None:
        """The email a cookie signs in, or None (no cookie, a bad signature, ended, expired)."""
        secret = self._secret(cookie)
        if secret is None:
            return None
        secret_hash = self._hash(secret)
        found = find_session(self.engine, secret_hash)
        if found is None:
            return None
        if now - found.seen_at > self.idle or now - found.created_at > self.absolute:
            end_session(self.engine, secret_hash)
            return None
        if now - found.seen_at > TOUCH_EVERY:
            touch_session(self.engine, secret_hash, now)
        return found.email

    def end(self, cookie: str | None) -> None:
        secret = self._secret(cookie)
        if secret is not None:
            end_session(self.engine, self._hash(secret))

    def sweep(self, now: datetime) -> int:
        """Delete every expired session; returns how many."""
        return end_expired_sessions(self.engine, now - self.idle, now - self.absolute)
