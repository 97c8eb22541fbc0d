"""Cursor-on-Target: vessels, positions and alerts as CoT XML events, and a live sender.

CoT is the XML event format TAK clients and servers (ATAK, WinTAK, TAK Server) exchange.
Each row becomes one ``<event version="2.0">`` with a stable ``uid`` (so a TAK map moves
one marker per vessel), a ``type`` (table below), ``how="m-g"`` (machine-generated from
GNSS positions), ``time`` (when the event was written), ``start`` (when the position was
observed), ``stale`` (when a map should drop it), a ``<point>`` (``hae``, ``ce`` and
``le`` are ``9999999.0``, CoT's "unknown") and a ``<detail>`` with ``<contact callsign>``,
``<track course speed>`` (degrees true, metres per second as CoT wants) and ``<remarks>``
that begin with the record's label marking. Times are ISO 8601 UTC with milliseconds and
``Z``.

Types (CoT's ``a-<affiliation>-<dimension>-...`` from MIL-STD-2525, ``S`` sea surface):
a vessel identified by AIS is neutral (``n``: it announces itself; mista does not judge
friend or hostile), refined by its AIS ship type (ITU-R M.1371-5 Table 53); a contact with
no MMSI (radar) or a vessel declaring military operations (ship type 35) is unknown
(``a-u-S``); an alert is a map spot marker (``b-m-p-s-m``).

``events_xml`` writes one event per line with no XML declaration: the framing TAK uses on
a TCP stream, and a file that is parsed line by line. The sender sends what its
configured user may see as it happens: over UDP one datagram per event (with the XML
declaration), over TCP one event per line on a connection it reopens after a failure.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from mista.errors import ConfigError
from mista.model import content_id

if TYPE_CHECKING:  # events builds on formats, which builds on this module
    from mista.api.context import ApiContext
    from mista.api.events import EventHub, LiveEvent, Subscription

__all__ = [
    "ALERT_TYPE",
    "DEFAULT_STALE",
    "NEUTRAL_SURFACE",
    "SHIP_TYPES",
    "UNKNOWN_SURFACE",
    "CotSender",
    "CotSettings",
    "cot_type",
    "event_element",
    "events_xml",
]

#: CoT's value for an unknown height or error (metres).
_UNKNOWN = "9999999.0"
_KNOTS_TO_M_S = 1852.0 / 3600.0
#: A vessel identified by AIS whose ship type says nothing more.
NEUTRAL_SURFACE = "a-n-S"
#: A contact nobody identified (radar), or a vessel mista does not classify.
UNKNOWN_SURFACE = "a-u-S"
#: An alert: a spot marker at the alert's position.
ALERT_TYPE = "b-m-p-s-m"
#: CoT type by AIS ship type (ITU-R M.1371-5 Table 53): ranges of the first digit, then
#: single codes. Merchant (``S-X-M``): passenger 6x, cargo 7x, tanker 8x; fishing 30
#: (``S-X-F``); sailing and pleasure craft 36, 37 (``S-X-R``); military operations 35 is
#: left unknown: its affiliation is not for mista to state.
SHIP_TYPES: tuple[tuple[range, str], ...] = (
    (range(30, 31), "a-n-S-X-F"),
    (range(35, 36), UNKNOWN_SURFACE),
    (range(36, 38), "a-n-S-X-R"),
    (range(60, 70), "a-n-S-X-M-P"),
    (range(70, 80), "a-n-S-X-M-C"),
    (range(80, 90), "a-n-S-X-M-O"),
)
#: How long a TAK map keeps a position or alert after its time, unless a newer one comes.
DEFAULT_STALE = timedelta(minutes=15)
#: Characters XML 1.0 cannot carry are removed; line breaks of any kind (also Unicode's
#: NEL, LS, PS) and tabs become spaces, so an event stays on one line.
_CLEAN: dict[int, str | None] = {
    **dict.fromkeys([*range(0x00, 0x20), 0xFFFE, 0xFFFF]),
    **dict.fromkeys([0x09, 0x0A, 0x0D, 0x85, 0x2028, 0x2029], " "),
}
_log = logging.getLogger("mista.api.cot")


@dataclass(frozen=True, slots=True)
class CotSettings:
    """Where CoT goes (``udp://HOST:PORT`` or ``tcp://HOST:PORT``) and whose view it
    carries (``user``, a user of this node: only what they may see is sent)."""

    url: str
    user: str

    def __post_init__(self) -> None:
        self.endpoint()  # refuse a bad URL when the settings are made

    def endpoint(self) -> tuple[str, str, int]:
        """(``udp`` or ``tcp``, host, port)."""
        parts = urlsplit(self.url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("udp", "tcp") or not parts.hostname or port is None:
            raise ConfigError(
                f"[api] cot = {self.url!r} is not udp://HOST:PORT or tcp://HOST:PORT "
                "(e.g. udp://127.0.0.1:6969, TAK's default input)"
            )
        return parts.scheme, parts.hostname, port


def _text(value: Any) -> str:
    return str(value).translate(_CLEAN)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _cot_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _is_alert(row: Mapping[str, Any]) -> bool:
    return "status" in row and "start" in row and "kind" in row


def cot_type(row: Mapping[str, Any]) -> str:
    """The CoT type of a row (see the module's table)."""
    if _is_alert(row):
        return ALERT_TYPE
    if row.get("mmsi") is None:
        return UNKNOWN_SURFACE
    ship_type = row.get("ship_type")
    if isinstance(ship_type, int):
        for codes, kind in SHIP_TYPES:
            if ship_type in codes:
                return kind
    return NEUTRAL_SURFACE


def _uid(row: Mapping[str, Any]) -> str:
    if _is_alert(row):
        return f"mista.alert.{row.get('id')}"
    if row.get("mmsi") is not None:
        return f"mista.vessel.{row['mmsi']}"
    if row.get("id") is not None:
        return f"mista.track.{row['id']}"
    # A radar contact: the same contact (place and time) always gets the same uid.
    key = content_id(row.get("lat"), row.get("lon"), row.get("observed_at"), row.get("receiver"))
    return f"mista.contact.{key}"


def _callsign(row: Mapping[str, Any]) -> str:
    if _is_alert(row):
        return f"{row.get('kind')} alert ({row.get('status')})"
    for field in ("name", "callsign"):
        value = row.get(field)
        if value and str(value).strip():
            return str(value).strip()
    if row.get("mmsi") is not None:
        return f"MMSI {row['mmsi']}"
    return "radar contact"


def _remarks(row: Mapping[str, Any]) -> str:
    parts = [str(row.get("label") or "UNLABELLED")]
    if _is_alert(row):
        mmsis = row.get("mmsis")
        parts.append(f"alert {row.get('id')} {row.get('kind')} {row.get('status')}")
        if isinstance(mmsis, list | tuple) and mmsis:
            parts.append("MMSI " + ", ".join(str(mmsi) for mmsi in mmsis))
        if row.get("revision") is not None:
            parts.append(f"revision {row['revision']}")
    else:
        for field, title in (("mmsi", "MMSI"), ("imo", "IMO"), ("callsign", "call sign")):
            if row.get(field) is not None:
                parts.append(f"{title} {row[field]}")
        for field in ("source_kind", "originator"):
            if row.get(field):
                parts.append(str(row[field]))
    return " | ".join(parts)


def event_element(
    row: Mapping[str, Any], *, now: datetime | None = None, stale: timedelta = DEFAULT_STALE
) -> ET.Element | None:
    """One row (a vessel, position or alert, as the API's JSON or the store's columns)
    as a CoT ``<event>``; None when it has no usable position."""
    lat, lon = _float(row.get("lat")), _float(row.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    written = now or datetime.now(UTC)
    alert = _is_alert(row)
    observed = None
    for field in ("end", "start") if alert else ("observed_at", "last_at"):
        observed = _time(row.get(field))
        if observed is not None:
            break
    start = observed or written
    # A withdrawn alert is stale at once: the map drops its marker.
    stale_at = start if alert and row.get("status") == "withdrawn" else max(start, written) + stale
    event = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": _text(_uid(row)),
            "type": cot_type(row),
            "how": "m-g",
            "time": _cot_time(written),
            "start": _cot_time(start),
            "stale": _cot_time(stale_at),
        },
    )
    ET.SubElement(
        event,
        "point",
        {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "hae": _UNKNOWN, "ce": _UNKNOWN, "le": _UNKNOWN},
    )
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", {"callsign": _text(_callsign(row))})
    course, speed_kn = _float(row.get("course_deg")), _float(row.get("speed_kn"))
    if course is not None or speed_kn is not None:
        track = {}
        if course is not None:
            track["course"] = f"{course:.1f}"
        if speed_kn is not None:
            track["speed"] = f"{speed_kn * _KNOTS_TO_M_S:.2f}"
        ET.SubElement(detail, "track", track)
    ET.SubElement(detail, "remarks").text = _text(_remarks(row))
    return event


def events_xml(
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    stale: timedelta = DEFAULT_STALE,
) -> bytes:
    """CoT XML of ``rows``: one ``<event>`` per line (rows without a position are left
    out), UTF-8, no XML declaration (see the module docstring)."""
    written = now or datetime.now(UTC)
    lines = []
    for row in rows:
        event = event_element(row, now=written, stale=stale)
        if event is not None:
            lines.append(ET.tostring(event, encoding="unicode"))
    return "".join(line + "\n" for line in lines).encode()


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def _event_bytes(event: LiveEvent) -> bytes | None:
    element = event_element(event.data)
    return (
        None if element is None else ET.tostring(element, encoding="utf-8", xml_declaration=False)
    )


class CotSender:
    """Sends the live positions and alerts ``settings.user`` may see to a CoT endpoint.

    Best effort, as CoT is: an event that cannot be sent (endpoint down, queue overflow)
    is counted in ``failed`` and not retried; a TCP connection is reopened, at most every
    ``retry_s``, when the next events come.
    """

    def __init__(
        self,
        ctx: ApiContext,
        hub: EventHub,
        settings: CotSettings,
        *,
        timeout_s: float = 5.0,
        retry_s: float = 5.0,
    ) -> None:
        self.ctx, self.hub, self.settings = ctx, hub, settings
        self.timeout_s, self.retry_s = timeout_s, retry_s
        self.scheme, self.host, self.port = settings.endpoint()
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        self._socket: socket.socket | None = None
        self._next_connect = 0.0

    def start(self) -> None:
        """Subscribe as the configured user (ConfigError if there is no such user)."""
        with self.ctx.lock:
            user = self.ctx.store.user(self.settings.user)
        if user is None:
            raise ConfigError(
                f"[api] cot_user = {self.settings.user!r} is not a user of this node "
                f"(add it: mista users add {self.settings.user} --nation ... --clearance ...)"
            )
        self._subscription = self.hub.subscribe(user, max_events=50_000)
        self._thread = threading.Thread(target=self._run, name="mista-cot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._subscription is not None:
            self.hub.unsubscribe(self._subscription)
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._disconnect()

    def _run(self) -> None:
        assert self._subscription is not None
        subscription = self._subscription
        while not self._stop.is_set():
            subscription.wait(1.0)
            events = subscription.take()
            if subscription.dropped:
                _log.warning("CoT endpoint %s too slow: events were dropped", self.settings.url)
                self.failed += 1
                self.hub.unsubscribe(subscription)
                subscription = self._subscription = self.hub.subscribe(
                    subscription.viewer, max_events=subscription.max_events
                )
            documents = [doc for doc in map(_event_bytes, events) if doc is not None]
            if documents:
                self._send(documents)

    def _send(self, documents: list[bytes]) -> None:
        try:
            if self.scheme == "udp":
                self._send_udp(documents)
            else:
                self._send_tcp(documents)
            self.sent += len(documents)
        except OSError as exc:
            self.failed += len(documents)
            _log.warning("CoT to %s failed: %s", self.settings.url, exc)
            self._disconnect()

    def _send_udp(self, documents: list[bytes]) -> None:
        if self._socket is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self._socket = socket.socket(family, socket.SOCK_DGRAM)
        for document in documents:
            self._socket.sendto(_DECLARATION + document, (self.host, self.port))

    def _send_tcp(self, documents: list[bytes]) -> None:
        if self._socket is None:
            now = time.monotonic()
            if now < self._next_connect:
                raise OSError("not reconnecting yet (the last attempt failed)")
            self._next_connect = now + self.retry_s
            self._socket = socket.create_connection((self.host, self.port), self.timeout_s)
        # TCP framing: events back to back, one per line, without declarations.
        self._socket.sendall(b"".join(document + b"\n" for document in documents))

    def _disconnect(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None
