"""Visit durations and group parts, worked out by hand."""

from __future__ import annotations

import pytest

from dispatch.rules.durations import PatientCare, visit_time
from dispatch.rules.groups import split_for_pumps
from dispatch.store.tables import PlaceKind


def test_visit_time_adds_access_intake_drip_observation_and_packing_for_one_patient() -> None:
    """A first-time hydration at home: 5 min access; 20 intake + 40 drip + 10 observation + 5 packing = 75."""
    timing = visit_time(PlaceKind.HOME, [PatientCare(infusion_minutes=40, first_visit=True)])
    assert (timing.setup_minutes, timing.service_minutes) == (5, 75)


def test_visit_time_staggers_intakes_and_runs_drips_side_by_side_for_a_group() -> None:
    """Office group: NAD+ 180 (returning), hydration 40 (first time), Myers 40 (returning).

    Longest drip first. NAD+: intake ends at 10, drip 10-190, observed until 200.
    Hydration: intake 10-30, drip 30-70, observed until 80. Myers: intake 30-40,
    drip 40-80, observed until 90. Last observation ends at 200; packing up: 205.
    Access at an office: 12 minutes, once.
    """
    group = [PatientCare(40, True), PatientCare(180, False), PatientCare(40, False)]
    timing = visit_time(PlaceKind.OFFICE, group)
    assert (timing.setup_minutes, timing.service_minutes) == (12, 205)


def test_visit_time_lets_the_last_intake_decide_when_drips_are_short() -> None:
    """Four 5-minute shots at a hotel: intakes end at 10, 20, 30, 40; the last is observed 40-55; +5 = 60."""
    timing = visit_time(PlaceKind.HOTEL, [PatientCare(5, False)] * 4)
    assert (timing.setup_minutes, timing.service_minutes) == (15, 60)


def test_visit_time_rejects_a_visit_without_patients() -> None:
    """A visit needs at least one patient."""
    with pytest.raises(ValueError, match="at least one patient"):
        visit_time(PlaceKind.HOME, [])


def test_split_for_pumps_cuts_a_group_into_as_few_even_parts_as_the_pumps_allow() -> None:
    """Six patients and four pumps: two parts of three (so a 3-pump car fits them too); eight: four and
    four; seven on three pumps: three parts, 3, 2 and 2, in booking order."""
    assert split_for_pumps(list(range(6)), 4) == [[0, 1, 2], [3, 4, 5]]
    assert [len(part) for part in split_for_pumps(list(range(8)), 4)] == [4, 4]
    assert split_for_pumps(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]


def test_split_for_pumps_counts_only_the_drips() -> None:
    """A vitamin shot takes no pump: four drips and a shot on four pumps are one part."""
    assert split_for_pumps(list("abcde"), 4, [True, True, False, True, True]) == [list("abcde")]
