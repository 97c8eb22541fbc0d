"""Mutual TLS between nodes on 127.0.0.1: only pinned certificates get through, both ways."""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mista.share.keys import (
    Identity,
    cert_fingerprint,
    cert_nation,
    client_ssl_context,
    init_keys,
    server_ssl_context,
)

TIMEOUT_S = 5.0


@dataclasses.dataclass
class Nodes:
    ind: Identity
    usa: Identity
    jpn: Identity
    stranger: Identity  # a node nobody pinned, claiming to be USA


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Nodes:
    root = tmp_path_factory.mktemp("nodes")
    return Nodes(
        ind=init_keys(root / "ind", "IND"),
        usa=init_keys(root / "usa", "USA"),
        jpn=init_keys(root / "jpn", "JPN"),
        stranger=init_keys(root / "stranger", "USA"),
    )


@dataclasses.dataclass
class Server:
    port: int
    outcomes: queue.Queue[str]


def _serve(
    listener: socket.socket, context: ssl.SSLContext, server: Server, by_fp: dict[str, str]
) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # the listener was closed: the test is over
        conn.settimeout(TIMEOUT_S)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                der = tls.getpeercert(binary_form=True)
                assert der is not None
                nation = by_fp.get(cert_fingerprint(der), "unknown")
                tls.recv(4)
                tls.sendall(f"hi {nation}".encode())
                server.outcomes.put(f"accepted {nation} named {cert_nation(der)}")
        except (ssl.SSLError, OSError) as exc:
            server.outcomes.put(f"refused {type(exc).__name__}: {exc}")
            conn.close()


@pytest.fixture
def ind_server(nodes: Nodes) -> Iterator[Server]:
    """IND's node, trusting USA and JPN (pinned), on a free loopback port."""
    context = server_ssl_context(nodes.ind, [nodes.usa.tls_cert, nodes.jpn.tls_cert])
    by_fp = {
        cert_fingerprint(node.tls_cert.read_bytes()): node.nation for node in (nodes.usa, nodes.jpn)
    }
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = Server(listener.getsockname()[1], queue.Queue())
    thread = threading.Thread(target=_serve, args=(listener, context, server, by_fp), daemon=True)
    thread.start()
    yield server
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
    listener.close()
    thread.join(TIMEOUT_S)
    assert not thread.is_alive()


def _talk(port: int, context: ssl.SSLContext, host: str = "127.0.0.1") -> str:
    """Handshake, say hello, return the answer; or the error that stopped it."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(b"ping")
            answer = tls.recv(100).decode()
            return answer or "closed without an answer"
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        return f"error {type(exc).__name__}: {exc}"


def test_a_pinned_partner_is_accepted_and_recognised(nodes: Nodes, ind_server: Server) -> None:
    for node in (nodes.usa, nodes.jpn):
        for host in ("127.0.0.1", "localhost"):
            answer = _talk(ind_server.port, client_ssl_context(node, nodes.ind.tls_cert), host)
            assert answer == f"hi {node.nation}"
            assert ind_server.outcomes.get(timeout=TIMEOUT_S) == (
                f"accepted {node.nation} named {node.nation}"
            )


def test_a_client_without_a_certificate_is_refused(nodes: Nodes, ind_server: Server) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(nodes.ind.tls_cert)
    assert _talk(ind_server.port, context).startswith("error")
    assert "certificate" in ind_server.outcomes.get(timeout=TIMEOUT_S).lower()


def test_a_client_from_an_unknown_authority_is_refused(nodes: Nodes, ind_server: Server) -> None:
    # Same nation name in the subject, but not the certificate IND pinned.
    context = client_ssl_context(nodes.stranger, nodes.ind.tls_cert)
    assert _talk(ind_server.port, context).startswith("error")
    assert ind_server.outcomes.get(timeout=TIMEOUT_S).startswith("refused")


def test_a_certificate_signed_by_a_pinned_key_is_not_pinned(
    nodes: Nodes, ind_server: Server, tmp_path: Path
) -> None:
    """Pinning trusts exactly the certificate, not what its key might sign."""
    usa_key = serialization.load_pem_private_key(nodes.usa.tls_key.read_bytes(), None)
    assert isinstance(usa_key, ec.EllipticCurvePrivateKey)
    usa_cert = x509.load_pem_x509_certificate(nodes.usa.tls_cert.read_bytes())
    child_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    child = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "mista node USA"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "USA"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "child"),
                ]
            )
        )
        .issuer_name(usa_cert.subject)
        .public_key(child_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(usa_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "child.crt", tmp_path / "child.key"
    cert_path.write_bytes(child.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        child_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    forged = dataclasses.replace(nodes.usa, tls_cert=cert_path, tls_key=key_path)
    assert _talk(ind_server.port, client_ssl_context(forged, nodes.ind.tls_cert)).startswith(
        "error"
    )
    assert ind_server.outcomes.get(timeout=TIMEOUT_S).startswith("refused")


def test_a_server_that_is_not_the_pinned_one_is_refused(nodes: Nodes, ind_server: Server) -> None:
    # USA expects JPN's certificate at this address; IND's answers instead.
    context = client_ssl_context(nodes.usa, nodes.jpn.tls_cert)
    answer = _talk(ind_server.port, context)
    assert answer.startswith("error")
    assert "certificate verify failed" in answer


def test_the_host_name_is_checked(nodes: Nodes, ind_server: Server) -> None:
    context = client_ssl_context(nodes.usa, nodes.ind.tls_cert)
    answer = _talk(ind_server.port, context, host="node.example")
    assert "certificate verify failed" in answer or "match" in answer


def test_tls_below_1_3_is_refused(nodes: Nodes, ind_server: Server) -> None:
    context = client_ssl_context(nodes.usa, nodes.ind.tls_cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _talk(ind_server.port, context).startswith("error")
    assert ind_server.outcomes.get(timeout=TIMEOUT_S).startswith("refused")


def test_a_server_with_no_partners_refuses_everyone(nodes: Nodes) -> None:
    context = server_ssl_context(nodes.ind, [])
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert context.get_ca_certs() == []
