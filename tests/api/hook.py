"""A webhook receiver for the tests: a small HTTP server on 127.0.0.1 that records each
POST and answers the next scripted status."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Hook"]


@dataclass
class Hook:
    """A small HTTP server that records each POST and answers the next scripted status
    (200 once the script is used up)."""

    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0  # how long it takes to answer each POST
    answered: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Hook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    status = hook.statuses.pop(0) if hook.statuses else 200
                    hook.received.append(
                        {
                            "path": self.path,
                            "delivery": self.headers["X-Mista-Delivery"],
                            "type": self.headers["Content-Type"],
                            "body": json.loads(body),
                            "status": status,
                        }
                    )
                time.sleep(hook.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                with hook.lock:
                    hook.answered += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def wait(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"the hook got {len(self.received)} POSTs, not {count}")

    def count(self) -> int:
        with self.lock:
            return len(self.received)
