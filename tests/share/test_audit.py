"""The audit log: durable hash-chained entries, signed checkpoints, and every tampering found."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.errors import InputError, StoreError
from mista.share.audit import (
    GENESIS,
    AuditLog,
    compare_with_export,
    export_for,
    read_entries,
    received_batches,
    verify_log,
)
from mista.wire import canonical_json, sha256_hex

KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def batch_hash(n: int) -> str:
    return sha256_hex(f"batch {n}".encode())


def write_log(path: Path, count: int, *, every: int = 4) -> None:
    """A closed log of ``count`` entries to USA, JPN and none, every kind represented."""
    with AuditLog(path, nation="IND", signing_key=KEY, checkpoint_every=every) as log:
        for n in range(count):
            partner = ("USA", "JPN", None)[n % 3]
            if partner is None:
                log.append(
                    "reject",
                    partner=None,
                    detail={"batch": None, "reason": "malformed", "detail": f"try {n}"},
                    at=AT,
                )
            else:
                log.append(
                    "release",
                    partner=partner,
                    detail={
                        "batch": batch_hash(n),
                        "seq": n,
                        "records": ["ab" * 16],
                        "clauses": {"ab" * 16: "ind-usa/1"},
                    },
                    at=AT,
                )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the many files property tests write (each overwrites its own)."""
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def sample_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    write_log(path, 14)
    assert verify_log(path, KEY.public_key()).ok
    return path.read_bytes().splitlines(keepends=True)


def test_entries_chain_from_genesis_and_are_durable(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, nation="IND", signing_key=KEY, checkpoint_every=100)
    first = log.append("release", partner="USA", detail={"batch": batch_hash(1)}, at=AT)
    second = log.append("receive", partner="USA", detail={"batch": batch_hash(2), "sender": "USA"})
    assert (first.seq, first.prev) == (1, GENESIS)
    assert second.prev == first.hash
    assert first.hash == sha256_hex((first.prev + first.content_hash).encode())
    assert log.head() == (2, second.hash)
    # On disk before close, one canonical line per entry.
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert lines[0] == canonical_json(first.to_wire())
    assert list(log.entries()) == [first, second]
    log.close()
    assert [entry.kind for entry in read_entries(path)] == ["release", "receive", "checkpoint"]


def test_checkpoints_every_n_entries_and_not_twice_in_a_row(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, nation="IND", signing_key=KEY, checkpoint_every=3) as log:
        for n in range(7):
            log.append("release", partner="USA", detail={"batch": batch_hash(n)})
        explicit = log.checkpoint()
        assert log.checkpoint() == explicit
    kinds = [entry.kind for entry in read_entries(path)]
    assert kinds == ["release"] * 3 + ["checkpoint"] + ["release"] * 3 + ["checkpoint"] + [
        "release",
        "checkpoint",
    ]
    checkpoint = next(e for e in read_entries(path) if e.kind == "checkpoint")
    assert checkpoint.detail["head_seq"] == 3
    assert checkpoint.detail["nation"] == "IND"
    report = verify_log(path, KEY.public_key())
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.unsigned_tail) == (10, 3, 0)


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    with AuditLog(path, nation="IND", signing_key=KEY) as log:
        seq, head = log.head()
        entry = log.append(
            "amend",
            partner=None,
            detail={"kind": "withdraw", "record": "ab" * 16, "partners": ["USA"]},
        )
        assert (entry.seq, entry.prev) == (seq + 1, head)
    assert verify_log(path, KEY.public_key()).ok


def test_a_torn_last_line_is_set_aside_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"at":"2024-06-01T12:0')  # a crash in the middle of a write
    report = verify_log(path, KEY.public_key())
    assert not report.ok
    assert "incomplete last line" in report.problems[0]
    with AuditLog(path, nation="IND", signing_key=KEY) as log:
        assert log.torn is not None
        assert (log.torn.offset, log.torn.length) == (len(whole), 22)
        assert log.torn.saved_to.read_bytes() == b'{"at":"2024-06-01T12:0\n'
        log.append("release", partner="USA", detail={"batch": batch_hash(99)})
    # Not glued: the chain goes on from the last complete entry.
    assert path.read_bytes().startswith(whole)
    assert verify_log(path, KEY.public_key()).ok


def test_a_changed_last_line_stops_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    path.write_bytes(path.read_bytes().replace(b'"nation":"IND"', b'"nation":"USA"'))
    with pytest.raises(StoreError, match="was changed"):
        AuditLog(path, nation="IND", signing_key=KEY)


def test_one_writer_per_file_and_no_writing_under_another(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, nation="IND", signing_key=KEY) as log:
        with pytest.raises(StoreError, match="another writer"):
            AuditLog(path, nation="IND", signing_key=KEY)
        with path.open("ab") as sneaky:
            sneaky.write(b"{}\n")
        with pytest.raises(StoreError, match="changed under this writer"):
            log.append("release", partner="USA", detail={"batch": batch_hash(1)})
        log._signing_key = None  # nothing more to write on close: the file is not ours now


def test_appends_from_many_threads_make_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, nation="IND", signing_key=KEY, checkpoint_every=7) as log:

        def worker(n: int) -> None:
            for i in range(15):
                log.append("release", partner="USA", detail={"batch": batch_hash(n * 100 + i)})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    report = verify_log(path, KEY.public_key())
    assert report.ok, report.problems
    assert report.entries - report.checkpoints == 90


@pytest.mark.parametrize(
    ("kind", "detail", "words"),
    [
        ("checkpoint", {}, "not one of"),
        ("sent", {}, "not one of"),
        ("release", {"seq": 1}, "batch"),
        ("receive", {"batch": "x"}, "sender"),
        ("reject", {"batch": None}, "reason"),
        ("amend", {"kind": "withdraw"}, "record"),
        ("release", {"batch": float("nan")}, "JSON"),
    ],
)
def test_bad_appends_are_input_errors(tmp_path: Path, kind: str, detail: Any, words: str) -> None:
    with AuditLog(tmp_path / "a.jsonl", nation="IND", signing_key=KEY) as log:
        with pytest.raises(InputError, match=words):
            log.append(kind, partner=None, detail=detail)
        with pytest.raises(InputError, match="nation"):
            log.append("release", partner="usa", detail={"batch": "x"})
        with pytest.raises(InputError, match="timezone"):
            log.append("release", partner=None, detail={"batch": "x"}, at=datetime(2024, 1, 1))
        assert log.head() == (0, GENESIS)


def test_a_log_without_a_key_writes_no_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, nation="IND", signing_key=None, checkpoint_every=1) as log:
        log.append("release", partner="USA", detail={"batch": batch_hash(1)})
        with pytest.raises(StoreError, match="no signing key"):
            log.checkpoint()
    report = verify_log(path, KEY.public_key())
    assert not report.ok
    assert report.unsigned_tail == 1
    assert verify_log(path, KEY.public_key(), allow_unsigned_tail=True).ok


# --------------------------------------------------------------------------- tampering


def _rechain(lines: list[bytes], start: int) -> list[bytes]:
    """Recompute content hashes and the chain from ``start`` on, as a forger would."""
    out = lines[:start]
    prev = json.loads(out[-1])["hash"] if out else GENESIS
    for line in lines[start:]:
        obj = json.loads(line)
        content = {k: obj[k] for k in ("seq", "at", "kind", "partner", "detail")}
        obj["content_hash"] = sha256_hex(canonical_json(content))
        obj["prev"] = prev
        obj["hash"] = prev = sha256_hex((prev + obj["content_hash"]).encode())
        out.append(canonical_json(obj) + b"\n")
    return out


def _edit_detail(line: bytes) -> bytes:
    obj = json.loads(line)
    obj["detail"]["forged"] = True
    return canonical_json(obj) + b"\n"


Mutation = Callable[[list[bytes], int, int], tuple[list[bytes], int]]


def _flip(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    line = bytearray(lines[i])
    where = j % (len(line) - 1)
    line[where] = ord("x") if line[where] != ord("x") else ord("y")
    return [*lines[:i], bytes(line), *lines[i + 1 :]], i


def _delete(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    return lines[:i] + lines[i + 1 :], i


def _swap(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    j = j % len(lines)
    if i == j:
        j = (i + 1) % len(lines)
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out, min(i, j)


def _duplicate(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    return [*lines[: i + 1], lines[i], *lines[i + 1 :]], i + 1


def _edit(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    return [*lines[:i], _edit_detail(lines[i]), *lines[i + 1 :]], i


def _edit_and_rechain(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    edited = [*lines[:i], _edit_detail(lines[i]), *lines[i + 1 :]]
    return _rechain(edited, i), -1  # caught where a signed checkpoint no longer fits


def _respaced(lines: list[bytes], i: int, j: int) -> tuple[list[bytes], int]:
    spaced = json.dumps(json.loads(lines[i])).encode() + b"\n"
    return [*lines[:i], spaced, *lines[i + 1 :]], i


MUTATIONS: list[Mutation] = [
    _flip,
    _delete,
    _swap,
    _duplicate,
    _edit,
    _edit_and_rechain,
    _respaced,
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MUTATIONS), st.data())
def test_any_single_line_change_is_caught_at_its_line(
    sample_lines: list[bytes],
    scratch: Path,
    mutate: Mutation,
    data: st.DataObject,
) -> None:
    i = data.draw(st.integers(0, len(sample_lines) - 1), label="line")
    j = data.draw(st.integers(0, 10_000), label="other")
    changed, first_bad = mutate(sample_lines, i, j)
    path = scratch / "tampered.jsonl"
    path.write_bytes(b"".join(changed))
    report = verify_log(path, KEY.public_key())
    assert not report.ok
    if 0 <= first_bad < len(changed):
        assert report.problems[0].startswith(f"line {first_bad + 1}:"), report.problems


def test_a_checkpoint_signed_by_another_key_is_caught(
    sample_lines: list[bytes], tmp_path: Path
) -> None:
    import base64

    from mista.share.audit import _checkpoint_message

    lines = list(sample_lines)
    index = next(n for n, line in enumerate(lines) if b'"kind":"checkpoint"' in line)
    obj = json.loads(lines[index])
    detail = obj["detail"]
    forged = OTHER_KEY.sign(_checkpoint_message("IND", detail["head_seq"], detail["head"]))
    detail["signature"] = base64.b64encode(forged).decode()
    lines[index] = canonical_json(obj) + b"\n"
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(_rechain(lines, index)))
    report = verify_log(path, KEY.public_key())
    assert report.problems[0].startswith(f"line {index + 1}: checkpoint")
    assert "signature" in report.problems[0]
    # And the whole, untouched log checked with the wrong key fails at every checkpoint.
    path.write_bytes(b"".join(sample_lines))
    assert verify_log(path, OTHER_KEY.public_key()).checkpoints == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_verify_of_any_bytes_reports_and_never_raises(scratch: Path, data: bytes) -> None:
    path = scratch / "garbage.jsonl"
    path.write_bytes(data)
    report = verify_log(path, KEY.public_key())
    assert report.ok == (data == b"")


# -------------------------------------------------------------------------- partner check


@pytest.fixture
def sender_log(tmp_path: Path) -> Path:
    path = tmp_path / "ind-audit.jsonl"
    write_log(path, 12, every=5)
    return path


def usa_received() -> set[str]:
    return {batch_hash(n) for n in range(12) if n % 3 == 0}


def test_an_export_shows_the_partner_its_entries_and_only_hashes_of_the_rest(
    sender_log: Path,
) -> None:
    export = export_for(sender_log, "USA")
    full = [e for e in export if "kind" in e]
    redacted = [e for e in export if "kind" not in e]
    assert {e["partner"] for e in full if e["kind"] != "checkpoint"} == {"USA"}
    assert any(e["kind"] == "checkpoint" for e in full)
    assert all(set(e) == {"seq", "prev", "content_hash", "hash"} for e in redacted)
    assert len(export) == len(list(read_entries(sender_log)))
    assert "JPN" not in json.dumps(export)


def test_a_faithful_export_matches_what_the_partner_received(sender_log: Path) -> None:
    report = compare_with_export(
        export_for(sender_log, "USA"),
        KEY.public_key(),
        received_batch_hashes=usa_received(),
        me="USA",
    )
    assert report.ok, report.problems


def test_missing_and_extra_batches_are_named(sender_log: Path) -> None:
    received = usa_received() - {batch_hash(3)} | {batch_hash(1000)}
    report = compare_with_export(
        export_for(sender_log, "USA"), KEY.public_key(), received_batch_hashes=received, me="USA"
    )
    assert not report.ok
    text = "\n".join(report.problems)
    assert f"batch {batch_hash(1000)}: USA received it from IND" in text
    assert f"released batch {batch_hash(3)} to USA, but USA has no receive" in text


def test_a_doctored_export_is_caught(sender_log: Path) -> None:
    export = export_for(sender_log, "USA")
    hidden = next(n for n, e in enumerate(export) if e.get("kind") == "release")
    # Hiding a release by redacting it: the chain holds, the batch is unaccounted for.
    entry = export[hidden]
    export[hidden] = {k: entry[k] for k in ("seq", "prev", "content_hash", "hash")}
    report = compare_with_export(
        export, KEY.public_key(), received_batch_hashes=usa_received(), me="USA"
    )
    assert any("no release of it" in p for p in report.problems)
    # Editing a full entry breaks its content hash.
    export = export_for(sender_log, "USA")
    export[hidden]["detail"]["batch"] = batch_hash(5000)
    report = compare_with_export(
        export, KEY.public_key(), received_batch_hashes=usa_received(), me="USA"
    )
    assert report.problems[0].startswith(f"export entry {hidden + 1}: ")
    # Dropping an entry breaks the chain.
    export = export_for(sender_log, "USA")
    del export[2]
    report = compare_with_export(
        export, KEY.public_key(), received_batch_hashes=usa_received(), me="USA"
    )
    assert report.problems[0].startswith("export entry 3: ")
    # Another key did not sign these checkpoints.
    report = compare_with_export(
        export_for(sender_log, "USA"),
        OTHER_KEY.public_key(),
        received_batch_hashes=usa_received(),
        me="USA",
    )
    assert not report.ok


def test_received_batches_come_from_receive_entries_of_that_sender(tmp_path: Path) -> None:
    path = tmp_path / "usa-audit.jsonl"
    with AuditLog(path, nation="USA", signing_key=OTHER_KEY) as log:
        log.append("receive", partner="IND", detail={"batch": batch_hash(0), "sender": "IND"})
        log.append("receive", partner="JPN", detail={"batch": batch_hash(1), "sender": "JPN"})
        log.append("reject", partner="IND", detail={"batch": batch_hash(2), "reason": "malformed"})
    assert received_batches(path, "IND") == {batch_hash(0)}


# ---------------------------------------------------------------------------------- CLI


def test_cli_verify_export_and_compare(sender_log: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mista.cli import main
    from mista.share.keys import public_key_text

    runner = CliRunner()
    key_text = public_key_text(KEY.public_key())
    key_file = tmp_path / "ind.pub"
    key_file.write_text(key_text + "\n")
    ok = runner.invoke(main, ["audit", "verify", str(sender_log), "--key", str(key_file)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == ""
    assert "ok: 15 entries, 3 signed checkpoints" in ok.stderr

    export = runner.invoke(main, ["audit", "export", str(sender_log), "--partner", "USA"])
    assert export.exit_code == 0
    assert json.loads(export.stdout) == export_for(sender_log, "USA")
    export_path = tmp_path / "ind-for-usa.json"
    export_path.write_text(export.stdout)

    usa_log = tmp_path / "usa-audit.jsonl"
    with AuditLog(usa_log, nation="USA", signing_key=OTHER_KEY) as log:
        for digest in sorted(usa_received()):
            log.append("receive", partner="IND", detail={"batch": digest, "sender": "IND"})
    args = [
        "audit",
        "compare",
        str(export_path),
        "--key",
        key_text,
        "--received",
        str(usa_log),
        "--me",
        "USA",
    ]
    same = runner.invoke(main, args)
    assert same.exit_code == 0, same.output

    with AuditLog(usa_log, nation="USA", signing_key=OTHER_KEY) as log:
        log.append("receive", partner="IND", detail={"batch": batch_hash(777), "sender": "IND"})
    differs = runner.invoke(main, args)
    assert differs.exit_code == 1
    assert f"batch {batch_hash(777)}: USA received it from IND" in differs.stdout

    lines = sender_log.read_bytes().splitlines(keepends=True)
    sender_log.write_bytes(b"".join(lines[:3] + lines[4:]))
    broken = runner.invoke(main, ["audit", "verify", str(sender_log), "--key", key_text])
    assert broken.exit_code == 1
    assert broken.stdout.startswith("line 4: ")

    bad_key = runner.invoke(main, ["audit", "verify", str(sender_log), "--key", "ed25519:xx"])
    assert bad_key.exit_code == 2


def test_an_over_long_line_is_one_problem(sample_lines: list[bytes], tmp_path: Path) -> None:
    from mista.share.audit import MAX_LINE_BYTES

    path = tmp_path / "audit.jsonl"
    huge = b'{"x":"' + b"a" * (MAX_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(b"".join(sample_lines[:2]) + huge + b"".join(sample_lines[2:]))
    report = verify_log(path, KEY.public_key())
    assert report.problems[0].startswith("line 3: not an audit entry (")
    assert "over the limit" in report.problems[0]
    assert report.problems[1].startswith("line 4: seq 3 where 4 belongs")


def test_a_log_cut_back_to_a_checkpoint_is_caught_by_a_noted_head(
    sample_lines: list[bytes], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from mista.cli import main
    from mista.share.keys import public_key_text

    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(sample_lines))
    whole = verify_log(path, KEY.public_key())
    noted = (whole.head_seq, whole.head)
    assert verify_log(path, KEY.public_key(), expected_head=noted).ok
    cut = max(n for n, line in enumerate(sample_lines[:-1]) if b'"checkpoint"' in line)
    path.write_bytes(b"".join(sample_lines[: cut + 1]))
    assert verify_log(path, KEY.public_key()).ok  # what verify alone cannot see
    report = verify_log(path, KEY.public_key(), expected_head=noted)
    assert report.problems == [
        f"entry {noted[0]}: expected hash {noted[1]}, but the entry is missing (the log was "
        "cut back or rewritten)"
    ]
    key = public_key_text(KEY.public_key())
    args = ["audit", "verify", str(path), "--key", key, "--head"]
    assert f"head {cut + 1}:" in CliRunner().invoke(main, args[:5]).stderr
    assert CliRunner().invoke(main, [*args, f"{noted[0]}:{noted[1]}"]).exit_code == 1
    assert CliRunner().invoke(main, [*args, "12"]).exit_code == 2


def test_set_aside_bytes_are_private(tmp_path: Path) -> None:
    import stat

    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("ab") as f:
        f.write(b'{"at"')
    with AuditLog(path, nation="IND", signing_key=KEY) as log:
        assert log.torn is not None
        assert stat.S_IMODE(log.torn.saved_to.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
