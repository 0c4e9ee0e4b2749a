"""The OR-Tools routing model: it builds and returns every plan, with every rule.

This is the only module that imports ``ortools``. :class:`Model` turns the compiled
tables into a RoutingModel: a time dimension with waiting, the soft and hard shift
ends, break intervals that stay off services and inside the working day, a load
dimension per supply kind, the visit counter (max visits, balance), preferred medics
as a cost, group bookings served whole (their parts active together, and starting within
the group arrival when different medics serve them), and one disjunction per visit, so
that a visit hard to place is left out with a penalty rather than turning the whole day
into "no solution".

Three ways to use it, all returning a :class:`Found`:

* :func:`build` takes a plan found elsewhere (route order and break placement) and has
  OR-Tools restore it under every constraint, with no search: the seeds of
  :mod:`routing.search` become plans here, or are refused;
* :func:`polish` restores a plan and improves it with guided local search;
* :func:`run_search` searches from scratch with a first-solution strategy.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.compiled import Compiled


@dataclass(frozen=True)
class Found:
    """One plan as OR-Tools holds it: per vehicle, (node, service start) of each
    visit, the departure and return times, and the breaks as (start, duration)."""

    objective: int
    strategy: str
    routes: list[list[tuple[int, int]]]
    departures: list[int]
    returns: list[int]
    breaks: list[list[tuple[int, int]]]

    @property
    def node_routes(self) -> list[list[int]]:
        return [[node for node, _ in route] for route in self.routes]

    @property
    def served(self) -> int:
        return sum(len(route) for route in self.routes)


@dataclass(frozen=True)
class SearchJob:
    """One search of a portfolio: a first-solution strategy and a metaheuristic."""

    strategy: str
    metaheuristic: str
    lam: float

    @property
    def label(self) -> str:
        return f"{self.strategy}/{self.metaheuristic}/{self.lam:g}"


class Model:
    """A RoutingModel built from a :class:`Compiled` problem."""

    def __init__(
        self,
        c: Compiled,
        breaks_near: Sequence[Sequence[tuple[int, int]]] | None = None,
        leeway: int = 0,
        idle: frozenset[int] = frozenset(),
        starts_within: Mapping[int, tuple[int, int]] | None = None,
    ) -> None:
        """``breaks_near[v]`` (start, duration) per break of vehicle v, in the order of
        its shift's breaks, keeps each break within ``leeway`` seconds of that start
        (0 pins it there). OR-Tools finds a plan whose breaks are given at once, but
        can fail to place a few hundred free ones by itself.

        The vehicles in ``idle`` stay home: they serve nothing, so their breaks are not
        modelled. ``starts_within`` keeps some visits' starts in an interval: the parts of a
        group shared by two medics, where the plan has them start together (OR-Tools' own
        propagation of the arrive-together rule failed to restore such plans on a 200-medic day)."""
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
        self.breaks: list[list[pywrapcp.IntervalVar]] = []
        for vehicle in range(vehicles):
            start, end = routing.Start(vehicle), routing.End(vehicle)
            self.time.CumulVar(start).SetRange(c.shift_start[vehicle], c.hard_end[vehicle])
            self.time.CumulVar(end).SetRange(c.shift_start[vehicle], c.hard_end[vehicle])
            if c.soft_end[vehicle] < c.hard_end[vehicle]:
                self.time.SetCumulVarSoftUpperBound(end, c.soft_end[vehicle], c.overtime_coef[vehicle])
            # Leave as late and come back as early as the plan allows.
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(start))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(end))
            if vehicle in idle:
                solver.Add(routing.NextVar(start) == end)
            intervals = [
                solver.FixedDurationIntervalVar(lo, hi, duration, False, f"break {vehicle} {k}")
                for k, (lo, hi, duration) in enumerate(c.breaks[vehicle] if vehicle not in idle else ())
            ]
            self.breaks.append(intervals)
            if intervals:
                self.time.SetBreakIntervalsOfVehicle(intervals, vehicle, node_visit_transits)
                # OR-Tools would also place a break before the medic leaves home or
                # after they are back; a rest period belongs inside the working day.
                for interval in intervals:
                    solver.Add(interval.StartExpr() >= self.time.CumulVar(start))
                    solver.Add(interval.EndExpr() <= self.time.CumulVar(end))
                if len(intervals) > 1:
                    # OR-Tools lets one vehicle's breaks overlap each other unless told not to.
                    solver.Add(solver.DisjunctiveConstraint(intervals, f"breaks {vehicle} apart"))
            # narrowed after the constraints above are built on the intervals (narrowing
            # first made StartExpr() >= ... crash in OR-Tools 9.15)
            near = breaks_near[vehicle] if breaks_near is not None else ()
            if intervals and len(near) == len(intervals):
                for interval, (lo, hi, _), (start, _) in zip(intervals, c.breaks[vehicle], near, strict=True):
                    interval.SetStartRange(max(lo, start - leeway), min(hi, start + leeway))

        for node, (lo, hi) in (starts_within or {}).items():
            cumul = self.time.CumulVar(manager.NodeToIndex(node))
            cumul.SetRange(max(lo, cumul.Min()), min(hi, cumul.Max()))
        for members in c.groups:
            # a group is served whole or not at all; parts on different medics start together
            indices = [manager.NodeToIndex(node) for node in members]
            for a, b in itertools.pairwise(indices):
                solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
            for a, b in itertools.combinations(indices, 2):
                apart = solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b))
                gap = self.time.CumulVar(a) - self.time.CumulVar(b)
                solver.Add(gap + c.horizon * apart <= c.group_arrival + c.horizon)
                solver.Add(-gap + c.horizon * apart <= c.group_arrival + c.horizon)

        for kind, demand in c.demand.items():
            callback = routing.RegisterUnaryTransitVector(demand)
            routing.AddDimensionWithVehicleCapacity(callback, 0, c.stock[kind], True, f"stock {kind}")

        visit_count = [0 if node < c.depot_count else 1 for node in range(len(c.node_location))]
        counter = routing.RegisterUnaryTransitVector(visit_count)
        routing.AddDimensionWithVehicleCapacity(counter, 0, c.max_visits, True, "visits")
        if c.balance_cost:
            routing.GetDimensionOrDie("visits").SetGlobalSpanCostCoefficient(c.balance_cost)

    def search_parameters(
        self, job: SearchJob, seconds: float, solution_limit: int | None, log: bool = False
    ) -> pywrapcp.DefaultRoutingSearchParameters:
        search = pywrapcp.DefaultRoutingSearchParameters()
        search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, job.strategy)
        search.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, job.metaheuristic)
        search.guided_local_search_lambda_coefficient = job.lam
        search.time_limit.FromMilliseconds(max(50, int(seconds * 1000)))
        # The same limit bounds the finalizer that times every route of a solution, breaks
        # included: at OR-Tools' 100 ms a 200-medic day's plan could not even be restored.
        search.lns_time_limit.FromMilliseconds(max(100, min(2000, int(seconds * 1000))))
        if solution_limit is not None:
            # Runs repeat exactly when the work limit stops them; the time
            # limit stays as a backstop for a search that stops finding
            # solutions (it never reaches the limit then).
            search.solution_limit = solution_limit
        search.log_search = log
        return search

    def assignment(self, routes: Sequence[Sequence[int]]) -> pywrapcp.Assignment | None:
        """The plan's route order as an assignment of this model (the model must be
        closed), or None if OR-Tools refuses the order."""
        manager = self.manager
        return self.routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(n) for n in r] for r in routes], True)

    def read(self, solution: pywrapcp.Assignment, strategy: str) -> Found:
        routing, manager, time_dim = self.routing, self.manager, self.time
        routes, departures, returns = [], [], []
        for vehicle in range(len(self.c.starts)):
            index = routing.Start(vehicle)
            departures.append(solution.Value(time_dim.CumulVar(index)))
            stops = []
            index = solution.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                stops.append((manager.IndexToNode(index), solution.Value(time_dim.CumulVar(index))))
                index = solution.Value(routing.NextVar(index))
            returns.append(solution.Value(time_dim.CumulVar(index)))
            routes.append(stops)
        breaks: list[list[tuple[int, int]]] = []
        for intervals in self.breaks:
            placed = [
                (solution.StartValue(interval), solution.DurationValue(interval))
                for interval in intervals
                if solution.PerformedValue(interval)
            ]
            breaks.append(sorted(placed))
        return Found(solution.ObjectiveValue(), strategy, routes, departures, returns, breaks)


def _restore(
    model: Model, routes: Sequence[Sequence[int]], parameters: pywrapcp.DefaultRoutingSearchParameters
) -> pywrapcp.Assignment | None:
    # Close the model with these parameters first: otherwise the routes are read
    # into a model closed with the defaults, and the search settings are ignored.
    model.routing.CloseModelWithParameters(parameters)
    hint = model.assignment(routes)
    if hint is None:
        return None
    return model.routing.SolveFromAssignmentWithParameters(hint, parameters)


RESTORE = SearchJob("AUTOMATIC", "GREEDY_DESCENT", 1.0)


def build(
    c: Compiled,
    routes: Sequence[Sequence[int]],
    breaks: Sequence[Sequence[tuple[int, int]]],
    label: str,
    seconds: float = 5.0,
    starts_within: Mapping[int, tuple[int, int]] | None = None,
) -> Found | None:
    """OR-Tools' own plan of exactly this route order and these breaks (per vehicle,
    in the order of its shift's breaks), or None when it refuses it: some rule is
    broken, or it could not time it within ``seconds``."""
    idle = frozenset(v for v, route in enumerate(routes) if not route)
    model = Model(c, breaks, leeway=0, idle=idle, starts_within=starts_within)
    # the restored plan is the first solution: stop there, with no local search
    solution = _restore(model, routes, model.search_parameters(RESTORE, seconds, 1))
    return None if solution is None else model.read(solution, label)


def polish(
    c: Compiled,
    routes: Sequence[Sequence[int]],
    breaks: Sequence[Sequence[tuple[int, int]]],
    job: SearchJob,
    deadline: float,
    solution_limit: int | None,
    label: str,
    log: bool = False,
    leeway: int = 600,
    starts_within: Mapping[int, tuple[int, int]] | None = None,
) -> Found | None:
    """Restore the plan and improve it with ``job``'s metaheuristic until ``deadline``
    (a ``time.monotonic()`` instant), each break kept within ``leeway`` seconds of
    where the plan has it; None when OR-Tools refuses the plan."""
    # an unused medic stays unused here; the repair and ruin-and-recreate may still give them a day
    idle = frozenset(v for v, route in enumerate(routes) if not route)
    model = Model(c, breaks, leeway=leeway, idle=idle, starts_within=starts_within)
    parameters = model.search_parameters(job, deadline - time.monotonic(), solution_limit, log)
    solution = _restore(model, routes, parameters)
    return None if solution is None else model.read(solution, f"{label}, polished ({job.label})")


def run_search(
    c: Compiled,
    job: SearchJob,
    deadline: float,
    solution_limit: int | None,
    log: bool = False,
    first_plan_only: bool = False,
) -> Found | None:
    """Search from scratch: ``job``'s first-solution strategy, then its metaheuristic,
    until ``deadline``. ``first_plan_only`` stops at the first plan that serves a visit
    (a solution limit of 1 would stop at OR-Tools' plan that serves nothing)."""
    model = Model(c)
    if first_plan_only:
        serves_nothing = sum(c.penalty)

        def stop_when_something_is_served() -> None:
            if model.routing.CostVar().Value() < serves_nothing:
                model.routing.solver().FinishCurrentSearch()

        model.routing.AddAtSolutionCallback(stop_when_something_is_served)
    parameters = model.search_parameters(job, deadline - time.monotonic(), solution_limit, log)
    solution = model.routing.SolveWithParameters(parameters)
    return None if solution is None else model.read(solution, job.label)
