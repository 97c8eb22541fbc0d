"""Faults between real nodes: a partner down under a steady feed, the sender killed
mid-stream, an agreement that has ended. Nothing is lost, nothing arrives twice, nothing
flows without a valid agreement.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.serve.nodes import (
    Cluster,
    Node,
    agreement_toml,
    nmea_position,
    read_rows,
    wait_until,
    write_spool,
)

AREA = (60.0, 5.0, 100.0, 30.0)
LABEL = {"level": "RESTRICTED", "releasable_to": ["USA", "JPN"], "categories": ["white-shipping"]}
PER_FILE = 20


class Feeder:
    """Writes a spool file of PER_FILE new positions every ``every_s`` until stopped (a
    steady 80 reports/s by default)."""

    def __init__(self, spool: Path, *, every_s: float = 0.25, first_mmsi: int = 419_100_000):
        self.spool, self.every_s, self.next_mmsi = spool, every_s, first_mmsi
        self.files = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            observed = datetime.now(UTC) - timedelta(seconds=1)
            lines = [
                nmea_position(self.next_mmsi + i, 15.0 + i * 0.01, 75.0, observed)
                for i in range(PER_FILE)
            ]
            self.next_mmsi += PER_FILE
            write_spool(self.spool, f"feed-{self.files:05d}.nmea", lines)
            self.files += 1
            self.stop.wait(self.every_s)

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def records(self) -> int:
        return self.files * PER_FILE


def _pair(cluster: Cluster) -> tuple[Node, Node, Path]:
    ind, usa = cluster.node("IND"), cluster.node("USA")
    cluster.pin(ind, usa)
    text = agreement_toml("ind-usa", sender="IND", receiver="USA", bbox=AREA)
    cluster.agree(text, "ind-usa", ind, usa)
    return ind, usa, cluster.spool_source(ind, "white", LABEL)


def _ids(node: Node) -> tuple[int, set[tuple[int, int]]]:
    rows = read_rows(node, "SELECT id_hi, id_lo FROM reports")
    return len(rows), {(row["id_hi"], row["id_lo"]) for row in rows}


def _assert_same_once(sender: Node, receiver: Node, expected: int) -> None:
    sent_count, sent = _ids(sender)
    got_count, got = _ids(receiver)
    assert sent_count == len(sent) == expected, "the sender stored every record once"
    assert got == sent, f"lost {len(sent - got)}, unexpected {len(got - sent)}"
    assert got_count == len(got), f"{got_count - len(got)} duplicates at the receiver"
    receptions = read_rows(receiver, "SELECT count(*) AS n FROM receptions")[0]["n"]
    assert receptions == expected, "one reception per record at the receiver"


def test_partner_down_then_back_gets_everything_once(cluster: Cluster) -> None:
    ind, usa, spool = _pair(cluster)
    cluster.start_all(usa, ind)
    with Feeder(spool) as feeder:
        wait_until(lambda: usa.received_from("IND") > 0, 30, "first records at USA", ind, usa)
        assert cluster.stop(usa) == 0, usa.logs()
        up_files = feeder.files
        time.sleep(1.5)  # IND keeps ingesting and retrying while USA is down
    assert feeder.files > up_files > 0
    cluster.start(usa)
    total = feeder.records

    def all_acknowledged() -> bool:
        return int(ind.health()["partners"]["USA"]["records"]) >= total

    wait_until(all_acknowledged, 60, f"USA to acknowledge {total} records", ind, usa)
    assert cluster.stop(ind) == 0, ind.logs()
    assert cluster.stop(usa) == 0, usa.logs()
    _assert_same_once(ind, usa, total)
    assert "link USA: down" in ind.logs()
    assert "link USA: up" in ind.logs()


def test_sender_killed_mid_stream_loses_and_repeats_nothing(cluster: Cluster) -> None:
    ind, usa, spool = _pair(cluster)
    cluster.start_all(usa, ind)
    with Feeder(spool) as feeder:
        wait_until(lambda: usa.received_from("IND") > 0, 30, "first records at USA", ind, usa)
        time.sleep(0.3)
        assert cluster.stop(ind, signal.SIGKILL) == -signal.SIGKILL
        time.sleep(0.5)  # the feed goes on into the spool while IND is dead
    cluster.start(ind)
    total = feeder.records
    wait_until(
        lambda: usa.received_from("IND") >= total, 60, f"USA to store {total} records", ind, usa
    )
    time.sleep(0.5)  # a resent batch would arrive now
    assert usa.received_from("IND") == total
    assert cluster.stop(ind) == 0, ind.logs()
    assert cluster.stop(usa) == 0, usa.logs()
    _assert_same_once(ind, usa, total)


def test_nothing_flows_under_an_ended_agreement_and_refusals_are_audited(
    cluster: Cluster,
) -> None:
    ind, usa, jpn = cluster.node("IND"), cluster.node("USA"), cluster.node("JPN")
    cluster.pin(ind, usa)
    cluster.pin(ind, jpn)
    now = datetime.now(UTC)
    ended = agreement_toml(
        "ind-usa",
        sender="IND",
        receiver="USA",
        bbox=AREA,
        valid_from=now - timedelta(days=30),
        valid_until=now - timedelta(days=1),
    )
    # USA's copy has ended; IND's copy (wrongly) still runs: IND sends, USA refuses.
    cluster.agree(ended, "ind-usa", usa)
    cluster.agree(
        ended.replace(f"{now - timedelta(days=1):%Y-%m-%d}", "2099-01-01"), "ind-usa", ind
    )
    # Both copies of the JPN agreement have ended: IND releases nothing to JPN.
    cluster.agree(ended.replace("USA", "JPN").replace("ind-usa", "ind-jpn"), "ind-jpn", ind, jpn)
    spool = cluster.spool_source(ind, "white", LABEL)
    observed = now - timedelta(seconds=1)
    write_spool(
        spool,
        "feed.nmea",
        [nmea_position(419_200_000 + i, 15.0, 75.0, observed) for i in range(10)],
    )
    cluster.start_all(usa, jpn, ind)
    wait_until(
        lambda: usa.health()["refused"].get("IND", 0) >= 2, 30, "USA to refuse twice", ind, usa
    )
    assert usa.received_from("IND") == 0
    link = ind.health()["partners"]
    assert link["USA"]["up"] is False
    assert link["USA"]["batches"] == 0
    assert link["JPN"]["batches"] == 0
    for node in (ind, usa, jpn):
        assert cluster.stop(node) == 0, node.logs()
    assert _ids(ind)[0] == 10
    assert _ids(usa)[0] == 0
    assert _ids(jpn)[0] == 0
    reasons = {e["detail"]["reason"] for e in usa.audit_entries() if e.get("kind") == "reject"}
    assert reasons == {"not-releasable"}
    assert not [e for e in ind.audit_entries() if e.get("partner") == "JPN"]
    assert not [e for e in jpn.audit_entries() if e.get("kind") == "receive"]
