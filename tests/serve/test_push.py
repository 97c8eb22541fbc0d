"""The pusher's retry rules: backoff bounds, and what counts as delivered."""

from __future__ import annotations

import random
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.share.keys import Identity, client_ssl_context, init_keys, server_ssl_context
from mista.share.push import Backoff, LinkDownError, LinkStats, PartnerLink, push_loop


@settings(max_examples=200, deadline=None)
@given(
    initial_s=st.floats(0.001, 10),
    max_s=st.floats(0.001, 60),
    failures=st.integers(0, 200),
    seed=st.integers(0, 2**32),
)
def test_backoff_doubles_up_to_the_cap_with_jitter(
    initial_s: float, max_s: float, failures: int, seed: int
) -> None:
    backoff = Backoff(initial_s, max_s, rng=random.Random(seed))
    for _ in range(failures):
        backoff.next_wait_s()
    ceiling = min(max_s, initial_s * 2**failures)
    wait_s = backoff.next_wait_s()
    assert ceiling / 2 <= wait_s <= ceiling <= max_s
    backoff.reset()
    assert backoff.next_wait_s() <= initial_s


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Identity, Identity]:
    root = tmp_path_factory.mktemp("push")
    return init_keys(root / "ind", "IND"), init_keys(root / "usa", "USA")


@pytest.fixture(scope="module")
def context(identities: tuple[Identity, Identity]) -> ssl.SSLContext:
    identity, partner = identities
    return client_ssl_context(identity, Path(partner.tls_cert))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_delivered_nothing(context: ssl.SSLContext) -> None:
    link = PartnerLink("USA", f"https://127.0.0.1:{_closed_port()}", context, timeout_s=2)
    with pytest.raises(LinkDownError, match="partner USA") as caught:
        link.post(b"{}")
    assert caught.value.delivered is False
    link.close()


def test_a_peer_that_hangs_up_after_reading_may_have_received_it(
    identities: tuple[Identity, Identity], context: ssl.SSLContext
) -> None:
    # The partner completes mutual TLS, reads the request, and hangs up without answering:
    # the batch may have been stored, so it must be sealed afresh, not replayed.
    ind, usa = identities
    server_context = server_ssl_context(usa, [Path(ind.tls_cert)])
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def hang_up() -> None:
        connection, _ = server.accept()
        with server_context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(65536)

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    link = PartnerLink("USA", f"https://127.0.0.1:{server.getsockname()[1]}", context, timeout_s=2)
    with pytest.raises(LinkDownError) as caught:
        link.post(b"{}")
    assert caught.value.delivered is True
    link.close()
    server.close()


@dataclass(frozen=True)
class _Batch:
    seq: int
    data: bytes
    record_ids: tuple[str, ...]


def test_nothing_is_acknowledged_while_the_partner_is_down(context: ssl.SSLContext) -> None:
    link = PartnerLink("USA", f"https://127.0.0.1:{_closed_port()}", context, timeout_s=1)
    stop, wake = threading.Event(), threading.Event()
    asked: list[int] = []
    acknowledged: list[_Batch] = []

    def next_batch() -> _Batch:
        asked.append(1)
        if len(asked) >= 2:
            stop.set()
        return _Batch(1, b"{}", ("a",))

    stats = LinkStats()
    thread = threading.Thread(
        target=push_loop,
        args=(link,),
        kwargs={
            "next_batch": next_batch,
            "acknowledge": acknowledged.append,
            "stop": stop,
            "wake": wake,
            "idle_s": 0.01,
            "backoff": Backoff(0.001, 0.002),
            "stats": stats,
            "resend_same_s": 0.05,
        },
    )
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert acknowledged == []
    assert stats.up is False
    assert stats.failures >= 2
    assert stats.records == 0
    link.close()


class _ScriptedLink:
    """A partner whose answers are given in advance: each item is raised in turn."""

    nation = "USA"

    def __init__(self, outcomes: list[LinkDownError], stop: threading.Event) -> None:
        self.outcomes = outcomes
        self.sent: list[bytes] = []
        self.stop = stop

    def post(self, data: bytes) -> None:
        self.sent.append(data)
        if not self.outcomes:
            self.stop.set()
            raise LinkDownError("done", delivered=False)
        raise self.outcomes.pop(0)


def test_bytes_that_may_have_arrived_are_never_sent_again() -> None:
    # Refused (nothing sent: resend the same bytes), then a time-out after sending (they may
    # have arrived: the next try must be sealed afresh, or the partner sees a replay).
    stop, wake = threading.Event(), threading.Event()
    link = _ScriptedLink(
        [
            LinkDownError("refused", delivered=False),
            LinkDownError("read time-out", delivered=True),
        ],
        stop,
    )
    sealed: list[bytes] = []

    def next_batch() -> _Batch:
        sealed.append(f"seal-{len(sealed)}".encode())
        return _Batch(1, sealed[-1], ("a",))

    push_loop(
        link,  # type: ignore[arg-type]
        next_batch=next_batch,
        acknowledge=lambda batch: None,
        stop=stop,
        wake=wake,
        idle_s=0.01,
        backoff=Backoff(0.001, 0.002),
        resend_same_s=60,
    )
    assert link.sent == [b"seal-0", b"seal-0", b"seal-1"]
