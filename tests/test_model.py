"""Validation and small derived facts of routing.model, on tiny hand-checkable inputs.

Every bad input must raise ValueError with a sentence that names the object and the field.
All times are in America/Denver; the DST cases use the 2025 changes:
fall-back on 2025-11-02 (02:00 MDT -> 01:00 MST), spring-forward on 2025-03-09 (02:00 MST -> 03:00 MDT).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from routing.model import (
    Break,
    Location,
    Problem,
    Shift,
    TimeWindow,
    UnservableVisitWarning,
    Visit,
    seconds_between,
)
from routing.travel.matrix import TravelMatrix

DENVER = ZoneInfo("America/Denver")
HOME = Location(39.74, -104.99)
A = Location(39.75, -105.00)
B = Location(39.76, -105.01)


def at(hhmm: str, day: int = 2, month: int = 6) -> datetime:
    """2025-``month``-``day`` at ``hhmm`` in Denver."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2025, month, day, hour, minute, tzinfo=DENVER)


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(at(start), at(end))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def visit(visit_id: str = "v1", location: Location = A, **changes: object) -> Visit:
    fields: dict[str, object] = {"service": minutes(30), "windows": (window("09:00", "10:00"),)}
    fields.update(changes)
    return Visit(id=visit_id, location=location, **fields)  # type: ignore[arg-type]


def shift(medic_id: str = "m1", **changes: object) -> Shift:
    fields: dict[str, object] = {
        "start_location": HOME,
        "end_location": HOME,
        "window": window("08:00", "16:00"),
        "skills": frozenset({"iv"}),
    }
    fields.update(changes)
    return Shift(medic_id=medic_id, **fields)  # type: ignore[arg-type]


def zero_matrix(size: int) -> TravelMatrix:
    zeros = np.zeros((size, size), dtype=np.int64)
    return TravelMatrix(zeros, zeros)


# --- Location -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lat", [91.0, -91.0])
def test_reject_location_latitude_out_of_range(lat: float) -> None:
    """A latitude outside [-90, 90] raises ValueError naming Location and lat."""
    with pytest.raises(ValueError, match=r"Location lat"):
        Location(lat, -105.0)


def test_reject_location_longitude_out_of_range() -> None:
    """A longitude of 181 raises ValueError naming Location and lon."""
    with pytest.raises(ValueError, match=r"Location lon"):
        Location(39.7, 181.0)


# --- TimeWindow -----------------------------------------------------------------------------------------------------


def test_reject_time_window_end_before_start() -> None:
    """A TimeWindow ending before it starts raises ValueError naming TimeWindow, end and start."""
    with pytest.raises(ValueError, match=r"TimeWindow end .* before its start"):
        TimeWindow(at("10:00"), at("09:00"))


def test_reject_time_window_naive_start() -> None:
    """A naive start datetime raises ValueError naming TimeWindow and start."""
    with pytest.raises(ValueError, match=r"TimeWindow start must carry a time zone"):
        TimeWindow(datetime(2025, 6, 2, 9, 0), at("10:00"))


def test_reject_time_window_naive_end() -> None:
    """A naive end datetime raises ValueError naming TimeWindow and end."""
    with pytest.raises(ValueError, match=r"TimeWindow end must carry a time zone"):
        TimeWindow(at("09:00"), datetime(2025, 6, 2, 10, 0))


# --- Visit ----------------------------------------------------------------------------------------------------------


def test_reject_visit_negative_service() -> None:
    """A negative service duration raises ValueError naming the visit and service."""
    with pytest.raises(ValueError, match=r"Visit 'v1' service must not be negative"):
        visit(service=minutes(-1))


def test_reject_visit_negative_setup() -> None:
    """A negative setup duration raises ValueError naming the visit and setup."""
    with pytest.raises(ValueError, match=r"Visit 'v1' setup must not be negative"):
        visit(setup=minutes(-5))


def test_reject_visit_without_windows() -> None:
    """A visit with no time windows raises ValueError naming the visit and windows."""
    with pytest.raises(ValueError, match=r"Visit 'v1' windows must hold at least one"):
        visit(windows=())


def test_reject_visit_overlapping_windows() -> None:
    """Windows 09:00-11:00 and 10:00-12:00 overlap, which raises ValueError naming the visit and windows."""
    with pytest.raises(ValueError, match=r"Visit 'v1' windows overlap"):
        visit(windows=(window("09:00", "11:00"), window("10:00", "12:00")))


@pytest.mark.parametrize("priority", [0, 11])
def test_reject_visit_priority_out_of_range(priority: int) -> None:
    """A priority outside 1..10 raises ValueError naming the visit and priority."""
    with pytest.raises(ValueError, match=r"Visit 'v1' priority"):
        visit(priority=priority)


def test_reject_visit_negative_demand() -> None:
    """A negative demand amount raises ValueError naming the visit, demand and the supply kind."""
    with pytest.raises(ValueError, match=r"Visit 'v1' demand\['saline'\] must not be negative"):
        visit(demand={"saline": -1})


def test_store_visit_windows_sorted() -> None:
    """Windows given latest first are stored earliest first."""
    early, middle, late = window("08:00", "09:00"), window("11:00", "12:00"), window("14:00", "15:00")
    assert visit(windows=(late, early, middle)).windows == (early, middle, late)


# --- Shift ----------------------------------------------------------------------------------------------------------


def test_reject_shift_hard_end_before_soft_end() -> None:
    """A hard_end of 15:00 on a shift whose soft end is 16:00 raises ValueError naming the shift and hard_end."""
    with pytest.raises(ValueError, match=r"Shift of medic 'm1' hard_end .* before its soft end"):
        shift(hard_end=at("15:00"))


def test_reject_shift_naive_hard_end() -> None:
    """A naive hard_end raises ValueError naming the shift and hard_end."""
    with pytest.raises(ValueError, match=r"Shift of medic 'm1' hard_end must carry a time zone"):
        shift(hard_end=datetime(2025, 6, 2, 17, 0))


def test_default_shift_hard_end_to_soft_end() -> None:
    """Without a hard_end, the hard end is the window's end (16:00)."""
    assert shift().latest_end == at("16:00")


def test_reject_shift_break_ending_after_hard_end() -> None:
    """A 30-minute break that may start at 16:00 on a shift ending hard at 16:00 does not fit and raises."""
    late_break = Break(minutes(30), window("15:30", "16:00"))
    with pytest.raises(ValueError, match=r"Shift of medic 'm1' break 1 does not fit inside the shift"):
        shift(breaks=(late_break,))


def test_reject_shift_break_starting_before_shift() -> None:
    """A break whose window opens at 07:30 on a shift starting at 08:00 raises, naming the shift and break 2."""
    fine = Break(minutes(30), window("12:00", "13:00"))
    early = Break(minutes(15), window("07:30", "09:00"))
    with pytest.raises(ValueError, match=r"Shift of medic 'm1' break 2 does not fit inside the shift"):
        shift(breaks=(fine, early))


def test_accept_shift_break_ending_at_hard_end() -> None:
    """A 30-minute break starting by 17:30 fits a shift with hard end 18:00 (soft end 16:00)."""
    assert len(shift(hard_end=at("18:00"), breaks=(Break(minutes(30), window("17:00", "17:30")),)).breaks) == 1


def test_reject_shift_negative_max_visits() -> None:
    """max_visits of -1 raises ValueError naming the shift and max_visits."""
    with pytest.raises(ValueError, match=r"Shift of medic 'm1' max_visits"):
        shift(max_visits=-1)


# --- Problem --------------------------------------------------------------------------------------------------------


def test_reject_problem_duplicate_visit_ids() -> None:
    """Two visits with id 'v1' raise ValueError naming the Visit and its id."""
    with pytest.raises(ValueError, match=r"Visit 'v1' appears twice; ids must be unique"):
        Problem((visit("v1", A), visit("v1", B)), (shift(),), zero_matrix(3))


def test_reject_problem_duplicate_medic_ids() -> None:
    """Two shifts of medic 'm1' raise ValueError naming the Shift and medic_id."""
    with pytest.raises(ValueError, match=r"Shift medic_id 'm1' appears twice"):
        Problem((visit(),), (shift("m1"), shift("m1")), zero_matrix(2))


def test_reject_problem_matrix_size_mismatch() -> None:
    """A 3x3 matrix for 2 distinct locations (HOME, A) raises ValueError naming the Problem and matrix."""
    with pytest.raises(ValueError, match=r"Problem matrix covers 3 locations but the visits and shifts have 2"):
        Problem((visit(),), (shift(),), zero_matrix(3))


def test_warn_problem_visit_skill_no_medic_has() -> None:
    """A visit needing 'picc' when the only medic has 'iv' warns UnservableVisitWarning and still builds."""
    with pytest.warns(UnservableVisitWarning, match=r"Visit 'v1' needs skill\(s\) \['picc'\]"):
        problem = Problem((visit(skills={"picc"}),), (shift(),), zero_matrix(2))
    assert [v.id for v in problem.visits] == ["v1"]


def test_accept_problem_visit_skill_some_medic_has() -> None:
    """A visit needing 'iv' when the medic has 'iv' builds without any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Problem((visit(skills={"iv"}),), (shift(),), zero_matrix(2))


def test_dedupe_problem_locations_shifts_first() -> None:
    """Equal locations appear once: shift starts and ends first, then visits, in order of appearance."""
    depot = Location(39.70, -104.90)
    shifts = (
        shift("m1", start_location=HOME, end_location=depot),
        shift("m2", start_location=depot, end_location=Location(39.74, -104.99)),  # equals HOME
    )
    visits = (
        visit("v1", B),
        visit("v2", A),
        visit("v3", Location(39.74, -104.99)),  # equals HOME
        visit("v4", Location(39.76, -105.01)),  # equals B
    )
    problem = Problem(visits, shifts, zero_matrix(4))
    assert problem.locations == (HOME, depot, B, A)
    assert [problem.location_index(loc) for loc in (HOME, depot, B, A)] == [0, 1, 2, 3]


def test_build_problem_matrix_sized_to_distinct_locations() -> None:
    """Problem.build prices the 3 distinct locations (HOME, A, B) of two visits at A and one at B."""
    problem = Problem.build((visit("v1", A), visit("v2", A), visit("v3", B)), (shift(),))
    assert problem.matrix.size == 3


def test_find_problem_origin_earliest_moment() -> None:
    """The origin is the earliest moment: a visit window opening at 07:30 before the 08:00 shift start."""
    problem = Problem((visit(windows=(window("07:30", "08:30"),)),), (shift(),), zero_matrix(2))
    assert problem.origin == at("07:30")


def test_find_problem_origin_earliest_across_fall_back() -> None:
    """On 2025-11-02, 01:45 MDT (07:45 UTC) is before 01:30 MST (08:30 UTC) although its wall clock is later."""
    first_130_mst = datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=DENVER)  # second 01:30: MST, 08:30 UTC
    first_145_mdt = datetime(2025, 11, 2, 1, 45, fold=0, tzinfo=DENVER)  # first 01:45: MDT, 07:45 UTC
    late_shift = shift(window=TimeWindow(first_130_mst, datetime(2025, 11, 2, 9, 0, tzinfo=DENVER)))
    early_visit = visit(windows=(TimeWindow(first_145_mdt, datetime(2025, 11, 2, 3, 0, tzinfo=DENVER)),))
    problem = Problem((early_visit,), (late_shift,), zero_matrix(2))
    assert problem.origin.astimezone(UTC) == datetime(2025, 11, 2, 7, 45, tzinfo=UTC)


def test_reject_problem_origin_when_empty() -> None:
    """A problem with no shifts and no visits has no origin and raises ValueError naming the Problem."""
    with pytest.raises(ValueError, match=r"Problem has no shifts and no visits"):
        _ = Problem((), (), zero_matrix(0)).origin


# --- seconds_between ------------------------------------------------------------------------------------------------


def test_count_seconds_between_across_fall_back() -> None:
    """00:30 MDT to 03:30 MST on 2025-11-02 is 4 real hours (14400 s), not the 3 on the wall clock."""
    start = datetime(2025, 11, 2, 0, 30, tzinfo=DENVER)
    end = datetime(2025, 11, 2, 3, 30, tzinfo=DENVER)
    assert (start.tzname(), end.tzname()) == ("MDT", "MST")
    assert seconds_between(start, end) == 14_400
    assert seconds_between(end, start) == -14_400


def test_count_seconds_between_across_spring_forward() -> None:
    """01:30 MST to 03:30 MDT on 2025-03-09 is 1 real hour (3600 s), not the 2 on the wall clock."""
    start = datetime(2025, 3, 9, 1, 30, tzinfo=DENVER)
    end = datetime(2025, 3, 9, 3, 30, tzinfo=DENVER)
    assert (start.tzname(), end.tzname()) == ("MST", "MDT")
    assert seconds_between(start, end) == 3_600


def test_count_seconds_between_mixed_zones() -> None:
    """09:00 MDT (15:00 UTC) to 15:30 UTC is 1800 s."""
    assert seconds_between(at("09:00"), datetime(2025, 6, 2, 15, 30, tzinfo=UTC)) == 1_800
