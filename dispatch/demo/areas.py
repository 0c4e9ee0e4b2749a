"""The service area of the generated days: Denver metro, Boulder and the I-70 mountain towns."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from routing import Location

DENVER = ZoneInfo("America/Denver")


@dataclass(frozen=True)
class Area:
    """A disc of ``radius_km`` around a centre; ``weight`` is its share of an ordinary day's bookings."""

    name: str
    lat: float
    lon: float
    radius_km: float
    weight: float
    mountain: bool = False


AREAS = (
    Area("Denver core", 39.7392, -104.9903, 6.0, 0.45),
    Area("Denver south", 39.6133, -104.9873, 7.0, 0.15),
    Area("Aurora", 39.7294, -104.8319, 6.0, 0.10),
    Area("Lakewood", 39.7047, -105.0814, 5.0, 0.10),
    Area("Boulder", 40.0150, -105.2705, 4.0, 0.12),
    Area("Vail", 39.6403, -106.3742, 2.0, 0.03, mountain=True),
    Area("Breckenridge", 39.4817, -106.0384, 2.0, 0.03, mountain=True),
    Area("Keystone", 39.6084, -105.9437, 2.0, 0.02, mountain=True),
)
METRO = tuple(area for area in AREAS if not area.mountain)
MOUNTAINS = tuple(area for area in AREAS if area.mountain)


def point_in(rng: random.Random, area: Area) -> Location:
    """A point drawn uniformly from the area's disc (1 degree of latitude is about 111 km)."""
    r_km = area.radius_km * rng.random() ** 0.5  # uniform in a disc: radius ~ sqrt(u)
    angle = rng.uniform(0.0, 2 * math.pi)
    dlat = r_km / 111.0 * math.sin(angle)
    dlon = r_km / (111.0 * math.cos(math.radians(area.lat))) * math.cos(angle)
    return Location(round(area.lat + dlat, 6), round(area.lon + dlon, 6))
