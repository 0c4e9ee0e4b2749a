"""Why a booking is not on a route, in the words a dispatcher reads: one sentence per reason code.

The codes are the solver's (:class:`routing.Reason`) and dispatch's own, for bookings held back before
the solve (:mod:`dispatch.planning.translate`). Each booking's own detail says more (which medic, which
credential); these say what kind of problem it is.
"""

from __future__ import annotations

REASON_WORDS = {
    "no_skill": "No medic on shift has the skills it needs",
    "no_eligible_medic": "No medic on shift may give these services",
    "not_enough_stock": "No medic who may serve it carries enough supplies",
    "outside_shifts": "Its window falls outside every shift",
    "unreachable": "No medic can reach it in its window",
    "no_room": "No medic's day has room for it",
    "crowded_out": "Crowded out by higher-priority bookings",
    "search_time": "The planner ran out of time before placing it",
    "awaiting_clearance": "Waits for the medical director's clearance",
    "needs_location": "The address has no verified location",
    "no_patients": "The booking lists no patient",
}


def in_words(reason: str) -> str:
    """The reason in plain words; an unknown code is shown as it is, never hidden."""
    return REASON_WORDS.get(reason, reason.replace("_", " ").capitalize())
