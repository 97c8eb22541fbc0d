"""Cursor-on-Target: events parsed back with xml.etree, and the live sender over real UDP
and TCP sockets on 127.0.0.1, carrying only what its configured user may see."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.api.cot import ALERT_TYPE, UNKNOWN_SURFACE, CotSender, CotSettings, cot_type, events_xml
from mista.api.events import EventHub
from mista.errors import ConfigError
from tests.api.conftest import LABELS, ApiWorld, Position, add_reports, make_alert

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
VESSEL: dict[str, Any] = {
    "mmsi": 419000001,
    "name": "SEA BIRD",
    "callsign": "VWAB",
    "imo": 9123456,
    "ship_type": 70,
    "lat": 10.5,
    "lon": 72.25,
    "speed_kn": 12.0,
    "course_deg": 90.5,
    "heading_deg": 91.0,
    "observed_at": datetime(2024, 3, 1, 11, 58, tzinfo=UTC),
    "source_kind": "ais-terrestrial",
    "originator": "IND",
    "label": "RESTRICTED//REL TO IND,USA",
}
ALERT_ROW: dict[str, Any] = {
    "id": "enc-7",
    "kind": "encounter",
    "status": "open",
    "start": "2024-03-01T11:00:00Z",
    "end": "2024-03-01T11:40:00Z",
    "lat": -5.0,
    "lon": 100.0,
    "mmsis": [419000001, 367000002],
    "tracks": [],
    "evidence": "{}",
    "revision": 3,
    "label": "UNCLASSIFIED//REL TO AUS,IND,JPN,USA",
}


def parse(data: bytes) -> list[ET.Element]:
    """Each line of ``events_xml`` is one CoT event document."""
    return [ET.fromstring(line) for line in data.decode().splitlines()]


def cot_time(text: str | None) -> datetime:
    assert text is not None
    assert text.endswith("Z")
    return datetime.fromisoformat(text)


def test_a_vessel_is_an_event_as_tak_reads_it() -> None:
    (event,) = parse(events_xml([VESSEL], now=NOW))
    assert event.tag == "event"
    assert event.attrib["version"] == "2.0"
    assert event.attrib["uid"] == "mista.vessel.419000001"
    assert event.attrib["type"] == "a-n-S-X-M-C"  # cargo (ship type 70)
    assert event.attrib["how"] == "m-g"
    assert cot_time(event.get("time")) == NOW
    assert cot_time(event.get("start")) == VESSEL["observed_at"]
    assert cot_time(event.get("stale")) == NOW + timedelta(minutes=15)
    point = event.find("point")
    assert point is not None
    assert float(point.attrib["lat"]) == 10.5
    assert float(point.attrib["lon"]) == 72.25
    assert {point.attrib[name] for name in ("hae", "ce", "le")} == {"9999999.0"}
    contact = event.find("detail/contact")
    assert contact is not None
    assert contact.attrib["callsign"] == "SEA BIRD"
    track = event.find("detail/track")
    assert track is not None
    assert float(track.attrib["course"]) == 90.5
    assert float(track.attrib["speed"]) == pytest.approx(12.0 * 1852 / 3600, abs=0.01)  # m/s
    remarks = event.findtext("detail/remarks")
    assert remarks is not None
    assert remarks.startswith("RESTRICTED//REL TO IND,USA | ")
    assert "MMSI 419000001" in remarks


def test_an_alert_is_a_marker_and_a_withdrawn_one_is_stale_at_once() -> None:
    withdrawn = {**ALERT_ROW, "id": "enc-8", "status": "withdrawn"}
    open_event, withdrawn_event = parse(events_xml([ALERT_ROW, withdrawn], now=NOW))
    assert open_event.attrib["type"] == ALERT_TYPE
    assert open_event.attrib["uid"] == "mista.alert.enc-7"
    assert cot_time(open_event.get("start")) == datetime(2024, 3, 1, 11, 40, tzinfo=UTC)
    assert cot_time(open_event.get("stale")) > NOW
    remarks = open_event.findtext("detail/remarks") or ""
    assert remarks.startswith(ALERT_ROW["label"])
    assert "419000001, 367000002" in remarks
    assert "revision 3" in remarks
    assert open_event.find("detail/track") is None
    assert withdrawn_event.get("stale") == withdrawn_event.get("start")


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ({"mmsi": 1, "ship_type": 30}, "a-n-S-X-F"),
        ({"mmsi": 1, "ship_type": 35}, UNKNOWN_SURFACE),
        ({"mmsi": 1, "ship_type": 37}, "a-n-S-X-R"),
        ({"mmsi": 1, "ship_type": 61}, "a-n-S-X-M-P"),
        ({"mmsi": 1, "ship_type": 84}, "a-n-S-X-M-O"),
        ({"mmsi": 1, "ship_type": 52}, "a-n-S"),
        ({"mmsi": 1}, "a-n-S"),
        ({"mmsi": None, "source_kind": "radar"}, UNKNOWN_SURFACE),
        (ALERT_ROW, ALERT_TYPE),
    ],
)
def test_types_follow_the_documented_table(row: dict[str, Any], kind: str) -> None:
    assert cot_type(row) == kind


def test_a_radar_contact_has_a_stable_uid_and_rows_without_a_place_are_left_out() -> None:
    contact = {"mmsi": None, "lat": 12.5, "lon": 66.5, "observed_at": NOW, "label": "X"}
    rows = [contact, contact, {**VESSEL, "lat": None}, {**VESSEL, "lat": 95.0}, {"name": "x"}]
    first, second = parse(events_xml(rows, now=NOW))
    assert first.attrib["uid"] == second.attrib["uid"]
    assert first.attrib["uid"].startswith("mista.contact.")
    assert first.find("detail/contact") is not None


def test_names_with_markup_and_line_breaks_stay_one_event_per_line() -> None:
    row = {**VESSEL, "name": "A <b>&\n\r\tB\x00\x1b'\"", "label": "UNCLASSIFIED//REL TO IND"}
    data = events_xml([row, VESSEL], now=NOW)
    assert data.count(b"\n") == 2
    first, _ = parse(data)
    contact = first.find("detail/contact")
    assert contact is not None
    assert contact.attrib["callsign"] == "A <b>&   B'\""


values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes(timezones=st.just(UTC))
    | st.lists(st.integers(), max_size=3)
)
rows = st.dictionaries(
    st.sampled_from([*VESSEL, *ALERT_ROW, "last_at", "other"]), values, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(rows | st.builds(lambda r: {**VESSEL, **r}, rows), max_size=5))
def test_any_rows_give_well_formed_events_or_none(rows: list[dict[str, Any]]) -> None:
    data = events_xml(rows, now=NOW)
    events = parse(data)
    assert len(events) <= len(rows)
    for event in events:
        assert event.attrib["version"] == "2.0"
        assert event.find("point") is not None
        assert event.find("detail/remarks") is not None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:6969", "udp://127.0.0.1", "tcp://:6969", "udp://h:99999", "6969", ""],
)
def test_a_bad_endpoint_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="udp://HOST:PORT or tcp://HOST:PORT"):
        CotSettings(url, "usa.liaison")


# -- the sender, over real sockets ------------------------------------------------------------


@pytest.fixture
def hub(fresh_world: ApiWorld) -> Iterator[EventHub]:
    running = EventHub(fresh_world.ctx, poll_interval_s=0.05)
    running.start()
    yield running
    running.stop()


def write_picture(world: ApiWorld, base_mmsi: int) -> None:
    """A vessel under each fixture label, then an alert under each."""
    positions = [
        Position(base_mmsi + index, 0, 10.0 + index, 65.0, LABELS[name], name=name.upper())
        for index, name in enumerate(LABELS)
    ]
    with world.ctx.lock:
        add_reports(world.store, positions)
        world.store.write_alerts(
            [make_alert(f"cot-{name}-{base_mmsi}", LABELS[name]) for name in LABELS]
        )


def expected_uids(base_mmsi: int) -> set[str]:
    """What a USA officer cleared to RESTRICTED may see of ``write_picture``."""
    visible = [index for index, name in enumerate(LABELS) if name in ("quad", "ind-usa")]
    uids = {f"mista.vessel.{base_mmsi + index}" for index in visible}
    return uids | {f"mista.alert.cot-{name}-{base_mmsi}" for name in ("quad", "ind-usa")}


def receive_udp(listener: socket.socket, count: int) -> list[bytes]:
    datagrams: list[bytes] = []
    listener.settimeout(10)
    while len(datagrams) < count:
        datagrams.append(listener.recvfrom(65535)[0])
    listener.settimeout(0.5)
    with contextlib.suppress(TimeoutError):  # nothing more may come
        datagrams.append(listener.recvfrom(65535)[0])
    return datagrams


def test_udp_carries_what_the_cot_user_may_see_one_event_per_datagram(
    fresh_world: ApiWorld, hub: EventHub
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        sender = CotSender(
            fresh_world.ctx, hub, CotSettings(f"udp://127.0.0.1:{port}", "usa.liaison")
        )
        sender.start()
        try:
            write_picture(fresh_world, 500000000)
            datagrams = receive_udp(listener, 4)
        finally:
            sender.stop()
    assert all(d.startswith(b'<?xml version="1.0" encoding="UTF-8"') for d in datagrams)
    events = [ET.fromstring(d) for d in datagrams]
    assert {event.attrib["uid"] for event in events} == expected_uids(500000000)
    assert len(events) == 4
    hidden = (LABELS["ind-only"].to_marking(), LABELS["ind-usa-conf"].to_marking())
    for event in events:
        marking = (event.findtext("detail/remarks") or "").split(" | ")[0]
        assert marking not in hidden
    assert sender.sent == 4


def read_lines(connection: socket.socket, count: int, into: list[bytes]) -> None:
    connection.settimeout(10)
    buffer = b""
    with connection:
        while buffer.count(b"\n") < count:
            chunk = connection.recv(65536)
            if not chunk:
                break
            buffer += chunk
    into.extend(buffer.splitlines())


def test_tcp_reconnects_and_carries_what_the_cot_user_may_see_one_event_per_line(
    fresh_world: ApiWorld, hub: EventHub
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))  # bound but not listening yet: connections refused
        port = listener.getsockname()[1]
        settings_ = CotSettings(f"tcp://127.0.0.1:{port}", "usa.liaison")
        sender = CotSender(fresh_world.ctx, hub, settings_, retry_s=0.1, timeout_s=2)
        sender.start()
        try:
            write_picture(fresh_world, 600000000)
            deadline = time.monotonic() + 10
            while sender.failed < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sender.failed == 4  # lost while the endpoint was down (best effort)
            listener.listen()
            lines: list[bytes] = []
            time.sleep(0.2)  # past retry_s: the next events reconnect
            write_picture(fresh_world, 700000000)
            connection, _ = listener.accept()
            reader = threading.Thread(target=read_lines, args=(connection, 4, lines))
            reader.start()
            reader.join(timeout=15)
        finally:
            sender.stop()
    events = [ET.fromstring(line) for line in lines]
    assert {event.attrib["uid"] for event in events} == expected_uids(700000000)
    assert sender.sent == 4


def test_a_cot_user_that_does_not_exist_stops_the_start(
    fresh_world: ApiWorld, hub: EventHub
) -> None:
    sender = CotSender(fresh_world.ctx, hub, CotSettings("udp://127.0.0.1:6969", "nobody"))
    with pytest.raises(ConfigError, match="cot_user = 'nobody' is not a user"):
        sender.start()
    assert hub.subscriber_count == 0
