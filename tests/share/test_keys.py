"""Node identities: the files init_keys writes, and every way loading them can go wrong."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.share.keys import (
    Identity,
    cert_fingerprint,
    cert_nation,
    identity_facts,
    init_keys,
    load_identity,
    load_public_key,
    parse_public_key,
    public_key_text,
)


@pytest.fixture(scope="module")
def ind(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return init_keys(tmp_path_factory.mktemp("keys") / "ind", "IND")


def test_init_writes_four_files_with_private_ones_closed(ind: Identity) -> None:
    directory = ind.tls_cert.parent
    assert sorted(p.name for p in directory.iterdir()) == [
        "signing.key",
        "signing.pub",
        "tls.crt",
        "tls.key",
    ]
    assert stat.S_IMODE((directory / "signing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "tls.key").stat().st_mode) == 0o600
    assert (directory / "signing.pub").read_text() == public_key_text(ind.public_key) + "\n"


def test_the_certificate_names_the_nation_and_serves_both_ends(ind: Identity) -> None:
    cert = x509.load_pem_x509_certificate(ind.tls_cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "mista node IND"
    assert cert.subject == cert.issuer
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is False
    assert cert_nation(ind.tls_cert.read_bytes()) == "IND"


def test_fingerprint_is_the_same_for_pem_and_der(ind: Identity) -> None:
    pem = ind.tls_cert.read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert cert_fingerprint(pem) == cert_fingerprint(der)
    assert len(cert_fingerprint(pem)) == 64
    assert cert_nation(der) == "IND"


def test_load_gives_back_the_same_identity(ind: Identity) -> None:
    again = load_identity(ind.tls_cert.parent, "IND")
    assert public_key_text(again.public_key) == public_key_text(ind.public_key)
    message = b"batch"
    again.public_key.verify(ind.signing_key.sign(message), message)
    assert "PRIVATE" not in repr(again)
    facts = identity_facts(again)
    assert facts["nation"] == "IND"
    assert facts["certificate_sha256"] == cert_fingerprint(ind.tls_cert.read_bytes())
    assert facts["hosts"] == "127.0.0.1, localhost"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    first = init_keys(tmp_path, "USA")
    with pytest.raises(ConfigError, match="--force"):
        init_keys(tmp_path, "USA")
    second = init_keys(tmp_path, "USA", force=True, hosts=["10.0.0.5", "node.example"])
    assert public_key_text(second.public_key) != public_key_text(first.public_key)
    assert "node.example" in identity_facts(second)["hosts"]


@pytest.mark.parametrize("name", ["signing.key", "tls.key"])
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o601])
def test_private_keys_others_may_read_are_refused(tmp_path: Path, name: str, mode: int) -> None:
    init_keys(tmp_path, "JPN")
    os.chmod(tmp_path / name, mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_identity(tmp_path, "JPN")


@pytest.mark.parametrize("name", ["signing.key", "signing.pub", "tls.key", "tls.crt"])
def test_missing_files_are_named(tmp_path: Path, name: str) -> None:
    init_keys(tmp_path, "JPN")
    (tmp_path / name).unlink()
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        load_identity(tmp_path, "JPN")


@pytest.mark.parametrize("name", ["signing.key", "signing.pub", "tls.key", "tls.crt"])
def test_corrupt_files_are_named(tmp_path: Path, name: str) -> None:
    init_keys(tmp_path, "JPN")
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[:40] + b"garbage")
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        load_identity(tmp_path, "JPN")


def test_mixed_up_pairs_are_refused(tmp_path: Path) -> None:
    init_keys(tmp_path / "a", "JPN")
    init_keys(tmp_path / "b", "JPN")
    for name in ("signing.pub", "tls.crt"):
        target = tmp_path / "a" / name
        original = target.read_bytes()
        target.write_bytes((tmp_path / "b" / name).read_bytes())
        with pytest.raises(ConfigError, match="does not belong"):
            load_identity(tmp_path / "a", "JPN")
        target.write_bytes(original)
    load_identity(tmp_path / "a", "JPN")


def test_the_nation_must_match_the_certificate(ind: Identity) -> None:
    with pytest.raises(ConfigError, match="certificate of IND"):
        load_identity(ind.tls_cert.parent, "USA")


@pytest.mark.parametrize("nation", ["ind", "INDIA", "", "I1D"])
def test_bad_nations_are_refused(tmp_path: Path, nation: str) -> None:
    with pytest.raises(ConfigError, match="alpha-3"):
        init_keys(tmp_path, nation)


def test_public_key_text_round_trips_and_loads_from_files(ind: Identity, tmp_path: Path) -> None:
    text = public_key_text(ind.public_key)
    assert text.startswith("ed25519:")
    assert public_key_text(parse_public_key(text)) == text
    assert public_key_text(load_public_key(text)) == text
    assert public_key_text(load_public_key(ind.tls_cert.parent / "signing.pub")) == text
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        ind.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert public_key_text(load_public_key(pem)) == text
    with pytest.raises(ConfigError, match="cannot read"):
        load_public_key(tmp_path / "absent.pub")


@pytest.mark.parametrize(
    "text", ["", "ed25519:", "ed25519:!!!", "ed25519:" + "A" * 40, "rsa:AAAA", "AAAA"]
)
def test_bad_public_keys_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_public_key(text)


@given(st.text(max_size=80))
def test_any_text_is_a_key_or_a_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_public_key(text)


@given(st.binary(max_size=300))
def test_any_bytes_are_a_certificate_or_a_config_error(data: bytes) -> None:
    with pytest.raises(ConfigError):
        cert_fingerprint(data)
    with pytest.raises(ConfigError):
        cert_nation(b"-----BEGIN CERTIFICATE-----\n" + data)


# ---------------------------------------------------------------------------------- CLI


def test_cli_keys_init_prints_what_partners_pin(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mista.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["keys", "init", str(tmp_path / "k"), "--nation", "IND"])
    assert result.exit_code == 0, result.output
    identity = load_identity(tmp_path / "k", "IND")
    assert public_key_text(identity.public_key) in result.stdout
    assert cert_fingerprint(identity.tls_cert.read_bytes()) in result.stdout
    again = runner.invoke(main, ["keys", "init", str(tmp_path / "k"), "--nation", "IND"])
    assert again.exit_code == 2
    assert "--force" in again.stderr
    shown = runner.invoke(main, ["keys", "show", str(tmp_path / "k")])
    assert shown.exit_code == 0
    assert public_key_text(identity.public_key) in shown.stdout
    missing = runner.invoke(main, ["keys", "show", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    assert "mista keys init" in missing.stderr


def test_cli_keys_init_as_a_process_with_hosts(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mista",
            "keys",
            "init",
            str(tmp_path),
            "--nation",
            "JPN",
            "--host",
            "10.9.8.7",
            "--host",
            "node.jpn.example",
            "--days",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "10.9.8.7, node.jpn.example" in done.stdout
    assert identity_facts(load_identity(tmp_path, "JPN"))["hosts"] == "10.9.8.7, node.jpn.example"
