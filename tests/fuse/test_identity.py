"""Identity: name and call-sign changes, MMSI changes, MMSI and IMO validity."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import FusedChunk, IdentityEvent, IdentityKind
from mista.fuse.mmsi import is_valid_imo, is_valid_ship_mmsi, mmsi_kind

from .builders import NO_LAND, T0, feed, numbered, sail


def _run(
    rows: list[dict[str, Any]], config: FuseConfig | None = None
) -> tuple[Fuser, list[FusedChunk]]:
    fuser = Fuser(config, land=NO_LAND)
    rows = numbered(sorted(rows, key=lambda r: r["t"]))
    chunks = [fuser.push(feed(rows[k : k + 40])) for k in range(0, len(rows), 40)]
    chunks.append(fuser.flush())
    return fuser, chunks


def _events(chunks: list[FusedChunk], kind: IdentityKind) -> list[IdentityEvent]:
    return [e for c in chunks for e in c.identity if e.kind == kind]


def _static(mmsi: int, t: float, **fields: Any) -> dict[str, Any]:
    return {"t": t, "mmsi": mmsi, "msg_type": 5, **fields}


def test_a_name_change_is_an_event_and_padding_is_not() -> None:
    rows = sail(419000001, count=60)
    rows += [
        _static(419000001, T0 + 100, name="SEA BIRD@@@@", callsign="VT1A"),
        _static(419000001, T0 + 700, name="SEA BIRD", callsign="VT1A@@"),
        _static(419000001, T0 + 1300, name="", callsign=None),
        _static(419000001, T0 + 1900, name="OCEAN STAR", callsign="VT9Z"),
    ]
    fuser, chunks = _run(rows)
    names = _events(chunks, IdentityKind.NAME_CHANGE)
    assert [(e.before, e.after) for e in names] == [("SEA BIRD", "OCEAN STAR")]
    calls = _events(chunks, IdentityKind.CALLSIGN_CHANGE)
    assert [(e.before, e.after) for e in calls] == [("VT1A", "VT9Z")]
    assert names[0].t == T0 + 1900
    assert names[0].track in fuser.tracks()
    assert fuser.tracks()[names[0].track].name == "OCEAN STAR"


def _handover(
    new_mmsi: int, *, gap_s: float = 120.0, offset_deg: float = 0.0
) -> list[dict[str, Any]]:
    """A vessel on 419000001 for 40 min, silent ``gap_s``, then on ``new_mmsi`` where it
    would be by then."""
    old = sail(419000001, count=40, every_s=60, speed_kn=12)
    start = T0 + 39 * 60 + gap_s
    moved_deg = 12 * 1852 / 3600 * (start - T0) / (111_195.0 * 0.9848)
    new = sail(
        new_mmsi,
        count=40,
        every_s=60,
        speed_kn=12,
        start_t=start,
        lon=70.0 + moved_deg + offset_deg,
    )
    return old + new


def test_a_new_mmsi_where_a_silent_track_would_be_continues_that_track() -> None:
    fuser, chunks = _run(_handover(419000002))
    tracks = fuser.tracks()
    assert len(tracks) == 1
    (info,) = tracks.values()
    assert info.id == "ais:419000001"
    assert info.mmsi == 419000002
    assert info.points == 80
    (change,) = _events(chunks, IdentityKind.MMSI_CHANGE)
    assert (change.before, change.after) == ("419000001", "419000002")
    assert change.track == info.number
    assert not _events(chunks, IdentityKind.FLAG_CHANGE)
    history = fuser.history(info.number, 0.0)
    assert set(history.mmsi.tolist()) == {419000001, 419000002}


def test_an_mmsi_change_to_another_flag_is_also_a_flag_change() -> None:
    _, chunks = _run(_handover(563000002))
    (flag,) = _events(chunks, IdentityKind.FLAG_CHANGE)
    assert (flag.before, flag.after) == ("419", "563")


def test_mmsi_change_can_make_a_linked_new_track_instead() -> None:
    fuser, chunks = _run(_handover(419000002), FuseConfig(continue_across_mmsi_change=False))
    tracks = {info.id: info for info in fuser.tracks().values()}
    assert set(tracks) == {"ais:419000001", "ais:419000002"}
    assert tracks["ais:419000002"].linked_from == "ais:419000001"
    (change,) = _events(chunks, IdentityKind.MMSI_CHANGE)
    assert change.track == tracks["ais:419000002"].number
    assert change.other_track == tracks["ais:419000001"].number


def test_no_link_when_far_from_the_dead_reckoned_position_or_after_the_window() -> None:
    _, far = _run(_handover(419000002, offset_deg=0.05))  # about 5 km off
    _, late = _run(_handover(419000002, gap_s=7 * 3600))  # 7 hours silent
    assert not _events(far, IdentityKind.MMSI_CHANGE)
    assert not _events(late, IdentityKind.MMSI_CHANGE)


def test_a_change_heard_a_satellite_pass_either_side_is_linked() -> None:
    # Passes 1.5-3.5 h apart: the old MMSI last heard a pass before the change, the new
    # one first heard a pass after it, 4.7 hours of silence in all.
    fuser, chunks = _run(_handover(419000002, gap_s=4.7 * 3600))
    (change,) = _events(chunks, IdentityKind.MMSI_CHANGE)
    assert (change.before, change.after) == ("419000001", "419000002")
    assert len(fuser.tracks()) == 1


def test_no_link_when_the_old_mmsi_is_still_heard() -> None:
    rows = _handover(419000002)
    rows += sail(419000001, count=5, every_s=60, start_t=T0 + 45 * 60, lon=70.2)
    _, chunks = _run(rows)
    assert not _events(chunks, IdentityKind.MMSI_CHANGE)


def test_no_link_when_two_tracks_could_have_become_the_new_mmsi() -> None:
    rows = _handover(419000002)
    rows += [{**r, "mmsi": 419000003, "lat": r["lat"] + 0.005} for r in sail(1, count=40)]
    fuser, chunks = _run(rows)
    assert not _events(chunks, IdentityKind.MMSI_CHANGE)
    assert len(fuser.tracks()) == 3


def test_invalid_mmsi_is_reported_once_per_mmsi() -> None:
    rows = sail(12345, count=20) + sail(419000001, count=20, lat=11.0)
    rows.append(_static(12345, T0 + 60, name="NOBODY"))
    _, chunks = _run(rows)
    invalid = _events(chunks, IdentityKind.INVALID_MMSI)
    assert [e.mmsi for e in invalid] == [12345]


def test_invalid_imo_is_reported_once() -> None:
    rows = sail(419000001, count=30)
    rows += [_static(419000001, T0 + 60 * k, imo=9074729) for k in (1, 2)]  # valid
    rows += [_static(419000001, T0 + 60 * k, imo=9074728) for k in (3, 4)]  # wrong check digit
    _, chunks = _run(rows)
    assert [e.after for e in _events(chunks, IdentityKind.INVALID_IMO)] == ["9074728"]


def test_mmsi_formats() -> None:
    assert mmsi_kind(419000001) == "ship"
    assert mmsi_kind(200000001) == "invalid"  # MID 200 is not assigned
    assert mmsi_kind(776000001) == "invalid"  # beyond the last MID
    assert mmsi_kind(1234567) == "invalid"  # 7 digits: 001234567, no coast-station MID
    assert mmsi_kind(1_000_000_000) == "invalid"  # 10 digits
    assert mmsi_kind(2_573_000) == "coast-station"  # 00257 3000
    assert mmsi_kind(111419001) == "sar-aircraft"
    assert mmsi_kind(970123456) == "device"
    assert mmsi_kind(974123456) == "device"
    assert mmsi_kind(984191234) == "craft"
    assert mmsi_kind(992351000) == "aid-to-navigation"
    assert is_valid_ship_mmsi(419000001)
    assert is_valid_ship_mmsi(972000001)  # a MOB device sends ship position reports
    assert not is_valid_ship_mmsi(992351000)
    assert not is_valid_ship_mmsi(123456789)


def _with_check_digit(six: int) -> int:
    digits = [int(c) for c in f"{six:06d}"]
    return six * 10 + sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10


@given(st.integers(100_000, 999_999))
def test_imo_numbers_with_their_check_digit_pass(six: int) -> None:
    assert is_valid_imo(_with_check_digit(six))


@given(st.integers(100_000, 999_999), st.integers(0, 6), st.integers(1, 9))
def test_a_single_digit_change_fails_the_imo_check_unless_the_scheme_is_blind_to_it(
    six: int, position: int, delta: int
) -> None:
    digits = list(str(_with_check_digit(six)))
    digits[position] = str((int(digits[position]) + delta) % 10)
    changed = int("".join(digits))
    # The sum moves by weight * delta (mod 10); weights 7..2, and 1 for the check digit.
    # With an even weight a change by 5 leaves it unchanged: the scheme cannot see that.
    weight = 7 - position if position < 6 else 1
    blind = (weight * delta) % 10 == 0 and digits[0] != "0"
    assert is_valid_imo(changed) is blind


def test_known_imo_numbers() -> None:
    assert is_valid_imo(9074729)  # 9*7+0*6+7*5+4*4+7*3+2*2 = 139: check digit 9
    assert is_valid_imo(9176187)
    assert not is_valid_imo(9074728)
    assert not is_valid_imo(0)
    assert not is_valid_imo(12_345_678)
