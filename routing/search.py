"""Plan a :class:`~routing.model.Problem`: seed, repair, restore and polish with OR-Tools.

:func:`solve` works in four steps, on the compiled tables (:mod:`routing.compiled`):

1. **Seeds**, in parallel worker processes for the first part of the time:
   VROOM on the problem as it stands, breaks included (:mod:`routing.vroom_seed`);
   PyVRP's iterated local search on a break-free relaxation (:mod:`routing.pyvrp_seed`);
   and, given more workers, OR-Tools' own first-solution searches.
2. **Repair**: each seed is made exactly feasible, breaks placed in gaps of their
   windows, and then filled with every visit left out that fits (:mod:`routing.repair`).
3. **Restore and polish**: OR-Tools restores the best seeds under every rule (the
   seeds' searches do not know the soft shift end, preferred medics or balance) and
   improves them with guided local search for the rest of the time. OR-Tools builds
   and returns the plan; nothing else does.
4. **Read back**: the plan is filled once more (no medic stays idle while a visit they
   could serve alone is left out), restored by OR-Tools again if that changed it, and
   every visit left out gets a true reason from :mod:`routing.explain`.

Every search is given a deadline on one monotonic clock, so the whole solve ends near
``time_limit_s``; with ``solution_limit`` set, every search stops on work instead and
the same seed gives the same plan.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import routing.pyvrp_seed as pyvrp_seed
import routing.vroom_seed as vroom_seed
from routing.compiled import Compiled, compile_problem
from routing.explain import Placed, explain
from routing.lns import Lns
from routing.model import Problem
from routing.params import SolveParams
from routing.repair import Repair, Seed
from routing.replay import timed_route
from routing.result import Result, Route
from routing.solver import Found, SearchJob, build, polish, run_search

#: seconds kept back from the time limit for reading the plan back into a Result
_OVERHEAD_S = 0.05


@dataclass(frozen=True)
class Plan:
    """The outcome of the search: OR-Tools' plan, and what led to it."""

    found: Found | None
    searches: tuple[str, ...]
    #: visits that fitted in the final plan as it stood but that time ran out to place
    unfinished: bool = False


def solve(problem: Problem, params: SolveParams | None = None) -> Result:
    """Plan the problem: routes for the medics, reasons for the visits left out."""
    params = params or SolveParams()
    began = time.monotonic()
    if not problem.shifts or not problem.visits:
        return Result((), explain(problem, [v.id for v in problem.visits]), 0, time.monotonic() - began)
    compiled = compile_problem(problem, params)
    plan = plan_compiled(compiled, params, began)
    found = plan.found
    routes = _to_routes(problem, compiled, found) if found else ()
    served = {stop.visit_id for route in routes for stop in route.stops}
    left_out = [v.id for v in problem.visits if v.id not in served]
    placed = Placed(compiled, found.node_routes if found else [[] for _ in compiled.starts], plan.unfinished)
    return Result(
        routes=routes,
        unassigned=explain(problem, left_out, placed),
        objective=found.objective if found else -1,
        runtime_s=time.monotonic() - began,
        strategy=found.strategy if found else "no plan found",
        searches=plan.searches,
    )


def plan_compiled(c: Compiled, params: SolveParams, began: float) -> Plan:
    """Seed, repair, restore and polish; the best plan OR-Tools returned."""
    finish = began + max(0.2, params.time_limit_s - _OVERHEAD_S)
    if not any(c.allowed[node] for node in range(c.depot_count, len(c.allowed))):
        found = build(c, [[] for _ in c.starts], [[] for _ in c.starts], "nothing can be served")
        return Plan(found, ("nothing can be served",))
    repair = Repair(c)
    workers = params.worker_count
    pool: Executor = (
        _InProcess() if workers == 1 else ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())
    )
    labels: list[str] = []
    with pool:
        seeds = _seeds(c, params, pool, repair, began, finish, labels)
        found = _restore_and_polish(c, params, pool, seeds, began, finish, labels)
    if found is None:
        found = _rescue(c, params, finish, labels)
    if found is None:
        return Plan(None, tuple(labels), unfinished=True)
    # Nothing that fits is left out: fill the plan once more, and let OR-Tools restore it if that changed it.
    filled, finished = repair.fill(found.node_routes, deadline=max(finish, time.monotonic() + 0.5))
    if filled != found.node_routes:
        seed = repair.priced("filled", filled)
        rebuilt = build(c, seed.routes, seed.breaks, f"{found.strategy}, filled", starts_within=seed.narrow)
        if rebuilt is not None and rebuilt.objective <= found.objective:
            found = rebuilt
            labels.append(f"filled after the search by {time.monotonic() - began:.2f} s")
        else:
            finished = False  # the plan stays as the search left it: something may still fit
    return Plan(found, tuple(labels), unfinished=not finished)


# --------------------------------------------------------------------- step 1: seeds


def restore_reserve(c: Compiled) -> float:
    """Seconds to keep after the seeds for repairing one, having OR-Tools restore it,
    and explaining what is left out (measured: 0.1 s in all for 140 nodes, 1.2 s for
    700, where explaining 330 visits left out is the quadratic part)."""
    nodes = len(c.node_location)
    return 0.03 + 0.0004 * nodes + 0.0000025 * nodes * nodes


#: VROOM's deepest levels take minutes on a day this big; level 3 reached the same
#: plans on the 600-booking day in a quarter of the time (bench/day_vs_peers.py)
_LARGE_DAY_NODES = 300


def _vroom_level(c: Compiled, params: SolveParams) -> int:
    return min(params.vroom_exploration, 3) if len(c.node_location) > _LARGE_DAY_NODES else params.vroom_exploration


def _ortools_seed(c: Compiled, *, job: SearchJob, deadline: float, limit: int | None) -> list[list[int]]:
    found = run_search(c, job, deadline, limit)
    return found.node_routes if found else [[] for _ in c.starts]


def _seeds(
    c: Compiled,
    params: SolveParams,
    pool: Executor,
    repair: Repair,
    began: float,
    finish: float,
    labels: list[str],
) -> list[Seed]:
    """The seeds, repaired, best first.

    PyVRP's relaxation drops the breaks, and on days with breaks it loses to VROOM,
    which searches with them: there VROOM leads, first on every worker's core (its
    threads), until the plan must be restored if need be. While the seed share of the
    time lasts, more VROOM runs follow, one per worker, each on driving costs perturbed
    by a few per cent: a different path through its heuristics, the same rules.
    Without breaks, PyVRP is the stronger search and runs on every worker, each with
    its own random seed, for the seed share of the time."""
    deadline = began + (finish - began) * params.seed_share
    repeatable = params.solution_limit is not None
    workers = params.worker_count
    has_breaks = any(c.breaks)
    use_vroom = "vroom" in params.seeders and (has_breaks or "pyvrp" not in params.seeders)
    use_pyvrp = "pyvrp" in params.seeders and not use_vroom
    seeds: list[Seed] = []

    def collect(round_jobs: list[tuple[str, Future[Any]]]) -> None:
        for label, future in round_jobs:  # in submission order, so ties break the same way every time
            try:
                routes = future.result()
            except Exception as error:  # a seed search that fails is one seed fewer, never a failed plan
                labels.append(f"{label}: failed ({type(error).__name__})")
                continue
            seed = repair.seed(label, routes, deadline=finish)
            labels.append(f"{label}: {seed.served} served at {time.monotonic() - began:.2f} s")
            seeds.append(seed)

    if use_vroom:
        level = _vroom_level(c, params)
        first_began = time.monotonic()
        seconds = None if repeatable else max(0.05, finish - restore_reserve(c) - first_began)
        # VROOM's threads share out its heuristics, and which finishes first varies:
        # one thread when runs must repeat
        threads = 1 if repeatable else workers
        collect([(f"vroom level {level} on {threads} thread(s)",
                  pool.submit(vroom_seed.seed_routes, c, level=level, threads=threads, seconds=seconds))])  # fmt: skip
        took = time.monotonic() - first_began
        round_number = 0
        # on one thread a run takes about twice as long as on two
        while not repeatable and time.monotonic() + 2 * took * 1.1 < deadline:
            round_number += 1
            seconds = max(0.05, deadline - time.monotonic())
            collect([
                (f"vroom level {level}, costs perturbed ({round_number * workers + k})",
                 pool.submit(vroom_seed.seed_routes, c, level=level, threads=1, seconds=seconds,
                             perturbation=round_number * workers + k))
                for k in range(workers)
            ])  # fmt: skip
    elif use_pyvrp:
        seconds = max(0.05, deadline - time.monotonic())
        iterations = params.pyvrp_iterations if repeatable else None
        collect([
            (f"pyvrp relaxed, seed {params.seed + k}",
             pool.submit(pyvrp_seed.seed_routes, c, seconds=seconds, iterations=iterations, seed=params.seed + k,
                         break_share=params.pyvrp_break_share))
            for k in range(workers)
        ])  # fmt: skip
    else:
        strategies = params.first_solution_strategies
        round_jobs = []
        for k in range(workers):
            job = SearchJob(strategies[(params.seed + k) % len(strategies)], params.metaheuristic,
                            params.guided_local_search_lambda)  # fmt: skip
            round_jobs.append(
                (
                    f"ortools {job.label}",
                    pool.submit(_ortools_seed, c, job=job, deadline=deadline, limit=params.solution_limit),
                )
            )
        collect(round_jobs)
    seeds.sort(key=lambda seed: seed.cost)
    return seeds


# --------------------------------------------------------------------- step 3: restore and polish


def improve(
    c: Compiled,
    seed: Seed,
    *,
    lns_seed: int,
    lns_until: float,
    lns_moves: int | None,
    job: SearchJob,
    finish: float,
    solution_limit: int | None,
) -> Found | None:
    """Ruin and recreate from the seed until ``lns_until`` (:mod:`routing.lns`), then
    OR-Tools restores the plan and polishes it with guided local search until
    ``finish``; OR-Tools' plan, or None if it refused it."""
    repair = Repair(c)
    routes, kept = Lns(c, repair, seed=lns_seed).run(seed.routes, lns_until, max_moves=lns_moves)
    moved = repair.priced(f"{seed.label}, {kept} ruin-and-recreate move(s) kept", routes)
    found = polish(c, moved.routes, moved.breaks, job, finish, solution_limit, moved.label, starts_within=moved.narrow)
    return found if found is not None else build(c, moved.routes, moved.breaks, moved.label, starts_within=moved.narrow)


def _restore_and_polish(
    c: Compiled, params: SolveParams, pool: Executor, seeds: list[Seed], began: float, finish: float, labels: list[str]
) -> Found | None:
    """Each worker improves one of the best seeds (ruin and recreate, then OR-Tools'
    guided local search) until ``finish``; with too little time left, the best seed
    is only restored."""
    if not seeds:
        return None
    lam = params.guided_local_search_lambda
    # a smaller lambda intensifies around the seed, a larger one diversifies
    jobs = [SearchJob("AUTOMATIC", params.metaheuristic, lam * f) for f in (1.0, 0.5, 2.0, 0.25)]
    repeatable = params.solution_limit is not None
    polishing = repeatable or finish - time.monotonic() > 2 * restore_reserve(c)
    lns_until = time.monotonic() + (finish - time.monotonic()) * params.lns_share
    futures = []
    for k in range(params.worker_count if polishing else 1):
        seed = seeds[k % len(seeds)]
        if polishing:
            future = pool.submit(
                improve,
                c,
                seed,
                lns_seed=params.seed + k,
                lns_until=lns_until,
                lns_moves=params.lns_moves if repeatable else None,
                job=jobs[k % len(jobs)],
                finish=finish,
                solution_limit=params.solution_limit,
            )
        else:
            future = pool.submit(build, c, seed.routes, seed.breaks, seed.label, starts_within=seed.narrow)
        futures.append(future)
    best: Found | None = None
    for future in futures:
        best = _better(best, future.result())
    if best is None:  # OR-Tools refused every improved seed: try each as it stands
        for seed in seeds:
            best = _better(best, build(c, seed.routes, seed.breaks, seed.label, starts_within=seed.narrow))
            if best is not None:
                break
    done = f"improved by {len(futures)} worker(s)" if polishing else "restored"
    labels.append(f"{done} by {time.monotonic() - began:.2f} s")
    return best


def _rescue(c: Compiled, params: SolveParams, finish: float, labels: list[str]) -> Found | None:
    """No seed could be restored: OR-Tools searches alone, and stops at its first plan
    that serves something if the time is up (late beats none)."""
    rescue = SearchJob("LOCAL_CHEAPEST_INSERTION", params.metaheuristic, params.guided_local_search_lambda)
    labels.append(f"{rescue.label} (rescue)")
    deadline = max(finish, time.monotonic() + 1.0)
    found = run_search(c, rescue, deadline, params.solution_limit)
    if found is None or found.served == 0:
        late = max(finish + params.first_plan_grace_s, time.monotonic() + 1.0)
        found = _better(found, run_search(c, rescue, late, params.solution_limit, first_plan_only=True))
    return found


def _better(a: Found | None, b: Found | None) -> Found | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.objective < a.objective else a


class _InProcess(Executor):
    """Runs each job at once, in this process: the portfolio of one worker."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def _worker_context() -> multiprocessing.context.BaseContext:
    """fork: workers start in milliseconds and the caller needs no ``__main__``
    guard, which spawn and forkserver would demand of every script. Forking a
    process that runs other threads can copy a held lock into the child; the
    workers only search and return a pickled result, and dispatch solves in a
    single-threaded child process under a hard timeout, so a stuck worker
    cannot hang a re-plan."""
    return multiprocessing.get_context("fork")


# --------------------------------------------------------------------- step 4: read back


def _to_routes(problem: Problem, c: Compiled, found: Found) -> tuple[Route, ...]:
    routes = []
    for vehicle, stops in enumerate(found.routes):
        if not stops:
            continue
        starts = [(problem.visits[c.visit_of_node[node]].id, start) for node, start in stops]
        routes.append(
            timed_route(
                problem,
                problem.shifts[vehicle].medic_id,
                found.departures[vehicle],
                starts,
                found.breaks[vehicle],
                found.returns[vehicle],
            )
        )
    return tuple(routes)
