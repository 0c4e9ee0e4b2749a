"""Seed plans made whole: every route exactly feasible, and nothing left out that fits.

A seed comes from a search that does not know every rule (PyVRP knows no breaks, neither
knows group bookings) or that was cut short. :class:`Repair` checks each route with
:mod:`routing.schedule` (breaks placed exactly), takes out what does not fit, and then
inserts every visit left out wherever it fits at the least extra driving, highest penalty
first. Inserting into an empty route is allowed, so a medic is never left idle while a
visit that they could serve alone is left out: that is how the plan keeps that promise.

A group's parts move as one **unit**: served all or none, either back to back on one
medic's day (one setup), or, for a group of two parts, one part each on two medics' days,
both starting within the problem's group arrival of each other (:meth:`Repair.sync`).

:meth:`Repair.cost` prices a plan with the objective OR-Tools minimises, so that seeds
from different searches can be compared before OR-Tools is asked to restore one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from routing.compiled import Compiled
from routing.schedule import Narrowing, RouteTimer, Timing

Routes = list[list[int]]


@dataclass(frozen=True)
class Seed:
    """A plan found by some search: compiled nodes per vehicle, where it came from,
    its exact timings (None for a route that cannot be timed) and its price in the objective."""

    label: str
    routes: Routes
    timings: list[Timing | None]
    cost: int
    #: the start interval of each part of a group shared by two medics (see :meth:`Repair.sync`)
    narrow: dict[int, tuple[int, int]] = field(default_factory=dict)

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
        self.group_of = c.group_of

    # ----------------------------------------------------------------- units

    def unit_of(self, node: int) -> list[int]:
        """The nodes that move with ``node``: its group's, or itself alone."""
        group = self.group_of.get(node)
        return [node] if group is None else list(self.c.groups[group])

    def units_left_out(self, routes: Sequence[Sequence[int]]) -> list[list[int]]:
        """Every unit no route holds, most valuable first (by penalty, then node)."""
        c = self.c
        served = {node for route in routes for node in route}
        units: list[list[int]] = []
        seen: set[int] = set()
        for node in range(c.depot_count, len(c.node_location)):
            if node in served or node in seen or not c.allowed[node]:
                continue
            unit = self.unit_of(node)
            seen.update(unit)
            if not any(member in served for member in unit):
                units.append(unit)
        units.sort(key=lambda unit: (-sum(c.penalty[n] for n in unit), unit[0]))
        return units

    # ----------------------------------------------------------------- groups that start together

    def sync(self, routes: Sequence[Sequence[int]]) -> tuple[dict[int, tuple[int, int]], list[int]]:
        """For each group whose parts lie on different routes, the interval all its parts must
        start in (from the latest of their earliest starts, for the group's arrival), and the
        groups that cannot start together as the routes stand."""
        c, timer = self.c, self.timer
        vehicle_of = {node: v for v, route in enumerate(routes) for node in route}
        narrow: dict[int, tuple[int, int]] = {}
        bad: list[int] = []
        for group, members in enumerate(c.groups):
            present = [m for m in members if m in vehicle_of]
            vehicles = {vehicle_of[m] for m in present}
            if len(vehicles) < 2:
                continue
            if len(vehicles) < len(present):  # two parts back to back cannot both start with a third
                bad.append(group)
                continue
            starts = []
            for member in present:
                vehicle = vehicle_of[member]
                timing = timer.time(vehicle, routes[vehicle])
                if timing is None:
                    break
                starts.append(timing.starts[list(routes[vehicle]).index(member)])
            if len(starts) < len(present):
                bad.append(group)
                continue
            latest = max(starts)
            for member in present:
                narrow[member] = (latest, latest + c.group_arrival)
        for group in list(range(len(c.groups))):
            if group in bad:
                continue
            members = [m for m in c.groups[group] if m in narrow]
            if members and any(timer.time(vehicle_of[m], routes[vehicle_of[m]], narrow) is None for m in members):
                bad.append(group)
                for m in members:
                    narrow.pop(m)
        return narrow, bad

    # ----------------------------------------------------------------- feasibility

    def feasible(self, routes: Sequence[Sequence[int]]) -> Routes:
        """Each route, less the fewest visits (lowest penalty first) that keep it from being
        feasible; a visit on two routes keeps its first place; then every group served in
        part, or whose parts on different routes cannot start together, is taken out whole."""
        seen: set[int] = set()
        fixed = []
        for vehicle, route in enumerate(routes):
            kept = [node for node in route if node not in seen and vehicle in self.c.allowed[node]]
            seen.update(kept)
            fixed.append(self._trim(vehicle, kept))
        for _ in range(len(self.c.groups) + 1):
            served = {node for route in fixed for node in route}
            partial = {
                g for g, members in enumerate(self.c.groups) if any(m in served for m in members)
                and not all(m in served for m in members)
            }  # fmt: skip
            _, bad = self.sync(fixed)
            out = partial | set(bad)
            if not out:
                break
            drop = {m for g in out for m in self.c.groups[g]}
            fixed = [[node for node in route if node not in drop] for route in fixed]
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

    def fill(self, routes: Routes, deadline: float | None = None) -> tuple[Routes, bool]:
        """Insert every unit left out wherever it fits, most valuable first, each at its cheapest
        feasible place. Returns the routes and whether it finished before ``deadline`` (a
        ``time.monotonic()`` instant)."""
        routes = [list(route) for route in routes]
        narrow, _ = self.sync(routes)
        for unit in self.units_left_out(routes):
            if deadline is not None and time.monotonic() > deadline:
                return routes, False
            changed = self.place(routes, unit, narrow)
            if changed and len(changed) > 1:
                narrow, _ = self.sync(routes)
        return routes, True

    def place(self, routes: Routes, unit: Sequence[int], narrow: Narrowing) -> list[int]:
        """Insert ``unit`` at its cheapest feasible place in ``routes`` (changed in place), and
        return the vehicles whose routes changed (none if it fits nowhere)."""
        c = self.c
        if len(unit) == 1:
            best: tuple[int, int, int] | None = None
            for vehicle in c.allowed[unit[0]]:
                found = self.cheapest_place(vehicle, routes[vehicle], unit[0], narrow)
                if found is not None:
                    extra = found[0] + self._preference(vehicle, unit)
                    if best is None or extra < best[0]:
                        best = (extra, vehicle, found[1])
            if best is None:
                return []
            _, vehicle, position = best
            routes[vehicle].insert(position, unit[0])
            return [vehicle]
        together = set.intersection(*(set(c.allowed[n]) for n in unit))
        block: tuple[int, int, int] | None = None
        for vehicle in sorted(together):
            found = self.cheapest_block(vehicle, routes[vehicle], unit, narrow)
            if found is not None:
                extra = found[0] + self._preference(vehicle, unit)
                if block is None or extra < block[0]:
                    block = (extra, vehicle, found[1])
        if block is not None:
            _, vehicle, position = block
            routes[vehicle][position:position] = list(unit)
            return [vehicle]
        if len(unit) == 2:
            return self._place_shared(routes, unit, narrow)
        return []

    def _preference(self, vehicle: int, nodes: Sequence[int]) -> int:
        """What serving ``nodes`` costs ``vehicle`` for visits that prefer another medic."""
        c = self.c
        if not c.preference_costs:
            return 0
        vector = c.preference_costs[c.preference_class_of_vehicle[vehicle]]
        return sum(vector[node] for node in nodes)

    def _place_shared(self, routes: Routes, unit: Sequence[int], narrow: Narrowing) -> list[int]:
        """A two-part group on two medics' days, both parts starting within the group arrival."""
        c, timer = self.c, self.timer
        first, second = unit
        options = []
        for a in c.allowed[first]:
            place_a = self.cheapest_place(a, routes[a], first, narrow)
            if place_a is None:
                continue
            for b in c.allowed[second]:
                if b == a:
                    continue
                place_b = self.cheapest_place(b, routes[b], second, narrow)
                if place_b is not None:
                    extra = place_a[0] + place_b[0] + self._preference(a, [first]) + self._preference(b, [second])
                    options.append((extra, a, place_a[1], b, place_b[1]))
        for _, a, pa, b, pb in sorted(options)[:10]:
            route_a = [*routes[a][:pa], first, *routes[a][pa:]]
            route_b = [*routes[b][:pb], second, *routes[b][pb:]]
            timing_a, timing_b = timer.time(a, route_a, narrow), timer.time(b, route_b, narrow)
            if timing_a is None or timing_b is None:
                continue
            latest = max(timing_a.starts[pa], timing_b.starts[pb])
            together = {**narrow, first: (latest, latest + c.group_arrival), second: (latest, latest + c.group_arrival)}
            if timer.time(a, route_a, together) is not None and timer.time(b, route_b, together) is not None:
                routes[a], routes[b] = route_a, route_b
                return [a, b]
        return []

    def _fits_load(self, vehicle: int, route: Sequence[int], nodes: Sequence[int]) -> bool:
        c = self.c
        if len(route) + len(nodes) > c.max_visits[vehicle]:
            return False
        return all(
            sum(demand[n] for n in route) + sum(demand[n] for n in nodes) <= c.stock[kind][vehicle]
            for kind, demand in c.demand.items()
        )

    def cheapest_place(
        self, vehicle: int, route: Sequence[int], node: int, narrow: Narrowing | None = None
    ) -> tuple[int, int] | None:
        """(extra driving, position) of the cheapest feasible insertion of ``node``, or None."""
        if not self._fits_load(vehicle, route, [node]):
            return None
        timer = self.timer
        # the filter is only a necessary condition (it ignores breaks and a later stop's second window)
        for extra, position in sorted(self._places_ignoring_breaks(vehicle, route, node, narrow)):
            if timer.time(vehicle, [*route[:position], node, *route[position:]], narrow) is not None:
                return extra, position
        return None

    def cheapest_block(
        self, vehicle: int, route: Sequence[int], nodes: Sequence[int], narrow: Narrowing | None = None
    ) -> tuple[int, int] | None:
        """(extra driving, position) of the cheapest feasible insertion of ``nodes`` back to back."""
        if not self._fits_load(vehicle, route, nodes):
            return None
        c = self.c
        arcs = c.arc_costs
        start, end = c.starts[vehicle], c.ends[vehicle]
        inside = sum(arcs[a][b] for a, b in itertools.pairwise(nodes))
        options = []
        for position in range(len(route) + 1):
            before = route[position - 1] if position > 0 else start
            after = route[position] if position < len(route) else end
            options.append((arcs[before][nodes[0]] + inside + arcs[nodes[-1]][after] - arcs[before][after], position))
        for extra, position in sorted(options):
            if self.timer.time(vehicle, [*route[:position], *nodes, *route[position:]], narrow) is not None:
                return extra, position
        return None

    def _places_ignoring_breaks(
        self, vehicle: int, route: Sequence[int], node: int, narrow: Narrowing | None = None
    ) -> list[tuple[int, int]]:
        """Positions where ``node`` fits the windows and the hard end if breaks took no
        time (a necessary condition: breaks only ever make a medic later)."""
        c = self.c
        windows = self.timer.windows(narrow)
        transit, service, arcs = c.transit, c.service, c.arc_costs
        start_depot, end_depot = c.starts[vehicle], c.ends[vehicle]
        # earliest start at each stop, and an upper bound on its latest start
        earliest: list[int] = []
        free_at, previous = c.shift_start[vehicle], start_depot
        for stop in route:
            ready = free_at + transit[previous][stop] - service[previous]
            start = next((max(ready, a) for a, b in windows[stop] if ready <= b), None)
            if start is None:  # the route itself does not fit: nothing can be added to it
                return []
            earliest.append(start)
            free_at, previous = start + service[stop], stop
        latest = [0] * len(route)
        bound, following = c.hard_end[vehicle], end_depot
        for k in range(len(route) - 1, -1, -1):
            stop = route[k]
            bound = min(windows[stop][-1][1], bound - transit[stop][following])
            latest[k] = bound
            following = stop
        places = []
        for position in range(len(route) + 1):
            before = route[position - 1] if position > 0 else start_depot
            after = route[position] if position < len(route) else end_depot
            free = earliest[position - 1] + service[before] if position > 0 else c.shift_start[vehicle]
            ready = free + transit[before][node] - service[before]
            start = next((max(ready, a) for a, b in windows[node] if ready <= b), None)
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

    def timings(self, routes: Sequence[Sequence[int]], narrow: Narrowing | None = None) -> list[Timing | None]:
        """Each route's exact timing, a group's parts on different routes starting together. An
        unused medic is timed too: OR-Tools is then handed a place for every break (left to
        itself, it can fail to place a few hundred of them)."""
        if narrow is None:
            narrow, _ = self.sync(routes)
        return [self.timer.time(v, route, narrow) for v, route in enumerate(routes)]

    def priced(self, label: str, routes: Routes) -> Seed:
        """Routes (each already feasible) with their timings and price."""
        narrow, _ = self.sync(routes)
        timings = self.timings(routes, narrow)
        return Seed(label, routes, timings, self.cost(routes, timings), narrow)

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
