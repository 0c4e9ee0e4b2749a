"""Plan a generated realistic day and report time, validity and KPIs.

    python -m bench.realistic_day [--visits 250] [--medics 20] [--seeds 1 2 3] [--time-limit 10]

The day comes from :mod:`dispatch.sample_day`: Denver metro, Boulder and the
I-70 towns; RNs, paramedics and NPs with skills, Colorado breaks and two
supply kinds (saline bags, NAD+ vials); group bookings at offices and hotels
that set up once. Bookings are generated until there are ``--visits`` visits.
Each seed is solved once at the default solver settings (time limit from
``--time-limit``) and checked by :func:`routing.check.check`.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections import Counter
from dataclasses import replace
from datetime import date

from dispatch.sample_day import sample_day
from routing import Problem, SolveParams, UnservableVisitWarning, solve
from routing.check import check


def day_with(visit_count: int, medics: int, seed: int):  # type: ignore[no-untyped-def]
    bookings = visit_count // 2
    while True:
        visits, shifts = sample_day(date(2026, 12, 2), medics=medics, bookings=bookings, seed=seed)
        if len(visits) >= visit_count:
            return visits[:visit_count], shifts
        bookings += 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=250)
    parser.add_argument("--medics", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args(argv)
    params = replace(SolveParams(), time_limit_s=args.time_limit)

    runtimes = []
    header = f"{'seed':>4} {'visits':>6} {'served':>6} {'left':>5} {'solve s':>8} {'check':>6}"
    print(header + f" {'drive h':>8} {'overtime h':>10}  reasons")
    for seed in args.seeds:
        visits, shifts = day_with(args.visits, args.medics, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnservableVisitWarning)
            problem = Problem.build(visits, shifts)
        began = time.perf_counter()
        result = solve(problem, params)
        runtime = time.perf_counter() - began
        runtimes.append(runtime)
        violations = check(problem, result)
        k = result.kpis
        reasons = Counter(u.reason.value for u in result.unassigned)
        print(
            f"{seed:>4} {len(visits):>6} {k.visits:>6} {len(result.unassigned):>5} {runtime:>8.2f} "
            f"{'ok' if not violations else len(violations):>6} "
            f"{k.driving_s / 3600:>8.1f} {k.overtime_s / 3600:>10.1f}  "
            + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
        )
    print(
        f"median solve time {statistics.median(runtimes):.2f} s over {len(runtimes)} seeds "
        f"(limit {args.time_limit:g} s, {params.worker_count} workers)"
    )


if __name__ == "__main__":
    main()
