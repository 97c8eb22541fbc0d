"""Whether autovacuum summarises a live PostgreSQL store's BRIN ranges as they fill
(migration 9's ``autosummarize``), without waiting for a VACUUM.

A day of real positions (the US coastal file) is ingested into a fresh PostgreSQL store
and vacuumed (what autovacuum's insert-triggered run does to a new table). One index is
then set back to ``autosummarize = off`` as the control, and a further hour of the same
day (New York harbour, about 220 pages: too little growth to trigger another vacuum) is
ingested. Every ``--every`` seconds the script counts each index's summarised ranges
(``pageinspect``): the index with autosummarize on gains the new full ranges once
autovacuum comes round (``autovacuum_naptime``, 60 s by default); the control does not.

Run ``.venv/bin/python bench/brin_live.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

REPO = Path(__file__).resolve().parents[1]
DAY = "marinecadastre_uscoastal_2020-06-30_tracks.csv.gz"
HOUR = "marinecadastre_nyharbor_2020-06-30_0000-0100_full.csv.gz"
PARTITION = "reports_20200630"
WATCHED = (f"{PARTITION}_observed_at_idx", f"{PARTITION}_seq_idx")  # on, control


def ingest(url: str, path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mista", "ingest", str(path), "--store", url],
        check=True,
        capture_output=True,
    )


def summarised(con: Any, index: str) -> int:
    """Summarised ranges of a BRIN index: its index tuples, on the pages after the
    metapage and the first revmap page."""
    row = con.execute(f"SELECT pg_relation_size('{index}') / 8192").fetchone()
    pages = int(row[0]) if row else 0
    total = 0
    for page in range(2, pages):
        found = con.execute(
            f"SELECT count(*) FROM brin_page_items(get_raw_page('{index}', {page}), '{index}')"
        ).fetchone()
        total += int(found[0]) if found else 0
    return total


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(__doc__, ".venv/bin/python bench/brin_live.py")
    parser.add_argument("--every", type=float, default=20.0, help="seconds between looks (20)")
    parser.add_argument("--looks", type=int, default=6, help="how many looks (6)")
    args = parser.parse_args(argv)
    print("\n".join(h.machine_lines(None)), flush=True)
    sys.path.insert(0, str(REPO))
    import psycopg
    from tests.store.conftest import new_database
    from tests.store.pg_server import start_pg

    positions = args.data / "positions"
    folder = Path(tempfile.mkdtemp(prefix="mista-bench-brin-"))
    server = start_pg(folder / "pg", durable=True)
    try:
        url = new_database(server)
        ingest(url, positions / DAY)
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
            con.execute(f"VACUUM {PARTITION}")
            con.execute(f"ALTER INDEX {WATCHED[1]} SET (autosummarize = off)")

            def pages() -> int:
                row = con.execute(f"SELECT pg_relation_size('{PARTITION}') / 8192").fetchone()
                return int(row[0]) if row else 0

            counts = [summarised(con, index) for index in WATCHED]
            print(f"after the day and a VACUUM: {pages():,} heap pages, ranges {counts}")
            ingest(url, positions / HOUR)
            print(f"after the hour: {pages():,} heap pages ({pages() // 128} full ranges)")
            rows = []
            for look in range(1, args.looks + 1):
                time.sleep(args.every)
                counts = [summarised(con, index) for index in WATCHED]
                vacuumed = con.execute(
                    "SELECT last_autovacuum IS NOT NULL FROM pg_stat_user_tables "
                    f"WHERE relname = '{PARTITION}'"
                ).fetchone()
                rows.append(
                    [
                        f"{look * args.every:.0f}",
                        str(counts[0]),
                        str(counts[1]),
                        "yes" if vacuumed and vacuumed[0] else "no",
                    ]
                )
        print()
        print(
            h.markdown_table(
                [
                    "seconds after",
                    "ranges, autosummarize on",
                    "ranges, off (control)",
                    "autovacuum ran",
                ],
                rows,
                right={0, 1, 2},
            )
        )
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
