"""Exact timing of one medic's route, breaks included, on the compiled tables.

Given the order of a route's visits, :meth:`RouteTimer.time` finds the earliest
schedule that keeps every rule of the time dimension: leave home no earlier than
the shift start; start each service inside one of its windows; take every break
of the shift, each starting inside its own window, wholly inside a gap between
services (driving may pause for it: a gap holds the drive, the setup, its breaks
and any wait); be home by the hard end. ``None`` means no such schedule exists.

Why it is exact: a medic may wait anywhere, so for a given set of breaks taken so
far, being free earlier is never worse than being free later. The search keeps,
for each set of breaks already taken, the earliest moment the medic is free after
each stop, and tries every subset of the remaining breaks (in every order) in each
gap. Inside one gap, work is done before a break whenever the break's window has
not opened yet, and each break starts as early as it can. A shift has at most a few
breaks (Colorado: a meal and one or two rests), so this stays small.

The same rules are checked again, independently, by :mod:`routing.check`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from routing.compiled import Compiled

#: nodes whose windows are cut to one interval (lo, hi) of start times
Narrowing = Mapping[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Timing:
    """An earliest schedule: service starts in route order, breaks as (start, duration)
    in time order, and the moment the medic is home. The medic leaves at the shift start
    (any slack can be spent at home instead; see :mod:`routing.replay`)."""

    departure: int
    starts: tuple[int, ...]
    breaks: tuple[tuple[int, int], ...]
    home: int
    #: which break of the shift each of ``breaks`` is (its index in the shift's breaks)
    break_order: tuple[int, ...] = ()


class _Narrowed(Sequence[Sequence[tuple[int, int]]]):
    """The windows of every node, a few of them cut to an interval (computed when asked)."""

    def __init__(self, base: Sequence[Sequence[tuple[int, int]]], narrow: Narrowing) -> None:
        self.base, self.narrow = base, narrow

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, node):  # type: ignore[no-untyped-def,override]
        cut = self.narrow.get(node)
        if cut is None:
            return self.base[node]
        lo, hi = cut
        return [(max(a, lo), min(b, hi)) for a, b in self.base[node] if max(a, lo) <= min(b, hi)]


def _first_start(windows: Sequence[tuple[int, int]], ready: int) -> int | None:
    for opens, closes in windows:
        if ready <= closes:
            return max(ready, opens)
    return None


class RouteTimer:
    """Times and checks routes of one compiled problem."""

    def __init__(self, c: Compiled) -> None:
        self.c = c
        # per vehicle: for each set of breaks already taken, the orders in which the
        # remaining ones may be taken in one gap (the empty order included)
        self._orders: list[dict[int, list[tuple[int, tuple[int, ...]]]]] = []
        for breaks in c.breaks:
            count = len(breaks)
            by_mask: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
            for mask in range(1 << count):
                free = [k for k in range(count) if not mask >> k & 1]
                choices: list[tuple[int, tuple[int, ...]]] = [(0, ())]
                for size in range(1, len(free) + 1):
                    for subset in itertools.combinations(free, size):
                        bits = sum(1 << k for k in subset)
                        choices += [(bits, order) for order in itertools.permutations(subset)]
                by_mask[mask] = choices
            self._orders.append(by_mask)

    # ----------------------------------------------------------------- load and count

    def carries(self, vehicle: int, nodes: Sequence[int]) -> bool:
        """The route's demand fits the car's stock, and its visits the shift's maximum."""
        c = self.c
        if len(nodes) > c.max_visits[vehicle]:
            return False
        return all(sum(demand[n] for n in nodes) <= c.stock[kind][vehicle] for kind, demand in c.demand.items())

    def allowed(self, vehicle: int, nodes: Sequence[int]) -> bool:
        allowed = self.c.allowed
        return all(vehicle in allowed[n] for n in nodes)

    def feasible(self, vehicle: int, nodes: Sequence[int], narrow: Narrowing | None = None) -> bool:
        """Every rule of one route: who may serve, stock, count and time."""
        return (
            self.allowed(vehicle, nodes)
            and self.carries(vehicle, nodes)
            and self.time(vehicle, nodes, narrow) is not None
        )

    # ----------------------------------------------------------------- time

    def windows(self, narrow: Narrowing | None) -> Sequence[Sequence[tuple[int, int]]]:
        """The compiled windows, each node in ``narrow`` cut to its interval there."""
        return _Narrowed(self.c.windows, narrow) if narrow else self.c.windows

    def time(self, vehicle: int, nodes: Sequence[int], narrow: Narrowing | None = None) -> Timing | None:
        """The earliest schedule of ``nodes`` in this order for ``vehicle``, or None. ``narrow``
        cuts some nodes' windows to an interval (a group's parts that must start together)."""
        c = self.c
        windows = self.windows(narrow)
        if not c.breaks[vehicle]:
            return self._time_without_breaks(vehicle, nodes, windows)
        breaks = c.breaks[vehicle]
        orders = self._orders[vehicle]
        full = (1 << len(breaks)) - 1
        transit, service = c.transit, c.service
        # per step: {breaks taken: (free at, start of this stop, breaks placed in the gap, previous mask)}
        layers: list[dict[int, tuple[int, int, tuple[tuple[int, int, int], ...], int]]] = []
        states: dict[int, int] = {0: c.shift_start[vehicle]}
        previous = c.starts[vehicle]
        for node in nodes:
            work = transit[previous][node] - service[previous]
            layer: dict[int, tuple[int, int, tuple[tuple[int, int, int], ...], int]] = {}
            for mask, free_at in states.items():
                for bits, order in orders[mask]:
                    gap = _through_gap(free_at, work, order, breaks)
                    if gap is None:
                        continue
                    ready, placed = gap
                    start = _first_start(windows[node], ready)
                    if start is None:
                        continue
                    done = start + service[node]
                    taken = mask | bits
                    best = layer.get(taken)
                    if best is None or done < best[0]:
                        layer[taken] = (done, start, placed, mask)
            if not layer:
                return None
            layers.append(layer)
            states = _undominated({mask: entry[0] for mask, entry in layer.items()})
            previous = node
        work = transit[previous][c.ends[vehicle]] - service[previous]
        best_home: tuple[int, int, tuple[tuple[int, int, int], ...]] | None = None
        for mask, free_at in states.items():
            remaining = full & ~mask
            for bits, order in orders[mask]:
                if bits != remaining:
                    continue
                gap = _through_gap(free_at, work, order, breaks)
                if gap is not None and gap[0] <= c.hard_end[vehicle] and (best_home is None or gap[0] < best_home[0]):
                    best_home = (gap[0], mask, gap[1])
        if best_home is None:
            return None
        home, mask, placed_last = best_home
        starts: list[int] = []
        placed_all: list[tuple[int, int, int]] = list(placed_last)
        for layer in reversed(layers):
            _, start, placed, mask_before = layer[mask]
            starts.append(start)
            placed_all.extend(placed)
            mask = mask_before
        placed_all.sort()
        return Timing(
            c.shift_start[vehicle],
            tuple(reversed(starts)),
            tuple((start, duration) for start, duration, _ in placed_all),
            home,
            tuple(k for _, _, k in placed_all),
        )

    def _time_without_breaks(
        self, vehicle: int, nodes: Sequence[int], windows: Sequence[Sequence[tuple[int, int]]]
    ) -> Timing | None:
        c = self.c
        free_at = c.shift_start[vehicle]
        previous = c.starts[vehicle]
        starts = []
        for node in nodes:
            start = _first_start(windows[node], free_at + c.transit[previous][node] - c.service[previous])
            if start is None:
                return None
            starts.append(start)
            free_at, previous = start + c.service[node], node
        home = free_at + c.transit[previous][c.ends[vehicle]] - c.service[previous]
        if home > c.hard_end[vehicle]:
            return None
        return Timing(c.shift_start[vehicle], tuple(starts), (), home)

    def home_time(self, vehicle: int, nodes: Sequence[int], narrow: Narrowing | None = None) -> int | None:
        """When the medic is home at the earliest, or None if the route cannot be timed."""
        timing = self.time(vehicle, nodes, narrow)
        return None if timing is None else timing.home


def _through_gap(
    free_at: int, work: int, order: tuple[int, ...], breaks: Sequence[tuple[int, int, int]]
) -> tuple[int, tuple[tuple[int, int, int], ...]] | None:
    """Do ``work`` (driving and setup, which may pause) and take the breaks in ``order``
    from ``free_at`` on: when is it all done, and where do the breaks go? None when a
    break's window has closed before it can start."""
    cursor, left = free_at, work
    placed = []
    for k in order:
        opens, closes, duration = breaks[k]
        if cursor < opens:
            left -= min(left, opens - cursor)
            cursor = opens
        if cursor > closes:
            return None
        placed.append((cursor, duration, k))
        cursor += duration
    return cursor + left, tuple(placed)


def _undominated(states: dict[int, int]) -> dict[int, int]:
    """Drop a state when another has taken every break it has, and more, and is free no later."""
    if len(states) < 2:
        return states
    return {
        mask: free_at
        for mask, free_at in states.items()
        if not any(other != mask and other & mask == mask and states[other] <= free_at for other in states)
    }
