"""Builders of real-format AIS input lines for tests.

Payloads come from pyais's encoder (a dev dependency, used here as an independent
reference) or from the shared logs, quoted where used. Tag blocks (``\\s:rx,c:epoch*hh\\``)
name the receiver and the reception time the way shore networks write them.
"""

from __future__ import annotations

from functools import reduce
from operator import xor
from typing import Any

from pyais.encode import encode_dict

#: A class A position report from ../shared/data/ais/raw/amsa_risky_exact_earth_tag_block.txt
#: (line 3), without its tag block.
REAL_TYPE1 = "!AIVDM,1,1,,B,19NWuLhuRb5QHfCpPcwj`26B0<02,0*5F"


def checksum(body: str) -> str:
    return f"{reduce(xor, body.encode('ascii'), 0):02X}"


def sentences(fields: dict[str, Any]) -> list[str]:
    """AIS ``!AIVDM`` sentences for one message given as gpsd-style fields."""
    out = []
    for sentence in encode_dict(fields, radio_channel="A", talker_id="AI"):
        body = sentence[1 : sentence.index("*")].replace("AIVDO", "AIVDM")
        out.append(f"!{body}*{checksum(body)}")
    return out


def tagged(sentence: str, *, epoch_s: int | None = None, receiver: str | None = None) -> str:
    """``sentence`` behind a tag block naming its receiver and reception time."""
    parts = []
    if receiver is not None:
        parts.append(f"s:{receiver}")
    if epoch_s is not None:
        parts.append(f"c:{epoch_s}")
    if not parts:
        return sentence
    body = ",".join(parts)
    return f"\\{body}*{checksum(body)}\\{sentence}"


def position(mmsi: int, lat: float, lon: float, **more: Any) -> str:
    """One class A position report sentence."""
    fields = {"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": 10.0, "course": 90.0}
    fields.update(more)
    (sentence,) = sentences(fields)
    return sentence


def payload_of(sentence: str) -> tuple[str, int]:
    """(armoured payload, fill bits) of a single-sentence message."""
    fields = sentence.split("*")[0].split(",")
    return fields[5], int(fields[6])
