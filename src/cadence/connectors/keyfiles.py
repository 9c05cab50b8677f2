"""The key files a source names, read and checked while its connector is built.

The sync job builds every source's connector before it reads a mailbox or writes a row
(``cadence.jobs.sync.prepare``), so a key file that cannot be used is found there: one
:class:`~cadence.errors.ConfigError` naming the config file, the key and the file, exit 2, nothing
changed. Left to the client libraries, the same file would fail every mailbox in turn with a
misleading sign-in error, or stop the run with a traceback, halfway through a night.

A private key is checked the way msal and google-auth load it (``cryptography``'s
``load_pem_private_key``), so what passes here is what they can sign with.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cadence.config import Config, Source
from cadence.errors import ConfigError


def key_file_error(config: Config, source: str, key: str, path: Path, why: str) -> ConfigError:
    """The one shape of a key file's error: config file, section and key, the file, why."""
    return ConfigError(f"{config._where()}: [sources.{source}] {key}: {path} {why}")


def read_key_file(config: Config, source: Source, key: str) -> tuple[Path, bytes]:
    """The file the source's ``key`` names (relative to the config's folder), and its bytes."""
    path = config.resolve(getattr(source, key))
    try:
        return path, path.read_bytes()
    except FileNotFoundError:
        why = "not found"
    except IsADirectoryError:
        why = "is a folder, not a file"
    except PermissionError:
        why = "cannot be read by this user (permission denied)"
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or type(exc).__name__})"
    raise key_file_error(config, source.name, key, path, why)


NO_KEY = "holds no PEM private key"


def rsa_key_problem(pem: bytes) -> str | None:
    """Why ``pem`` holds no unencrypted RSA private key in PEM (``None``: it holds one; a
    certificate may come with it, before or after)."""
    if b"PRIVATE KEY-----" not in pem:
        return NO_KEY
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        return "holds an encrypted private key: cadence needs it without a passphrase"
    except (ValueError, UnsupportedAlgorithm):
        return "holds a private key that does not parse"
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey")
        return f"holds a private key of type {kind}, not RSA"
    return None
