"""The client certificate in the ASGI scope: read only from the TLS extension, never
invented from anything else a request carries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.api.tls import client_cert_pem

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"extensions": {"tls": {"client_cert_chain": [PEM]}}}, PEM),
        ({"extensions": {"tls": {"client_cert_chain": [PEM, "other"]}}}, PEM),
        ({"extensions": {"tls": {"client_cert_chain": []}}}, None),
        ({"extensions": {"tls": {}}}, None),
        ({"extensions": {}}, None),
        ({}, None),
        ({"headers": [(b"x-client-cert", PEM.encode())]}, None),
    ],
)
def test_the_certificate_comes_from_the_tls_extension_only(
    scope: dict[str, Any], expected: str | None
) -> None:
    assert client_cert_pem(scope) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), max_size=3))
def test_the_first_certificate_of_the_chain_is_the_client(chain: list[str]) -> None:
    scope = {"extensions": {"tls": {"client_cert_chain": chain}}}
    assert client_cert_pem(scope) == (chain[0] if chain else None)
