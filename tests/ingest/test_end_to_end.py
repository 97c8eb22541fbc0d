"""ingest_paths end to end: files, TCP and UDP feeds, and a SIGKILL in the middle of a file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mista.errors import DecodeError
from mista.ingest.streams import UdpSource
from mista.node import ingest_paths, operator_user
from mista.store.embedded import DuckDBStore

from .nmea_lines import position, tagged

T0 = 1_700_000_000


def feed_lines(n: int = 20) -> list[str]:
    return [
        tagged(position(366000000 + i % 7, 10.0 + i / 100, 20.0), epoch_s=T0 + i) for i in range(n)
    ]


def snapshot(path: Path) -> dict[str, object]:
    """Everything a re-run must reproduce: counts and the exact ids and raw lines."""
    with DuckDBStore(path, read_only=True) as db:
        counts = db.counts()
        con = db._con
        reports = con.execute("SELECT id_hi, id_lo FROM reports ORDER BY 1, 2").fetchall()
        receptions = con.execute(
            "SELECT id_hi, id_lo, receiver, raw FROM receptions ORDER BY 1, 2, 4"
        ).fetchall()
        latest = con.execute("SELECT mmsi, id_hi, id_lo FROM vessel_latest ORDER BY 1").fetchall()
        quarantine = con.execute(
            "SELECT line_no, reason, raw FROM quarantine ORDER BY 1, 2"
        ).fetchall()
    return {
        "counts": counts,
        "reports": reports,
        "receptions": receptions,
        "latest": latest,
        "quarantine": quarantine,
    }


def test_a_file_twice_is_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_text("\n".join([*feed_lines(), "!AIVDM,bad"]) + "\n")
    store = tmp_path / "s.duckdb"
    first = ingest_paths([path], store=store, nation="IND")
    assert (first.messages, first.reports, first.receptions) == (20, 20, 20)
    assert first.rejected == {"malformed": 1}
    again = ingest_paths([path], store=store, nation="IND")
    assert (again.reports, again.duplicates, again.receptions, again.quarantined) == (0, 20, 0, 0)
    assert "stored 0 reports (20 duplicates)" in again.to_text()


def test_strict_stops_with_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_text("\n".join([*feed_lines(3), "!AIVDM,bad", *feed_lines(2)]) + "\n")
    with pytest.raises(DecodeError, match=r"line 4 of .*feed\.nmea: malformed"):
        ingest_paths([path], store=tmp_path / "s.duckdb", strict=True, nation="IND")


def test_a_tcp_feed_is_ingested_until_it_closes(tmp_path: Path) -> None:
    payload = ("\n".join(feed_lines()) + "\n").encode()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.sendall(payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    summary = ingest_paths([f"tcp://127.0.0.1:{port}"], store=tmp_path / "s.duckdb", nation="IND")
    thread.join(5)
    assert (summary.messages, summary.reports) == (20, 20)
    assert summary.sources == [f"tcp://127.0.0.1:{port}"]


def test_a_udp_listener_stores_what_it_hears(tmp_path: Path) -> None:
    source = UdpSource("127.0.0.1", 0, idle_timeout_s=1.0)
    host, port = source.bind()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for line in feed_lines():
            sender.sendto(line.encode(), (host, port))
    summary = ingest_paths([source], store=tmp_path / "s.duckdb", nation="IND")
    assert summary.reports == 20
    with DuckDBStore(tmp_path / "s.duckdb", read_only=True) as db:
        assert db.vessels(viewer=operator_user("IND")).num_rows == 7


@pytest.mark.shared_data
def test_sigkill_mid_file_then_rerun_loses_nothing_and_doubles_nothing(
    tmp_path: Path, shared_data: Path
) -> None:
    source = shared_data / "ais" / "bench" / "real_mixed.nmea"
    killed, reference = tmp_path / "killed.duckdb", tmp_path / "reference.duckdb"
    child = textwrap.dedent(
        f"""
        import sys
        from mista.node import ingest_paths, operator_user
        def progress(source, batch, summary):
            print(summary.messages, flush=True)
        ingest_paths([{str(source)!r}], store={str(killed)!r}, nation="IND",
                     chunk_bytes=128 * 1024, progress=progress)
        print("finished", flush=True)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for _ in range(5):  # let a few batches commit, then kill without warning
            assert process.stdout.readline().strip().isdigit()
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    ingest_paths([source], store=killed, nation="IND")
    ingest_paths([source], store=reference, nation="IND")
    assert snapshot(killed) == snapshot(reference)
