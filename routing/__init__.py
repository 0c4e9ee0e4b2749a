"""Dripline's planning engine: build a :class:`Problem`, :func:`solve` it, get a
:class:`Result`, and :func:`check` it independently.

This package is pure: it imports no database, web framework or scheduler.
"""

from routing.explain import explain
from routing.model import Break, Problem, Shift, TimeWindow, UnservableVisitWarning, Visit
from routing.params import SolveParams
from routing.result import Kpis, PlacedBreak, Reason, Result, Route, Stop, Unassigned
from routing.search import solve
from routing.travel import (
    CachedTravel,
    HaversineTravel,
    Location,
    OsrmHttpTravel,
    OsrmLocalTravel,
    RoadTravelError,
    TravelMatrix,
    TravelMatrixProvider,
)

__all__ = [
    "Break",
    "CachedTravel",
    "HaversineTravel",
    "Kpis",
    "Location",
    "OsrmHttpTravel",
    "OsrmLocalTravel",
    "PlacedBreak",
    "Problem",
    "Reason",
    "Result",
    "RoadTravelError",
    "Route",
    "Shift",
    "SolveParams",
    "Stop",
    "TimeWindow",
    "TravelMatrix",
    "TravelMatrixProvider",
    "Unassigned",
    "UnservableVisitWarning",
    "Visit",
    "explain",
    "solve",
]
