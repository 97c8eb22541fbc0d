"""A node stopped while a partner's exchange POST is still in flight stops cleanly: the POST
is answered 503 (the partner sends the batch again later), the node exits 0, and its log
has at most one line about it and no traceback. An API stopped with a live stream open
ends the stream as cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mista.labels import Level
from mista.model import Role, User
from mista.node import add_user, issue_token
from mista.share.keys import client_ssl_context
from tests.serve.nodes import Cluster, agreement_toml, free_port, wait_until

AREA = (60.0, 5.0, 100.0, 30.0)
#: The POST's declared body; only its start is sent before the node is stopped.
BODY_BYTES = 4096


def _read_answer(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    answer = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        answer += chunk
    return answer


def test_a_node_stopped_mid_exchange_answers_503_and_logs_no_traceback(
    cluster: Cluster,
) -> None:
    ind, usa = cluster.node("IND"), cluster.node("USA")
    cluster.pin(ind, usa)
    text = agreement_toml("ind-usa", sender="IND", receiver="USA", bbox=AREA)
    cluster.agree(text, "ind-usa", ind, usa)
    cluster.start(usa)

    # IND's pusher, as far as USA can tell: its certificate, a POST of a batch whose body
    # is still arriving when USA is told to stop.
    context = client_ssl_context(ind.identity, usa.certificate)
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", usa.port), timeout=10),
        server_hostname="127.0.0.1",
    ) as tls:
        head = (
            "POST /v1/exchange/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY_BYTES}\r\n\r\n"
        )
        tls.sendall(head.encode() + b'{"batch": "' + b"x" * 100)
        time.sleep(0.5)  # the node is reading the body
        assert usa.process is not None
        started = time.monotonic()
        os.kill(usa.process.pid, signal.SIGTERM)
        answer = _read_answer(tls, 15.0)
        assert usa.process.wait(timeout=30) == 0, usa.logs()
        took_s = time.monotonic() - started

    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 503 Service Unavailable", answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "unavailable"
    log = usa.logs()
    assert "Traceback" not in log, log
    assert "CancelledError" not in log, log
    assert len([line for line in log.splitlines() if "cancel" in line.lower()]) <= 1, log
    assert "node USA stopped" in log
    assert took_s < 10, f"stopping took {took_s:.1f} s"


def test_an_api_stopped_with_a_live_stream_open_ends_it_and_logs_no_traceback(
    tmp_path: Path,
) -> None:
    store = tmp_path / "node.duckdb"
    add_user(store, User("watch", "IND", Level.SECRET, frozenset({Role.ADMIN})))
    token = issue_token(store, "watch")
    port = free_port()
    log = tmp_path / "api.log"
    command = [sys.executable, "-m", "mista", "api", "--store", str(store)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--listen", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/health"), 30, "the API to answer")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", f"{base}/api/v1/stream", headers=headers, timeout=15) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": mista live stream")
            os.kill(process.pid, signal.SIGTERM)
            rest = list(lines)  # the stream ends (no error) when the API stops
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert all(not line or line.startswith(":") for line in rest)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "ASGI callable" not in text, text
    assert "API stopped" in text


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
