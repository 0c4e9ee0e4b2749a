"""The ``dripline`` command line.

``dripline demo`` plans a generated Denver-area day and prints the route
sheets, the unassigned visits with their reasons, and the KPIs. Bad input gets
one line on stderr and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dispatch.access.audit import append_event
from dispatch.demo import DayKind, seed_day
from dispatch.planning.day import plan_day
from dispatch.planning.report import day_report
from dispatch.records.catalogue import seed_services, services_by_code
from dispatch.store.config import Settings
from dispatch.store.db import engine_for, make_engine, migrate, session_scope

Commands = argparse._SubParsersAction  # what ``add_subparsers`` returns: each layer adds its commands to it


def new_parser() -> tuple[argparse.ArgumentParser, Commands]:
    """The ``dripline`` parser and its (empty) set of commands; each layer registers its own."""
    parser = argparse.ArgumentParser(prog="dripline", description="Dispatch and routing for mobile IV therapy.")
    parser.add_argument("--config", help="path to config.toml (default: $DRIPLINE_CONFIG or ./config.toml)")
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND")


def register(commands: Commands) -> None:
    """Add the dispatch layer's commands; each runs as ``args.run(args, settings)``."""
    demo = commands.add_parser("demo", help="plan a generated Denver-area day in a fresh embedded database")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same day (default 7)")
    demo.add_argument("--medics", type=_positive, default=20)
    demo.add_argument(
        "--load",
        type=_share,
        default=0.9,
        help="how much is booked, against what the medics on shift can do (default 0.9, a full ordinary day)",
    )
    demo.add_argument("--bookings", type=_positive, default=None, help="book this many instead of --load")
    demo.add_argument("--verbose", action="store_true", help="list every booking left unassigned, not just the counts")
    demo.add_argument("--date", type=_day, default=None, help="service day, YYYY-MM-DD (default tomorrow)")
    demo.add_argument("--db-file", default="dripline-demo.db", help="SQLite file to create (default dripline-demo.db)")
    catalogue = commands.add_parser("catalogue", help="the service catalogue")
    catalogue_commands = catalogue.add_subparsers(dest="catalogue_command", required=True)
    seed = catalogue_commands.add_parser(
        "seed", help="add the default services (hydration, NAD+, ...) that are missing"
    )
    seed.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    plan = commands.add_parser("plan", help="plan and publish one service day")
    plan.add_argument("--date", type=_day, required=True, help="service day, YYYY-MM-DD")
    plan.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    scheduler = commands.add_parser("scheduler", help="run the nightly re-planning scheduler (its own process)")
    scheduler.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    importer = commands.add_parser("import", help="import bookings or medics from CSV or JSON")
    importer.add_argument("kind", choices=["bookings", "medics"])
    importer.add_argument("file", type=Path, help="a .csv or .json file")
    importer.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    importer.add_argument("--geocode", action="store_true", help="geocode addresses that come without lat/lon")
    importer.add_argument(
        "--source",
        default="import",
        help="the system the file comes from (default: import); a booking_ref or medic_ref seen before "
        "from the same source updates what it made instead of adding it twice",
    )
    audit = commands.add_parser("audit", help="the audit trail of every read and write of patient data")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check every row's keyed hash and link and the head's count; exit 0 if intact, 1 if not",
    )
    verify.add_argument("--db", default=None, help="database URL (default: [database] url in config.toml)")
    roads = commands.add_parser("roads", help="prepare road data for OSRM travel times")
    road_commands = roads.add_subparsers(dest="roads_command", required=True)
    build = road_commands.add_parser(
        "build", help="build an OSRM graph from an OpenStreetMap extract (car profile, CH: extract + contract)"
    )
    build.add_argument("extract", type=Path, help="an OpenStreetMap extract (.osm.pbf or .osm)")
    build.add_argument("--out", type=Path, default=None, help="directory for the graph (default: the extract's)")
    for name, parser in commands.choices.items():
        if name in COMMANDS:
            parser.set_defaults(run=lambda args, run=COMMANDS[name]: run(args, Settings.load(args.config)))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.9, got {text!r}") from None
    if not 0 < value <= 5:
        raise argparse.ArgumentTypeError(f"must lie above 0 and at most 5, got {value:g}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Create a fresh embedded database, fill it with a generated day, plan it and report."""
    day = args.date or date.today() + timedelta(days=1)
    path = Path(args.db_file)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    engine = engine_for(settings, f"sqlite:///{path}")
    migrate(engine)
    size = f"{args.bookings} bookings" if args.bookings else f"booked to {args.load:.0%} of what they can do"
    print(f"[1/3] Generating {day}: {args.medics} medics, {size} (seed {args.seed}) in {path}", flush=True)
    kind = DayKind("demo", medics=args.medics, bookings=args.bookings, load=None if args.bookings else args.load)
    with session_scope(engine) as session:
        seed_services(session)  # the catalogue, as `dripline catalogue seed` adds it
        made = seed_day(session, day, replace(kind, faults=True), seed=args.seed)
    print(f"      {made.bookings} bookings for {made.medics} medics (load {made.load:.2f})", flush=True)
    print(
        f"[2/3] Planning: solve in a child process, up to {settings.solver.time_limit_s:g} s, then check ...",
        flush=True,
    )
    outcome = plan_day(engine, day, settings)
    stages = ", ".join(f"{name.removesuffix('_s')} {seconds:.1f} s" for name, seconds in outcome.timings.items())
    print(f"[3/3] {outcome.status}: version {outcome.version} ({stages})\n", flush=True)
    if outcome.status != "published":
        print(f"dripline: the plan was not published: {outcome.detail}", file=sys.stderr)
        return 1
    with Session(engine) as session:
        print(day_report(session, day, settings.zone, verbose=args.verbose))
    print("\nchecker: the published plan passed routing.check")
    return 0


def run_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    """``dripline catalogue seed``: the default services, where their codes are missing (edits are kept)."""
    engine = engine_for(settings, args.db)
    migrate(engine)
    with session_scope(engine) as session:
        added = seed_services(session)
        session.flush()
        total = len(services_by_code(session))
        if added:
            append_event(session, actor_user_id=None, action="write", resource="service", outcome=f"seeded:{added}")
    print(f"catalogue: {added} default service(s) added, {total} in all")
    return 0


def run_plan(args: argparse.Namespace, settings: Settings) -> int:
    engine = engine_for(settings, args.db)
    migrate(engine)
    print(f"Planning {args.date} ...", flush=True)
    outcome = plan_day(engine, args.date, settings)
    print(f"{outcome.status}: version {outcome.version} {outcome.detail}".rstrip())
    if outcome.status == "published":
        with Session(engine) as session:
            print(day_report(session, args.date, settings.zone))
    return 0 if outcome.status in ("published", "unchanged") else 1


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from dispatch.intake import import_bookings, import_medics
    from dispatch.records.geocode import make_geocoder
    from dispatch.records.validation import Policy

    if not args.file.is_file():
        raise ValueError(f"{args.file} is not a file.")
    if args.file.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"{args.file} must be a .csv or .json file.")
    engine = engine_for(settings, args.db)
    migrate(engine)
    geocoder = make_geocoder(settings.geocoder) if args.kind == "bookings" and args.geocode else None
    policy = Policy.now(
        settings.zone,
        settings.geocoder.bbox,
        geocoder,
        settings.credentials.kinds,
        settings.planning.max_bookings_per_day,
    )
    with session_scope(engine) as session:
        if args.kind == "bookings":
            report = import_bookings(session, args.file, policy=policy, source=args.source)
        else:
            report = import_medics(session, args.file, policy=policy, source=args.source)
        if report.errors:
            session.rollback()
        else:
            append_event(
                session,
                actor_user_id=None,
                action="write",
                resource=f"import_{args.kind}",
                resource_ids=[
                    f"created:{report.created}",
                    f"updated:{report.updated}",
                    f"unchanged:{report.unchanged}",
                ],
                outcome="imported",
            )
    for error in report.errors:
        print(f"{args.file.name}: {error}", file=sys.stderr)
    if report.errors:
        print(f"dripline: {len(report.errors)} error(s); nothing was imported.", file=sys.stderr)
        return 2
    print(report.summary(args.kind))
    return 0


def run_scheduler_command(args: argparse.Namespace, settings: Settings) -> int:
    from dispatch.planning.scheduler import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = args.db or settings.database.url
    migrate(make_engine(url))
    nightly = settings.scheduler.nightly_cron
    print(f"scheduler: nightly re-plan '{nightly}' ({settings.scheduler.timezone}); Ctrl-C stops")
    run_scheduler(settings, url)
    return 0


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    """``dripline audit verify``: prints one summary line; exit status 0 when intact, 1 when broken."""
    from dispatch.access.audit import verify_trail

    engine = engine_for(settings, args.db)  # read only: verifying never migrates or writes
    with Session(engine) as session:
        report = verify_trail(session, settings.audit.key.encode())
    print(report.summary())
    return 0 if report.intact else 1


def run_roads(args: argparse.Namespace, settings: Settings) -> int:
    """``dripline roads build``: osrm-extract (car profile) and osrm-contract, with osrm-bindings' executables."""
    from dispatch.roads import build_graph

    print(f"Building the road graph from {args.extract} (osrm-extract + osrm-contract) ...", flush=True)
    graph = build_graph(args.extract, args.out)
    print(f"road graph ready: {graph}")
    print(f'use it with [travel] provider = "osrm-local" and graph = "{graph}" in config.toml')
    return 0


COMMANDS = {
    "demo": run_demo,
    "catalogue": run_catalogue,
    "plan": run_plan,
    "import": run_import,
    "scheduler": run_scheduler_command,
    "audit": run_audit,
    "roads": run_roads,
}


def one_line_errors(command: Callable[[], int]) -> int:
    """Run a command; bad input or a database error becomes one line on stderr
    and exit status 2, never a stack trace."""
    try:
        return command()
    except ValueError as error:
        print(f"dripline: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        # the class only: a driver's message can quote the data it choked on
        print(f"dripline: database error ({type(error).__name__}); check [database] url", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
