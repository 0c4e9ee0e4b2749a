"""Solve a :class:`~routing.model.Problem` with the OR-Tools routing library.

This is the only module that imports ``ortools``. It works in three steps:

1. :func:`compile_problem` turns the problem into plain integer tables
   (seconds from :attr:`Problem.origin`, one node per visit, one per depot),
   which pickle cheaply to worker processes.
2. A portfolio of searches, one per worker process, each with its own
   first-solution strategy, runs for part of the time limit. The best plan is
   then handed back to every worker as the starting point of a second round
   with varied guided-local-search settings ("restarts from the best").
3. The best plan is read back into a :class:`~routing.result.Result`, and every
   visit left out gets a reason from :mod:`routing.explain`.

Every visit sits in a disjunction, so a plan always comes back: a visit that
is hard to place is left out with a penalty, never turned into "no solution".
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.explain import explain, servable_by
from routing.model import Problem, Shift, Visit, seconds_between, utc
from routing.params import SolveParams
from routing.result import Kpis, PlacedBreak, Result, Route, Stop

#: seconds kept back from the time limit for process start-up and read-back
_OVERHEAD_S = 0.45


@dataclass(frozen=True)
class Compiled:
    """The problem as integer tables. Nodes ``0..depots-1`` are depots, then one
    node per schedulable visit (``visit_of_node``)."""

    depot_count: int
    node_location: list[int]
    visit_of_node: list[int]  # problem visit position per node; -1 for depots
    starts: list[int]
    ends: list[int]
    transit: list[list[int]]  # service of i + drive i->j + setup of j
    arc_costs: list[list[int]]  # drive i->j, the same for every medic
    #: per class of medic, the cost of serving each node (a visit that prefers someone else)
    preference_costs: list[list[int]]
    preference_class_of_vehicle: list[int]
    service: list[int]
    windows: list[list[tuple[int, int]]]
    allowed: list[list[int]]
    penalty: list[int]
    demand: dict[str, list[int]]
    stock: dict[str, list[int]]
    max_visits: list[int]
    shift_start: list[int]
    soft_end: list[int]
    hard_end: list[int]
    overtime_coef: list[int]
    breaks: list[list[tuple[int, int, int]]]  # (earliest start, latest start, duration)
    horizon: int
    balance_cost: int


@dataclass(frozen=True)
class Found:
    """One search's best plan: per vehicle, (index, node, start) of each visit,
    the start and end times, and the breaks as (start, duration)."""

    objective: int
    strategy: str
    routes: list[list[tuple[int, int, int]]]
    departures: list[int]
    returns: list[int]
    breaks: list[list[tuple[int, int]]]


def compile_problem(problem: Problem, params: SolveParams) -> Compiled:
    """Turn the problem into integer tables for the routing model."""
    origin = problem.origin
    durations = problem.matrix.durations
    shifts = problem.shifts
    depot_locations: dict[int, int] = {}
    for shift in shifts:
        for loc in (shift.start_location, shift.end_location):
            depot_locations.setdefault(problem.location_index(loc), len(depot_locations))
    node_location = list(depot_locations)
    visit_of_node = [-1] * len(node_location)
    allowed: list[list[int]] = [[] for _ in node_location]
    vehicle_of = {s.medic_id: v for v, s in enumerate(shifts)}
    for position, visit in enumerate(problem.visits):
        able = [vehicle_of[s.medic_id] for s in servable_by(problem, visit)]
        if able:  # an empty list would mean "any vehicle" to OR-Tools
            node_location.append(problem.location_index(visit.location))
            visit_of_node.append(position)
            allowed.append(able)
    size = len(node_location)
    visits: list[Visit | None] = [problem.visits[p] if p >= 0 else None for p in visit_of_node]
    service = [int(v.service.total_seconds()) if v else 0 for v in visits]
    setup = [int(v.setup.total_seconds()) if v else 0 for v in visits]
    where = np.asarray(node_location)
    drive = durations[np.ix_(where, where)]
    # Setup is paid on arriving from somewhere else, so a group at one address sets up once.
    moved = where[:, None] != where[None, :]
    transit = np.asarray(service)[:, None] + drive + moved * np.asarray(setup)[None, :]
    preference_costs, preference_class_of_vehicle = _preference_classes(shifts, visits, params.preference_cost)
    horizon = max(seconds_between(origin, s.latest_end) for s in shifts)
    windows = []
    for maybe in visits:
        if maybe is None:
            windows.append([(0, horizon)])
            continue
        clipped = [
            (max(0, seconds_between(origin, w.start)), min(horizon, seconds_between(origin, w.end)))
            for w in maybe.windows
        ]
        kept = [(a, b) for a, b in clipped if a <= b]
        # servable_by() admitted this visit, so some window meets some shift
        assert kept, "a schedulable visit lost every window to clipping"
        windows.append(kept)
    kinds = problem.supply_kinds
    penalty = [
        0 if v is None else (params.optional_penalty if v.optional else params.unassigned_penalty) * v.priority
        for v in visits
    ]
    return Compiled(
        depot_count=len(depot_locations),
        node_location=node_location,
        visit_of_node=visit_of_node,
        starts=[depot_locations[problem.location_index(s.start_location)] for s in shifts],
        ends=[depot_locations[problem.location_index(s.end_location)] for s in shifts],
        transit=transit.tolist(),
        arc_costs=drive.tolist(),
        preference_costs=preference_costs,
        preference_class_of_vehicle=preference_class_of_vehicle,
        service=service,
        windows=windows,
        allowed=allowed,
        penalty=penalty,
        demand={k: [v.demand.get(k, 0) if v else 0 for v in visits] for k in kinds},
        stock={k: [s.stock.get(k, 0) for s in shifts] for k in kinds},
        max_visits=[size if s.max_visits is None else s.max_visits for s in shifts],
        shift_start=[seconds_between(origin, s.window.start) for s in shifts],
        soft_end=[seconds_between(origin, s.window.end) for s in shifts],
        hard_end=[seconds_between(origin, s.latest_end) for s in shifts],
        overtime_coef=[s.overtime_cost_per_minute for s in shifts],
        breaks=[
            [
                (
                    seconds_between(origin, b.window.start),
                    seconds_between(origin, b.window.end),
                    int(b.duration.total_seconds()),
                )
                for b in s.breaks
            ]
            for s in shifts
        ],
        horizon=horizon,
        balance_cost=params.balance_cost,
    )


def _preference_classes(
    shifts: Sequence[Shift], visits: Sequence[Visit | None], preference_cost: int
) -> tuple[list[list[int]], list[int]]:
    """Per class of medic, a node vector: ``preference_cost`` on each visit that
    prefers someone else. Medics who share the same set share one vector; a
    vector per class costs O(n), where a cost matrix per class cost O(n^2)."""
    classes: dict[frozenset[int], int] = {}
    vectors: list[list[int]] = []
    class_of_vehicle = []
    for shift in shifts:
        unpreferred = frozenset(
            node
            for node, visit in enumerate(visits)
            if preference_cost and visit is not None and visit.preferred_medics
            and shift.medic_id not in visit.preferred_medics
        )  # fmt: skip
        if unpreferred not in classes:
            classes[unpreferred] = len(vectors)
            vectors.append([preference_cost if node in unpreferred else 0 for node in range(len(visits))])
        class_of_vehicle.append(classes[unpreferred])
    return vectors, class_of_vehicle


class _Model:
    """A RoutingModel built from a :class:`Compiled` problem."""

    def __init__(self, c: Compiled) -> None:
        self.c = c
        vehicles = len(c.starts)
        self.manager = pywrapcp.RoutingIndexManager(len(c.node_location), vehicles, c.starts, c.ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing, manager = self.routing, self.manager

        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(c.arc_costs))
        if any(any(vector) for vector in c.preference_costs):
            # Each medic sums the preference costs of the visits it serves in a
            # dimension of its own kind; the span of that sum is the cost.
            vectors = [routing.RegisterUnaryTransitVector(vector) for vector in c.preference_costs]
            per_vehicle = [vectors[k] for k in c.preference_class_of_vehicle]
            most = sum(max(vector) for vector in c.preference_costs) * len(c.node_location) + 1
            routing.AddDimensionWithVehicleTransits(per_vehicle, 0, most, True, "preference")
            routing.GetDimensionOrDie("preference").SetSpanCostCoefficientForAllVehicles(1)

        transit = routing.RegisterTransitMatrix(c.transit)
        routing.AddDimension(transit, c.horizon, c.horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")

        for node in range(c.depot_count, len(c.node_location)):
            index = manager.NodeToIndex(node)
            cumul = self.time.CumulVar(index)
            windows = c.windows[node]
            cumul.SetRange(windows[0][0], windows[-1][1])
            for (_, gap_start), (gap_end, _) in itertools.pairwise(windows):
                cumul.RemoveInterval(gap_start + 1, gap_end - 1)
            routing.AddDisjunction([index], c.penalty[node])
            # SetAllowedVehiclesForIndex has no working Python typemap in OR-Tools
            # 9.15 (its absl::Span argument rejects every list), so restrict the
            # vehicle variable itself; -1 keeps the visit droppable.
            routing.VehicleVar(index).SetValues([-1, *c.allowed[node]])

        solver = routing.solver()
        node_visit_transits = [c.service[manager.IndexToNode(i)] for i in range(routing.Size())]
        for vehicle in range(vehicles):
            start, end = routing.Start(vehicle), routing.End(vehicle)
            self.time.CumulVar(start).SetRange(c.shift_start[vehicle], c.hard_end[vehicle])
            self.time.CumulVar(end).SetRange(c.shift_start[vehicle], c.hard_end[vehicle])
            if c.soft_end[vehicle] < c.hard_end[vehicle]:
                self.time.SetCumulVarSoftUpperBound(end, c.soft_end[vehicle], c.overtime_coef[vehicle])
            # Leave as late and come back as early as the plan allows.
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(start))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(end))
            if c.breaks[vehicle]:
                intervals = [
                    solver.FixedDurationIntervalVar(lo, hi, duration, False, f"break {vehicle} {k}")
                    for k, (lo, hi, duration) in enumerate(c.breaks[vehicle])
                ]
                self.time.SetBreakIntervalsOfVehicle(intervals, vehicle, node_visit_transits)
                # OR-Tools would also place a break before the medic leaves home or
                # after they are back; a rest period belongs inside the working day.
                for interval in intervals:
                    solver.Add(interval.StartExpr() >= self.time.CumulVar(start))
                    solver.Add(interval.EndExpr() <= self.time.CumulVar(end))
                if len(intervals) > 1:
                    # OR-Tools lets one vehicle's breaks overlap each other unless told not to.
                    solver.Add(solver.DisjunctiveConstraint(intervals, f"breaks {vehicle} apart"))

        for kind, demand in c.demand.items():
            callback = routing.RegisterUnaryTransitVector(demand)
            routing.AddDimensionWithVehicleCapacity(callback, 0, c.stock[kind], True, f"stock {kind}")

        visit_count = [0 if node < c.depot_count else 1 for node in range(len(c.node_location))]
        counter = routing.RegisterUnaryTransitVector(visit_count)
        routing.AddDimensionWithVehicleCapacity(counter, 0, c.max_visits, True, "visits")
        if c.balance_cost:
            routing.GetDimensionOrDie("visits").SetGlobalSpanCostCoefficient(c.balance_cost)

    def search_parameters(
        self, strategy: str, metaheuristic: str, lam: float, seconds: float, solution_limit: int | None, log: bool
    ) -> pywrapcp.DefaultRoutingSearchParameters:
        search = pywrapcp.DefaultRoutingSearchParameters()
        search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
        search.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic)
        search.guided_local_search_lambda_coefficient = lam
        search.time_limit.FromMilliseconds(max(100, int(seconds * 1000)))
        if solution_limit is not None:
            # Runs repeat exactly when the work limit stops them; the time
            # limit stays as a backstop for a search that stops finding
            # solutions (it never reaches the limit then).
            search.solution_limit = solution_limit
        search.log_search = log
        return search

    def read(self, solution: pywrapcp.Assignment, strategy: str) -> Found:
        routing, manager, time_dim = self.routing, self.manager, self.time
        routes, departures, returns = [], [], []
        for vehicle in range(len(self.c.starts)):
            index = routing.Start(vehicle)
            departures.append(solution.Value(time_dim.CumulVar(index)))
            stops = []
            index = solution.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                stops.append((index, manager.IndexToNode(index), solution.Value(time_dim.CumulVar(index))))
                index = solution.Value(routing.NextVar(index))
            returns.append(solution.Value(time_dim.CumulVar(index)))
            routes.append(stops)
        breaks: list[list[tuple[int, int]]] = [[] for _ in self.c.starts]
        intervals = solution.IntervalVarContainer()
        for k in range(intervals.Size()):
            element = intervals.Element(k)
            name = element.Var().Name()
            if name.startswith("break ") and element.PerformedValue():
                vehicle = int(name.split()[1])
                breaks[vehicle].append((element.StartValue(), element.DurationValue()))
        for placed in breaks:
            placed.sort()
        return Found(solution.ObjectiveValue(), strategy, routes, departures, returns, breaks)


@dataclass(frozen=True)
class SearchJob:
    """One search of the portfolio."""

    strategy: str
    metaheuristic: str
    lam: float

    @property
    def label(self) -> str:
        return f"{self.strategy}/{self.metaheuristic}/{self.lam:g}"


def run_search(
    c: Compiled,
    job: SearchJob,
    deadline: float,
    solution_limit: int | None,
    start_from: list[list[int]] | None = None,
    log: bool = False,
    first_plan_only: bool = False,
) -> Found | None:
    """Build the model and search until ``deadline`` (a ``time.monotonic()``
    instant, the same clock in every process); ``start_from`` (routing indices
    per vehicle) seeds the search with a known plan instead of a first-solution
    heuristic. ``first_plan_only`` stops at the first plan that serves a visit
    (a solution limit of 1 would stop at OR-Tools' plan that serves nothing)."""
    model = _Model(c)
    if first_plan_only:
        serves_nothing = sum(c.penalty)

        def stop_when_something_is_served() -> None:
            if model.routing.CostVar().Value() < serves_nothing:
                model.routing.solver().FinishCurrentSearch()

        model.routing.AddAtSolutionCallback(stop_when_something_is_served)

    def parameters(seconds: float) -> pywrapcp.DefaultRoutingSearchParameters:
        return model.search_parameters(job.strategy, job.metaheuristic, job.lam, seconds, solution_limit, log)

    if start_from is None:
        solution = model.routing.SolveWithParameters(parameters(deadline - time.monotonic()))
        return None if solution is None else model.read(solution, job.label)
    # Close the model with our parameters first: otherwise the hint is read into
    # a model closed with the defaults, and our search settings are silently
    # ignored. Reading the routes runs a search of its own to fill in the times,
    # which with breaks can eat the whole time limit, so it gets a short limit
    # of its own; the solve below sets the real one.
    remaining = deadline - time.monotonic()
    model.routing.CloseModelWithParameters(parameters(min(1.0, max(0.1, remaining / 5))))
    hint = model.routing.ReadAssignmentFromRoutes(start_from, True)
    solution = None
    if hint is not None:
        solution = model.routing.SolveFromAssignmentWithParameters(hint, parameters(deadline - time.monotonic()))
    if solution is not None:
        return model.read(solution, "restart " + job.label)
    # With breaks, filling in the hint's times can run out of its short limit
    # and leave a partial assignment that the search then rejects at once.
    # Search afresh for the rest of the time rather than idle until the deadline.
    solution = model.routing.SolveWithParameters(parameters(deadline - time.monotonic()))
    return None if solution is None else model.read(solution, "fresh " + job.label)


def solve(problem: Problem, params: SolveParams | None = None) -> Result:
    """Plan the problem: routes for the medics, reasons for the visits left out."""
    params = params or SolveParams()
    began = time.monotonic()
    if not problem.shifts or not problem.visits:
        return Result((), explain(problem, [v.id for v in problem.visits]), 0, time.monotonic() - began)
    compiled = compile_problem(problem, params)
    best, labels = _portfolio(compiled, params, began)
    routes = _to_routes(problem, compiled, best) if best else ()
    served = {stop.visit_id for route in routes for stop in route.stops}
    left_out = [v.id for v in problem.visits if v.id not in served]
    return Result(
        routes=routes,
        unassigned=explain(problem, left_out),
        objective=best.objective if best else -1,
        runtime_s=time.monotonic() - began,
        strategy=best.strategy if best else "no plan found",
        searches=tuple(labels),
    )


def _better(a: Found | None, b: Found | None) -> Found | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.objective < a.objective else a


class _InProcess(Executor):
    """Runs each job at once, in this process: the portfolio of one worker."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        future: Future[Found | None] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _portfolio(c: Compiled, params: SolveParams, began: float) -> tuple[Found | None, list[str]]:
    """Round one: diverse first solutions in parallel. Round two: every worker
    restarts from the best plan of round one, with a different GLS weight."""
    workers = params.worker_count
    strategies = params.first_solution_strategies
    lam = params.guided_local_search_lambda
    finish = began + max(0.2, params.time_limit_s - _OVERHEAD_S)
    first_deadline = began + (finish - began) * (1.0 - params.restart_share)
    first_jobs = [
        SearchJob(strategies[(params.seed + k) % len(strategies)], params.metaheuristic, lam) for k in range(workers)
    ]
    # A smaller lambda intensifies around the best plan, a larger one diversifies.
    restart_jobs = [SearchJob("AUTOMATIC", params.metaheuristic, lam * f) for f in (1.0, 0.5, 2.0, 0.25)]
    log = params.log_search and workers == 1
    pool: Executor = (
        _InProcess() if workers == 1 else ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())
    )
    labels = [job.label for job in first_jobs]
    with pool:
        futures = [
            pool.submit(run_search, c, job, first_deadline, params.solution_limit, None, log) for job in first_jobs
        ]
        best: Found | None = None
        for future in futures:  # in submission order, so ties break the same way every time
            best = _better(best, future.result())
        servable = any(c.allowed[node] for node in range(c.depot_count, len(c.allowed)))
        if (best is None or not any(best.routes)) and servable:
            # No first-solution heuristic finished (OR-Tools then returns its
            # plan that serves nothing): on a large day, 200 medics with three
            # breaks each, that alone can outlast the time limit. The most
            # forgiving strategy gets the rest of the time and the first-plan
            # grace, and stops at its first plan that serves: late beats none.
            rescue = SearchJob("LOCAL_CHEAPEST_INSERTION", params.metaheuristic, lam)
            labels.append(f"{rescue.label} (first plan)")
            deadline = max(finish + params.first_plan_grace_s, time.monotonic() + 1.0)
            return run_search(c, rescue, deadline, params.solution_limit, first_plan_only=True), labels
        if best is None:  # nothing servable, and no search returned even the empty plan
            return None, labels
        if params.restart_share > 0 and finish - time.monotonic() > 0.2:
            seed_routes = _indices(best)
            futures = [
                pool.submit(
                    run_search, c, restart_jobs[k % len(restart_jobs)], finish, params.solution_limit, seed_routes, log
                )
                for k in range(workers)
            ]
            for future in futures:
                best = _better(best, future.result())
            labels.append(f"{workers} restart(s) from the best")
    return best, labels


def _worker_context() -> multiprocessing.context.BaseContext:
    """fork: workers start in milliseconds and the caller needs no ``__main__``
    guard, which spawn and forkserver would demand of every script. Forking a
    process that runs other threads can copy a held lock into the child; the
    workers only search and return a pickled result, and dispatch solves in a
    single-threaded child process under a hard timeout, so a stuck worker
    cannot hang a re-plan."""
    return multiprocessing.get_context("fork")


def _indices(found: Found) -> list[list[int]]:
    return [[index for index, _, _ in route] for route in found.routes]


def _to_routes(problem: Problem, c: Compiled, found: Found) -> tuple[Route, ...]:
    origin = problem.origin
    durations, distances = problem.matrix.durations, problem.matrix.distances

    zero, zone = utc(origin), origin.tzinfo

    def at(seconds: int) -> datetime:
        # in UTC, then back to the problem's zone: exact across daylight saving
        return (zero + timedelta(seconds=seconds)).astimezone(zone)

    routes = []
    for vehicle, stops in enumerate(found.routes):
        if not stops:
            continue
        shift = problem.shifts[vehicle]
        breaks = found.breaks[vehicle]
        previous_location = problem.location_index(shift.start_location)
        previous_end = found.departures[vehicle]
        timed: list[Stop] = []
        kpis = Kpis()
        for _, node, start in stops:
            visit = problem.visits[c.visit_of_node[node]]
            location = c.node_location[node]
            travel = int(durations[previous_location, location])
            resting = sum(d for s, d in breaks if s >= previous_end and s + d <= start)
            setup = 0 if location == previous_location else int(visit.setup.total_seconds())
            service = int(visit.service.total_seconds())
            # Arrive just in time: any slack is spent before driving, which keeps
            # the arrival consistent with breaks placed anywhere in the gap.
            arrival = start - setup
            wait = arrival - previous_end - travel - resting
            timed.append(
                Stop(visit.id, at(arrival), at(start), at(start + service), wait, travel,
                     int(distances[previous_location, location]))
            )  # fmt: skip
            kpis = kpis + Kpis(driving_s=travel, distance_m=timed[-1].distance_m, idle_s=wait, service_s=service)
            previous_location, previous_end = location, start + service
        home = problem.location_index(shift.end_location)
        back_s, back_m = int(durations[previous_location, home]), int(distances[previous_location, home])
        arrival_home = found.returns[vehicle]
        overtime = max(0, arrival_home - c.soft_end[vehicle])
        kpis = kpis + Kpis(driving_s=back_s, distance_m=back_m, overtime_s=overtime, visits=len(timed))
        routes.append(
            Route(
                medic_id=shift.medic_id,
                departure=at(found.departures[vehicle]),
                arrival_home=at(arrival_home),
                stops=tuple(timed),
                breaks=tuple(PlacedBreak(at(s), at(s + d)) for s, d in breaks),
                return_travel_s=back_s,
                return_distance_m=back_m,
                kpis=kpis,
            )
        )
    return tuple(routes)
