"""plan_day end to end on a generated day, with the time of each stage.

    python -m bench.plan_day [--bookings 300] [--medics 25] [--runs 3] [--db-dir DIR]
    python -m bench.plan_day --bookings 600 --medics 60 --runs 1      (the large day's peak memory)

Each run builds a fresh SQLite database (or uses $DRIPLINE_TEST_POSTGRES_URL's
server with --postgres), fills it with :mod:`dispatch.demo`'s generated day,
and times ``plan_day``: load and matrix, solve (child process, default solver
settings from config.toml), check, store the draft, publish. Prints each run
and the median of each stage, how many stops were planned and bookings left unassigned, and the
peak resident memory of the re-plan (this process) and of its largest solver process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from dispatch.demo import seed_demo_day
from dispatch.planning.day import plan_day
from dispatch.store.config import Settings
from dispatch.store.db import make_engine, migrate, session_scope
from dispatch.store.tables import PlanStop, PlanUnassigned

STAGES = ("load_and_matrix_s", "solve_s", "check_s", "store_draft_s", "publish_s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--medics", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    settings = Settings.load()
    day = date(2026, 12, 2)
    rows: list[dict[str, float]] = []
    print(f"plan_day: {args.bookings} bookings, {args.medics} medics, solver limit {settings.solver.time_limit_s:g} s")
    print(f"{'run':>3} " + " ".join(f"{s.removesuffix('_s'):>15}" for s in STAGES) + f" {'total':>8}  outcome")
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            migrate(engine)
            with session_scope(engine) as session:
                seed_demo_day(session, day, medics=args.medics, bookings=args.bookings, seed=100 + run)
            began = time.perf_counter()
            outcome = plan_day(engine, day, settings)
            total = time.perf_counter() - began
            with Session(engine) as session:
                stops = session.exec(select(func.count()).where(PlanStop.plan_id == outcome.plan_id)).one()
                left = session.exec(select(func.count()).where(PlanUnassigned.plan_id == outcome.plan_id)).one()
            engine.dispose()
        timings = {**outcome.timings, "total_s": total}
        rows.append(timings)
        print(
            f"{run + 1:>3} "
            + " ".join(f"{timings.get(s, float('nan')):>15.2f}" for s in STAGES)
            + f" {total:>8.2f}  {outcome.status} v{outcome.version}: {stops} stops, {left} unassigned"
        )
    medians = {s: statistics.median(r.get(s, float("nan")) for r in rows) for s in (*STAGES, "total_s")}
    print("med " + " ".join(f"{medians[s]:>15.2f}" for s in STAGES) + f" {medians['total_s']:>8.2f}")
    # peak resident memory: this process is what a re-plan job process holds (loading, matrix, check,
    # storing); the children's peak is the largest solver process (each runs under solver_memory_mb)
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    solver = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: re-plan process {mine:.0f} MB, solver process {solver:.0f} MB "
          f"(limit [planning] solver_memory_mb = {settings.planning.solver_memory_mb})")  # fmt: skip


if __name__ == "__main__":
    main()
