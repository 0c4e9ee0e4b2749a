"""The demo and the generated days it, the benchmarks and the tests plan.

Lives here: the service area, the day generator (:mod:`dispatch.demo.day`) and a day's
problem built in a throwaway database. May import the rest of ``dispatch`` and ``routing``.
"""

from dispatch.demo.day import DEMO, KINDS, LARGE, SKI_SATURDAY, WEEKDAY, DayKind, GeneratedDay, seed_day, seed_demo_day
from dispatch.demo.problems import day_input

__all__ = [
    "DEMO",
    "KINDS",
    "LARGE",
    "SKI_SATURDAY",
    "WEEKDAY",
    "DayKind",
    "GeneratedDay",
    "day_input",
    "seed_day",
    "seed_demo_day",
]
