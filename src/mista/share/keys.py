"""A node's identity: its Ed25519 signing key and its TLS certificate, and the TLS contexts.

``mista keys init DIR --nation IND`` writes four files into DIR:

- ``signing.key`` (PKCS#8 PEM, mode 0600) and ``signing.pub`` (one line, ``ed25519:`` and
  the base64 raw public key): batches and audit checkpoints are signed with this key;
- ``tls.key`` (PKCS#8 PEM, mode 0600) and ``tls.crt``: a self-signed ECDSA P-256
  certificate, subject ``CN=mista node IND, O=IND``, SAN from the hosts, used as both the
  server and the client certificate of mutual TLS.

Partners pin each other's ``tls.crt`` and ``signing.pub``: there is no certificate
authority. The certificate is an end entity (``CA:FALSE``; extended key usage server and
client authentication), so pinning it trusts exactly it, and nothing its key might sign.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import os
import secrets
import ssl
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mista.errors import ConfigError

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "SIGNING_KEY_FILE",
    "SIGNING_PUB_FILE",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "Identity",
    "cert_fingerprint",
    "cert_nation",
    "client_ssl_context",
    "identity_facts",
    "init_keys",
    "load_identity",
    "load_public_key",
    "parse_public_key",
    "public_key_text",
    "server_ssl_context",
]

SIGNING_KEY_FILE: Final = "signing.key"
SIGNING_PUB_FILE: Final = "signing.pub"
TLS_KEY_FILE: Final = "tls.key"
TLS_CERT_FILE: Final = "tls.crt"
PUBLIC_KEY_PREFIX: Final = "ed25519:"
#: Private key files may be read by their owner only.
_TOO_OPEN: Final = stat.S_IRWXG | stat.S_IRWXO
_CLOCK_SKEW = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this node is: its nation, signing key pair and TLS certificate and key files."""

    nation: str
    signing_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    tls_cert: Path
    tls_key: Path

    def __repr__(self) -> str:
        # Never print key material.
        return f"Identity(nation={self.nation!r}, public_key={public_key_text(self.public_key)!r})"


# ------------------------------------------------------------------------------ public keys


def public_key_text(key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the base64 of the 32 raw key bytes: what partners put in config."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Read a key written by :func:`public_key_text` (``ConfigError`` when it is not one)."""
    value = text.strip()
    if not value.startswith(PUBLIC_KEY_PREFIX):
        raise ConfigError(
            f"public key {value[:40]!r} does not start with {PUBLIC_KEY_PREFIX!r} "
            "(copy the partner's signing.pub, e.g. ed25519:base64...)"
        )
    try:
        raw = base64.b64decode(value[len(PUBLIC_KEY_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"public key {value[:40]!r} is not valid base64") from None
    if len(raw) != 32:
        raise ConfigError(f"public key {value[:40]!r} is {len(raw)} bytes; Ed25519 keys are 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(source: str | Path) -> Ed25519PublicKey:
    """A public key from its ``ed25519:`` text, or from a file holding that text or a PEM."""
    text = str(source)
    if text.strip().startswith(PUBLIC_KEY_PREFIX):
        return parse_public_key(text)
    path = Path(source)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read public key file {path}: {exc.strerror} "
            "(give a signing.pub file or the ed25519:... text)"
        ) from None
    if content.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(content)
        except ValueError:
            raise ConfigError(f"{path} is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return key
    try:
        return parse_public_key(content.decode("ascii"))
    except (UnicodeDecodeError, ConfigError):
        raise ConfigError(
            f"{path} is neither an ed25519: line nor a PEM public key (copy the partner's "
            "signing.pub again)"
        ) from None


# ----------------------------------------------------------------------------- certificates


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ConfigError(
            "not an X.509 certificate (expected a PEM tls.crt or DER bytes)"
        ) from None


def cert_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 hex of a certificate's DER (PEM or DER given): how a partner is recognised."""
    cert = _load_cert(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


def cert_nation(cert_der_or_pem: bytes) -> str:
    """The nation a mista certificate names (its subject O, written by :func:`init_keys`)."""
    cert = _load_cert(cert_der_or_pem)
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    nation = str(names[0].value) if len(names) == 1 else ""
    if len(nation) != 3 or not nation.isascii() or not nation.isupper() or not nation.isalpha():
        raise ConfigError(
            f"certificate subject {cert.subject.rfc4514_string()!r} does not name a nation "
            "(mista certificates have O=<ISO 3166-1 alpha-3>, made by mista keys init)"
        )
    return nation


def _tls_certificate(
    nation: str, key: ec.EllipticCurvePrivateKey, hosts: Sequence[str], days: int
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"mista node {nation}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, nation),
        ]
    )
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(int.from_bytes(secrets.token_bytes(16)) >> 1)
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


# ---------------------------------------------------------------------------------- files


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write a file whole (temporary file, fsync, rename) with ``mode`` from the start."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def _check_nation(nation: str) -> str:
    if len(nation) != 3 or not nation.isascii() or not nation.isupper() or not nation.isalpha():
        raise ConfigError(f"nation {nation!r} is not an ISO 3166-1 alpha-3 code (e.g. IND)")
    return nation


def init_keys(
    directory: Path,
    nation: str,
    *,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    days: int = 825,
    force: bool = False,
) -> Identity:
    """Make a new identity in ``directory``; refuse to replace one unless ``force``."""
    _check_nation(nation)
    if not hosts:
        raise ConfigError("a TLS certificate needs at least one host (--host 127.0.0.1)")
    if days < 1:
        raise ConfigError(f"certificate validity of {days} days must be at least 1")
    names = (SIGNING_KEY_FILE, SIGNING_PUB_FILE, TLS_KEY_FILE, TLS_CERT_FILE)
    existing = [name for name in names if (directory / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{directory} already holds {', '.join(existing)}: partners may have pinned them "
            "(use --force to replace them, then send partners the new key and certificate)"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    signing_key = Ed25519PrivateKey.generate()
    tls_key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    pem = serialization.Encoding.PEM
    _write(directory / SIGNING_KEY_FILE, signing_key.private_bytes(pem, pkcs8, plain), 0o600)
    public_line = public_key_text(signing_key.public_key()) + "\n"
    _write(directory / SIGNING_PUB_FILE, public_line.encode(), 0o644)
    _write(directory / TLS_KEY_FILE, tls_key.private_bytes(pem, pkcs8, plain), 0o600)
    cert = _tls_certificate(nation, tls_key, hosts, days)
    _write(directory / TLS_CERT_FILE, cert.public_bytes(pem), 0o644)
    return load_identity(directory, nation)


def _read_private(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing (make the node's keys with: mista keys init {path.parent} "
            "--nation XXX)"
        ) from None
    if mode & _TOO_OPEN:
        raise ConfigError(
            f"{path} may be read by others (mode {stat.S_IMODE(mode):o}): "
            f"private keys must be the owner's only (chmod 600 {path})"
        )
    return path.read_bytes()


def _read_public(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing (mista keys init {path.parent} --nation XXX makes it)"
        ) from None


def load_identity(directory: Path, nation: str) -> Identity:
    """Load and cross-check the identity files; a clear ``ConfigError`` on any problem."""
    _check_nation(nation)
    signing_path = directory / SIGNING_KEY_FILE
    try:
        signing_key = serialization.load_pem_private_key(_read_private(signing_path), None)
    except (ValueError, TypeError):
        raise ConfigError(f"{signing_path} is not an unencrypted PEM private key") from None
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise ConfigError(f"{signing_path} holds a {type(signing_key).__name__}, not Ed25519")
    public_key = signing_key.public_key()
    pub_path = directory / SIGNING_PUB_FILE
    _read_public(pub_path)  # a clear message when it is missing
    if public_key_text(load_public_key(pub_path)) != public_key_text(public_key):
        raise ConfigError(
            f"{directory / SIGNING_PUB_FILE} does not belong to {signing_path} "
            "(restore the pair, or make a new one with mista keys init --force)"
        )
    tls_key_path, tls_cert_path = directory / TLS_KEY_FILE, directory / TLS_CERT_FILE
    try:
        tls_key = serialization.load_pem_private_key(_read_private(tls_key_path), None)
    except (ValueError, TypeError):
        raise ConfigError(f"{tls_key_path} is not an unencrypted PEM private key") from None
    try:
        cert = _load_cert(_read_public(tls_cert_path))
    except ConfigError as exc:
        raise ConfigError(f"{tls_cert_path}: {exc}") from None
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != tls_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigError(f"{tls_cert_path} does not belong to {tls_key_path}")
    named = cert_nation(cert.public_bytes(serialization.Encoding.DER))
    if named != nation:
        raise ConfigError(f"{tls_cert_path} is the certificate of {named}, not of {nation}")
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC):
        raise ConfigError(
            f"{tls_cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d} (make a new one "
            "with mista keys init --force and send partners the new certificate)"
        )
    return Identity(nation, signing_key, public_key, tls_cert_path, tls_key_path)


def identity_facts(identity: Identity) -> dict[str, str]:
    """What a partner needs to pin this node, and when the certificate runs out."""
    cert = x509.load_pem_x509_certificate(identity.tls_cert.read_bytes())
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = [str(name.value) for name in alt_names]
    except x509.ExtensionNotFound:
        hosts = []
    return {
        "nation": identity.nation,
        "public_key": public_key_text(identity.public_key),
        "certificate": str(identity.tls_cert),
        "certificate_sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "hosts": ", ".join(hosts) or "(none: clients checking host names will refuse it)",
        "valid_until": f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
    }


# ------------------------------------------------------------------------------ TLS contexts


def _pinned_certs(paths: Sequence[Path]) -> str:
    pems = []
    for path in paths:
        data = _read_public(Path(path))
        cert = _load_cert(data)
        pems.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(pems)


def _base_context(protocol: int, identity: Identity) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    # RFC 5280 checks in full (Python 3.13 turns this on by default).
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.load_cert_chain(identity.tls_cert, identity.tls_key)
    return context


def server_ssl_context(identity: Identity, trusted_certs: Sequence[Path]) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate and trusts exactly the
    partners' pinned certificates (none: every client is refused)."""
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, identity)
    pinned = _pinned_certs(trusted_certs)
    if pinned:
        context.load_verify_locations(cadata=pinned)
    return context


def client_ssl_context(identity: Identity, partner_cert: Path) -> ssl.SSLContext:
    """TLS 1.3 client context that presents our certificate and accepts only the partner's
    pinned certificate, with the host name checked against it."""
    context = _base_context(ssl.PROTOCOL_TLS_CLIENT, identity)
    context.check_hostname = True
    context.load_verify_locations(cadata=_pinned_certs([partner_cert]))
    return context
