"""TLS for the loopback stand-ins: a throwaway CA and a server certificate, made at start.

Microsoft's client library (msal) insists on https for the authority and the token endpoint
(docs/outlook.md), so the Graph stand-in serves TLS. Nothing here is trusted by the system: the
CA's certificate is written to a file the client is pointed at (``ca_file`` in the config, or
``verify=`` on a ``requests.Session``), and the key never leaves the process's temp folder (or
the demo's), which is private to the user, as the key file in it is (:func:`write_private`).

The same module makes the client certificates an app registration can use for certificate
authentication (:func:`make_client_certificate`), so tests and the demo can exercise it too.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_SIZE = 2048
LIFETIME = timedelta(days=2)


@dataclass(frozen=True)
class TLSFiles:
    """Where a stand-in's TLS material lives: give ``ca_file`` to clients."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


@dataclass(frozen=True)
class ClientCertificate:
    """A certificate an app registration holds, with the key the app signs assertions with."""

    private_key_pem: str
    certificate_pem: str
    thumbprint: str  # SHA-1, hex, upper case: what the Azure portal shows and msal expects

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + LIFETIME)
    )


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable by its owner alone (0600, or what a stricter umask
    leaves) from the first byte on, whatever the umask, and never through a symbolic link:
    created with a wider mode and narrowed afterwards, a key would be readable for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, os.fstat(fd).st_mode & 0o600)  # a file that existed keeps its mode else
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def make_tls(folder: Path, host: str = "127.0.0.1") -> TLSFiles:
    """A fresh CA and a certificate for ``host`` signed by it, written into ``folder``, which is
    made private (0700) with the key in it (0600), whatever the umask."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(folder.stat().st_mode & 0o700)
    ca_key = _key()
    ca_name = _name("cadence stand-in CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    server_cert = (
        _builder(_name(host), ca_name, server_key)
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    write_private(files.key_file, _key_pem(server_key))
    return files


def make_client_certificate(common_name: str = "cadence") -> ClientCertificate:
    """A self-signed certificate and key, as one uploads to an app registration."""
    key = _key()
    cert = _builder(_name(common_name), _name(common_name), key).sign(key, hashes.SHA256())
    return ClientCertificate(
        private_key_pem=_key_pem(key).decode(),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Azure's x5t is SHA-1
    )
