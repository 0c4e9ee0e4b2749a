"""The ``dripline`` command line.

``dripline demo`` plans a generated Denver-area day and prints the route
sheets, the unassigned visits with their reasons, and the KPIs. Bad input gets
one line on stderr and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from dispatch.config import Settings
from dispatch.sample_day import sample_day
from routing import Problem, UnservableVisitWarning, solve
from routing.check import check


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dripline", description="Dispatch and routing for mobile IV therapy.")
    parser.add_argument("--config", help="path to config.toml (default: $DRIPLINE_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="plan a generated Denver-area day and print the route sheets")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same day (default 7)")
    demo.add_argument("--medics", type=_positive, default=20)
    demo.add_argument("--bookings", type=_positive, default=200)
    demo.add_argument(
        "--date", type=date.fromisoformat, default=None, help="service day, YYYY-MM-DD (default tomorrow)"
    )
    demo.add_argument("--time-limit", type=float, default=None, help="solver seconds (default from config)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    day = args.date or date.today() + timedelta(days=1)
    params = settings.solver if args.time_limit is None else replace(settings.solver, time_limit_s=args.time_limit)
    print(f"Generating {day}: {args.medics} medics, {args.bookings} bookings (seed {args.seed}) ...", flush=True)
    visits, shifts = sample_day(day, medics=args.medics, bookings=args.bookings, seed=args.seed)
    with warnings.catch_warnings():
        # the demo plants a visit nobody can serve; its reason is printed below
        warnings.simplefilter("ignore", UnservableVisitWarning)
        problem = Problem.build(visits, shifts, settings.travel)
    print(f"Solving {len(visits)} visits for {len(shifts)} medics, up to {params.time_limit_s:g} s ...", flush=True)
    began = time.perf_counter()
    result = solve(problem, params)
    print(f"Solved in {time.perf_counter() - began:.1f} s ({result.strategy}).\n")
    print(result.summary())
    reasons = Counter(item.reason.value for item in result.unassigned)
    print("\nunassigned by reason: " + (", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) or "none"))
    violations = check(problem, result)
    print(f"checker: {'plan is valid' if not violations else f'{len(violations)} violation(s)'}")
    for violation in violations[:20]:
        print(f"  {violation.rule}: {violation.message}")
    return 0 if not violations else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(args.config)
        if args.command == "demo":
            return run_demo(args, settings)
    except ValueError as error:
        print(f"dripline: {error}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
