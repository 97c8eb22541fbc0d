"""The audit log: append-only, hash-chained JSON lines with signed checkpoints.

Every line is the canonical JSON (RFC 8785) of one entry::

    {"seq": 7, "at": "2024-06-01T12:00:00Z", "kind": "release", "partner": "USA",
     "detail": {...}, "content_hash": H(seq, at, kind, partner, detail),
     "prev": <hash of entry 6>, "hash": sha256(prev + content_hash)}

Line ``n`` holds entry ``seq = n``; the first ``prev`` is 64 zeros. Every
``checkpoint_every`` entries (and on :meth:`AuditLog.checkpoint` and on close) a
``checkpoint`` entry records the head it seals, signed with the node's Ed25519 key::

    "detail": {"head_seq": 100, "head": <hash of entry 100>, "nation": "IND",
               "signature": base64(Ed25519(canonical {"log", "nation", "head_seq", "head"}))}

Details others write (docs/audit.md): ``release`` {"batch", "seq", "records", "clauses"},
``receive`` {"batch", "seq", "records", "sender"}, ``reject`` {"batch" (or null), "reason",
"detail"}, ``amend`` {"kind", "record", "partners"}. ``release`` and ``receive`` must carry
the batch hash (the partner check compares them); ``receive`` must name the sender.

:func:`verify_log` recomputes every hash and signature; :func:`export_for` gives a partner
its entries in full and every other entry reduced to its hashes, and
:func:`compare_with_export` is the partner's check of that export against what it received.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import logging
import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mista.errors import InputError, StoreError
from mista.labels import NATION_CODE
from mista.wire import (
    WireError,
    canonical_json,
    parse_json,
    sha256_hex,
    time_from_wire,
    time_to_wire,
)

__all__ = [
    "GENESIS",
    "KINDS",
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "TornTail",
    "compare_with_export",
    "export_for",
    "read_entries",
    "received_batches",
    "verify_log",
]

_log = logging.getLogger(__name__)

#: The ``prev`` of the first entry.
GENESIS: Final = "0" * 64
#: What an entry may record. ``checkpoint`` entries are written by the log itself.
KINDS: Final = ("release", "receive", "reject", "amend", "checkpoint")
#: Named in every checkpoint signature, so a signature over something else never fits.
LOG_FORMAT: Final = "mista-audit/1"
#: Longest line the log reads (an entry is a few hundred bytes; a release lists its ids).
MAX_LINE_BYTES: Final = 4 * 1024 * 1024
#: How many problems a report lists before it stops counting.
MAX_PROBLEMS: Final = 20

_FULL_KEYS = frozenset({"seq", "at", "kind", "partner", "detail", "content_hash", "prev", "hash"})
_REDACTED_KEYS = frozenset({"seq", "prev", "content_hash", "hash"})
_CHECKPOINT_KEYS = frozenset({"head_seq", "head", "nation", "signature"})
_HASH = re.compile(r"[0-9a-f]{64}")
#: Detail keys the partner check relies on, per kind.
_REQUIRED_DETAIL: Final[Mapping[str, tuple[str, ...]]] = {
    "release": ("batch",),
    "receive": ("batch", "sender"),
    "reject": ("reason",),
    "amend": ("kind", "record"),
}


def _chain_hash(prev: str, content_hash: str) -> str:
    return sha256_hex((prev + content_hash).encode("ascii"))


def _content_hash(
    seq: int, at: str, kind: str, partner: str | None, detail: Mapping[str, Any]
) -> str:
    content = {"seq": seq, "at": at, "kind": kind, "partner": partner, "detail": detail}
    return sha256_hex(canonical_json(content))


def _checkpoint_message(nation: str, head_seq: int, head: str) -> bytes:
    return canonical_json({"log": LOG_FORMAT, "nation": nation, "head_seq": head_seq, "head": head})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the log."""

    seq: int
    at: datetime
    kind: str
    partner: str | None
    detail: Mapping[str, Any]
    content_hash: str
    prev: str
    hash: str

    def to_wire(self) -> dict[str, Any]:
        """The line's JSON object."""
        return {
            "seq": self.seq,
            "at": time_to_wire(self.at),
            "kind": self.kind,
            "partner": self.partner,
            "detail": dict(self.detail),
            "content_hash": self.content_hash,
            "prev": self.prev,
            "hash": self.hash,
        }

    def redacted(self) -> dict[str, Any]:
        """Only what chains it: seq, prev, content_hash and hash."""
        return {
            "seq": self.seq,
            "prev": self.prev,
            "content_hash": self.content_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What a verification found. ``problems`` name the line (or export position) first."""

    ok: bool
    entries: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)
    #: Entries after the last checkpoint: their chain holds, but no signature covers them.
    unsigned_tail: int = 0
    head_seq: int = 0
    head: str = GENESIS

    def summary(self) -> str:
        state = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"{state}: {self.entries} entries, {self.checkpoints} signed checkpoints, "
            f"head {self.head_seq}:{self.head}, {self.unsigned_tail} entries after the last "
            "checkpoint"
        )


@dataclass(frozen=True, slots=True)
class TornTail:
    """An incomplete last line found on opening (a crash while writing), set aside."""

    offset: int
    length: int
    saved_to: Path


# ------------------------------------------------------------------------------ reading


def _entry_from_wire(obj: Any) -> AuditEntry:
    """A full entry, shape checked (hashes are checked by the chain walk)."""
    if not isinstance(obj, dict) or set(obj) != _FULL_KEYS:
        raise InputError(f"not an audit entry (keys must be {sorted(_FULL_KEYS)})")
    seq, kind, partner, detail = obj["seq"], obj["kind"], obj["partner"], obj["detail"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InputError(f"seq {seq!r:.40} is not a positive integer")
    if kind not in KINDS:
        raise InputError(f"kind {kind!r:.40} is not one of {', '.join(KINDS)}")
    if partner is not None and (not isinstance(partner, str) or not NATION_CODE.fullmatch(partner)):
        raise InputError(f"partner {partner!r:.40} is not a nation code or null")
    if not isinstance(detail, dict):
        raise InputError("detail is not an object")
    for name in ("content_hash", "prev", "hash"):
        if not isinstance(obj[name], str) or not _HASH.fullmatch(obj[name]):
            raise InputError(f"{name} is not 64 lower-case hex digits")
    return AuditEntry(
        seq=seq,
        at=time_from_wire(obj["at"], "at"),
        kind=kind,
        partner=partner,
        detail=detail,
        content_hash=obj["content_hash"],
        prev=obj["prev"],
        hash=obj["hash"],
    )


def _lines(path: Path, size: int | None = None) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its newline, ended by a newline) for each line of the file,
    read one at a time (a log may be large); only the first ``size`` bytes when given.
    A line longer than MAX_LINE_BYTES is cut there (it fails to parse as too large)."""
    try:
        f = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise StoreError(f"cannot read audit log {path}: {exc.strerror}") from None
    with f:
        left = size
        number = 0
        while left is None or left > 0:
            cap = MAX_LINE_BYTES + 1 if left is None else min(MAX_LINE_BYTES + 1, left)
            line = f.readline(cap)
            if not line:
                return
            number += 1
            left = None if left is None else left - len(line)
            if line.endswith(b"\n"):
                yield number, line[:-1], True
                continue
            ended = False
            while len(line) > MAX_LINE_BYTES and not ended:  # skip the rest of a long line
                rest = f.readline(64 * 1024 if left is None else min(64 * 1024, left))
                if not rest:
                    break
                left = None if left is None else left - len(rest)
                ended = rest.endswith(b"\n")
            yield number, line, ended or len(line) > MAX_LINE_BYTES


def _parse_line(line: bytes) -> Any:
    obj = parse_json(line, max_bytes=MAX_LINE_BYTES, what="line")
    if canonical_json(obj) != line:
        raise WireError("malformed", "line is not canonical JSON (RFC 8785): it was rewritten")
    return obj


def read_entries(path: Path) -> Iterator[AuditEntry]:
    """Every complete entry of a log file, in order (no hash checks: see verify_log)."""
    for number, line, complete in _lines(path):
        if not complete:
            return  # a torn last line: never acknowledged, not an entry
        try:
            yield _entry_from_wire(_parse_line(line))
        except (InputError, WireError) as exc:
            raise StoreError(
                f"line {number} of {path} is not an audit entry: {exc} "
                f"(check the log with: mista audit verify {path} --key signing.pub)"
            ) from None


# ------------------------------------------------------------------------------ the chain


class _ChainWalk:
    """Checks items (full or redacted entries) in order; collects problems."""

    def __init__(self, public_key: Ed25519PublicKey, *, allow_redacted: bool) -> None:
        self.public_key = public_key
        self.allow_redacted = allow_redacted
        #: The hash the next entry must chain to; None after an unreadable line (resync).
        self.prev: str | None = GENESIS
        self.expected_seq = 1
        self.entries = 0
        self.checkpoints = 0
        self.since_checkpoint = 0
        self.nation: str | None = None
        self.problems: list[str] = []
        #: The release entries seen in full (what the partner check compares).
        self.releases: list[AuditEntry] = []
        #: An entry whose hash the caller wants to know (verify_log's expected_head).
        self.watch_seq: int | None = None
        self.watched_hash: str | None = None

    def problem(self, where: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {message}")

    def skip(self) -> None:
        """An unreadable item: count it and take the chain up again after it."""
        self.prev = None
        self.expected_seq += 1

    def add(self, where: str, obj: Any) -> None:
        self.entries += 1
        if isinstance(obj, dict) and set(obj) == _REDACTED_KEYS and self.allow_redacted:
            self._redacted(where, obj)
            return
        try:
            entry = _entry_from_wire(obj)
        except (InputError, WireError) as exc:
            self.problem(where, f"not an audit entry ({exc})")
            self.skip()
            return
        self._link(where, entry.seq, entry.prev, entry.content_hash, entry.hash)
        try:
            content = _content_hash(
                entry.seq, time_to_wire(entry.at), entry.kind, entry.partner, entry.detail
            )
        except WireError:
            content = ""
        if content != entry.content_hash:
            self.problem(where, f"entry {entry.seq} does not match its content_hash (edited)")
        if entry.kind == "checkpoint":
            self._checkpoint(where, entry)
        else:
            self.since_checkpoint += 1
        if entry.kind == "release":
            self.releases.append(entry)

    def _redacted(self, where: str, obj: Mapping[str, Any]) -> None:
        seq, hashes = obj["seq"], (obj["prev"], obj["content_hash"], obj["hash"])
        if not isinstance(seq, int) or not all(
            isinstance(h, str) and _HASH.fullmatch(h) for h in hashes
        ):
            self.problem(where, "redacted entry is not a seq and three hashes")
            self.skip()
            return
        self._link(where, seq, *hashes)
        self.since_checkpoint += 1

    def _link(self, where: str, seq: int, prev: str, content_hash: str, hash_: str) -> None:
        if seq != self.expected_seq:
            self.problem(
                where, f"seq {seq} where {self.expected_seq} belongs (inserted, deleted or moved)"
            )
        if self.prev is not None and prev != self.prev:
            self.problem(
                where, f"entry {seq} does not chain to the entry before it (deleted or moved)"
            )
        if _chain_hash(prev, content_hash) != hash_:
            self.problem(where, f"entry {seq} hash is not sha256(prev + content_hash) (edited)")
        if seq == self.watch_seq:
            self.watched_hash = hash_
        self.prev = hash_
        self.expected_seq = seq + 1

    def _checkpoint(self, where: str, entry: AuditEntry) -> None:
        detail = entry.detail
        if set(detail) != _CHECKPOINT_KEYS:
            self.problem(where, f"checkpoint {entry.seq} lacks {sorted(_CHECKPOINT_KEYS)}")
            return
        nation, head_seq, head = detail["nation"], detail["head_seq"], detail["head"]
        if head_seq != entry.seq - 1 or head != entry.prev:
            self.problem(where, f"checkpoint {entry.seq} does not seal the entry before it")
            return
        if self.nation is None:
            self.nation = nation
        elif nation != self.nation:
            self.problem(
                where, f"checkpoint {entry.seq} is by {nation}, earlier ones by {self.nation}"
            )
        try:
            signature = base64.b64decode(str(detail["signature"]), validate=True)
            self.public_key.verify(signature, _checkpoint_message(str(nation), head_seq, head))
        except (InvalidSignature, binascii.Error, ValueError, WireError):
            self.problem(where, f"checkpoint {entry.seq} signature does not verify with the key")
            return
        self.checkpoints += 1
        self.since_checkpoint = 0

    def report(self, *, allow_unsigned_tail: bool) -> AuditReport:
        if self.since_checkpoint and not allow_unsigned_tail:
            first = self.expected_seq - self.since_checkpoint
            self.problem(
                f"entries {first}-{self.expected_seq - 1}",
                "no signed checkpoint covers them, so lines could have been cut or added "
                "there without trace (a node writes one on close; allow_unsigned_tail or "
                "--allow-unsigned-tail accepts a log that is still being written)",
            )
        return AuditReport(
            ok=not self.problems,
            entries=self.entries,
            checkpoints=self.checkpoints,
            problems=list(self.problems),
            unsigned_tail=self.since_checkpoint,
            head_seq=self.expected_seq - 1,
            head=self.prev or "unknown",
        )


def verify_log(
    path: Path,
    public_key: Ed25519PublicKey,
    *,
    allow_unsigned_tail: bool = False,
    expected_head: tuple[int, str] | None = None,
) -> AuditReport:
    """Recompute every hash and checkpoint signature of a log file.

    Finds any edited, deleted, inserted or reordered line, a checkpoint the key did not
    sign, and (unless ``allow_unsigned_tail``) entries no checkpoint covers.
    ``expected_head`` (a ``(seq, hash)`` noted from an earlier report) must still be in
    the log: that catches a log cut back to an earlier checkpoint.
    """
    walk = _ChainWalk(public_key, allow_redacted=False)
    walk.watch_seq = expected_head[0] if expected_head else None
    for number, line, complete in _lines(path):
        if not complete:
            walk.problem(f"line {number}", "incomplete last line (a crash while writing?)")
            break
        try:
            obj = _parse_line(line)
        except WireError as exc:
            walk.problem(f"line {number}", f"not an audit entry ({exc.detail})")
            walk.entries += 1
            walk.skip()
            continue
        walk.add(f"line {number}", obj)
    if expected_head is not None and walk.watched_hash != expected_head[1]:
        seq, digest = expected_head
        found = "is missing" if walk.watched_hash is None else f"has hash {walk.watched_hash}"
        walk.problem(
            f"entry {seq}",
            f"expected hash {digest}, but the entry {found} (the log was cut back or rewritten)",
        )
    return walk.report(allow_unsigned_tail=allow_unsigned_tail)


# ------------------------------------------------------------------------------ the writer


class AuditLog:
    """The node's audit log file. Thread-safe; one writer per file (an exclusive lock).

    ``append`` returns once the entry is on disk (written and fsynced). Reopening continues
    the chain; an incomplete last line (a crash mid-write: that entry was never returned to
    anyone) is moved to ``<log>.torn`` and reported in :attr:`torn` and the log.
    """

    def __init__(
        self,
        path: Path,
        *,
        nation: str,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int = 100,
    ) -> None:
        if not NATION_CODE.fullmatch(nation):
            raise InputError(f"audit log nation {nation!r} is not a nation code like IND")
        if checkpoint_every < 1:
            raise InputError(f"checkpoint_every = {checkpoint_every} must be at least 1")
        self.path = Path(path)
        self.nation = nation
        self.checkpoint_every = checkpoint_every
        self.torn: TornTail | None = None
        self._signing_key = signing_key
        self._last_checkpoint: AuditEntry | None = None
        self._lock = threading.Lock()
        self._fd = self._open()
        try:
            self._seq, self._head, self._since_checkpoint, self._size = self._resume()
        except BaseException:
            os.close(self._fd)
            raise

    # -- opening

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"audit log {self.path} is open in another writer (one node per log: stop the "
                "other one first)"
            ) from None
        if created:
            _fsync_dir(self.path.parent)
        return fd

    def _resume(self) -> tuple[int, str, int, int]:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0, GENESIS, 0, 0
        tail = _tail_lines(self._fd, size, self.checkpoint_every + 1)
        if not tail.torn_from_end:
            end = size
        else:
            end = size - tail.torn_from_end
            self._set_aside(end, size)
        if not tail.lines:
            return 0, GENESIS, 0, end
        since = 0
        last: AuditEntry | None = None
        for last_number_from_end, line in enumerate(reversed(tail.lines), start=1):
            try:
                entry = _entry_from_wire(_parse_line(line))
            except (InputError, WireError) as exc:
                raise StoreError(
                    f"audit log {self.path}: line {last_number_from_end} from the end is not an "
                    f"audit entry ({exc}); the log was changed by something other than mista "
                    f"(mista audit verify {self.path} --key signing.pub shows where)"
                ) from None
            last = last or entry
            if entry.kind == "checkpoint":
                if since == 0:
                    self._last_checkpoint = entry
                break
            since += 1
        assert last is not None
        content = _content_hash(
            last.seq, time_to_wire(last.at), last.kind, last.partner, last.detail
        )
        if content != last.content_hash or _chain_hash(last.prev, content) != last.hash:
            raise StoreError(
                f"audit log {self.path}: the last entry does not match its hashes; the log was "
                f"changed (mista audit verify {self.path} --key signing.pub shows where)"
            )
        return last.seq, last.hash, since, end

    def _set_aside(self, end: int, size: int) -> None:
        os.lseek(self._fd, end, os.SEEK_SET)
        fragment = os.read(self._fd, size - end)
        saved = self.path.with_name(self.path.name + ".torn")
        out = os.open(saved, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(out, fragment + b"\n")
            os.fsync(out)
        finally:
            os.close(out)
        os.ftruncate(self._fd, end)
        os.fsync(self._fd)
        self.torn = TornTail(offset=end, length=size - end, saved_to=saved)
        _log.warning(
            "audit log %s ended in an incomplete line (%d bytes at offset %d, a crash while "
            "writing): moved to %s; the chain continues from the last complete entry",
            self.path,
            size - end,
            end,
            saved,
        )

    # -- writing

    def append(
        self,
        kind: str,
        *,
        partner: str | None,
        detail: Mapping[str, Any],
        at: datetime | None = None,
    ) -> AuditEntry:
        """Write one entry and return it once it is durable. Kinds: release, receive,
        reject, amend (checkpoints are written by :meth:`checkpoint`)."""
        if kind not in KINDS or kind == "checkpoint":
            raise InputError(f"audit kind {kind!r} is not one of release, receive, reject, amend")
        for name in _REQUIRED_DETAIL[kind]:
            if name not in detail:
                raise InputError(f"a {kind} audit entry needs detail[{name!r}] (docs/audit.md)")
        if partner is not None and (
            not isinstance(partner, str) or not NATION_CODE.fullmatch(partner)
        ):
            raise InputError(f"audit partner {partner!r} is not a nation code or None")
        with self._lock:
            entry = self._write(kind, partner, detail, at)
            self._since_checkpoint += 1
            if self._signing_key is not None and self._since_checkpoint >= self.checkpoint_every:
                self._write_checkpoint(at)
            return entry

    def checkpoint(self) -> AuditEntry:
        """Seal the head with a signed checkpoint now (none is written twice in a row)."""
        with self._lock:
            return self._write_checkpoint(None)

    def _write_checkpoint(self, at: datetime | None) -> AuditEntry:
        if self._signing_key is None:
            raise StoreError(
                f"audit log {self.path} has no signing key: it cannot write checkpoints "
                "(open it with the node's signing key)"
            )
        if self._since_checkpoint == 0 and self._seq > 0 and self._last_checkpoint is not None:
            return self._last_checkpoint
        signature = self._signing_key.sign(_checkpoint_message(self.nation, self._seq, self._head))
        detail = {
            "head_seq": self._seq,
            "head": self._head,
            "nation": self.nation,
            "signature": base64.b64encode(signature).decode(),
        }
        entry = self._write("checkpoint", None, detail, at)
        self._since_checkpoint = 0
        self._last_checkpoint = entry
        return entry

    def _write(
        self, kind: str, partner: str | None, detail: Mapping[str, Any], at: datetime | None
    ) -> AuditEntry:
        if self._fd < 0:
            raise StoreError(f"audit log {self.path} is closed")
        if at is not None and at.tzinfo is None:
            raise InputError("audit times must be timezone-aware UTC")
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        seq, when = self._seq + 1, time_to_wire(moment)
        try:
            content_hash = _content_hash(seq, when, kind, partner, detail)
        except WireError as exc:
            raise InputError(f"audit detail cannot be written as JSON: {exc.detail}") from None
        entry = AuditEntry(
            seq=seq,
            at=time_from_wire(when),
            kind=kind,
            partner=partner,
            detail=dict(detail),
            content_hash=content_hash,
            prev=self._head,
            hash=_chain_hash(self._head, content_hash),
        )
        line = canonical_json(entry.to_wire()) + b"\n"
        if os.fstat(self._fd).st_size != self._size:
            # Someone else wrote to the file: appending now would glue onto their bytes.
            raise StoreError(
                f"audit log {self.path} changed under this writer ({os.fstat(self._fd).st_size} "
                f"bytes, expected {self._size}); stop and check it with mista audit verify"
            )
        try:
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])
            os.fsync(self._fd)
        except OSError as exc:
            raise StoreError(f"cannot write audit log {self.path}: {exc.strerror}") from None
        self._seq, self._head, self._size = seq, entry.hash, self._size + len(line)
        return entry

    # -- reading

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) for an empty log."""
        with self._lock:
            return self._seq, self._head

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry written so far, in order."""
        with self._lock:
            size = self._size
        for number, line, _ in _lines(self.path, size):
            try:
                yield _entry_from_wire(_parse_line(line))
            except (InputError, WireError) as exc:
                raise StoreError(
                    f"line {number} of {self.path} is not an audit entry: {exc}"
                ) from None

    def close(self) -> None:
        """Seal what was written since the last checkpoint, then release the file."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                if self._signing_key is not None and self._since_checkpoint:
                    self._write_checkpoint(None)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Tail:
    lines: list[bytes]
    torn_from_end: int


def _tail_lines(fd: int, size: int, count: int) -> _Tail:
    """The last ``count`` complete lines, and how many bytes after the last newline."""
    block = 64 * 1024
    position, data = size, b""
    while position > 0 and data.count(b"\n") <= count:
        step = min(block, position)
        position -= step
        data = os.pread(fd, step, position) + data
    last_newline = data.rfind(b"\n")
    torn = len(data) - last_newline - 1
    body = data[: last_newline + 1] if last_newline >= 0 else b""
    lines = body.split(b"\n")[:-1]
    if position > 0:
        lines = lines[1:]  # the first may be cut by the block boundary
    return _Tail(lines[-count:], torn)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- partner check


def export_for(path: Path, partner: str) -> list[dict[str, Any]]:
    """The log as ``partner`` may see it: its entries and checkpoints in full, every other
    entry reduced to seq, prev, content_hash and hash (enough to check the chain)."""
    exported: list[dict[str, Any]] = []
    for entry in read_entries(path):
        if entry.partner == partner or entry.kind == "checkpoint":
            exported.append(entry.to_wire())
        else:
            exported.append(entry.redacted())
    return exported


def received_batches(path: Path, sender: str) -> set[str]:
    """Hashes of the batches this node's log says it received from ``sender``."""
    return {
        str(entry.detail["batch"])
        for entry in read_entries(path)
        if entry.kind == "receive" and entry.detail.get("sender") == sender
    }


def compare_with_export(
    export: Sequence[Mapping[str, Any]],
    sender_public_key: Ed25519PublicKey,
    *,
    received_batch_hashes: Collection[str],
    me: str,
    allow_unsigned_tail: bool = False,
) -> AuditReport:
    """A partner's check of a sender's export: the chain and checkpoints verify, and the
    batches ``me`` received are exactly those the sender's ``release`` entries name for it.
    """
    walk = _ChainWalk(sender_public_key, allow_redacted=True)
    for position, obj in enumerate(export, start=1):
        walk.add(f"export entry {position}", obj)
    released: dict[str, int] = {}
    for entry in walk.releases:
        if entry.partner == me:
            released[str(entry.detail.get("batch"))] = entry.seq
    received = set(received_batch_hashes)
    sender = walk.nation or "the sender"
    for digest in sorted(received - released.keys()):
        walk.problem(
            f"batch {digest}",
            f"{me} received it from {sender}, but the export has no release of it to {me}",
        )
    for digest, seq in sorted(released.items(), key=lambda item: item[1]):
        if digest not in received:
            walk.problem(
                f"export entry seq {seq}",
                f"{sender} released batch {digest} to {me}, but {me} has no receive of it "
                "(lost, refused, or a push that was resent under a new nonce)",
            )
    return walk.report(allow_unsigned_tail=allow_unsigned_tail)
