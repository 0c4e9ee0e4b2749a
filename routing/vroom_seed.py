"""Seed plans from VROOM, on the problem as it stands, breaks included.

VROOM (BSD-2-Clause) searches fast with breaks, which OR-Tools' break intervals make
slow. It gets the compiled problem with every rule it can express, and only ever
*seeds* OR-Tools, which then restores the plan under every rule and improves it:

* travel into a visit from another place includes its setup (VROOM starts a task's
  window at its setup, Dripline at its service, so setup goes into the matrix instead);
  the cost to minimise is the drive alone;
* who may serve a visit becomes a skill per class of visit;
* a group booking is one job, its parts back to back on one medic's day
  (:func:`routing.compiled.groups_as_one`); a group only several medics could serve
  together is left to the repair;
* stock and max visits are capacities and ``max_tasks``; a visit's priority is its
  share of the largest penalty (VROOM serves the most priority first, then the most
  visits, then the cheapest);
* breaks are VROOM breaks, taken in the order of their windows;
* a shift runs from its start to its **hard** end: VROOM knows no soft end, so it does
  not weigh overtime, nor preferred medics, nor balance (OR-Tools does, afterwards).

This is the only module that imports ``vroom``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import vroom

from routing.compiled import Compiled, expand_groups, groups_as_one, seed_jobs


def break_id(c: Compiled, vehicle: int, k: int) -> int:
    """A VROOM id for the k-th break (in window order) of a vehicle, unique in the problem."""
    return len(c.starts) * (k + 1) + vehicle + 1


def vroom_input(c: Compiled, perturbation: int | None = None) -> vroom.Input:
    """The compiled problem as a VROOM input; job ids are compiled node numbers.

    ``perturbation`` seeds a noise of up to 10 % on each driving cost (never on a
    duration, so every rule stays as it is): VROOM is deterministic, and a perturbed
    copy takes another path through its heuristics."""
    drive = np.asarray(c.arc_costs, dtype=np.int64)
    if perturbation is not None:
        noise = np.random.default_rng(perturbation).uniform(0.9, 1.1, drive.shape)
        drive = np.rint(drive * noise).astype(np.int64)
    travel = np.asarray(c.transit, dtype=np.int64) - np.asarray(c.service, dtype=np.int64)[:, None]
    np.fill_diagonal(travel, 0)
    problem = vroom.Input()
    problem.set_durations_matrix("car", travel)
    problem.set_costs_matrix("car", drive)
    kinds = sorted(c.demand)
    jobs = seed_jobs(c)
    skill_of: dict[frozenset[int], int] = {}
    for job in jobs:
        skill_of.setdefault(frozenset(job.allowed), len(skill_of))
    skills: list[set[int]] = [set() for _ in c.starts]
    for allowed, skill in skill_of.items():
        for vehicle in allowed:
            skills[vehicle].add(skill)
    for vehicle in range(len(c.starts)):
        breaks = sorted(c.breaks[vehicle])
        problem.add_vehicle(
            vroom.Vehicle(
                vehicle + 1,
                start=c.starts[vehicle],
                end=c.ends[vehicle],
                capacity=[c.stock[kind][vehicle] for kind in kinds],
                skills=skills[vehicle],
                time_window=vroom.TimeWindow(c.shift_start[vehicle], c.hard_end[vehicle]),
                max_tasks=c.max_visits[vehicle],
                breaks=[
                    vroom.Break(break_id(c, vehicle, k), time_windows=[vroom.TimeWindow(lo, hi)], service=d)
                    for k, (lo, hi, d) in enumerate(breaks)
                ],
            )
        )
    largest = max((job.penalty for job in jobs), default=1) or 1
    for job in jobs:
        problem.add_job(
            vroom.Job(
                job.head,
                location=job.head,
                default_service=job.service,
                delivery=vroom.Amount([job.demand[kind] for kind in kinds]),
                skills={skill_of[frozenset(job.allowed)]},
                priority=max(0, min(100, round(100 * job.penalty / largest))),
                time_windows=[vroom.TimeWindow(opens, closes) for opens, closes in job.windows],
            )
        )
    return problem


def solve_vroom(
    c: Compiled, *, level: int = 5, threads: int = 1, seconds: float | None = None, perturbation: int | None = None
) -> dict[str, Any]:
    """VROOM's answer as its JSON document (``routes`` with ``steps``); ``seconds``
    cuts its search short (VROOM then returns the best plan it has)."""
    if not any(c.allowed[node] for node in range(c.depot_count, len(c.allowed))):
        return {"routes": []}
    timeout = None if seconds is None else timedelta(seconds=max(0.01, seconds))
    solution = vroom_input(c, perturbation).solve(exploration_level=level, nb_threads=threads, timeout=timeout)
    return solution.to_dict()  # type: ignore[no-any-return]


def seed_routes(
    c: Compiled, *, level: int = 5, threads: int = 1, seconds: float | None = None, perturbation: int | None = None
) -> list[list[int]]:
    """VROOM's plan as compiled nodes per vehicle."""
    routes: list[list[int]] = [[] for _ in c.starts]
    answer = solve_vroom(c, level=level, threads=threads, seconds=seconds, perturbation=perturbation)
    for route in answer["routes"]:
        routes[int(route["vehicle"]) - 1] = [int(step["id"]) for step in route["steps"] if step["type"] == "job"]
    return expand_groups(routes, groups_as_one(c))
