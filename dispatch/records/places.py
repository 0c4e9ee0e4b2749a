"""Places: where a visit happens, or where a medic lives.

Coordinates given with a place must lie in the service area and make it ``GIVEN``. Without them
the address is geocoded when a geocoder is at hand: an answer inside the area makes it ``OK``;
a timeout, no answer or an answer far away leaves it ``FAILED`` with a problem code, flagged
for the dispatcher, who supplies a location (a PATCH with lat and lon). The place is kept in
every case, and the planner holds its bookings as ``needs_location`` until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from dispatch.planning.sheets import refresh_sheets
from dispatch.records.geocode import geocode_place
from dispatch.records.validation import Loc, NotFound, Policy, Problems, check_point
from dispatch.store.tables import GeocodeStatus, Place, PlaceKind

PLACE_FIELDS = frozenset({"address", "kind", "lat", "lon", "access_notes"})


@dataclass(frozen=True)
class PlaceInput:
    address: str
    kind: PlaceKind = PlaceKind.HOME
    lat: float | None = None
    lon: float | None = None
    access_notes: str = ""


def check_place(problems: Problems, loc: Loc, data: PlaceInput, policy: Policy) -> None:
    check_point(problems, loc, data.lat, data.lon, policy)


def locate(session: Session, place: Place, policy: Policy) -> Place:
    """``GIVEN`` with coordinates; else geocoded (``OK`` or flagged ``FAILED``), or ``PENDING`` without a geocoder.

    The lookup runs before the place is written: a slow geocoder holds no database lock.
    """
    session.add(place)
    if place.lat is not None and place.lon is not None:
        place.geocode_status, place.geocode_problem = GeocodeStatus.GIVEN, None
    elif policy.geocoder is None:
        place.geocode_status, place.geocode_problem = GeocodeStatus.PENDING, None
    else:
        with session.no_autoflush:
            geocode_place(session, place, policy.geocoder)
    return place


def new_place(session: Session, *, data: PlaceInput, policy: Policy) -> Place:
    """A place from checked input (see :func:`check_place`), located and flushed."""
    place = Place(address=data.address, kind=data.kind, lat=data.lat, lon=data.lon, access_notes=data.access_notes)
    locate(session, place, policy)
    session.flush()
    return place


def create_place(session: Session, *, data: PlaceInput, policy: Policy) -> Place:
    problems = Problems()
    check_place(problems, (), data, policy)
    problems.raise_any()
    return new_place(session, data=data, policy=policy)


def get_place(session: Session, *, place_id: int) -> Place:
    place = session.get(Place, place_id)
    if place is None:
        raise NotFound("place")
    return place


def change_place(session: Session, place: Place, *, changes: Mapping[str, Any], policy: Policy, loc: Loc = ()) -> Place:
    """Apply ``changes``: new coordinates make the place ``GIVEN``; a new address alone is geocoded again."""
    unknown = set(changes) - PLACE_FIELDS
    if unknown:
        raise ValueError(f"not place fields: {sorted(unknown)}")
    moved = "lat" in changes or "lon" in changes
    readdressed = "address" in changes and changes["address"] != place.address
    lat = changes.get("lat", place.lat if not readdressed or moved else None)
    lon = changes.get("lon", place.lon if not readdressed or moved else None)
    problems = Problems()
    check_point(problems, loc, lat, lon, policy)
    problems.raise_any()
    for name in ("address", "kind", "access_notes"):
        if name in changes:
            setattr(place, name, changes[name])
    if moved or readdressed:
        place.lat, place.lon = lat, lon
        locate(session, place, policy)
    session.add(place)
    session.flush()
    if place.id is not None:
        refresh_sheets(session, place_ids=[place.id])  # new access notes show on the published sheets at once
    return place


def update_place(session: Session, *, place_id: int, changes: Mapping[str, Any], policy: Policy) -> Place:
    return change_place(session, get_place(session, place_id=place_id), changes=changes, policy=policy)
