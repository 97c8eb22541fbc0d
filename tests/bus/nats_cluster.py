"""Three real ``nats-server -js`` processes clustered on 127.0.0.1, for the replicated
stream tests: each with its own client and cluster ports and store directory, the routes
naming the other two. Stopped by their pids (``stop``); ``kill`` SIGKILLs one, as a lost
machine would go."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

from tests.bus.nats_server import _accepts, _free_port, nats_binary, stop_server

__all__ = ["NatsCluster", "start_cluster"]

_START_TIMEOUT_S = 30.0


@dataclass
class NatsCluster:
    """Three clustered servers: their client ports, processes and logs."""

    root: Path
    ports: list[int]
    cluster_ports: list[int]
    processes: list[subprocess.Popen[bytes] | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every server, comma-separated (what a node's ``bus`` setting names)."""
        return ",".join(f"nats://127.0.0.1:{port}" for port in self.ports)

    def log(self, index: int) -> Path:
        return self.root / f"n{index}.log"

    def start(self, index: int) -> None:
        routes = ",".join(
            f"nats://127.0.0.1:{port}" for i, port in enumerate(self.cluster_ports) if i != index
        )
        args = [
            nats_binary(),
            "-js",
            "-a", "127.0.0.1",
            "-p", str(self.ports[index]),
            "-n", f"n{index}",
            "--cluster_name", "mista-test",
            "--cluster", f"nats://127.0.0.1:{self.cluster_ports[index]}",
            "--routes", routes,
            "-sd", str(self.root / f"n{index}"),
            "-l", str(self.log(index)),
        ]  # fmt: skip
        self.processes[index] = subprocess.Popen(args, stdin=subprocess.DEVNULL)

    def wait_ready(self) -> None:
        """Until every running server accepts clients and JetStream has a meta leader."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        for index, port in enumerate(self.ports):
            process = self.processes[index]
            if process is None:
                continue
            while not _accepts(port):
                if process.poll() is not None:
                    raise RuntimeError(f"nats-server n{index} exited: {self.tail(index)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server n{index} never accepted clients")
                time.sleep(0.05)
        while not self._has_meta_leader():
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster elected no JetStream leader: " + self.tail(0))
            time.sleep(0.2)

    def _has_meta_leader(self) -> bool:
        async def ask() -> bool:
            client = await nats.connect(
                servers=self.url.split(","), connect_timeout=2, max_reconnect_attempts=0
            )
            try:
                await client.jetstream().account_info()
                return True
            except Exception:  # not yet: no leader answers account requests
                return False
            finally:
                await client.close()

        try:
            return asyncio.run(asyncio.wait_for(ask(), 5))
        except Exception:  # a server not up yet refuses the connection
            return False

    def stream_leader(self, stream: str) -> int:
        """The index of the server leading ``stream``'s replicas."""

        async def ask() -> str:
            client = await nats.connect(servers=self.url.split(","), connect_timeout=2)
            try:
                info = await client.jetstream().stream_info(stream)
                assert info.cluster is not None
                assert info.cluster.leader is not None
                return info.cluster.leader
            finally:
                await client.close()

        return int(asyncio.run(asyncio.wait_for(ask(), 10)).removeprefix("n"))

    def tail(self, index: int) -> str:
        path = self.log(index)
        return path.read_text(errors="replace")[-1500:] if path.exists() else "(no log)"

    def kill(self, index: int) -> None:
        """SIGKILL one server: no flush, no goodbye to the others."""
        process = self.processes[index]
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for process in self.processes:
            stop_server(process)


def start_cluster(root: Path) -> NatsCluster:
    """Start three clustered JetStream servers under ``root``; the caller stops them."""
    root.mkdir(parents=True, exist_ok=True)
    cluster = NatsCluster(
        root=root,
        ports=[_free_port() for _ in range(3)],
        cluster_ports=[_free_port() for _ in range(3)],
        processes=[None, None, None],
    )
    try:
        for index in range(3):
            cluster.start(index)
        cluster.wait_ready()
    except BaseException:
        cluster.stop()
        raise
    return cluster
