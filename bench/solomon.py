"""Solomon VRPTW benchmark: read the instances, solve them with Dripline (and peers), check, score.

Conventions, the literature's for distance-only comparisons: travel time = distance = Euclidean
distance; the service must start inside [ready, due]; every route is back at the depot by the
depot's due date; at most the fleet size of routes; the objective is total distance alone.

Scaling to integers. Dripline works in whole seconds and metres, so every instance quantity is
multiplied by ``scale`` (1000 by default) and rounded *pessimistically*: an arc becomes
``ceil(euclid * scale)`` (both its duration in seconds and its distance in metres), service times
and ready times are rounded up, due dates down. An integer schedule is then never earlier than the
exact one and no integer window is wider than the exact one, so a plan feasible in integers is
feasible in double precision. A time value ``t`` becomes the moment ``2000-01-01T00:00Z +
ceil(t * scale)`` seconds (``floor`` for due dates). PyVRP and VROOM get the same integer data.

Every reported distance is recomputed in double precision from the coordinates, every plan is
re-checked there by :func:`check_routes`, and gaps are taken against the ``double_best`` rows of
``data/solomon/bks_distance.csv``.

    python -m bench.solomon --time-limit 10 --instances C101 R101 --json out.json [--peers] [--all]
    python -m bench.solomon --set homberger --time-limit 30 --all [--peers]

``--set homberger`` runs the Gehring-Homberger 200-customer instances (``data/homberger``), read
and scored the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.solomon_instances import (
    SETS,
    Routes,
    SolomonInstance,
    SolverFn,
    all_instances,
    load_bks,
    read_instance,
    resolve_instance,
    score,
    to_problem,
)
from routing.params import SolveParams


def timed(solver: SolverFn, instance: SolomonInstance, time_limit: float, bks: float | None) -> dict[str, Any]:
    """Run one solver on one instance and score it; a crash becomes an ``error`` record."""
    began = time.perf_counter()
    try:
        routes, extra = solver(instance, time_limit)
    except Exception as error:  # a benchmark run goes on past one solver's crash
        print(f"{instance.name}: {getattr(solver, '__name__', solver)} failed: {error!r}", file=sys.stderr)
        return {**score(instance, [], time.perf_counter() - began, bks), "feasible": False, "error": repr(error)}
    return {**score(instance, routes, time.perf_counter() - began, bks), **extra}


# --- solvers -------------------------------------------------------------------------------------


def solve_dripline(instance: SolomonInstance, time_limit: float) -> tuple[Routes, dict[str, Any]]:
    """Dripline on the scaled instance, distance-only objective."""
    from routing.search import solve

    params = SolveParams(time_limit_s=time_limit, balance_cost=0, preference_cost=0)
    result = solve(to_problem(instance), params)
    routes = [[int(visit_id) for visit_id in route.visit_ids] for route in result.routes]
    return routes, {"unassigned": len(result.unassigned), "solver_runtime_s": round(result.runtime_s, 3)}


def peer_solvers() -> dict[str, SolverFn]:
    """PyVRP and VROOM (the ``bench`` extra)."""
    from bench.solomon_peers import solve_pyvrp, solve_vroom  # pyvrp and vroom only when --peers

    return {"pyvrp": solve_pyvrp, "vroom": solve_vroom}


# --- command line --------------------------------------------------------------------------------


def run_instance(path: Path, time_limit: float, peers: dict[str, SolverFn], bks_table: dict[str, float]) -> dict:
    """Ours, then each peer, on one instance."""
    instance = read_instance(path)
    bks = bks_table.get(instance.name.upper())
    record: dict[str, Any] = {"instance": instance.name, "bks": bks}
    record.update(timed(solve_dripline, instance, time_limit, bks))
    if peers:
        record["peers"] = {name: timed(solver, instance, time_limit, bks) for name, solver in peers.items()}
    return record


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _group(entry: dict[str, Any], full: bool) -> str:
    ok = "yes" if entry["feasible"] else "NO"
    text = f"{_cell(entry['gap_pct'], 8, 2)}{entry['runtime_s']:>8.1f}{ok:>5}"
    return f"{entry['vehicles']:>5}{entry['distance']:>11.2f}" + text if full else f"{entry['vehicles']:>4}" + text


def format_table(records: Sequence[dict[str, Any]], peer_names: Sequence[str]) -> str:
    """One line per instance (ours, then each peer), then mean gap and solved count per solver."""
    head = f"{'instance':<9}{'BKS':>10}{'veh':>5}{'distance':>11}{'gap %':>8}{'time s':>8}{'ok':>5}"
    top = f"{'':<19}{'dripline':^37}" + "".join(f"{'|':>2}{name:^25}" for name in peer_names)
    head += "".join(f"{'|':>2}{'veh':>4}{'gap %':>8}{'time s':>8}{'ok':>5}" for _ in peer_names)
    lines = [top.rstrip(), head, "-" * len(head)] if peer_names else [head, "-" * len(head)]
    for record in records:
        line = f"{record['instance']:<9}{_cell(record['bks'], 10, 2)}{_group(record, True)}"
        line += "".join(f"{'|':>2}" + _group(record["peers"][name], False) for name in peer_names)
        lines.append(line)
    lines.append("-" * len(head))
    lines.append(_summary("dripline", records))
    lines += [_summary(name, [r["peers"][name] for r in records]) for name in peer_names]
    return "\n".join(lines)


def _summary(name: str, entries: Sequence[dict[str, Any]]) -> str:
    gaps = [e["gap_pct"] for e in entries if e["gap_pct"] is not None]
    solved = sum(1 for e in entries if e["feasible"])
    mean = f"{sum(gaps) / len(gaps):.2f} %" if gaps else "-"
    times = [e["runtime_s"] for e in entries]
    return f"{name:<9} mean gap {mean} over {len(gaps)}, solved {solved} of {len(entries)}, " + (
        f"mean time {sum(times) / len(times):.1f} s" if times else ""
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.solomon", description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance (default 10)")
    parser.add_argument("--instances", nargs="+", default=[], help="names (C101) or paths of Solomon files")
    parser.add_argument("--all", action="store_true", help="run every instance of the set")
    parser.add_argument("--set", choices=sorted(SETS), default="solomon", help="solomon (100) or homberger (200)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--peers", action="store_true", help="also run PyVRP and VROOM (the bench extra)")
    args = parser.parse_args(argv)
    if not args.all and not args.instances:
        parser.error("give --instances or --all")
    return args


def _write_json(path: Path | None, records: list[dict[str, Any]]) -> None:
    if path is not None:
        path.write_text(json.dumps(records, indent=1) + "\n")


def _progress(record: dict[str, Any]) -> str:
    entries = {"dripline": record, **record.get("peers", {})}
    parts = [f"{name} {e['distance']:.2f} in {e['runtime_s']:.1f} s" for name, e in entries.items()]
    return f"{record['instance']}: " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = SETS[args.set]
    paths = all_instances(folder) if args.all else [resolve_instance(name, folder) for name in args.instances]
    peers = peer_solvers() if args.peers else {}
    bks_table = load_bks(folder / "bks_distance.csv")
    records: list[dict[str, Any]] = []
    for path in paths:
        records.append(run_instance(path, args.time_limit, peers, bks_table))
        _write_json(args.json, records)  # after each instance, so a long run leaves partial results
        print(_progress(records[-1]), file=sys.stderr, flush=True)
    print(format_table(records, list(peers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
