"""Solver parameters: a frozen dataclass with defaults, loadable from TOML.

The ``[solver]`` table of config.toml maps one to one onto :class:`SolveParams`;
an empty table gives the defaults, and an unknown key is an error rather than
a silently ignored typo.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

FIRST_SOLUTION_STRATEGIES = frozenset(
    {
        "AUTOMATIC",
        "PATH_CHEAPEST_ARC",
        "PATH_MOST_CONSTRAINED_ARC",
        "SAVINGS",
        "PARALLEL_SAVINGS",
        "SWEEP",
        "CHRISTOFIDES",
        "BEST_INSERTION",
        "PARALLEL_CHEAPEST_INSERTION",
        "SEQUENTIAL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_COST_INSERTION",
        "GLOBAL_CHEAPEST_ARC",
        "LOCAL_CHEAPEST_ARC",
        "FIRST_UNBOUND_MIN_VALUE",
    }
)
SEEDERS = frozenset({"vroom", "pyvrp"})
METAHEURISTICS = frozenset(
    {"AUTOMATIC", "GREEDY_DESCENT", "GUIDED_LOCAL_SEARCH", "SIMULATED_ANNEALING", "TABU_SEARCH", "GENERIC_TABU_SEARCH"}
)


@dataclass(frozen=True)
class SolveParams:
    """How hard and how to search, and what the objective weighs.

    Costs are in seconds of driving: an arc costs its driving time, and every
    other weight says how many seconds of driving it is worth. The defaults
    make the objective lexicographic in practice: a served visit is worth more
    than any day's driving, and driving more than balance and preferences.
    """

    time_limit_s: float = 10.0
    #: while no plan at all has been found, the search may run this much past
    #: time_limit_s, and stops at its first plan: the first-solution heuristic
    #: alone can take longer than the limit on a large day (200 medics with
    #: three breaks each: 20 to 30 s here), and a plan a little late beats none
    first_plan_grace_s: float = 60.0
    #: a work limit (solutions found per search); with it, runs are repeatable
    solution_limit: int | None = None
    #: parallel searches; 0 means one per CPU core
    workers: int = 0
    #: the searches that seed OR-Tools, one per worker (workers beyond them run
    #: OR-Tools' own first-solution searches): "vroom" on the problem as it
    #: stands, "pyvrp" on a break-free relaxation (bench/day_vs_peers.py)
    seeders: tuple[str, ...] = ("vroom", "pyvrp")
    #: share of the time the seeds get; OR-Tools restores and polishes in the rest
    seed_share: float = 0.6
    #: VROOM's exploration level (1 to 5)
    vroom_exploration: int = 5
    #: PyVRP's relaxation moves each shift's ends earlier by this share of its breaks
    pyvrp_break_share: float = 1.0
    #: PyVRP's work limit (iterations) when solution_limit makes runs repeatable
    pyvrp_iterations: int = 2000
    #: share of the time after the seeds given to ruin and recreate (routing/lns.py);
    #: OR-Tools' guided local search polishes in the rest
    lns_share: float = 0.6
    #: ruin-and-recreate moves per worker when solution_limit makes runs repeatable
    lns_moves: int = 200
    #: the first-solution strategy of each OR-Tools search, in turn
    first_solution_strategies: tuple[str, ...] = (
        "PARALLEL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_INSERTION",
        "SAVINGS",
        "PATH_CHEAPEST_ARC",
    )
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    #: 0.3 beat OR-Tools' default 0.1 on the hardest Solomon instances (bench/solomon.py)
    guided_local_search_lambda: float = 0.3
    #: seeds the order of the portfolio and the generators; the OR-Tools
    #: search itself is deterministic under a solution limit
    seed: int = 0
    #: cost of leaving out a mandatory visit, times its priority and its patients
    unassigned_penalty: int = 10_000_000
    #: cost of leaving out an optional visit, times its priority and its patients
    optional_penalty: int = 100_000
    #: cost when a visit with preferred medics gets another one
    preference_cost: int = 600
    #: cost per visit of the gap between the busiest and the idlest medic
    balance_cost: int = 60
    log_search: bool = False

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError(f"SolveParams time_limit_s must be positive, got {self.time_limit_s}.")
        if not self.first_plan_grace_s >= 0:
            raise ValueError(f"SolveParams first_plan_grace_s must not be negative, got {self.first_plan_grace_s}.")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError(f"SolveParams solution_limit must be at least 1, got {self.solution_limit}.")
        if self.workers < 0:
            raise ValueError(f"SolveParams workers must be 0 (one per core) or more, got {self.workers}.")
        strategies = tuple(self.first_solution_strategies)
        if not strategies:
            raise ValueError("SolveParams first_solution_strategies must name at least one strategy.")
        for name in strategies:
            if name not in FIRST_SOLUTION_STRATEGIES:
                raise ValueError(
                    f"SolveParams first_solution_strategies holds unknown strategy {name!r}; "
                    f"choose from {sorted(FIRST_SOLUTION_STRATEGIES)}."
                )
        object.__setattr__(self, "first_solution_strategies", strategies)
        if self.metaheuristic not in METAHEURISTICS:
            raise ValueError(
                f"SolveParams metaheuristic {self.metaheuristic!r} is unknown; choose from {sorted(METAHEURISTICS)}."
            )
        seeders = tuple(self.seeders)
        for name in seeders:
            if name not in SEEDERS:
                raise ValueError(f"SolveParams seeders holds unknown seeder {name!r}; choose from {sorted(SEEDERS)}.")
        object.__setattr__(self, "seeders", seeders)
        if not 0.0 < self.seed_share < 1.0:
            raise ValueError(f"SolveParams seed_share must lie strictly between 0 and 1, got {self.seed_share}.")
        if not 1 <= self.vroom_exploration <= 5:
            raise ValueError(f"SolveParams vroom_exploration must be 1 to 5, got {self.vroom_exploration}.")
        if not 0.0 <= self.pyvrp_break_share <= 1.0:
            raise ValueError(f"SolveParams pyvrp_break_share must lie in [0, 1], got {self.pyvrp_break_share}.")
        if not 0.0 <= self.lns_share < 1.0:
            raise ValueError(f"SolveParams lns_share must lie in [0, 1), got {self.lns_share}.")
        if self.lns_moves < 0:
            raise ValueError(f"SolveParams lns_moves must not be negative, got {self.lns_moves}.")
        if self.pyvrp_iterations < 1:
            raise ValueError(f"SolveParams pyvrp_iterations must be at least 1, got {self.pyvrp_iterations}.")
        for name in ("unassigned_penalty", "optional_penalty", "preference_cost", "balance_cost"):
            if getattr(self, name) < 0:
                raise ValueError(f"SolveParams {name} must not be negative, got {getattr(self, name)}.")
        if self.guided_local_search_lambda <= 0:
            raise ValueError(
                f"SolveParams guided_local_search_lambda must be positive, got {self.guided_local_search_lambda}."
            )

    @property
    def longest_s(self) -> float:
        """The longest a solve can take: the time limit and the first-plan grace."""
        return self.time_limit_s + self.first_plan_grace_s

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> SolveParams:
        """Build from a ``[solver]`` table; unknown keys are an error."""
        defaults = cls()
        reject_unknown_keys("solver", table, [f.name for f in fields(cls)])
        values = dict(table)
        for key, value in values.items():
            _require_type(key, value, getattr(defaults, key))
        for key in ("first_solution_strategies", "seeders"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path) -> SolveParams:
        """Read the ``[solver]`` table of a TOML file (missing table: defaults)."""
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
        return cls.from_mapping(document.get("solver", {}))


def _require_type(key: str, value: Any, default: Any) -> None:
    """TOML values must have the type of the default: a quoted number is a typo."""
    if key == "solution_limit":
        ok = isinstance(value, int) and not isinstance(value, bool)
        wanted = "a whole number"
    elif isinstance(default, bool):
        ok, wanted = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, wanted = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok, wanted = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, wanted = isinstance(value, str), "a string"
    else:
        ok = isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
        wanted = "a list of strings"
    if not ok:
        raise ValueError(f"[solver] {key} must be {wanted}, got {value!r}.")


def reject_unknown_keys(table_name: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
    """A typo in config.toml is an error, never silently ignored: name the unknown keys and the known ones."""
    if not isinstance(table, Mapping):
        raise ValueError(f"[{table_name}] must be a table.")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"[{table_name}] has unknown key(s) {unknown}; known keys are {sorted(known)}.")
