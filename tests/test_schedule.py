"""Exact route timing with breaks (routing.schedule), on routes small enough to time by hand.

Travel runs along a straight road (``line_matrix``): one minute per kilometre. Times are
seconds from the problem's origin, the 08:00 shift start, so 09:00 is 3600.
"""

from __future__ import annotations

from routing import Break, Problem, Shift, Visit
from routing.compiled import compile_problem
from routing.schedule import RouteTimer
from tests.helpers import QUICK, line_matrix, minutes, spot, window

H = 3600
M = 60


def timer_for(visits: list[Visit], breaks: tuple[Break, ...], positions: list[float]) -> RouteTimer:
    shift = Shift("m", spot(0), spot(0), window("08:00", "17:00"), breaks=breaks)
    return RouteTimer(compile_problem(Problem(visits, [shift], line_matrix(positions)), QUICK))


def visit(vid: str, k: int, start: str, end: str, service: float) -> Visit:
    return Visit(vid, spot(k), minutes(service), (window(start, end),))


def test_time_route_without_breaks_is_the_forward_pass() -> None:
    """A at 10 km from 09:00 for 60 min, B at 20 km from 11:00: starts 09:00 and 11:00, home 11:50."""
    timer = timer_for([visit("A", 1, "09:00", "09:00", 60), visit("B", 2, "11:00", "11:00", 30)], (), [0, 10, 20])
    timing = timer.time(0, [1, 2])
    assert timing is not None
    assert timing.starts == (1 * H, 3 * H)
    assert timing.breaks == ()
    assert timing.home == 3 * H + 30 * M + 20 * M


def test_time_route_takes_the_break_in_a_wait() -> None:
    """Lunch (10:00-10:30 start) fits in the wait between A (ends 10:00) and B (11:00): B is not delayed."""
    lunch = Break(minutes(30), window("10:00", "10:30"))
    timer = timer_for([visit("A", 1, "09:00", "09:00", 60), visit("B", 2, "11:00", "11:00", 30)], (lunch,), [0, 10, 20])
    timing = timer.time(0, [1, 2])
    assert timing is not None
    assert timing.starts == (1 * H, 3 * H)
    assert timing.breaks == ((2 * H, 30 * M),)
    assert timing.break_order == (0,)
    assert timing.home == 3 * H + 50 * M


def test_time_route_refuses_a_break_that_no_gap_can_hold() -> None:
    """B must start by 10:35; lunch must start by 10:30: before B it makes B 10:40, after B it is too late."""
    lunch = Break(minutes(30), window("10:00", "10:30"))
    visits = [visit("A", 1, "09:00", "09:00", 60), visit("B", 2, "10:20", "10:35", 30)]
    assert timer_for(visits, (lunch,), [0, 10, 20]).time(0, [1, 2]) is None
    assert timer_for(visits, (), [0, 10, 20]).time(0, [1, 2]) is not None


def test_time_route_takes_a_late_break_before_getting_home() -> None:
    """A short morning: the medic drives home (10 min) and is done only after the 12:00 lunch, at 12:30."""
    lunch = Break(minutes(30), window("12:00", "13:00"))
    timer = timer_for([visit("A", 1, "08:30", "09:00", 60)], (lunch,), [0, 10])
    timing = timer.time(0, [1])
    assert timing is not None
    assert timing.starts == (30 * M,)
    assert timing.breaks == ((4 * H, 30 * M),)
    assert timing.home == 4 * H + 30 * M


def test_time_route_splits_a_drive_around_two_breaks() -> None:
    """A ends 09:00; rest at 09:00, the 30-min drive, a wait, lunch at 10:00: B starts 10:30, home 11:35."""
    rest = Break(minutes(10), window("09:00", "09:30"))
    lunch = Break(minutes(30), window("10:00", "10:30"))
    visits = [visit("A", 1, "08:05", "08:05", 55), visit("B", 2, "10:20", "12:00", 30)]
    timing = timer_for(visits, (lunch, rest), [0, 5, 35]).time(0, [1, 2])
    assert timing is not None
    assert timing.starts == (5 * M, 2 * H + 30 * M)
    assert timing.breaks == ((1 * H, 10 * M), (2 * H, 30 * M))
    assert timing.break_order == (1, 0)  # the rest is the shift's second break, lunch its first
    assert timing.home == 3 * H + 35 * M


def test_time_route_tries_each_order_of_breaks_in_a_gap() -> None:
    """Taken in the order their windows open, the long break would push the short one past 10:05; the
    other order fits both before Y (10:40) and gets the medic home at 11:12."""
    short = Break(minutes(5), window("10:00", "10:05"))
    long = Break(minutes(30), window("09:00", "12:00"))
    visits = [visit("X", 1, "09:00", "09:00", 60), visit("Y", 2, "10:40", "11:00", 30)]
    timing = timer_for(visits, (short, long), [0, 1, 2]).time(0, [1, 2])
    assert timing is not None
    assert timing.breaks == ((2 * H, 5 * M), (2 * H + 5 * M, 30 * M))
    assert timing.starts == (1 * H, 2 * H + 40 * M)
    assert timing.home == 3 * H + 12 * M


def test_time_route_waits_for_a_second_window() -> None:
    """Windows 08:10-08:20 and 13:00-14:00 at 20 km, ready at 08:20 + 10 min of service before: the second."""
    timer = timer_for(
        [
            visit("A", 1, "08:10", "08:10", 10),
            Visit("B", spot(2), minutes(30), (window("08:10", "08:20"), window("13:00", "14:00"))),
        ],
        (),
        [0, 10, 30],
    )
    timing = timer.time(0, [1, 2])
    assert timing is not None
    assert timing.starts == (10 * M, 5 * H)


def test_feasible_route_checks_stock_and_count_too() -> None:
    """Two one-bag visits for a car with one bag: time fits, stock does not."""
    shift = Shift("m", spot(0), spot(0), window("08:00", "17:00"), stock={"bag": 1}, max_visits=5)
    visits = [
        Visit("a", spot(1), minutes(30), (window("09:00", "12:00"),), demand={"bag": 1}),
        Visit("b", spot(2), minutes(30), (window("09:00", "12:00"),), demand={"bag": 1}),
    ]
    timer = RouteTimer(compile_problem(Problem(visits, [shift], line_matrix([0, 1, 2])), QUICK))
    assert timer.time(0, [1, 2]) is not None
    assert not timer.feasible(0, [1, 2])
    assert timer.feasible(0, [1])
