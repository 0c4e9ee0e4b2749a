"""One router per resource."""

from api.routes import (
    auth,
    bookings,
    health,
    me,
    medics,
    patients,
    places,
    plans,
    route_sheets,
    services,
    shifts,
    users,
)

__all__ = [
    "auth",
    "bookings",
    "health",
    "me",
    "medics",
    "patients",
    "places",
    "plans",
    "route_sheets",
    "services",
    "shifts",
    "users",
]
