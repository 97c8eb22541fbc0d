from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mista.sim.behaviours import BEHAVIOUR_KINDS, injection_counts
from mista.sim.fleet import FLAG_MIDS, imo_check_digit, is_valid_imo, make_fleet


def test_known_imo_numbers_are_valid() -> None:
    # Check digits of published IMO numbers (e.g. 9074729: 9*7+0*6+7*5+4*4+7*3+2*2 = 139).
    assert is_valid_imo(9074729)
    assert is_valid_imo(9176187)
    assert not is_valid_imo(9074728)
    assert not is_valid_imo(907472)


@given(st.integers(100_000, 999_999), st.integers(0, 9))
def test_only_the_check_digit_makes_an_imo_number_valid(six: int, last: int) -> None:
    assert is_valid_imo(six * 10 + last) == (last == imo_check_digit(six))


def test_fleet_identities_are_valid_and_distinct() -> None:
    taken: set[int] = set()
    fleet = make_fleet(np.random.default_rng(1), 500, taken)
    assert len(set(fleet.mmsi.tolist())) == 500 == len(taken)
    for i in range(len(fleet)):
        mid = int(fleet.mmsi[i]) // 1_000_000
        assert mid in FLAG_MIDS[fleet.flag[i]]
        assert 200_000_000 <= fleet.mmsi[i] <= 799_999_999
        if fleet.ais_class[i] == "A":
            assert is_valid_imo(int(fleet.imo[i]))
        else:
            assert fleet.imo[i] == 0
            assert fleet.kind[i] == "pleasure"
        assert len(fleet.name[i]) <= 20
        assert len(fleet.callsign[i]) <= 7
    assert set(fleet.kind) == {"cargo", "tanker", "fishing", "passenger", "tug", "pleasure"}
    assert {70, 80, 30, 52, 37} <= set(fleet.ship_type.tolist()) | {70, 80}


def test_injections_scale_with_the_fleet() -> None:
    standard = injection_counts(2000, 24.0)
    assert set(standard) == set(BEHAVIOUR_KINDS)
    assert all(n >= 25 for n in standard.values())
    assert all(n >= 1 for n in injection_counts(100, 24.0).values())
    short = injection_counts(100, 2.0)
    assert short["ais-gap"] == 0
    assert short["encounter"] == 0
    assert short["spoofing"] >= 1
