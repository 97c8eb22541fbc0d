"""Where input bytes come from: files (plain or gzip), stdin, a TCP feed, a UDP listener.

Every source yields chunks of bytes; framing and decoding happen elsewhere. Files are read
in large chunks (a batch each); streams are coalesced until ``STREAM_FLUSH_S`` passes or
``CHUNK_BYTES`` arrive, so a quiet feed still commits what it heard within about a second.
Sockets bind or connect to exactly the address given (use ``127.0.0.1``, not ``0.0.0.0``,
unless the node must listen on every interface).
"""

from __future__ import annotations

import gzip
import io
import os
import select
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from mista.errors import InputError

__all__ = [
    "CHUNK_BYTES",
    "CONNECT_TIMEOUT_S",
    "STREAM_CHUNK_BYTES",
    "STREAM_FLUSH_S",
    "ByteSource",
    "FileSource",
    "StdinSource",
    "TcpSource",
    "UdpSource",
    "open_source",
]

#: Bytes per file chunk (one batch, one commit). About 300,000 AIS messages: batches over
#: DuckDB's row-group size (122,880 rows) are written straight to the database file instead
#: of through its write-ahead log, which more than doubles the ingest rate.
CHUNK_BYTES = 1 << 24
#: Bytes after which a stream's chunk is handed on even before STREAM_FLUSH_S passes.
STREAM_CHUNK_BYTES = 1 << 22
#: A stream's partial chunk is handed on after this long, so quiet feeds stay durable.
STREAM_FLUSH_S = 1.0
CONNECT_TIMEOUT_S = 10.0
_GZIP_MAGIC = b"\x1f\x8b"
_UDP_MAX = 65535


class ByteSource(Protocol):
    """A source of raw bytes; ``name`` is how receptions and quarantine refer to it."""

    @property
    def name(self) -> str: ...

    @property
    def is_stream(self) -> bool: ...

    @property
    def total_bytes(self) -> int | None: ...

    @property
    def position_bytes(self) -> int: ...

    def chunks(self) -> Iterator[bytes]: ...


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress a gzip stream (several members allowed) chunk by chunk."""
    inflater = zlib.decompressobj(wbits=47)
    for chunk in chunks:
        while chunk:
            out = inflater.decompress(chunk)
            if out:
                yield out
            if not inflater.eof:
                break
            chunk = inflater.unused_data
            inflater = zlib.decompressobj(wbits=47)


def _maybe_gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pass plain bytes through; decompress when the first bytes are the gzip magic."""
    first = next(chunks, b"")
    while len(first) < 2:
        more = next(chunks, None)
        if more is None:
            break
        first += more
    if first.startswith(_GZIP_MAGIC):

        def replay() -> Iterator[bytes]:
            yield first
            yield from chunks

        try:
            yield from _gunzip(replay())
        except zlib.error as exc:
            raise InputError(f"gzip input is corrupt: {exc} (check the file or stream)") from None
    else:
        if first:
            yield first
        yield from chunks


def _coalesce(
    read: Callable[[float], bytes | None], stop: threading.Event | None
) -> Iterator[bytes]:
    """Collect reads until CHUNK_BYTES or STREAM_FLUSH_S; ``read`` returns None on timeout
    and b"" at end of stream."""
    buffer = bytearray()
    deadline = time.monotonic() + STREAM_FLUSH_S
    while stop is None or not stop.is_set():
        data = read(max(0.0, deadline - time.monotonic()))
        if data == b"":
            break
        if data:
            buffer += data
        if len(buffer) >= STREAM_CHUNK_BYTES or time.monotonic() >= deadline:
            if buffer:
                yield bytes(buffer)
                buffer.clear()
            deadline = time.monotonic() + STREAM_FLUSH_S
    if buffer:
        yield bytes(buffer)


@dataclass
class FileSource:
    """A file, plain or gzip-compressed (recognised by its magic bytes, not its name)."""

    path: Path
    chunk_bytes: int = CHUNK_BYTES
    _position: int = 0

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def is_stream(self) -> bool:
        return False

    @property
    def total_bytes(self) -> int | None:
        return self.path.stat().st_size

    @property
    def position_bytes(self) -> int:
        return self._position

    def chunks(self) -> Iterator[bytes]:
        try:
            raw = self.path.open("rb")
        except FileNotFoundError:
            raise InputError(f"no such file: {self.path} (check the path)") from None
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror}") from None
        with raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            try:
                while chunk := stream.read(self.chunk_bytes):
                    self._position = raw.tell()
                    yield chunk
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(
                    f"{self.path}: gzip data is corrupt or truncated ({exc}); what came before "
                    "was ingested (re-run after fixing the file: nothing is stored twice)"
                ) from None


class _Stream:
    """What the stream sources share: no known size, and a count of bytes read so far."""

    _position: int

    @property
    def is_stream(self) -> bool:
        return True

    @property
    def total_bytes(self) -> int | None:
        return None

    @property
    def position_bytes(self) -> int:
        return self._position


@dataclass
class StdinSource(_Stream):
    """Standard input (``-``): a pipe or a redirected file, plain or gzip."""

    stop: threading.Event | None = None
    _position: int = 0

    @property
    def name(self) -> str:
        return "-"

    def chunks(self) -> Iterator[bytes]:
        fd = sys.stdin.buffer.fileno()

        def read(timeout_s: float) -> bytes | None:
            ready, _, _ = select.select([fd], [], [], timeout_s)
            if not ready:
                return None
            data = os.read(fd, STREAM_CHUNK_BYTES)
            self._position += len(data)
            return data

        yield from _maybe_gunzip(_coalesce(read, self.stop))


@dataclass
class TcpSource(_Stream):
    """A TCP feed (``tcp://host:port``): mista connects and reads until the peer closes."""

    host: str
    port: int
    stop: threading.Event | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    _position: int = 0

    @property
    def name(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def chunks(self) -> Iterator[bytes]:
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout_s)
        except OSError as exc:
            raise InputError(
                f"cannot connect to {self.name}: {exc.strerror or exc} "
                "(check the feed is up and the host and port are right)"
            ) from None
        with sock:

            def read(timeout_s: float) -> bytes | None:
                sock.settimeout(max(timeout_s, 0.001))
                try:
                    data = sock.recv(STREAM_CHUNK_BYTES)
                except TimeoutError:
                    return None
                except OSError as exc:
                    raise InputError(f"{self.name}: connection lost: {exc}") from None
                self._position += len(data)
                return data

            yield from _coalesce(read, self.stop)


@dataclass
class UdpSource(_Stream):
    """A UDP listener (``udp://host:port``): each datagram holds one or more sentences.

    ``idle_timeout_s`` ends the source after that long without a datagram (None: never).
    Call ``bind()`` first to learn the port when binding port 0.
    """

    host: str
    port: int
    stop: threading.Event | None = None
    idle_timeout_s: float | None = None
    _sock: socket.socket | None = field(default=None, repr=False)
    _position: int = 0

    @property
    def name(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def bind(self) -> tuple[str, int]:
        """Bind the socket (once) and return the address it listens on."""
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                sock.close()
                raise InputError(
                    f"cannot listen on {self.name}: {exc.strerror or exc} "
                    "(is the port in use, or the address not on this machine?)"
                ) from None
            self._sock = sock
            self.port = sock.getsockname()[1]
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def chunks(self) -> Iterator[bytes]:
        self.bind()
        sock = self._sock
        assert sock is not None
        last_heard = time.monotonic()

        def read(timeout_s: float) -> bytes | None:
            nonlocal last_heard
            idle_s = time.monotonic() - last_heard
            if self.idle_timeout_s is not None and idle_s >= self.idle_timeout_s:
                return b""
            sock.settimeout(max(timeout_s, 0.001))
            try:
                data = sock.recv(_UDP_MAX)
            except TimeoutError:
                return None
            last_heard = time.monotonic()
            self._position += len(data)
            # A datagram is whole sentences; make sure it ends a line.
            return data if data.endswith(b"\n") else data + b"\n"

        try:
            yield from _coalesce(read, self.stop)
        finally:
            sock.close()
            self._sock = None


def _host_port(spec: str) -> tuple[str, int]:
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise InputError(
            f"source {spec!r} needs a host and a port, e.g. {parts.scheme}://127.0.0.1:10110"
        )
    return parts.hostname, port


def open_source(
    spec: str,
    *,
    stop: threading.Event | None = None,
    idle_timeout_s: float | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> ByteSource:
    """A source from its command-line spelling: a path, ``-``, ``tcp://h:p`` or ``udp://h:p``."""
    if spec == "-":
        return StdinSource(stop=stop)
    if spec.startswith("tcp://"):
        return TcpSource(*_host_port(spec), stop=stop)
    if spec.startswith("udp://"):
        return UdpSource(*_host_port(spec), stop=stop, idle_timeout_s=idle_timeout_s)
    if "://" in spec:
        raise InputError(
            f"source {spec!r}: unknown scheme (use a file path, -, tcp://host:port or "
            "udp://host:port)"
        )
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"no such file: {spec} (check the path; use - for stdin)")
    return FileSource(path, chunk_bytes=chunk_bytes)
