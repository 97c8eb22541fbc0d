"""Byte sources against real sockets on 127.0.0.1 (port 0) and real gzip files."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from pathlib import Path

import pytest

from mista.errors import InputError
from mista.ingest.streams import FileSource, TcpSource, UdpSource, open_source

LINES = [f"!AIVDM,1,1,,A,line{i},0*00".encode() for i in range(50)]


def serve_tcp(payload: bytes, pieces: int = 7) -> tuple[int, threading.Thread]:
    """A one-shot TCP feed on 127.0.0.1: sends ``payload`` in pieces, then closes."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                step = max(1, len(payload) // pieces)
                for start in range(0, len(payload), step):
                    conn.sendall(payload[start : start + step])
                    time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_tcp_source_reads_the_whole_feed_until_the_peer_closes() -> None:
    payload = b"\n".join(LINES) + b"\n"
    port, thread = serve_tcp(payload)
    source = open_source(f"tcp://127.0.0.1:{port}")
    assert isinstance(source, TcpSource)
    assert b"".join(source.chunks()) == payload
    assert source.position_bytes == len(payload)
    thread.join(5)


def test_tcp_source_that_cannot_connect_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(InputError, match="cannot connect"):
        list(TcpSource("127.0.0.1", port).chunks())


def test_udp_listener_receives_datagrams_as_lines() -> None:
    source = UdpSource("127.0.0.1", 0, idle_timeout_s=0.5)
    host, port = source.bind()
    assert host == "127.0.0.1"
    assert port != 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for line in LINES[:3]:
            sender.sendto(line, (host, port))  # no newline: a datagram is whole sentences
        sender.sendto(LINES[3] + b"\n" + LINES[4] + b"\n", (host, port))
    received = b"".join(source.chunks())
    assert received == b"\n".join(LINES[:5]) + b"\n"


def test_gzip_files_are_recognised_by_content_including_several_members(tmp_path: Path) -> None:
    path = tmp_path / "feed.log"  # no .gz suffix on purpose
    path.write_bytes(gzip.compress(b"\n".join(LINES[:10]) + b"\n") + gzip.compress(LINES[10]))
    source = FileSource(path, chunk_bytes=64)
    assert b"".join(source.chunks()) == b"\n".join(LINES[:11])
    assert source.position_bytes == path.stat().st_size


def test_a_truncated_gzip_file_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(b"\n".join(LINES) * 50)[:-20])
    with pytest.raises(InputError, match="corrupt or truncated"):
        list(FileSource(path).chunks())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ftp://example/x", "unknown scheme"),
        ("tcp://127.0.0.1", "needs a host and a port"),
        ("udp://:99", "needs a host and a port"),
        ("no/such/file.nmea", "no such file"),
    ],
)
def test_bad_source_specs_name_the_way_out(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_source(spec)
