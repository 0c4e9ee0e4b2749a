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

    def route_price(self, vehicle: int, route: Sequence[int]) -> int | None:
        """The route's price (:meth:`Repair.route_price`); None if it is not feasible."""
        if not route:
            return 0
        timing = self.repair.timer.time(vehicle, route)
        return None if timing is None else self.repair.route_price(vehicle, route, timing)

    def run(
        self, routes: list[list[int]], deadline: float, max_moves: int | None = None
    ) -> tuple[list[list[int]], int]:
        """Improve ``routes`` (each feasible) until ``deadline`` or ``max_moves``;
        returns the routes and how many moves were kept."""
        c, rng = self.c, self.rng
        routes = [list(route) for route in routes]
        prices = [self.route_price(v, route) or 0 for v, route in enumerate(routes)]
        where = {node: v for v, route in enumerate(routes) for node in route}
        candidates = [n for n in range(c.depot_count, len(c.node_location)) if c.allowed[n]]
        kept = moves = 0
        while time.monotonic() < deadline and (max_moves is None or moves < max_moves):
            moves += 1
            waiting = [n for n in candidates if n not in where]
            centre = rng.choice(waiting) if waiting and rng.random() < 0.8 else rng.choice(candidates)
            size = rng.randint(2, 8)
            ruined = [n for n in self.near[centre] if n in where][:size]
            if centre in where:
                ruined.append(centre)
            touched = {where[n] for n in ruined}
            trial = {v: [n for n in routes[v] if n not in ruined] for v in touched}
            # what goes back: the ruined visits, the centre, and visits left out near it
            back = set(ruined) | ({centre} if centre not in where else set())
            back.update(n for n in self.near[centre][:10] if n not in where)
            order = sorted(back, key=lambda n: (-c.penalty[n], rng.random()))
            placed: dict[int, int] = {}
            for node in order:
                best: tuple[int, int, int] | None = None
                for vehicle in c.allowed[node]:
                    route = trial.get(vehicle, routes[vehicle])
                    place = self.repair.cheapest_place(vehicle, route, node)
                    if place is not None and (best is None or place[0] < best[0]):
                        best = (place[0], vehicle, place[1])
                if best is not None:
                    _, vehicle, position = best
                    route = list(trial.get(vehicle, routes[vehicle]))
                    route.insert(position, node)
                    trial[vehicle] = route
                    placed[node] = vehicle
            new_prices = {v: self.route_price(v, route) for v, route in trial.items()}
            if any(price is None for price in new_prices.values()):
                continue
            # only the touched routes and the visits put back change
            before = sum(prices[v] for v in trial) + sum(c.penalty[n] for n in back if n not in where)
            after = sum(p for p in new_prices.values() if p is not None)
            after += sum(c.penalty[n] for n in back if n not in placed)
            lengths = [len(trial[v]) if v in trial else len(r) for v, r in enumerate(routes)]
            before += c.balance_cost * max(len(r) for r in routes)
            after += c.balance_cost * max(lengths)
            if after < before:
                for v, route in trial.items():
                    routes[v] = route
                    prices[v] = new_prices[v] or 0
                for node in ruined:
                    where.pop(node, None)
                for node, vehicle in placed.items():
                    where[node] = vehicle
                kept += 1
        return routes, kept
