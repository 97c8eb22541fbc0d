"""The data routes over the fixture's store (tests/api/conftest.py): who sees what, filters,
404s that do not tell "hidden" from "absent", and bad parameters answered 400 in the one
error shape, never 500."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mista.ais.encode import (
    STATIC_B_PART_A_FILL_BITS,
    TagBlock,
    encode_static_b_part_a,
    nmea_sentences,
)
from mista.ingest.nmea import nmea_batches
from mista.ingest.rows import SourceContext
from mista.model import SourceKind
from tests.api.conftest import (
    LABELS,
    USERS,
    VESSEL_POSITIONS,
    ApiWorld,
    Position,
    add_reports,
    error_of,
)

IND_ONLY = LABELS["ind-only"].to_marking()


def test_me_names_the_caller(world: ApiWorld) -> None:
    assert world.get("usa.liaison", "/me").json() == {
        "name": "usa.liaison",
        "nation": "USA",
        "clearance": "RESTRICTED",
        "roles": ["liaison"],
    }


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("ind.analyst", {419000001, 367000002, 367000003, 431000004, 503000005}),
        ("usa.liaison", {367000002, 367000003, 503000005}),
        ("jpn.analyst", {367000002, 367000003}),
        ("bra.analyst", set()),
    ],
)
def test_vessels_are_those_the_caller_may_see(
    world: ApiWorld, user: str, expected: set[int]
) -> None:
    body = world.get(user, "/vessels").json()
    assert body["count"] == len(body["vessels"])
    assert {vessel["mmsi"] for vessel in body["vessels"]} == expected
    for vessel in body["vessels"]:
        assert USERS[user].may_see(
            next(label for label in LABELS.values() if label.to_marking() == vessel["label"])
        )


def test_a_vessel_shows_the_newest_position_the_caller_may_see(world: ApiWorld) -> None:
    # 367000003's newest position is IND-only: the USA officer gets the one before it.
    ind = world.get("ind.analyst", "/vessels/367000003").json()
    usa = world.get("usa.liaison", "/vessels/367000003").json()
    assert ind["label"] == IND_ONLY
    assert usa["label"] == LABELS["quad"].to_marking()
    assert usa["observed_at"] == "2024-03-01T00:10:00Z" < ind["observed_at"]


def test_vessels_in_a_bbox(world: ApiWorld) -> None:
    body = world.get("ind.analyst", "/vessels", bbox="65.5,10.5,67.5,12.5").json()
    assert {vessel["mmsi"] for vessel in body["vessels"]} == {367000002, 367000003}
    # across the antimeridian: nothing of ours lies there
    assert world.get("ind.analyst", "/vessels", bbox="170,-10,-170,10").json()["count"] == 0


def test_a_hidden_vessel_answers_exactly_like_a_missing_one(world: ApiWorld) -> None:
    hidden = world.get("usa.liaison", "/vessels/419000001")
    missing = world.get("usa.liaison", "/vessels/419000009")
    assert error_of(hidden, 404, "not-found") == "no vessel 419000001"
    assert hidden.status_code == missing.status_code
    assert hidden.text.replace("419000001", "X") == missing.text.replace("419000009", "X")
    assert dict(hidden.headers).keys() == dict(missing.headers).keys()
    for route in ("/vessels/{}/track",):
        hidden = world.get("usa.liaison", route.format(419000001))
        missing = world.get("usa.liaison", route.format(419000009))
        assert hidden.text.replace("419000001", "X") == missing.text.replace("419000009", "X")


def test_track_points_in_time_order_with_labels(world: ApiWorld) -> None:
    body = world.get("usa.liaison", "/vessels/367000003/track").json()
    assert body["mmsi"] == 367000003
    assert body["count"] == 2 == len(body["points"])
    assert set(body["points"][0]) == {
        "observed_at",
        "lat",
        "lon",
        "speed_kn",
        "course_deg",
        "source_kind",
        "label",
    }
    times = [point["observed_at"] for point in body["points"]]
    assert times == sorted(times)
    assert {point["label"] for point in body["points"]} == {LABELS["quad"].to_marking()}
    ind = world.get("ind.analyst", "/vessels/367000003/track").json()
    assert ind["count"] == len(VESSEL_POSITIONS[367000003])


def test_track_in_a_time_window(world: ApiWorld) -> None:
    body = world.get(
        "ind.analyst",
        "/vessels/419000001/track",
        since="2024-03-01T00:05:00Z",
        until="2024-03-01T00:20:00Z",
    ).json()
    assert [point["observed_at"] for point in body["points"]] == ["2024-03-01T00:10:00Z"]
    empty = world.get("ind.analyst", "/vessels/419000001/track", since="2025-01-01T00:00:00+00:00")
    assert "in that time window" in error_of(empty, 404, "not-found")


def test_positions_include_radar_contacts_for_those_who_may_see_them(world: ApiWorld) -> None:
    ind = world.get("ind.analyst", "/positions", bbox="60,5,80,25").json()
    usa = world.get("usa.liaison", "/positions", bbox="60,5,80,25").json()
    radar = [row for row in ind["positions"] if row["source_kind"] == "radar"]
    assert len(radar) == 1
    assert radar[0]["mmsi"] is None
    assert not [row for row in usa["positions"] if row["source_kind"] == "radar"]
    assert ind["count"] == sum(map(len, VESSEL_POSITIONS.values())) + 1
    assert {row["label"] for row in usa["positions"]} <= {
        LABELS["quad"].to_marking(),
        LABELS["ind-usa"].to_marking(),
    }
    times = [row["observed_at"] for row in ind["positions"]]
    assert times == sorted(times)


def test_positions_limit_keeps_the_first_in_time(world: ApiWorld) -> None:
    everything = world.get("ind.analyst", "/positions").json()["positions"]
    first = world.get("ind.analyst", "/positions", limit=3).json()
    assert first["count"] == 3
    assert first["positions"] == everything[:3]
    assert world.get("ind.analyst", "/positions", limit=0).json() == {
        "count": 0,
        "positions": [],
    }


def test_alerts_are_those_the_caller_may_see(world: ApiWorld) -> None:
    ids = {a["id"] for a in world.get("usa.liaison", "/alerts").json()["alerts"]}
    assert ids == {"alert-quad"}
    ind = world.get("ind.analyst", "/alerts").json()["alerts"]
    assert {a["id"] for a in ind} == {"alert-ind", "alert-quad", "alert-conf"}
    alert = ind[0]
    assert set(alert) == {
        "id",
        "kind",
        "status",
        "start",
        "end",
        "lat",
        "lon",
        "mmsis",
        "tracks",
        "evidence",
        "revision",
        "label",
    }
    assert alert["evidence"] == {"radius_m": 500, "note": 'a "quoted" word'}
    assert {a["id"]: a["mmsis"] for a in ind}["alert-ind"] == [419000001]


def test_alerts_by_kind_and_time(world: ApiWorld) -> None:
    assert world.get("ind.analyst", "/alerts", kind="dark,spoofing").json()["count"] == 0
    assert world.get("ind.analyst", "/alerts", kind="loitering").json()["count"] == 3
    late = world.get("ind.analyst", "/alerts", since="2024-03-02T00:00:00Z").json()
    assert late["count"] == 0
    assert world.get("ind.analyst", "/alerts", limit=1).json()["count"] == 1


def test_a_hidden_alert_answers_exactly_like_a_missing_one(world: ApiWorld) -> None:
    assert world.get("ind.analyst", "/alerts/alert-ind").json()["id"] == "alert-ind"
    hidden = world.get("usa.liaison", "/alerts/alert-ind")
    missing = world.get("usa.liaison", "/alerts/alert-xyz")
    assert error_of(hidden, 404, "not-found") == "no alert alert-ind"
    assert hidden.text.replace("alert-ind", "X") == missing.text.replace("alert-xyz", "X")


def test_tracks_by_caller_and_kind(world: ApiWorld) -> None:
    usa = world.get("usa.liaison", "/tracks").json()
    assert [track["id"] for track in usa["tracks"]] == ["track-quad"]
    assert world.get("ind.analyst", "/tracks").json()["count"] == 2
    assert world.get("ind.analyst", "/tracks", kind="dark").json()["count"] == 0


BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/vessels", {"bbox": "garbage"}),
    ("/vessels", {"bbox": "1,2,3"}),
    ("/vessels", {"bbox": "1,2,3,4,5"}),
    ("/vessels", {"bbox": "200,0,210,10"}),
    ("/vessels", {"bbox": "0,10,1,5"}),
    ("/vessels", {"bbox": "nan,0,1,1"}),
    ("/vessels", {"bbox": "inf,0,1,1"}),
    ("/vessels", {"bbox": "1e400,0,1,1"}),
    ("/vessels", {"format": "xml"}),
    ("/vessels", {"bbox": "x" * 5000}),
    ("/vessels/123abc", {}),
    ("/vessels/-1", {}),
    ("/vessels/99999999999999999999999999999", {}),
    ("/vessels/367000002/track", {"since": "yesterday"}),
    ("/vessels/367000002/track", {"since": "2024-03-01T00:00:00"}),
    ("/vessels/367000002/track", {"until": "2024-13-01T00:00:00Z"}),
    ("/vessels/367000002/track", {"since": "0001-01-01T00:00:00+01:00"}),
    (
        "/vessels/367000002/track",
        {"since": "2024-03-02T00:00:00Z", "until": "2024-03-01T00:00:00Z"},
    ),
    ("/vessels/367000002/track", {"format": "pdf"}),
    ("/positions", {"limit": "-1"}),
    ("/positions", {"limit": "10000000000000000000000000"}),
    ("/positions", {"limit": "ten"}),
    ("/positions", {"bbox": ",,,"}),
    ("/positions", {"since": "\x00"}),
    ("/alerts", {"limit": "-5"}),
    ("/alerts", {"until": "2024-03-01T25:00:00Z"}),
    ("/alerts", {"withdrawn": "perhaps"}),
    ("/alerts", {"kind": "k" * 500}),
    ("/alerts/" + "a" * 500, {}),
    ("/tracks", {"kind": "submarine"}),
    ("/tracks", {"format": ""}),
]


@pytest.mark.parametrize(("path", "params"), BAD_REQUESTS)
def test_bad_parameters_get_400_in_the_one_shape(
    world: ApiWorld, path: str, params: dict[str, Any]
) -> None:
    response = world.get("ind.analyst", path, **params)
    message = error_of(response, 400, "bad-parameter")
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "path",
    [
        "/me",
        "/vessels",
        "/vessels/367000002",
        "/vessels/367000002/track",
        "/positions",
        "/alerts",
        "/alerts/alert-quad",
        "/tracks",
    ],
)
def test_every_data_route_needs_a_token(world: ApiWorld, path: str) -> None:
    response = world.client.get(f"/api/v1{path}")
    error_of(response, 401, "unauthenticated")
    wrong = world.client.get(f"/api/v1{path}", headers={"Authorization": "Bearer mista_nope"})
    error_of(wrong, 401, "unauthenticated")


def test_times_are_iso_utc_with_z(world: ApiWorld) -> None:
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
    for row in world.get("ind.analyst", "/positions").json()["positions"]:
        assert iso.fullmatch(row["observed_at"])
    for alert in world.get("ind.analyst", "/alerts").json()["alerts"]:
        assert iso.fullmatch(alert["start"])
        assert iso.fullmatch(alert["end"])


def test_a_vessel_known_only_by_identity_is_left_out(fresh_world: ApiWorld) -> None:
    # A static message (AIS type 24 A: a name, no position) the reader may see, and the
    # vessel's only position under a label they may not: no label to show, so no answer.
    payload = encode_static_b_part_a([367000077], ["QUIET"])[0]
    line = nmea_sentences(payload, STATIC_B_PART_A_FILL_BITS, tag_block=TagBlock("r1", 1709251200))
    quad = LABELS["quad"]
    context = SourceContext("static", quad.originator, quad, SourceKind.AIS_TERRESTRIAL)
    for batch in nmea_batches([("\n".join(line) + "\n").encode()], context):
        if batch.messages.num_rows:
            fresh_world.store.write(batch)
    add_reports(fresh_world.store, [Position(367000077, 0, 12.0, 70.0, LABELS["ind-only"])])
    usa = USERS["usa.liaison"]
    identity = fresh_world.store.vessels(viewer=usa).to_pylist()
    assert [(v["mmsi"], v["name"], v["label"]) for v in identity] == [(367000077, "QUIET", None)]
    assert fresh_world.get("usa.liaison", "/vessels").json() == {"count": 0, "vessels": []}
    error_of(fresh_world.get("usa.liaison", "/vessels/367000077"), 404, "not-found")
    ind = fresh_world.get("ind.analyst", "/vessels/367000077").json()
    assert ind["label"] == LABELS["ind-only"].to_marking()
