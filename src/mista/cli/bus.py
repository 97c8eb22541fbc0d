"""``mista bus``: workers on the NATS JetStream bus (``mista.bus.jetstream``).

``mista ingest --bus nats://...`` (or ``mista.node.ingest_paths(bus=...)``) publishes;
``mista bus write`` commits what was published into a store.
"""

from __future__ import annotations

import click

from mista.cli import main
from mista.cli._options import example, store_option
from mista.errors import InputError

__all__ = ["parse_partitions"]


def parse_partitions(text: str | None, count: int) -> list[int]:
    """``0-3,6`` to ``[0, 1, 2, 3, 6]``; None or ``all`` for every partition."""
    if text is None or text.strip() == "all":
        return list(range(count))
    out: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high or low)
            out.update(range(first, last + 1))
    except ValueError:
        raise InputError(f"--partitions {text!r}: give numbers and ranges, e.g. 0-3,6") from None
    if not out or min(out) < 0 or max(out) >= count:
        raise InputError(f"--partitions {text!r}: the bus has partitions 0 to {count - 1}")
    return sorted(out)


@main.group(
    epilog=example(
        "mista ingest feed.nmea --bus nats://127.0.0.1:4222",
        "mista bus write --bus nats://127.0.0.1:4222 --store node.duckdb --until-idle-s 5",
    )
)
def bus() -> None:
    """Workers on the NATS JetStream bus (publish with: mista ingest --bus nats://...)."""


@bus.command(
    epilog=example(
        "mista bus write --bus nats://127.0.0.1:4222 --store node.duckdb",
        "mista bus write --bus 'nats://127.0.0.1:4222?partitions=8' --partitions 0-3",
    )
)
@click.option(
    "--bus",
    "bus_url",
    required=True,
    envvar="MISTA_BUS",
    show_envvar=True,
    help="nats://HOST:PORT[?stream=NAME&partitions=N] (default stream MISTA, 8 partitions).",
)
@store_option
@click.option("--partitions", default=None, help="Which partitions, e.g. 0-3,6 (default: all).")
@click.option(
    "--group",
    default="store",
    show_default=True,
    help="Consumer group: writers of one group share the partitions' messages.",
)
@click.option(
    "--ack-wait-s",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="Seconds before a batch taken by a writer that died is delivered again "
    "(a live writer keeps what it holds alive). Set when the group is first used.",
)
@click.option(
    "--fetch-messages",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Messages asked for per partition at a time.",
)
@click.option(
    "--merge-rows",
    type=click.IntRange(min=1),
    default=250_000,
    show_default=True,
    help="About how many rows to commit in one store transaction (DuckDB writes a batch "
    "of 122,880 rows or more straight to its file, much faster than through its log).",
)
@click.option(
    "--linger-s",
    type=click.FloatRange(min=0.0),
    default=0.5,
    show_default=True,
    help="Seconds to gather messages for one transaction once the first has come.",
)
@click.option(
    "--until-idle-s",
    type=click.FloatRange(min=0.1),
    default=None,
    help="End after this many seconds with nothing to write (default: run until stopped).",
)
def write(
    bus_url: str,
    store: str,
    partitions: str | None,
    group: str,
    ack_wait_s: float,
    fetch_messages: int,
    merge_rows: int,
    linger_s: float,
    until_idle_s: float | None,
) -> None:
    """Commit the batches published on the bus into STORE, acknowledging each after its
    transaction commits. Ctrl-C or SIGTERM stops it; what it had taken but not committed
    is delivered again to the next writer."""
    import logging
    import signal
    import threading

    from mista.bus.jetstream import JetStreamBus, store_writer
    from mista.node import open_store

    # One timestamped line per event (a failed write, a resume, a reconnect), no tracebacks.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The pool says every reconnection attempt in several lines; the writer's own line per
    # failed write already says the store is away.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with JetStreamBus.from_url(bus_url) as jetstream, open_store(store) as db:
        chosen = parse_partitions(partitions, jetstream.partitions)
        click.echo(
            f"writing partitions {chosen} of {jetstream.stream} into {store} (Ctrl-C stops)",
            err=True,
        )
        try:
            stats = store_writer(
                jetstream,
                db,
                chosen,
                stop,
                group=group,
                ack_wait_s=ack_wait_s,
                fetch_messages=fetch_messages,
                max_merge_rows=merge_rows,
                linger_s=linger_s,
                idle_s=until_idle_s,
            )
        except KeyboardInterrupt:
            stop.set()
            return
    click.echo(
        f"wrote {stats.rows:,} rows from {stats.messages:,} messages in {stats.batches:,} "
        f"transactions ({stats.failures} failed and retried, {stats.unreadable} unreadable)",
        err=True,
    )
