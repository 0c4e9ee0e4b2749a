"""Solomon and Gehring-Homberger VRPTW instances: read them, scale them to integers, turn them into a
``routing.Problem``, re-check any plan in double precision, and score it against the best known.

The scaling conventions are :mod:`bench.solomon`'s docstring.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.model import Problem, Shift, TimeWindow, Visit
from routing.travel.matrix import Location, TravelMatrix

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
