"""Realistic Denver days, planned by Dripline, VROOM and PyVRP on the very same problem.

    python -m bench.day_vs_peers [--seeds 3] [--time-limit 10] [--json OUT] [--days weekday ski_saturday large]

Each day comes from the project's own generator (:mod:`dispatch.demo.day`) with every
rule on (roles and credentials, windows with some second windows, Colorado meal and
rest breaks, stock, group bookings cut to pumps, soft and hard shift ends) and goes
through the planner's own translation (:func:`dispatch.planning.translate.build_day`) into one
:class:`routing.Problem`. Three kinds of day:

* ``weekday``: an ordinary weekday, booked to about 90 % of what the medics can do;
* ``ski_saturday``: an overbooked ski Saturday, about twice that, more hotels, mountains, NAD+;
* ``large``: 600 bookings for 60 medics.

On each day: VROOM (level 5, as many threads as Dripline has workers, untimed) on the
problem as it stands; Dripline at VROOM's own wall time, and at ``--time-limit``; PyVRP
for ``--time-limit`` on what it can express (see :mod:`bench.day_peers`). Every plan is
judged by :func:`routing.check.check`. Printed per day and solver: visits and patients
served, driving and overtime minutes, medics used, violations, wall time; then one
summary line per day. Medians over seeds, since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.day_peers import PYVRP_DROPS, VROOM_DROPS, run_pyvrp, run_vroom
from dispatch.demo import KINDS, day_input
from dispatch.planning.translate import DayInput
from dispatch.store.config import Settings
from routing import Result, SolveParams, solve
from routing.check import check
from routing.compiled import compile_problem

DAYS = ("weekday", "ski_saturday", "large")


def figures(solver: str, day: DayInput, result: Result, wall: float) -> dict[str, Any]:
    """One row of the table."""
    violations = check(day.problem, result)
    served = [stop.visit_id for route in result.routes for stop in route.stops]
    k = result.kpis
    return {
        "solver": solver,
        "visits": len(served),
        "patients": sum(len(day.origins[visit_id].patient_ids) for visit_id in served),
        "driving_min": round(k.driving_s / 60),
        "overtime_min": round(k.overtime_s / 60),
        "medics": len(result.routes),
        "violations": len(violations),
        "violated_rules": dict(Counter(v.rule for v in violations)),
        "wall_s": round(wall, 2),
        "unassigned": dict(Counter(u.reason.value for u in result.unassigned)),
        "idle_medics_with_a_fit": idle_medics_with_a_fit(day, result),
    }


def idle_medics_with_a_fit(day: DayInput, result: Result) -> int:
    """Medics with no route while a visit left out could be theirs alone (breaks included)."""
    from routing.compiled import compile_problem as compiled_of
    from routing.schedule import RouteTimer

    c = compiled_of(day.problem, SolveParams())
    timer = RouteTimer(c)
    working = {route.medic_id for route in result.routes}
    served = {stop.visit_id for route in result.routes for stop in route.stops}
    node_of = {day.problem.visits[c.visit_of_node[n]].id: n for n in range(c.depot_count, len(c.node_location))}
    waiting = [node_of[v.id] for v in day.problem.visits if v.id not in served and v.id in node_of]
    idle = 0
    for vehicle, shift in enumerate(day.problem.shifts):
        if shift.medic_id in working:
            continue
        if any(vehicle in c.allowed[node] and timer.feasible(vehicle, [node]) for node in waiting):
            idle += 1
    return idle


def run_day(kind: str, seed: int, time_limit: float, workers: int) -> dict[str, Any]:
    day, made = day_input(KINDS[kind], seed=seed, settings=Settings())
    problem = day.problem
    c = compile_problem(problem, SolveParams())
    rows = []
    began = time.perf_counter()
    vroom = run_vroom(problem, c, threads=workers)
    vroom_wall = time.perf_counter() - began
    rows.append(figures("vroom", day, vroom, vroom_wall))
    for label, limit in (("dripline @vroom", vroom_wall), (f"dripline @{time_limit:g}s", time_limit)):
        params = replace(SolveParams(), time_limit_s=limit, workers=workers)
        began = time.perf_counter()
        result = solve(problem, params)
        rows.append({**figures(label, day, result, time.perf_counter() - began), "searches": list(result.searches)})
    began = time.perf_counter()
    pyvrp = run_pyvrp(problem, c, seconds=time_limit)
    rows.append(figures("pyvrp", day, pyvrp, time.perf_counter() - began))
    return {
        "day": kind,
        "seed": seed,
        "bookings": made.bookings,
        "load": round(made.load, 2),
        "medics": len(problem.shifts),
        "plannable_visits": len(problem.visits),
        "rows": rows,
    }


HEADER = (
    f"{'solver':<18}{'visits':>7}{'patients':>9}{'drive min':>10}{'overtime':>9}{'medics':>7}{'violations':>11}"
    f"{'wall s':>8}"
)


def row_line(row: dict[str, Any]) -> str:
    return (
        f"{row['solver']:<18}{row['visits']:>7}{row['patients']:>9}{row['driving_min']:>10}{row['overtime_min']:>9}"
        f"{row['medics']:>7}{row['violations']:>11}{row['wall_s']:>8.2f}"
    )


def summary(kind: str, records: list[dict[str, Any]]) -> str:
    """Medians over seeds; Dripline at VROOM's time against VROOM, visit for visit."""

    def median(solver: str, key: str) -> float:
        return statistics.median(next(r for r in rec["rows"] if r["solver"] == solver)[key] for rec in records)

    wins = ties = 0
    for rec in records:
        ours = next(r for r in rec["rows"] if r["solver"] == "dripline @vroom")
        theirs = next(r for r in rec["rows"] if r["solver"] == "vroom")
        better = ours["visits"] > theirs["visits"] or (
            ours["visits"] == theirs["visits"] and ours["driving_min"] <= theirs["driving_min"]
        )
        wins += better
        ties += ours["visits"] == theirs["visits"]
    return (
        f"{kind}: medians over {len(records)} seed(s): visits vroom {median('vroom', 'visits'):g}, "
        f"dripline@vroom-time {median('dripline @vroom', 'visits'):g}, "
        f"drive vroom {median('vroom', 'driving_min'):g} min, "
        f"dripline {median('dripline @vroom', 'driving_min'):g} min; "
        f"dripline at vroom's time is at least as good (more visits, or as many and no more driving) "
        f"on {wins} of {len(records)} (same visits on {ties})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.day_vs_peers", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N of each day (default 3)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="Dripline's and PyVRP's limit, s (default 10)")
    parser.add_argument("--days", nargs="+", choices=DAYS, default=list(DAYS))
    parser.add_argument("--workers", type=int, default=SolveParams().worker_count, help="cores for every solver")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    print(f"peers: vroom drops {VROOM_DROPS}; pyvrp drops {PYVRP_DROPS}. {args.workers} worker(s).")
    records: list[dict[str, Any]] = []
    for kind in args.days:
        mine = []
        for seed in range(1, args.seeds + 1):
            record = run_day(kind, seed, args.time_limit, args.workers)
            mine.append(record)
            records.append(record)
            print(
                f"\n{kind} seed {seed}: {record['bookings']} bookings (load {record['load']:.2f}), "
                f"{record['medics']} medics, {record['plannable_visits']} plannable visits"
            )
            print(HEADER)
            for row in record["rows"]:
                print(row_line(row))
                if row["violations"]:
                    print(f"{'':<18}violated: {row['violated_rules']}")
            sys.stdout.flush()
            if args.json:
                args.json.write_text(json.dumps(records, indent=1) + "\n")
        print("\n" + summary(kind, mine))
    print()
    for kind in args.days:
        print(summary(kind, [r for r in records if r["day"] == kind]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
