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
import csv
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.matrix import TravelMatrix
from routing.model import Location, Problem, Shift, TimeWindow, Visit
from routing.params import SolveParams

DATA_DIR = Path(__file__).resolve().parent / "data" / "solomon"
#: the instance sets, by name: their directory (instances and bks_distance.csv)
SETS = {"solomon": DATA_DIR, "homberger": Path(__file__).resolve().parent / "data" / "homberger"}
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
#: slack of the double-precision checker, for the rounding error of summing square roots
EPS = 1e-9
SCALE = 1000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Routes = list[list[int]]
#: a solver under test: (instance, time limit in seconds) -> (routes of customer numbers, extra JSON fields)
SolverFn = Callable[["SolomonInstance", float], tuple[Routes, dict[str, Any]]]


@dataclass(frozen=True, eq=False)
class SolomonInstance:
    """One instance; row 0 of every array is the depot, row i is customer i."""

    name: str
    vehicles: int
    capacity: int
    coords: FloatArray
    demand: IntArray
    ready: FloatArray
    due: FloatArray
    service: FloatArray

    @property
    def customers(self) -> int:
        return len(self.demand) - 1

    def distances(self) -> FloatArray:
        """All-pairs Euclidean distances in double precision."""
        delta = self.coords[:, None, :] - self.coords[None, :, :]
        return np.sqrt((delta**2).sum(axis=2))


# --- reading -------------------------------------------------------------------------------------


def _numbers(line: str) -> list[float] | None:
    try:
        return [float(token) for token in line.split()]
    except ValueError:
        return None


def _section(lines: Sequence[str], title: str) -> list[list[float]]:
    """The all-numeric lines after the line that starts with ``title``."""
    start = next((i for i, line in enumerate(lines) if line.upper().startswith(title)), None)
    if start is None:
        raise ValueError(f"Solomon file has no {title} section.")
    return [values for line in lines[start + 1 :] if (values := _numbers(line))]


def _customer_rows(lines: Sequence[str]) -> FloatArray:
    rows = [values for values in _section(lines, "CUSTOMER") if len(values) == 7]
    if not rows:
        raise ValueError("Solomon file has no CUSTOMER rows.")
    table = np.array(rows, dtype=np.float64)
    if not np.array_equal(table[:, 0], np.arange(len(table))):
        raise ValueError("Solomon customers must be numbered 0 (the depot), 1, 2, ... in order.")
    return table


def read_instance(path: str | Path) -> SolomonInstance:
    """Read a Solomon file (any line endings): name, VEHICLE section, CUSTOMER section."""
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    vehicles, capacity = _section(lines, "VEHICLE")[0]
    table = _customer_rows(lines)
    return SolomonInstance(
        name=lines[0],
        vehicles=int(vehicles),
        capacity=int(capacity),
        coords=table[:, 1:3].copy(),
        demand=table[:, 3].astype(np.int64),
        ready=table[:, 4].copy(),
        due=table[:, 5].copy(),
        service=table[:, 6].copy(),
    )


# --- integer model -------------------------------------------------------------------------------


def scaled_matrix(instance: SolomonInstance, scale: int = SCALE) -> IntArray:
    """ceil(euclid * scale): whole seconds and metres, never shorter than the exact arc."""
    return np.ceil(instance.distances() * scale).astype(np.int64)


def scale_up(values: FloatArray, scale: int = SCALE) -> IntArray:
    """values * scale rounded up (rounding noise of the multiplication ignored)."""
    return np.ceil(np.round(values * scale, 6)).astype(np.int64)


def scale_down(values: FloatArray, scale: int = SCALE) -> IntArray:
    """values * scale rounded down (rounding noise of the multiplication ignored)."""
    return np.floor(np.round(values * scale, 6)).astype(np.int64)


def _moment(seconds: int) -> datetime:
    return ORIGIN + timedelta(seconds=int(seconds))


def _locations(instance: SolomonInstance) -> list[Location]:
    return [Location(lat=float(y) / 1000, lon=float(x) / 1000) for x, y in instance.coords]


def _window(ready: int, due: int) -> TimeWindow:
    return TimeWindow(_moment(ready), _moment(due))


def _shifts(instance: SolomonInstance, depot: Location, scale: int) -> list[Shift]:
    window = _window(scale_up(instance.ready, scale)[0], scale_down(instance.due, scale)[0])
    return [
        Shift(
            medic_id=f"v{k}",
            start_location=depot,
            end_location=depot,
            window=window,
            stock={"load": instance.capacity},
            overtime_cost_per_minute=0,
        )
        for k in range(1, instance.vehicles + 1)
    ]


def _visits(instance: SolomonInstance, locations: list[Location], scale: int) -> list[Visit]:
    ready, due = scale_up(instance.ready, scale), scale_down(instance.due, scale)
    service = scale_up(instance.service, scale)
    return [
        Visit(
            id=str(i),
            location=locations[i],
            service=timedelta(seconds=int(service[i])),
            windows=(_window(ready[i], due[i]),),
            demand={"load": int(instance.demand[i])},
        )
        for i in range(1, instance.customers + 1)
    ]


def to_problem(instance: SolomonInstance, scale: int = SCALE) -> Problem:
    """A Dripline problem: one shift per vehicle from and to the depot, one visit per customer."""
    locations = _locations(instance)
    first_node: dict[Location, int] = {}
    for node, location in enumerate(locations):  # depot first, then customers: the order Problem dedupes in
        first_node.setdefault(location, node)
    nodes = list(first_node.values())
    full = scaled_matrix(instance, scale)[np.ix_(nodes, nodes)]
    problem = Problem(
        tuple(_visits(instance, locations, scale)),
        tuple(_shifts(instance, locations[0], scale)),
        TravelMatrix(durations=full, distances=full),
    )
    if list(problem.locations) != list(first_node):
        raise AssertionError("Problem ordered its locations differently from the matrix.")
    return problem


# --- double-precision checker --------------------------------------------------------------------


def _route_violations(instance: SolomonInstance, route: Sequence[int], dist: FloatArray, label: str) -> list[str]:
    problems: list[str] = []
    load = int(instance.demand[list(route)].sum())
    if load > instance.capacity:
        problems.append(f"{label}: load {load} > capacity {instance.capacity}")
    clock, here = float(instance.ready[0]), 0
    for customer in route:
        start = max(clock + dist[here, customer], float(instance.ready[customer]))
        if start > instance.due[customer] + EPS:
            problems.append(f"{label}: customer {customer} starts at {start:.4f} > due {instance.due[customer]:g}")
        clock, here = start + float(instance.service[customer]), customer
    if clock + dist[here, 0] > instance.due[0] + EPS:
        problems.append(f"{label}: back at the depot at {clock + dist[here, 0]:.4f} > due {instance.due[0]:g}")
    return problems


def _cover_violations(instance: SolomonInstance, routes: Sequence[Sequence[int]]) -> list[str]:
    visited = [customer for route in routes for customer in route]
    wanted = set(range(1, instance.customers + 1))
    problems = [f"unknown customer {c}" for c in sorted(set(visited) - wanted)]
    problems += [f"customer {c} visited {visited.count(c)} times" for c in sorted(set(visited)) if visited.count(c) > 1]
    problems += [f"customer {c} not visited" for c in sorted(wanted - set(visited))]
    return problems


def check_routes(instance: SolomonInstance, routes: Sequence[Sequence[int]]) -> list[str]:
    """Every violation of the Solomon rules in double precision; empty means feasible."""
    used = [list(route) for route in routes if route]
    problems = _cover_violations(instance, used)
    if len(used) > instance.vehicles:
        problems.append(f"{len(used)} routes > fleet of {instance.vehicles}")
    if any(p.startswith("unknown") for p in problems):
        return problems
    dist = instance.distances()
    for number, route in enumerate(used, start=1):
        problems += _route_violations(instance, route, dist, f"route {number}")
    return problems


def total_distance(instance: SolomonInstance, routes: Sequence[Sequence[int]]) -> float:
    """Total Euclidean length in double precision, each route from and back to the depot."""
    dist = instance.distances()
    total = 0.0
    for route in routes:
        if route:
            path = [0, *route, 0]
            total += float(sum(dist[a, b] for a, b in itertools.pairwise(path)))
    return total


# --- scoring -------------------------------------------------------------------------------------


def load_bks(path: Path = DATA_DIR / "bks_distance.csv") -> dict[str, float]:
    """Best-known distances, ``double_best`` convention, by instance name."""
    with open(path, newline="") as handle:
        rows = csv.DictReader(handle)
        return {row["instance"].upper(): float(row["distance"]) for row in rows if row["convention"] == "double_best"}


def score(instance: SolomonInstance, routes: Routes, runtime_s: float, bks: float | None) -> dict[str, Any]:
    """The JSON record of one solution: routes, distance, feasibility and gap, all in double precision."""
    used = [list(route) for route in routes if route]
    violations = check_routes(instance, used)
    distance = total_distance(instance, used)
    feasible = not violations
    gap = 100.0 * (distance - bks) / bks if bks and feasible else None
    return {
        "routes": used,
        "vehicles": len(used),
        "distance": round(distance, 4),
        "runtime_s": round(runtime_s, 3),
        "feasible": feasible,
        "gap_pct": None if gap is None else round(gap, 4),
        "violations": violations[:10],
    }


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
    from bench.solomon_peers import solve_pyvrp, solve_vroom

    return {"pyvrp": solve_pyvrp, "vroom": solve_vroom}


# --- command line --------------------------------------------------------------------------------


def resolve_instance(name: str, folder: Path = DATA_DIR) -> Path:
    """A file path as given, or an instance name looked up in ``folder`` (any case)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (folder / f"{name.upper()}.txt", folder / f"{name.lower()}.txt"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"No instance {name!r}: not a file, and not in {folder}.")


def all_instances(folder: Path = DATA_DIR) -> list[Path]:
    """Every bundled instance of a set: Solomon's 56 are C1, C2, R1, R2, RC1, RC2 in alphabetical order."""
    return sorted(folder.glob("*.txt"), key=lambda path: path.name.upper())


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
