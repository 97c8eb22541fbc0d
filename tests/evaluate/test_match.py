"""Behaviour matching of ``mista eval``: one-to-one, same subjects, overlapping time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mista.evaluate.scenario import TruthEvent
from mista.evaluate.score import _Alert, _match_kind

HOUR = 3600.0


def truth(kind: str, mmsis: tuple[int, ...], start: float, end: float) -> TruthEvent:
    return TruthEvent(
        kind=kind,
        vessels=tuple(range(len(mmsis))),
        mmsis=mmsis,
        start=start,
        end=end,
        lat=0.0,
        lon=0.0,
        injected=True,
    )


def alert(kind: str, mmsis: tuple[int, ...], start: float, end: float, name: str = "a") -> _Alert:
    return _Alert(id=name, kind=kind, start=start, end=end, mmsis=frozenset(mmsis), tracks=())


def test_an_alert_on_the_same_vessel_at_the_same_time_matches() -> None:
    result = _match_kind(
        [truth("ais-gap", (1,), 0, 13 * HOUR)],
        [alert("ais-gap", (1,), HOUR, 14 * HOUR)],
        {},
        1800,
    )
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_another_vessel_or_another_time_does_not_match() -> None:
    truths = [truth("ais-gap", (1,), 0, 13 * HOUR)]
    other_vessel = _match_kind(truths, [alert("ais-gap", (2,), 0, 13 * HOUR)], {}, 1800)
    later = _match_kind(truths, [alert("ais-gap", (1,), 14 * HOUR, 20 * HOUR)], {}, 1800)
    assert (other_vessel.precision, other_vessel.recall) == (0.0, 0.0)
    assert (later.precision, later.recall) == (0.0, 0.0)


def test_matching_is_one_to_one() -> None:
    """Two alerts for one true event: one matches, the other is a false positive."""
    result = _match_kind(
        [truth("loitering", (1,), 0, 2 * HOUR)],
        [
            alert("loitering", (1,), 0, HOUR, "first"),
            alert("loitering", (1,), HOUR, 2 * HOUR, "second"),
        ],
        {},
        0,
    )
    assert (result.matched_truth, result.matched_alerts) == (1, 1)
    assert result.precision == 0.5
    assert result.recall == 1.0


def test_a_pair_behaviour_needs_both_vessels() -> None:
    truths = [truth("encounter", (1, 2), 0, 3 * HOUR)]
    one = _match_kind(truths, [alert("encounter", (1, 3), 0, 3 * HOUR)], {}, 0)
    both = _match_kind(truths, [alert("encounter", (2, 1), 0, 3 * HOUR)], {}, 0)
    assert one.recall == 0.0
    assert both.recall == 1.0


def test_a_pass_with_a_dark_boat_is_not_matched_by_an_alert_naming_a_second_vessel() -> None:
    # Vessel 1 passed vessel 2 and, a minute later, a boat sending no AIS (Darwin, standard
    # scenario): the alert naming 1 and 2 reports the first pass only, and the alert
    # naming 1 beside a dark track the second.
    truths = [
        truth("close-approach", (1, 2), 0, 180),
        truth("close-approach", (1,), 0, 240),
    ]
    pair = alert("close-approach", (1, 2), 0, 120, "pair")
    dark = _Alert("dark", "close-approach", 60, 180, frozenset({1}), ("ais:1", "dark:r:9"))
    both = _match_kind(truths, [pair, dark], {}, 1800)
    assert (both.matched_truth, both.matched_alerts) == (2, 2)
    assert _match_kind(truths[1:], [pair], {}, 1800).precision == 0.0
    assert _match_kind(truths[1:], [dark], {}, 1800).recall == 1.0


def test_a_dark_vessel_matches_through_its_dark_track() -> None:
    dark = TruthEvent("dark-vessel", (7,), (), 0, HOUR, 0.0, 0.0, True)
    found = _Alert("d", "dark-vessel", 600, HOUR, frozenset(), ("dark:r:1",))
    assert _match_kind([dark], [found], {"dark:r:1": 7}, 0).recall == 1.0
    assert _match_kind([dark], [found], {"dark:r:1": 8}, 0).recall == 0.0


def test_no_truth_and_no_alerts_has_no_figures() -> None:
    result = _match_kind([], [], {}, 0)
    assert result.precision is None
    assert result.recall is None


@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(0, 48), st.floats(0.1, 12)), min_size=0, max_size=8
    ),
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(0, 48), st.floats(0.1, 12)), min_size=0, max_size=8
    ),
)
def test_matched_counts_never_exceed_either_side(
    truths: list[tuple[int, float, float]], alerts: list[tuple[int, float, float]]
) -> None:
    result = _match_kind(
        [truth("spoofing", (m,), s * HOUR, (s + d) * HOUR) for m, s, d in truths],
        [
            alert("spoofing", (m,), s * HOUR, (s + d) * HOUR, str(i))
            for i, (m, s, d) in enumerate(alerts)
        ],
        {},
        1800,
    )
    assert result.matched_truth == result.matched_alerts
    assert result.matched_truth <= min(len(truths), len(alerts))
    # Every true event that shares a vessel and an hour with some alert is matched when it
    # is the only one of its vessel on both sides.
    for mmsi in {m for m, _, _ in truths}:
        mine = [t for t in truths if t[0] == mmsi]
        theirs = [a for a in alerts if a[0] == mmsi]
        if len(mine) == 1 and len(theirs) == 1:
            (_, ts, td), (_, a_s, ad) = mine[0], theirs[0]
            overlap = min(ts + td, a_s + ad) - max(ts, a_s)
            assert overlap * HOUR < -1800 or result.matched_truth >= 1
