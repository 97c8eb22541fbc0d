"""The web map in Debian's chromium, against a real ``mista api``: log in, see the vessels,
click one for its identity, track and label, open an alert, switch layers, and save a
screenshot (to ``$MISTA_TEST_ARTIFACTS`` or the test's tmp dir; its path is printed).
Against a real ``mista serve`` ingesting a spool: the selected vessel's panel and track
follow its live positions."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mista.labels import Level
from mista.model import Role, User
from mista.node import add_user, issue_token
from tests.serve.nodes import Cluster, free_port, nmea_position, wait_until, write_spool
from tests.web.browser import require_chromium
from tests.web.conftest import RELEASED_TO_USA, SHARED_ALERT_MARKING, WebNode
from tests.web.render import (
    LOAD_TIMEOUT_MS,
    VIEWPORT,
    drawn_count,
    first_render_ms,
    launch,
    open_map,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MISTA_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _click_on_map(page: Any, lon: float, lat: float) -> None:
    """Click the map's canvas where (lon, lat) is drawn (found with map.project)."""
    x, y = page.evaluate(
        "([lon, lat]) => { const p = window.mista.map.project([lon, lat]); return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator("#map canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def _wait_drawn(page: Any, count: int) -> None:
    """Wait until the map's vessels source holds ``count`` features."""
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while (held := drawn_count(page)) != count:
        assert time.monotonic() < deadline, f"the map holds {held} vessels, not {count}"
        page.wait_for_timeout(100)


def _wait_idle(page: Any) -> None:
    page.evaluate(
        "() => new Promise((resolve) => { const map = window.mista.map;"
        " if (map.loaded() && !map.isMoving()) resolve(); else map.once('idle', resolve); })"
    )


def test_an_analyst_logs_in_clicks_a_vessel_opens_an_alert_and_switches_layers(
    page: Any, web_node: WebNode, tmp_path: Path
) -> None:
    vessel = web_node.vessel
    mmsi = vessel["mmsi"]
    track = web_node.get(f"/api/v1/vessels/{mmsi}/track").json()
    open_map(page, web_node.base_url, web_node.admin_token)

    # logged in: who it is in the header, the token gone from the address bar
    assert page.locator("[data-testid=who]").inner_text().startswith("watch.ind · IND · SECRET")
    assert "token" not in page.url
    # the vessels the API gives this user, in the map's one vessels source
    assert drawn_count(page) == web_node.vessels_drawn
    assert page.evaluate("window.mista.state.stream") in ("live", "reconnecting")

    # click the vessel: its identity, label and track
    page.evaluate(
        f"window.mista.map.jumpTo({{center: [{vessel['lon']}, {vessel['lat']}], zoom: 11}})"
    )
    _wait_idle(page)
    _click_on_map(page, vessel["lon"], vessel["lat"])
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    assert detail.locator("[data-testid=detail-title]").inner_text() == (
        vessel["name"] or f"MMSI {mmsi}"
    )
    assert detail.locator("[data-testid=detail-label]").inner_text() == vessel["label"]
    assert str(mmsi) in detail.inner_text()
    count = detail.locator("[data-testid=track-count]")
    count.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert count.inner_text().startswith(f"{track['count']} positions")
    # the track on the map: its line and one point per position
    assert page.evaluate("window.mista.featureCount('track')") == track["count"] + 1

    # the alerts this user may see, each with its marking; one flies the map to it
    items = page.locator("[data-testid=alert-item]")
    assert items.count() == 2
    shared = page.locator("[data-testid=alert-item][data-alert-id=web-test-shared]")
    assert SHARED_ALERT_MARKING in shared.inner_text()
    page.evaluate(
        f"window.mista.map.jumpTo({{center: [{vessel['lon'] + 1}, {vessel['lat']}], zoom: 7}})"
    )
    shared.click()
    assert detail.locator("[data-testid=detail-title]").inner_text() == "Alert: loitering"
    assert detail.locator("[data-testid=detail-label]").inner_text() == SHARED_ALERT_MARKING
    page.wait_for_function(
        "([lon, lat]) => { const map = window.mista.map; const c = map.getCenter();"
        " return !map.isMoving() && Math.abs(c.lng - lon) < 0.01"
        " && Math.abs(c.lat - lat) < 0.01; }",
        arg=[vessel["lon"], vessel["lat"]],
        timeout=LOAD_TIMEOUT_MS,
    )

    # the zone layer holds the node's zone; layers switch off and on
    assert page.evaluate("window.mista.featureCount('zones')") == 1
    visibility = "(id) => window.mista.map.getLayoutProperty(id, 'visibility') ?? 'visible'"
    layers = {"zones": ["zones-fill", "zones-line"], "vessels": ["vessels"], "alerts": ["alerts"]}
    for layer, ids in layers.items():
        page.locator(f"[data-layer={layer}]").uncheck()
        assert [page.evaluate(visibility, i) for i in ids] == ["none"] * len(ids)
    _click_on_map(page, vessel["lon"], vessel["lat"])  # hidden items cannot be picked
    assert detail.is_hidden()
    for layer, ids in layers.items():
        page.locator(f"[data-layer={layer}]").check()
        assert [page.evaluate(visibility, i) for i in ids] == ["visible"] * len(ids)

    # the screenshot: the vessel selected with its track, the zone and the alert
    _click_on_map(page, vessel["lon"], vessel["lat"])
    count.wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)
    shot = _artifacts(tmp_path) / "web-map.png"
    page.screenshot(path=str(shot))
    print(f"screenshot of the web map: {shot}")
    assert shot.stat().st_size > 20_000


def test_a_liaison_officer_sees_only_what_is_released_to_their_nation(
    page: Any, web_node: WebNode
) -> None:
    open_map(page, web_node.base_url, web_node.liaison_token)
    assert (
        page.locator("[data-testid=who]").inner_text().startswith("liaison.usa · USA · RESTRICTED")
    )
    # the sample log's reports are REL TO IND only; of the alerts, only the shared one
    assert drawn_count(page) == 0
    items = page.locator("[data-testid=alert-item]")
    assert items.count() == 1
    assert SHARED_ALERT_MARKING in items.inner_text()
    assert page.locator("#partner-view").is_hidden(), "view as partner is for admins"


def test_the_login_form_refuses_a_bad_token_then_the_map_replays_and_returns_live(
    page: Any, web_node: WebNode
) -> None:
    open_map(page, web_node.base_url, None)
    dialog = page.locator("#login")
    dialog.wait_for(state="visible")
    page.fill("#login-token", "mista_" + "x" * 43)
    page.click("#login button[type=submit]")
    page.locator("#login-error").get_by_text("refused").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.fill("#login-token", web_node.admin_token)
    page.click("#login button[type=submit]")
    page.wait_for_function("window.mista.state.loaded", timeout=LOAD_TIMEOUT_MS)
    assert dialog.is_hidden()
    assert page.locator("[data-testid=who]").inner_text().startswith("watch.ind")
    assert page.evaluate("sessionStorage.getItem('mista.token')") == web_node.admin_token

    # the time slider: 24 h back there were no positions (the log spans 80 s); live again
    page.locator("#time").fill("0")
    _wait_drawn(page, 0)
    assert page.locator("#time-label").inner_text().startswith("replay · ")
    assert "replay" in page.locator("#status").inner_text()
    page.locator("#time").fill("288")
    _wait_drawn(page, web_node.vessels_drawn)
    assert page.locator("#time-label").inner_text().startswith("live · ")


def test_the_stream_reader_splits_events_however_the_bytes_arrive(
    page: Any, web_node: WebNode
) -> None:
    page.goto(f"{web_node.base_url}/health")  # any page of the node's origin imports its modules
    events = page.evaluate(
        """async () => {
          const { readEvents } = await import("/static/api.js");
          const chunks = ["event: posi", "tion\\ndata: {\\"mmsi\\": 1",
                          "}\\n\\n: keep-alive\\n\\n",
                          "event: alert\\r\\ndata: {\\"id\\": \\"a\\"}\\r\\n\\r\\n",
                          "data: not json\\n\\n", "data: {\\"x\\":\\n", "data: 2}\\n\\n"];
          const body = new ReadableStream({ start(controller) {
            for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
            controller.close(); } });
          const seen = [];
          await readEvents(body, (event, data) => seen.push([event, data]));
          return seen;
        }"""
    )
    assert events == [["position", {"mmsi": 1}], ["alert", {"id": "a"}], ["message", {"x": 2}]]


def test_first_render_of_many_vessels_is_measured_in_the_page(page: Any, web_node: WebNode) -> None:
    open_map(page, web_node.base_url, None)
    took_ms = first_render_ms(page, 2000)
    assert drawn_count(page) == 2000
    print(f"2000 vessels drawn in {took_ms:.0f} ms")
    assert 0 < took_ms < LOAD_TIMEOUT_MS


def test_an_admin_views_the_picture_as_a_partner_received_it(page: Any, web_node: WebNode) -> None:
    received = web_node.get("/api/v1/partners/USA/view/vessels").json()
    assert received["count"] == RELEASED_TO_USA
    open_map(page, web_node.base_url, web_node.admin_token)
    page.locator("#partner-select").select_option("USA")
    _wait_drawn(page, RELEASED_TO_USA)
    assert "USA" in page.locator("#view-banner").inner_text()
    assert page.locator("#time").is_disabled(), "no replay of a partner's view"
    drawn = page.evaluate(
        "window.mista.map.getSource('vessels').getData()"
        ".then((data) => data.features.map((f) => f.geometry.coordinates))"
    )
    assert sorted(drawn) == sorted([v["lon"], v["lat"]] for v in received["vessels"])
    page.locator("#partner-select").select_option("")
    _wait_drawn(page, web_node.vessels_drawn)
    assert page.locator("#view-banner").is_hidden()


def test_a_track_across_the_antimeridian_is_drawn_the_short_way(
    page: Any, web_node: WebNode
) -> None:
    page.goto(f"{web_node.base_url}/health")  # any page of the node's origin imports its modules
    parts = page.evaluate(
        """async () => {
          const { splitAtAntimeridian } = await import("/static/geometry.js");
          return [
            splitAtAntimeridian([[179, 10], [-179, 12], [-178, 13]]),
            splitAtAntimeridian([[-179.5, -5], [179.5, -7]]),
            splitAtAntimeridian([[10, 1], [11, 2], [12, 3]]),
            splitAtAntimeridian([[170, 0]]),
          ];
        }"""
    )
    eastwards, westwards, ordinary, single = parts
    assert eastwards == [[[179, 10], [180, 11]], [[-180, 11], [-179, 12], [-178, 13]]]
    assert westwards == [[[-179.5, -5], [-180, -6]], [[180, -6], [179.5, -7]]]
    assert ordinary == [[[10, 1], [11, 2], [12, 3]]]
    assert single == []


LIVE_MMSI = 419_000_123


@dataclass(frozen=True)
class LiveNode:
    """A running ``mista serve`` with a users' API and a spool source to feed."""

    base_url: str
    token: str
    spool: Path


@pytest.fixture
def live_node(tmp_path: Path) -> Iterator[LiveNode]:
    cluster = Cluster(tmp_path)
    try:
        ind = cluster.node("IND")
        api_port = free_port()
        toml = (ind.path / "node.toml").read_text()
        toml = toml.replace('# listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{api_port}"')
        (ind.path / "node.toml").write_text(toml)
        spool = cluster.spool_source(ind, "shore", "UNCLASSIFIED//REL TO IND")
        add_user(ind.store, User("watch", "IND", Level.SECRET, frozenset({Role.ANALYST})))
        token = issue_token(ind.store, "watch")
        now = datetime.now(UTC)
        first = [
            nmea_position(
                LIVE_MMSI, 15.0 + i * 0.01, 72.0 + i * 0.01, now - timedelta(minutes=30 - i)
            )
            for i in range(3)
        ]
        write_spool(spool, "first.nmea", first)
        cluster.start(ind)
        node = LiveNode(f"http://127.0.0.1:{api_port}", token, spool)

        def stored() -> bool:
            answer = httpx.get(
                f"{node.base_url}/api/v1/vessels/{LIVE_MMSI}/track",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            return answer.status_code == 200 and answer.json()["count"] == len(first)

        wait_until(stored, 30, "the first positions stored", ind)
        yield node
    finally:
        cluster.close()


def test_the_selected_vessels_panel_and_track_follow_its_live_positions(
    page: Any, live_node: LiveNode
) -> None:
    open_map(page, live_node.base_url, live_node.token)
    page.wait_for_function("window.mista.state.stream === 'live'", timeout=LOAD_TIMEOUT_MS)
    lon, lat = 72.02, 15.02  # its newest position
    page.evaluate(f"window.mista.map.jumpTo({{center: [{lon}, {lat}], zoom: 11}})")
    _wait_idle(page)
    _click_on_map(page, lon, lat)
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    assert detail.locator("[data-testid=detail-title]").inner_text() == f"MMSI {LIVE_MMSI}"
    count = detail.locator("[data-testid=track-count]")
    count.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert count.inner_text().startswith("3 positions")
    assert "15.0200°, 72.0200°" in detail.inner_text()
    assert page.evaluate("window.mista.featureCount('track')") == 3 + 1

    # a new position of the selected vessel arrives on the stream
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    moved = nmea_position(LIVE_MMSI, 15.2345, 72.3456, observed, speed_kn=12.3, course_deg=123.4)
    write_spool(live_node.spool, "later.nmea", [moved])
    page.wait_for_function(
        "document.querySelector('#detail [data-testid=track-count]')"
        "?.textContent.startsWith('4 positions')",
        timeout=LOAD_TIMEOUT_MS,
    )
    text = detail.inner_text()
    assert "15.2345°, 72.3456°" in text
    assert "12.3 kn" in text
    assert "123°" in text
    assert observed.strftime("%Y-%m-%d %H:%M:%SZ") in text
    assert detail.locator("[data-testid=detail-title]").inner_text() == f"MMSI {LIVE_MMSI}"
    # its track on the map: the line and one point per position, the newest last
    assert page.evaluate("window.mista.featureCount('track')") == 4 + 1
    line = page.evaluate(
        "window.mista.map.getSource('track').getData()"
        ".then((data) => data.features[0].geometry.coordinates)"
    )
    assert len(line) == 4
    assert line[-1] == pytest.approx([72.3456, 15.2345], abs=1e-4)
    selected = page.evaluate(
        "window.mista.map.getSource('selection').getData()"
        ".then((data) => data.features[0].geometry.coordinates)"
    )
    assert selected == pytest.approx([72.3456, 15.2345], abs=1e-4)
