"""Addresses to coordinates, with geopy (Nominatim or Photon) and a cache in the database.

An address is protected health information: it never goes into a log line, an
exception message, or the cache table (whose key is a sha256). Log lines carry
place ids and outcome codes only.

Outcomes of :func:`geocode_place` (the place is kept in every case, never deleted):

* coordinates already on the place: ``GIVEN`` (if it was pending), no request;
* an answer inside the service area: ``OK``, lat/lon set;
* no answer: ``FAILED`` / ``not_found`` (cached);
* an answer outside the service area: ``FAILED`` / ``outside_area`` (cached), lat/lon
  left None: a visit is never planned at a guessed place;
* a timeout, or the service unreachable or failing: ``FAILED`` / ``timeout`` or
  ``unavailable``, not cached, so that a later retry can succeed.

A ``FAILED`` place is flagged for the dispatcher, who supplies a location.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any, Protocol

from geopy.adapters import AdapterHTTPError, URLLibAdapter
from geopy.exc import GeocoderTimedOut, GeopyError
from geopy.geocoders import Nominatim, Photon
from sqlmodel import Session

from dispatch.store.config import GeocoderSettings
from dispatch.store.tables import GeocodeCache, GeocodeStatus, Place

logger = logging.getLogger(__name__)

# geopy logs each request URL, which holds the address, at DEBUG, and an error response's body
# at INFO: keep its loggers at WARNING.
logging.getLogger("geopy").setLevel(logging.WARNING)

TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"
NOT_FOUND = "not_found"
OUTSIDE_AREA = "outside_area"

#: failures worth remembering: asking again gives the same answer
CACHED_PROBLEMS = frozenset({NOT_FOUND, OUTSIDE_AREA})


class Geocoder(Protocol):
    """What :func:`geocode_place` needs: a provider name (part of the cache key), the
    service area, and a lookup that returns (lat, lon) or None for no result, and raises
    on a timeout or a service failure."""

    @property
    def provider(self) -> str: ...

    @property
    def bbox(self) -> tuple[float, float, float, float]: ...

    def lookup(self, query: str) -> tuple[float, float] | None: ...


class GeopyGeocoder:
    """A geopy geocoder built from :class:`GeocoderSettings`.

    A ``url`` such as ``http://127.0.0.1:8080`` becomes geopy's ``domain="127.0.0.1:8080"``
    and ``scheme="http"`` (a self-hosted service, or a test server on loopback). Requests go
    through the standard library (``URLLibAdapter``), which logs no URLs.
    """

    def __init__(self, settings: GeocoderSettings) -> None:
        self.settings = settings
        options: dict[str, Any] = {
            "user_agent": settings.user_agent,
            "timeout": settings.timeout_s,
            "adapter_factory": URLLibAdapter,
        }
        if settings.url is not None:
            options["domain"] = settings.domain
            options["scheme"] = settings.scheme
        if settings.provider == "nominatim":
            self._client: Nominatim | Photon = Nominatim(**options)
        else:
            self._client = Photon(**options)

    @property
    def provider(self) -> str:
        return self.settings.provider

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return self.settings.bbox

    def lookup(self, query: str) -> tuple[float, float] | None:
        south, west, north, east = self.settings.bbox
        timeout = self.settings.timeout_s
        if isinstance(self._client, Nominatim):
            codes = [code.strip() for code in self.settings.country_codes.split(",") if code.strip()]
            # viewbox biases the search towards the area without hiding answers outside it
            location = self._client.geocode(
                query,
                exactly_one=True,
                timeout=timeout,
                viewbox=[(south, west), (north, east)],
                country_codes=codes or None,
            )
        else:
            location = self._client.geocode(
                query, exactly_one=True, timeout=timeout, location_bias=((south + north) / 2, (west + east) / 2)
            )
        if location is None:
            return None
        return float(location.latitude), float(location.longitude)


def make_geocoder(settings: GeocoderSettings) -> GeopyGeocoder:
    """The geocoder ``settings`` describe."""
    return GeopyGeocoder(settings)


def normalise_query(address: str) -> str:
    """Case-folded, whitespace collapsed: spellings that differ only so share a cache entry."""
    return " ".join(address.casefold().split())


def cache_key(provider: str, address: str) -> str:
    """sha256 of the provider and the normalised address (the cache table holds no address)."""
    return hashlib.sha256(f"{provider}\n{normalise_query(address)}".encode()).hexdigest()


def inside(bbox: tuple[float, float, float, float], lat: float, lon: float) -> bool:
    south, west, north, east = bbox
    return math.isfinite(lat) and math.isfinite(lon) and south <= lat <= north and west <= lon <= east


def _classify(geocoder: Geocoder, point: tuple[float, float] | None) -> tuple[tuple[float, float] | None, str | None]:
    """(coordinates to use, problem code): exactly one of the two is None."""
    if point is None:
        return None, NOT_FOUND
    if not inside(geocoder.bbox, *point):
        return None, OUTSIDE_AREA
    return point, None


def geocode_place(session: Session, place: Place, geocoder: Geocoder) -> Place:
    """Give ``place`` coordinates, or flag it FAILED with a problem code; see the module doc.

    The place and any new cache entry are added to ``session``; the caller commits.
    """
    session.add(place)
    if place.lat is not None and place.lon is not None:
        if place.geocode_status == GeocodeStatus.PENDING:
            place.geocode_status = GeocodeStatus.GIVEN
            place.geocode_problem = None
        logger.debug("place %s: coordinates given, no lookup", place.id)
        return place

    query = normalise_query(place.address)
    if not query:
        return _flag(place, NOT_FOUND, source="empty address")

    key = cache_key(geocoder.provider, query)
    cached = session.get(GeocodeCache, key)
    if cached is not None:
        # a cached point is checked against today's service area, so a wider area needs no cache flush
        point = (cached.lat, cached.lon) if cached.lat is not None and cached.lon is not None else None
        found, problem = _classify(geocoder, point)
        return _settle(place, found, problem, source="cache")

    try:
        point = geocoder.lookup(query)
    except (GeopyError, OSError, ValueError, LookupError, TypeError) as error:
        # a timeout, a service error, a refused connection, or an answer that does not parse
        return _flag(place, _transient_problem(error), source=type(error).__name__)

    found, problem = _classify(geocoder, point)
    session.merge(
        GeocodeCache(
            key=key,
            provider=geocoder.provider,
            lat=point[0] if point is not None else None,
            lon=point[1] if point is not None else None,
            problem=problem,
        )
    )
    return _settle(place, found, problem, source="geocoder")


def _transient_problem(error: Exception) -> str:
    """``timeout`` or ``unavailable``. geopy reports an HTTP 503 as GeocoderTimedOut: that one is
    ``unavailable`` (the service said so), while 408 and 504 stay ``timeout``."""
    cause = error.__cause__
    if isinstance(cause, AdapterHTTPError):
        return TIMEOUT if cause.status_code in {408, 504} else UNAVAILABLE
    return TIMEOUT if isinstance(error, GeocoderTimedOut | TimeoutError) else UNAVAILABLE


def _settle(place: Place, found: tuple[float, float] | None, problem: str | None, source: str) -> Place:
    if found is None:
        return _flag(place, problem or NOT_FOUND, source=source)
    place.lat, place.lon = found
    place.geocode_status = GeocodeStatus.OK
    place.geocode_problem = None
    logger.info("place %s: geocoded (%s)", place.id, source)
    return place


def _flag(place: Place, problem: str, source: str) -> Place:
    """FAILED with a code; lat/lon stay None, so the place is never planned until a dispatcher fixes it."""
    place.lat = None
    place.lon = None
    place.geocode_status = GeocodeStatus.FAILED
    place.geocode_problem = problem
    logger.warning("place %s: geocode failed: %s (%s)", place.id, problem, source)
    return place
