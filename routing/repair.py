"""Seed plans made whole: every route exactly feasible, and nothing left out that fits.

A seed comes from a search that does not know every rule (PyVRP knows no breaks) or
that was cut short. :class:`Repair` checks each route with :mod:`routing.schedule`
(breaks placed exactly), takes out what does not fit, and then inserts every visit
left out wherever it fits at the least extra driving, highest penalty first. Inserting
into an empty route is allowed, so a medic is never left idle while a visit that they
could serve alone is left out: that is how the plan keeps that promise.

:meth:`Repair.cost` prices a plan with the objective OR-Tools minimises, so that seeds
from different searches can be compared before OR-Tools is asked to restore one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from routing.compiled import Compiled
from routing.schedule import RouteTimer, Timing


@dataclass(frozen=True)
class Seed:
    """A plan found by some search: compiled nodes per vehicle, where it came from,
    its exact timings (None for an empty route) and its price in the objective."""

    label: str
    routes: list[list[int]]
    timings: list[Timing | None]
    cost: int

    @property
    def served(self) -> int:
        return sum(len(route) for route in self.routes)

    @property
    def breaks(self) -> list[list[tuple[int, int]]]:
        """Where each medic takes each break of the shift, in the shift's order (an
        unused medic's included; empty where a route could not be timed)."""
        placed: list[list[tuple[int, int]]] = []
        for timing in self.timings:
            if timing is None:
                placed.append([])
                continue
            by_index = dict(zip(timing.break_order, timing.breaks, strict=True))
            placed.append([by_index[k] for k in sorted(by_index)])
        return placed


class Repair:
    """Makes seed plans of one compiled problem feasible and full."""

    def __init__(self, c: Compiled, timer: RouteTimer | None = None) -> None:
        self.c = c
        self.timer = timer or RouteTimer(c)

    # ----------------------------------------------------------------- feasibility

    def feasible(self, routes: Sequence[Sequence[int]]) -> list[list[int]]:
        """Each route, less the fewest visits (lowest penalty first) that keep it from
        being feasible; a visit on two routes keeps its first place."""
        seen: set[int] = set()
        fixed = []
        for vehicle, route in enumerate(routes):
            kept = [node for node in route if node not in seen and vehicle in self.c.allowed[node]]
            seen.update(kept)
            fixed.append(self._trim(vehicle, kept))
        return fixed

    def _trim(self, vehicle: int, route: list[int]) -> list[int]:
        timer, penalty = self.timer, self.c.penalty
        while route and not (timer.carries(vehicle, route) and timer.time(vehicle, route) is not None):
            options = [route[:k] + route[k + 1 :] for k in range(len(route))]
            fits = [
                (penalty[route[k]], k)
                for k, rest in enumerate(options)
                if timer.carries(vehicle, rest) and timer.time(vehicle, rest) is not None
            ]
            if fits:
                route = options[min(fits)[1]]
                break
            # no single visit frees the route: take out the one that frees the most time
            homes = [(timer.home_time(vehicle, rest) or self.c.horizon * 2, k) for k, rest in enumerate(options)]
            route = options[min(homes)[1]]
        return route

    # ----------------------------------------------------------------- insertion

    def fill(self, routes: list[list[int]], deadline: float | None = None) -> tuple[list[list[int]], bool]:
        """Insert every visit left out wherever it fits, highest penalty first, each at
        its cheapest feasible place. Returns the routes and whether it finished before
        ``deadline`` (a ``time.monotonic()`` instant)."""
        c = self.c
        routes = [list(route) for route in routes]
        served = {node for route in routes for node in route}
        waiting = sorted(
            (node for node in range(c.depot_count, len(c.node_location)) if node not in served and c.allowed[node]),
            key=lambda node: (-c.penalty[node], node),
        )
        for node in waiting:
            if deadline is not None and time.monotonic() > deadline:
                return routes, False
            best: tuple[int, int, int] | None = None  # (extra driving, vehicle, position)
            for vehicle in c.allowed[node]:
                place = self.cheapest_place(vehicle, routes[vehicle], node)
                if place is not None and (best is None or place[0] < best[0]):
                    best = (place[0], vehicle, place[1])
            if best is not None:
                _, vehicle, position = best
                routes[vehicle].insert(position, node)
        return routes, True

    def cheapest_place(self, vehicle: int, route: Sequence[int], node: int) -> tuple[int, int] | None:
        """(extra driving, position) of the cheapest feasible insertion of ``node``, or None."""
        c, timer = self.c, self.timer
        if len(route) + 1 > c.max_visits[vehicle]:
            return None
        for kind, demand in c.demand.items():
            if sum(demand[n] for n in route) + demand[node] > c.stock[kind][vehicle]:
                return None
        candidates = sorted(self._places_ignoring_breaks(vehicle, route, node))
        for extra, position in candidates:
            if not c.breaks[vehicle] or timer.time(vehicle, [*route[:position], node, *route[position:]]) is not None:
                return extra, position
        return None

    def _places_ignoring_breaks(self, vehicle: int, route: Sequence[int], node: int) -> list[tuple[int, int]]:
        """Positions where ``node`` fits the windows and the hard end if breaks took no
        time (a necessary condition: breaks only ever make a medic later)."""
        c = self.c
        transit, service, arcs = c.transit, c.service, c.arc_costs
        start_depot, end_depot = c.starts[vehicle], c.ends[vehicle]
        # earliest start at each stop, and an upper bound on its latest start
        earliest: list[int] = []
        free_at, previous = c.shift_start[vehicle], start_depot
        for stop in route:
            ready = free_at + transit[previous][stop] - service[previous]
            start = next((max(ready, a) for a, b in c.windows[stop] if ready <= b), None)
            if start is None:  # the route itself does not fit: nothing can be added to it
                return []
            earliest.append(start)
            free_at, previous = start + service[stop], stop
        latest = [0] * len(route)
        bound, following = c.hard_end[vehicle], end_depot
        for k in range(len(route) - 1, -1, -1):
            stop = route[k]
            bound = min(c.windows[stop][-1][1], bound - transit[stop][following])
            latest[k] = bound
            following = stop
        places = []
        for position in range(len(route) + 1):
            before = route[position - 1] if position > 0 else start_depot
            after = route[position] if position < len(route) else end_depot
            free = earliest[position - 1] + service[before] if position > 0 else c.shift_start[vehicle]
            ready = free + transit[before][node] - service[before]
            start = next((max(ready, a) for a, b in c.windows[node] if ready <= b), None)
            if start is None:
                continue
            limit = latest[position] if position < len(route) else c.hard_end[vehicle]
            if start + transit[node][after] > limit:
                continue
            places.append((arcs[before][node] + arcs[node][after] - arcs[before][after], position))
        return places

    # ----------------------------------------------------------------- price

    def seed(self, label: str, routes: Sequence[Sequence[int]], deadline: float | None = None) -> Seed:
        """The seed made feasible and full, timed and priced."""
        filled, _ = self.fill(self.feasible(routes), deadline)
        return self.priced(label, filled)

    def priced(self, label: str, routes: list[list[int]]) -> Seed:
        """Routes (each already feasible) with their timings and price."""
        # an unused medic is timed too: OR-Tools is then handed a place for every break
        # (left to itself, it can fail to place a few hundred of them)
        timings = [self.timer.time(v, route) for v, route in enumerate(routes)]
        return Seed(label, routes, timings, self.cost(routes, timings))

    def cost(self, routes: Sequence[Sequence[int]], timings: Sequence[Timing | None]) -> int:
        """The objective OR-Tools minimises: penalties of visits left out, each route's
        price, and balance (per visit on the busiest route)."""
        c = self.c
        served = {node for route in routes for node in route}
        total = sum(c.penalty[node] for node in range(c.depot_count, len(c.node_location)) if node not in served)
        total += sum(self.route_price(v, route, timings[v]) for v, route in enumerate(routes))
        return total + c.balance_cost * max((len(route) for route in routes), default=0)

    def route_price(self, vehicle: int, route: Sequence[int], timing: Timing | None) -> int:
        """Driving, overtime past the soft end, and visits that prefer another medic;
        an unused medic costs nothing, breaks or not."""
        c = self.c
        if not route:
            return 0
        path = [c.starts[vehicle], *route, c.ends[vehicle]]
        price = sum(c.arc_costs[a][b] for a, b in itertools.pairwise(path))
        if timing is not None:
            price += c.overtime_coef[vehicle] * max(0, timing.home - c.soft_end[vehicle])
        if c.preference_costs:
            preference = c.preference_costs[c.preference_class_of_vehicle[vehicle]]
            price += sum(preference[node] for node in route)
        return price
