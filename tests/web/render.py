"""Driving the web map in Debian's chromium, and timing its first render of N vessels.

Self-contained (no pytest, no test imports) so the benchmark can load it as a plain module:
``bench/api.py render`` calls ``first_render_seconds(20_000)``.

Never downloads a browser: it launches ``/usr/bin/chromium`` (``apt-get install chromium``).
``first_render_ms(page, n)`` puts n made-up vessels (spread over the northern Indian Ocean,
of every type, source and nation the map styles) through the page's own drawing code and
times, in the page with ``performance.now()``, from building the features and ``setData``
on the one vessels source until the map's first ``idle`` event after it.

    .venv/bin/python tests/web/render.py 20000      # prints the time for 20,000 vessels
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Debian's chromium (the package ``chromium``).
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, software WebGL, and nothing that reaches out to the network by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Software WebGL draws every pixel on the CPU: a laptop-sized window keeps frames short.
VIEWPORT = {"width": 1200, "height": 720}
#: How long the page may take to log in and draw the picture (software WebGL is slow).
LOAD_TIMEOUT_MS = 30_000
START_TIMEOUT_S = 30.0

_DRAW = """
async ({count, seed}) => {
  const map = window.mista.map;
  if (!map.loaded()) await new Promise((resolve) => map.once("load", resolve));
  let state = seed >>> 0;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
  const types = [30, 31, 35, 37, 52, 60, 70, 71, 80, 84, 99, null];
  const sources = ["ais-terrestrial", "ais-terrestrial", "ais-satellite", "radar"];
  const nations = ["IND", "USA", "JPN", "AUS"];
  const records = [];
  for (let i = 0; i < count; i++) {
    records.push({
      mmsi: 200000000 + i,
      name: `VESSEL ${i}`,
      ship_type: types[i % types.length],
      lat: -5 + random() * 30,
      lon: 45 + random() * 55,
      speed_kn: random() * 20,
      course_deg: random() * 360,
      observed_at: new Date().toISOString(),
      source_kind: sources[i % sources.length],
      originator: nations[i % nations.length],
      label: "UNCLASSIFIED//REL TO AUS,IND,JPN,USA",
    });
  }
  map.jumpTo({ center: [72, 10], zoom: 3 });
  await new Promise((resolve) => map.once("idle", resolve));
  return window.mista.timeDraw(records);
}
"""


def launch(playwright: Any) -> Any:
    """A headless chromium Browser from ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_map(page: Any, base_url: str, token: str | None) -> None:
    """Open the map at ``base_url`` logged in with ``token`` (through the URL fragment, as a
    user would) and wait until it has drawn the picture; with no token, until the map is up."""
    page.goto(f"{base_url}/" + (f"#token={token}" if token else ""))
    ready = "window.mista.state.loaded" if token else "window.mista.map !== null"
    page.wait_for_function(f"window.mista && {ready}", timeout=LOAD_TIMEOUT_MS, polling=100)


def first_render_ms(page: Any, vessels: int, *, seed: int = 1) -> float:
    """Milliseconds from ``setData`` of ``vessels`` made-up vessels to the map's next idle."""
    return float(page.evaluate(_DRAW, {"count": vessels, "seed": seed}))


def drawn_count(page: Any) -> int:
    """How many features the map's vessels source holds now."""
    return int(page.evaluate("window.mista.featureCount('vessels')"))


@contextmanager
def serve_map() -> Iterator[str]:
    """A ``mista api`` over an empty store on a free 127.0.0.1 port (the page needs no
    data to time drawing); yields its base URL, stops it by pid."""
    with tempfile.TemporaryDirectory(prefix="mista-render-") as folder:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        base_url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "mista", "api", "--listen", f"127.0.0.1:{port}"]
        command += ["--store", str(Path(folder) / "empty.duckdb")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mista api did not start on {base_url}")
                try:
                    with urllib.request.urlopen(f"{base_url}/health", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            yield base_url
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def first_render_seconds(vessels: int, *, repeats: int = 3) -> float:
    """The median, over ``repeats`` fresh pages, of the first render of ``vessels`` vessels
    in seconds (a node with the web map started and stopped for it)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise RuntimeError(f"Debian's chromium is not installed at {CHROMIUM}")
    times_ms = []
    with serve_map() as base_url, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for run in range(repeats):
                page = browser.new_page(viewport=VIEWPORT)
                open_map(page, base_url, None)
                times_ms.append(first_render_ms(page, vessels, seed=run + 1))
                if drawn_count(page) != vessels:
                    raise RuntimeError(f"the map holds {drawn_count(page)} vessels, not {vessels}")
                page.close()
        finally:
            browser.close()
    return sorted(times_ms)[len(times_ms) // 2] / 1e3


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(
        f"{count:,} vessels: first render {first_render_seconds(count) * 1e3:,.0f} ms (median of 3)"
    )
