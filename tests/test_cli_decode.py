"""`mista decode`: gpsdecode-style JSON lines on stdout, a summary by reason on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mista.cli import main

GOOD = "!AIVDM,1,1,,B,15N0>s?P00G?k7RKAC4h;ww00@C:,0*1C"
BAD_CHECKSUM = "!AIVDM,1,1,,B,15N0>s?P00G?k7RKAC4h;ww00@C:,0*1D"


def _tagged_line() -> str:
    body = "s:rX1,c:1418172113"
    checksum = 0
    for ch in body:
        checksum ^= ord(ch)
    return f"\\{body}*{checksum:02X}\\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78"


def test_decode_prints_one_gpsd_object_per_message_and_a_summary(tmp_path: Path) -> None:
    feed = tmp_path / "feed.nmea"
    feed.write_text(f"{GOOD}\n{BAD_CHECKSUM}\n# a comment\n{GOOD}\n")
    result = CliRunner().invoke(main, ["decode", str(feed)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["class"] == "AIS"
    assert first["type"] == 1
    assert first["mmsi"] == 367005420
    assert first["heading"] == 511  # gpsd's "not available"
    assert "4 lines read; 2 messages decoded; 1 rejected (checksum 1)" in result.stderr


def test_decode_meta_adds_line_time_and_receiver(tmp_path: Path) -> None:
    feed = tmp_path / "feed.nmea"
    feed.write_text(_tagged_line() + "\n")
    result = CliRunner().invoke(main, ["decode", "--meta", str(feed)])
    assert result.exit_code == 0, result.output
    (message,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert message["line"] == 1
    assert message["received_at"] == 1418172113.0
    assert message["receiver"] == "rX1"


def test_decode_reads_stdin_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mista", "decode", "-"],
        input=f"{GOOD}\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (message,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert message["device"] == "stdin"
    assert "1 messages decoded" in done.stderr


def test_decode_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["decode", str(tmp_path / "nope.nmea")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr
