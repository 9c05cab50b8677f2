"""App-only sign-in to Microsoft Graph with msal, one confidential client app per run.

One :class:`GraphAuth` serves every worker of a run, so msal's in-memory token cache answers all
but the first request and a fresh token is fetched only when the cached one is about to expire.
msal talks to the authority through the run's ``requests.Session`` (which trusts ``ca_file`` when
one is configured: a private authority or the stand-in). msal reports a refused request as a dict
with an ``error`` key, not as an exception; this module turns that, and a failed authority
discovery, into :class:`~cadence.errors.AuthError` with a one-line message that never contains
the secret or the private key. The certificate file and the CA bundle are read and checked when
the connector is built (:mod:`cadence.connectors.keyfiles`): a file msal or requests could not
use is a configuration error before any mailbox is read.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from requests.adapters import HTTPAdapter

from cadence.config import Config, OutlookSource
from cadence.connectors.keyfiles import NO_KEY, key_file_error, read_key_file, rsa_key_problem
from cadence.errors import AuthError


class CASession(requests.Session):
    """A session whose ``verify`` (a CA file) wins over ``$REQUESTS_CA_BUNDLE``.

    Plain requests lets the environment's bundle override ``Session.verify`` for every call that
    does not pass ``verify=`` itself, and msal's calls do not: a configured ``ca_file`` would be
    silently ignored wherever that variable is set.
    """

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings: Any = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings


def make_session(config: Config, source: OutlookSource, pool_size: int) -> requests.Session:
    """One connection pool for the run: msal's calls and every worker's Graph calls share it."""
    session = CASession()
    if source.ca_file:
        session.verify = str(_ca_bundle(config, source))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _ca_bundle(config: Config, source: OutlookSource) -> Path:
    """``ca_file``, once it is sure to load as a PEM bundle (the way every request will load it):
    a bundle that does not would fail every mailbox's connection instead, after its retries."""
    path, _ = read_key_file(config, source, "ca_file")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError):
        raise key_file_error(
            config, source.name, "ca_file", path, "holds no PEM certificate that loads"
        ) from None
    return path


def graph_resource(graph_url: str) -> str:
    """The resource a Graph base URL belongs to: ``https://graph.microsoft.com/v1.0`` ->
    ``https://graph.microsoft.com`` (national clouds have their own hosts)."""
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}"


def _credential(config: Config, source: OutlookSource) -> str | dict[str, str]:
    section = f"sources.{source.name}"
    if source.certificate_file:
        key = "certificate_file"
        path, data = read_key_file(config, source, key)
        problem = rsa_key_problem(data)
        if problem == NO_KEY:
            problem += " (convert a .pfx with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`)"
        if problem is None and b"-----BEGIN CERTIFICATE-----" in data:
            try:
                x509.load_pem_x509_certificates(data)
            except ValueError:
                problem = "holds a certificate that does not parse"
        if problem is not None:
            raise key_file_error(config, source.name, key, path, problem)
        # PEM is ASCII once it parsed; anything else in the file (openssl's "Bag Attributes")
        # is text msal skips.
        pem = data.decode("utf-8", errors="replace")
        return {"private_key": pem, "thumbprint": source.thumbprint_hex}
    return config.secret(section, "client_secret_env", source.client_secret_env)


def _one_line(text: str, *hidden: str) -> str:
    line = " ".join(text.split())
    for secret in hidden:
        if secret:
            line = line.replace(secret, "***")
    return line


class GraphAuth:
    """Bearer tokens for Graph, from one msal app shared by every thread of the run."""

    def __init__(self, config: Config, source: OutlookSource, session: requests.Session) -> None:
        self.source = source
        self.scopes = [f"{graph_resource(source.graph_url)}/.default"]
        self._credential = _credential(config, source)
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._refused: str | None = None
        # msal's cache is thread-safe, but two threads missing it at once would both fetch.
        self._lock = threading.Lock()

    def _hidden(self) -> tuple[str, ...]:
        c = self._credential
        return (c,) if isinstance(c, str) else (c["private_key"],)

    def _make_app(self) -> msal.ConfidentialClientApplication:
        s = self.source
        try:
            return msal.ConfidentialClientApplication(
                s.client_id,
                client_credential=self._credential,
                authority=s.authority_url,
                validate_authority=s.validate_authority,
                # Instance discovery asks login.microsoftonline.com about the authority's host;
                # a private authority (or the stand-in) is not known there.
                instance_discovery=s.validate_authority,
                azure_region=None,
                http_client=self._session,
            )
        except (ValueError, requests.RequestException) as exc:
            raise AuthError(
                f"source {s.name}: cannot use authority {s.authority_url}: "
                + _one_line(str(exc), *self._hidden())
            ) from exc

    def token(self) -> str:
        """A valid access token (from msal's cache when it still holds one)."""
        with self._lock:
            if self._refused is not None:
                # Credentials refused once stay refused for the run: asking again for every
                # mailbox would only fill the tenant's sign-in logs (and its lockout counters).
                raise AuthError(self._refused)
            if self._app is None:
                self._app = self._make_app()
            try:
                result: dict[str, Any] = self._app.acquire_token_for_client(scopes=self.scopes)
            except requests.RequestException as exc:
                raise AuthError(
                    f"source {self.source.name}: token request failed: "
                    + _one_line(str(exc), *self._hidden()),
                    retryable=True,
                ) from exc
            if "access_token" in result:
                return str(result["access_token"])
            error = result.get("error", "unknown_error")
            description = str(result.get("error_description", "")).splitlines()[:1]
            self._refused = (
                f"source {self.source.name}: sign-in refused for client {self.source.client_id}: "
                + _one_line(f"{error}: {''.join(description)}", *self._hidden())
            )
            raise AuthError(self._refused)

    def invalidate(self, token: str) -> None:
        """Forget a token Graph refused (401), so the next call fetches a fresh one."""
        with self._lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                if item.get("secret") == token:
                    cache.remove_at(item)
