"""Three real nodes: IND releases white shipping to USA and JPN under two different
agreements, and each partner holds exactly what its agreement allows, sanitised as agreed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.serve.nodes import (
    Cluster,
    agreement_toml,
    nmea_position,
    reports,
    wait_until,
    write_spool,
)

#: USA: the northern Arabian Sea and the Bay of Bengal, RESTRICTED, at once, as observed.
USA_AREA = (60.0, 5.0, 100.0, 30.0)
#: JPN: a smaller box, up to CONFIDENTIAL, 3 s late, 2 decimals, no receiver, no speed.
JPN_AREA = (70.0, 10.0, 80.0, 20.0)
JPN_REMOVED = ("receiver", "speed_kn", "heading_deg")

IN_BOTH = (15.123456, 75.654321)
USA_ONLY = (25.5, 65.25)
NEITHER = (30.0, 120.0)
ALL = "IND,USA,JPN"


def _label(level: str, releasable_to: list[str]) -> dict[str, object]:
    return {"level": level, "releasable_to": releasable_to, "categories": ["white-shipping"]}


def test_each_partner_holds_exactly_what_its_agreement_releases(cluster: Cluster) -> None:
    ind, usa, jpn = cluster.node("IND"), cluster.node("USA"), cluster.node("JPN")
    node_toml = ind.path / "node.toml"
    node_toml.write_text(
        node_toml.read_text().replace("[groups]\n", '[groups]\nPARTNERS = ["USA", "JPN"]\n')
    )
    cluster.pin(ind, usa)
    cluster.pin(ind, jpn)
    cluster.agree(
        agreement_toml("ind-usa", sender="IND", receiver="USA", bbox=USA_AREA), "ind-usa", ind, usa
    )
    cluster.agree(
        agreement_toml(
            "ind-jpn",
            sender="IND",
            receiver="JPN",
            bbox=JPN_AREA,
            max_level="CONFIDENTIAL",
            delay="3s",
            precision=2,
            remove=JPN_REMOVED,
        ),
        "ind-jpn",
        ind,
        jpn,
    )
    everyone = ["USA", "JPN"]
    spools = {
        "white": cluster.spool_source(ind, "white", "RESTRICTED//REL TO PARTNERS//white-shipping"),
        "conf": cluster.spool_source(ind, "conf", _label("CONFIDENTIAL", everyone)),
        "secret": cluster.spool_source(ind, "secret", _label("SECRET", everyone)),
        "indonly": cluster.spool_source(ind, "indonly", _label("RESTRICTED", [])),
        "usaonly": cluster.spool_source(ind, "usaonly", _label("RESTRICTED", ["USA"])),
    }
    cluster.start_all(usa, jpn, ind)
    # Fed once the nodes run, so JPN's 3 s delay is still to run when IND ingests.
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    # MMSI blocks per source: 1xx white, 2xx conf, 3xx secret, 4xx IND only, 5xx USA only;
    # last digit 1 in both areas, 2 in USA's only, 3 in neither.
    for number, name in enumerate(spools, start=1):
        lines = [
            nmea_position(419_000_000 + number * 100 + 1, *IN_BOTH, observed),
            nmea_position(419_000_000 + number * 100 + 2, *USA_ONLY, observed),
            nmea_position(419_000_000 + number * 100 + 3, *NEITHER, observed),
        ]
        write_spool(spools[name], "feed.nmea", lines)

    # USA: white in both areas and in USA's; USA-only in both and USA's. JPN: white and
    # CONFIDENTIAL in its area, after its 3 s delay.
    wait_until(lambda: usa.received_from("IND") >= 4, 45, "USA to hold 4 records", ind, usa)
    wait_until(lambda: jpn.received_from("IND") >= 2, 45, "JPN to hold 2 records", ind, jpn)
    time.sleep(1.0)  # anything wrongly released would follow within a few scans
    for node in (ind, usa, jpn):
        assert cluster.stop(node) == 0, node.logs()

    sent = {row["mmsi"]: row for row in reports(ind)}
    assert len(sent) == 15, "IND ingested all five sources"
    usa_list, jpn_list = reports(usa), reports(jpn)
    usa_rows = {row["mmsi"]: row for row in usa_list}
    jpn_rows = {row["mmsi"]: row for row in jpn_list}
    assert (len(usa_list), len(jpn_list)) == (len(usa_rows), len(jpn_rows)), "no duplicates"
    assert sorted(usa_rows) == [419_000_101, 419_000_102, 419_000_501, 419_000_502]
    assert sorted(jpn_rows) == [419_000_101, 419_000_201]

    for mmsi, row in usa_rows.items():
        # As observed: every field, the id and the label, unchanged.
        assert row == sent[mmsi]
    for mmsi, row in jpn_rows.items():
        original = sent[mmsi]
        assert (row["id_hi"], row["id_lo"]) == (original["id_hi"], original["id_lo"])
        assert row["lat"] == round(original["lat"], 2) == round(IN_BOTH[0], 2)
        assert row["lon"] == round(original["lon"], 2) == round(IN_BOTH[1], 2)
        assert row["speed_kn"] is None
        assert row["heading_deg"] is None
        assert row["receiver"] is None
        for kept in ("originator", "observed_us", "msg_type", "course_deg", "nav_status"):
            assert row[kept] == original[kept], kept
        assert row["marking"] == original["marking"]
        assert row["observed_us"] == int(observed.timestamp()) * 1_000_000
    assert sent[419_000_101]["receiver"] == "rIND01"
    assert sent[419_000_101]["marking"] == "RESTRICTED//REL TO IND,JPN,USA//white-shipping"

    # Every release is in IND's audit log, every receipt in the partners'; JPN's came
    # after its delay (and JPN, checking the delay too, refused nothing).
    released = [e for e in ind.audit_entries() if e.get("kind") == "release"]
    assert {e.get("partner") for e in released} == {"USA", "JPN"}
    to_jpn = [datetime.fromisoformat(e["at"]) for e in released if e["partner"] == "JPN"]
    assert min(to_jpn) >= observed + timedelta(seconds=3)
    assert not [e for e in jpn.audit_entries() if e.get("kind") == "reject"]
    assert any(e.get("kind") == "receive" for e in usa.audit_entries())
    assert any(e.get("kind") == "receive" for e in jpn.audit_entries())
