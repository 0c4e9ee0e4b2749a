"""How wrong is a plan made on haversine times once real roads decide? A generated day on the Baltimore extract.

    python -m bench.road_quality [--visits 150] [--medics 16] [--seed 1] [--pairs 300] [--time-limit 20]

1. Tune haversine to the extract: over ``--pairs`` random pairs of places on its road network, the circuity is the
   median of OSRM road distance / great-circle distance and the speed the median of OSRM distance / OSRM duration.
2. Generate a day in the extract's box: ``--visits`` visits (30, 45 or 60 min of service, 5 min to set up, a 2 h
   window starting between 08:00 and 15:00) and ``--medics`` shifts of 08:00 to 17:00 from homes in the box. The
   Denver day of dispatch/demo/day.py does not fit a Baltimore graph, so this one is made here, from routing's
   model alone.
3. Plan it on the tuned haversine times, then re-time the same routes with OSRM's durations: each medic leaves home
   at the planned departure and drives on as soon as a service ends, waiting when early; a stop is late when its
   re-timed start is after its window's end, and lateness carries along the route.
4. Plan the same day on OSRM's times and re-time it the same way.

Each plan is solved once (``--time-limit`` seconds, one worker) and checked by :func:`routing.check.check` against
the matrix it was planned on.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from bench.roads import baltimore_graph, road_places
from routing import (
    HaversineTravel,
    OsrmLocalTravel,
    Problem,
    Result,
    Shift,
    SolveParams,
    TimeWindow,
    UnservableVisitWarning,
    Visit,
    solve,
)
from routing.check import check
from routing.travel.matrix import haversine_metres

BALTIMORE = ZoneInfo("America/New_York")
DAY = date(2026, 12, 2)


def clock(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=BALTIMORE)


def tune_haversine(provider: OsrmLocalTravel, pairs: int, rng: random.Random) -> tuple[HaversineTravel, int]:
    """Circuity and speed fitted to the extract: medians over random pairs more than 500 m apart."""
    places = road_places(provider, 2 * pairs, rng)
    sources, targets = places[:pairs], places[pairs:]
    matrix = provider.matrix(sources + targets)
    rows, cols = np.arange(pairs), np.arange(pairs) + pairs
    lat = np.array([p.lat for p in places])
    lon = np.array([p.lon for p in places])
    straight = haversine_metres(lat, lon)[rows, cols]
    road_m = matrix.distances[rows, cols].astype(float)
    road_s = matrix.durations[rows, cols].astype(float)
    keep = (straight > 500) & (road_s > 0)
    circuity = float(np.median(road_m[keep] / straight[keep]))
    speed_kmh = float(np.median(road_m[keep] / road_s[keep])) * 3.6
    return HaversineTravel(speed_kmh=speed_kmh, circuity=max(1.0, circuity)), int(keep.sum())


def generate_day(provider: OsrmLocalTravel, visits: int, medics: int, rng: random.Random) -> tuple[list, list]:
    """Visits and shifts in the Baltimore box, on the road network (see the module docstring)."""
    places = road_places(provider, visits + medics, rng)
    homes, stops = places[:medics], places[medics:]
    day_visits = []
    for number, where in enumerate(stops, start=1):
        opens = clock(8) + timedelta(minutes=15 * rng.randrange(0, 29))  # 08:00 ... 15:00
        day_visits.append(
            Visit(
                id=f"v{number}",
                location=where,
                service=timedelta(minutes=rng.choice((30, 45, 60))),
                setup=timedelta(minutes=5),
                windows=(TimeWindow(opens, opens + timedelta(hours=2)),),
            )
        )
    shifts = [
        Shift(
            medic_id=f"m{number}",
            start_location=home,
            end_location=home,
            window=TimeWindow(clock(8), clock(17)),
            hard_end=clock(18),
        )
        for number, home in enumerate(homes, start=1)
    ]
    return day_visits, shifts


@dataclass
class Retimed:
    stops: int = 0
    late: list[float] | None = None  # minutes late, one per late stop
    overtime_routes: int = 0
    driving_s: int = 0


def retime(problem: Problem, result: Result, durations: np.ndarray) -> Retimed:
    """The routes of ``result`` driven on ``durations``: leave home at the planned departure, drive on when a
    service ends, wait when early; late means starting after the window's end."""
    out = Retimed(late=[])
    assert out.late is not None
    for route in result.routes:
        shift = problem.shift(route.medic_id)
        now = route.departure.astimezone(UTC)
        here = problem.location_index(shift.start_location)
        for stop in route.stops:
            visit = problem.visit(stop.visit_id)
            there = problem.location_index(visit.location)
            drive = int(durations[here, there])
            out.driving_s += drive
            ready = now + timedelta(seconds=drive) + (visit.setup if there != here else timedelta(0))
            window = next((w for w in visit.windows if w.contains(stop.start)), visit.windows[-1])
            start = max(ready, window.start.astimezone(UTC))
            out.stops += 1
            if start > window.end.astimezone(UTC):
                out.late.append((start - window.end.astimezone(UTC)).total_seconds() / 60)
            now, here = start + visit.service, there
        home = problem.location_index(shift.end_location)
        out.driving_s += int(durations[here, home])
        if now + timedelta(seconds=int(durations[here, home])) > shift.window.end.astimezone(UTC):
            out.overtime_routes += 1
    return out


def plan(problem: Problem, params: SolveParams, label: str) -> Result:
    began = time.perf_counter()
    result = solve(problem, params)
    violations = check(problem, result)
    served = sum(len(route.stops) for route in result.routes)
    print(
        f"plan on {label}: served {served}/{len(problem.visits)}, driving {result.kpis.driving_s / 3600:.1f} h "
        f"({label} estimate), solved in {time.perf_counter() - began:.1f} s, "
        f"checker {'ok' if not violations else f'{len(violations)} violations'}",
        flush=True,
    )
    return result


def report(retimed: Retimed) -> None:
    late = retimed.late or []
    share = 100 * len(late) / max(1, retimed.stops)
    line = f"  re-timed on OSRM: {len(late)} of {retimed.stops} stops late ({share:.0f} %)"
    if late:
        line += (
            f", by median {statistics.median(late):.0f} min, max {max(late):.0f} min, "
            f"total {sum(late) / 60:.1f} h; {sum(1 for m in late if m > 15)} more than 15 min late"
        )
    line += f"; {retimed.overtime_routes} routes home after the shift end; driving {retimed.driving_s / 3600:.1f} h"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=150)
    parser.add_argument("--medics", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--graph", default=None, help="a built .osrm graph (default: build the Baltimore extract)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    params = SolveParams(time_limit_s=args.time_limit, workers=1)

    road = OsrmLocalTravel(str(baltimore_graph(args.graph)))
    tuned, used = tune_haversine(road, args.pairs, rng)
    print(
        f"haversine tuned to the extract over {used} pairs: circuity {tuned.circuity:.3f}, "
        f"speed {tuned.speed_kmh:.1f} km/h",
        flush=True,
    )
    visits, shifts = generate_day(road, args.visits, args.medics, rng)
    print(f"day: {len(visits)} visits, {len(shifts)} medics (08:00-17:00), 2 h windows, seed {args.seed}", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservableVisitWarning)
        on_haversine = Problem.build(visits, shifts, tuned)
        on_roads = Problem.build(visits, shifts, road)
    assert on_haversine.locations == on_roads.locations
    truth = on_roads.matrix.durations
    estimate = on_haversine.matrix.durations
    off = ~np.eye(len(truth), dtype=bool)
    print(
        f"haversine / OSRM duration over the day's {int(off.sum())} pairs: median "
        f"{float(np.median(estimate[off] / np.maximum(truth[off], 1))):.2f}, "
        f"10th-90th percentile {float(np.percentile(estimate[off] / np.maximum(truth[off], 1), 10)):.2f}-"
        f"{float(np.percentile(estimate[off] / np.maximum(truth[off], 1), 90)):.2f}",
        flush=True,
    )

    report(retime(on_haversine, plan(on_haversine, params, "haversine"), truth))
    report(retime(on_roads, plan(on_roads, params, "OSRM"), truth))


if __name__ == "__main__":
    main()
