"""Large-neighbourhood moves aimed at the visits a plan leaves out (ruin and recreate).

Each move picks a visit left out (or, when all are served, any visit), takes a few
visits near it in time and space off the routes of the medics who could serve it,
and puts everything back, the most valuable first, each at its cheapest feasible
place (:meth:`routing.repair.Repair.cheapest_place`, breaks placed exactly). The move
is kept when the plan's price (:meth:`routing.repair.Repair.cost`, the objective
OR-Tools minimises) goes down. Every route stays feasible throughout, so the search
can stop at any moment and hand OR-Tools a plan it accepts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import numpy as np

from routing.compiled import Compiled
from routing.repair import Repair
from routing.schedule import Narrowing


class Lns:
    """Ruin and recreate on one compiled problem."""

    def __init__(self, c: Compiled, repair: Repair, seed: int = 0) -> None:
        self.c = c
        self.repair = repair
        self.rng = random.Random(seed)
        first = c.depot_count
        # visits close to each other in driving and in time (a quarter of the gap
        # between their windows counts as driving), nearest first
        arcs = np.asarray(c.arc_costs, dtype=np.int64)[first:, first:]
        opens = np.array([w[0][0] for w in c.windows[first:]], dtype=np.int64)
        closes = np.array([w[-1][1] for w in c.windows[first:]], dtype=np.int64)
        gap = np.maximum(0, np.maximum(opens[None, :] - closes[:, None], opens[:, None] - closes[None, :]))
        apart = arcs + arcs.T + gap // 4
        np.fill_diagonal(apart, np.iinfo(np.int64).max)
        nearest = np.argsort(apart, axis=1, kind="stable")[:, : min(30, max(0, len(opens) - 1))]
        self.near: dict[int, list[int]] = {first + k: [first + int(j) for j in row] for k, row in enumerate(nearest)}

    def route_price(self, vehicle: int, route: Sequence[int], narrow: Narrowing | None = None) -> int | None:
        """The route's price (:meth:`Repair.route_price`); None if it is not feasible."""
        if not route:
            return 0
        timing = self.repair.timer.time(vehicle, route, narrow)
        return None if timing is None else self.repair.route_price(vehicle, route, timing)

    def run(
        self, routes: list[list[int]], deadline: float, max_moves: int | None = None
    ) -> tuple[list[list[int]], int]:
        """Improve ``routes`` (each feasible) until ``deadline`` or ``max_moves``;
        returns the routes and how many moves were kept."""
        c, rng, repair = self.c, self.rng, self.repair
        routes = [list(route) for route in routes]
        narrow, _ = repair.sync(routes)
        prices = [self.route_price(v, route, narrow) or 0 for v, route in enumerate(routes)]
        where = {node: v for v, route in enumerate(routes) for node in route}
        candidates = [n for n in range(c.depot_count, len(c.node_location)) if c.allowed[n]]
        kept = moves = 0
        while time.monotonic() < deadline and (max_moves is None or moves < max_moves):
            moves += 1
            waiting = [n for n in candidates if n not in where]
            centre = rng.choice(waiting) if waiting and rng.random() < 0.8 else rng.choice(candidates)
            size = rng.randint(2, 8)
            # the served visits nearest the centre; a group's parts are ruined and put back together
            ruined: set[int] = set()
            for node in self.near[centre]:
                if len(ruined) >= size:
                    break
                if node in where:
                    ruined.update(repair.unit_of(node))
            if centre in where:
                ruined.update(repair.unit_of(centre))
            touched = {where[n] for n in ruined}
            trial = [list(route) for route in routes]
            for v in touched:
                trial[v] = [n for n in routes[v] if n not in ruined]
            # what goes back: the ruined visits, the centre, and visits left out near it
            back = set(ruined) | set(repair.unit_of(centre))
            back.update(m for n in self.near[centre][:10] if n not in where for m in repair.unit_of(n))
            units: list[list[int]] = []
            seen: set[int] = set()
            for node in sorted(back, key=lambda n: (-c.penalty[n], rng.random())):
                if node not in seen:
                    unit = repair.unit_of(node)
                    seen.update(unit)
                    units.append(unit)
            trial_narrow, _ = repair.sync(trial)
            placed: set[int] = set()
            for unit in units:
                changed = repair.place(trial, unit, trial_narrow)
                if changed:
                    touched.update(changed)
                    placed.update(unit)
                    if len(changed) > 1:
                        trial_narrow, _ = repair.sync(trial)
            new_prices = {v: self.route_price(v, trial[v], trial_narrow) for v in touched}
            if any(price is None for price in new_prices.values()):
                continue
            # only the touched routes and the visits put back change
            before = sum(prices[v] for v in touched) + sum(c.penalty[n] for n in back if n not in where)
            after = sum(p for p in new_prices.values() if p is not None)
            after += sum(c.penalty[n] for n in back if n not in placed)
            before += c.balance_cost * max(len(r) for r in routes)
            after += c.balance_cost * max(len(r) for r in trial)
            if after < before:
                routes = trial
                narrow = trial_narrow
                for v in touched:
                    prices[v] = new_prices[v] or 0
                where = {node: v for v, route in enumerate(routes) for node in route}
                kept += 1
        return routes, kept
