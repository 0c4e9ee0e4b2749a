"""What both OSRM providers share: the error they raise, and turning OSRM's tables into a
:class:`~routing.travel.matrix.TravelMatrix` (whole seconds and metres rounded up; a pair with no road priced by the
haversine estimate times ``unreachable_factor``, counted and logged).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from routing.travel.matrix import Location, TravelMatrix, haversine_metres

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float64]


#: OSRM keeps coordinates as fixed-point millionths of a degree (about 0.1 m); more digits only lengthen the URL.
COORDINATE_DIGITS = 6
ALGORITHMS = frozenset({"CH", "MLD"})


class RoadTravelError(ValueError):
    """Road travel could not be priced. The message is one sentence naming the server or graph, never a location.

    A ValueError, so that the command line reports it on one line like any other bad setting or input.
    """


class TooBig(Exception):
    """The server answered ``TooBig``: the block exceeds its ``--max-table-size``."""


# --------------------------------------------------------------------------- shared: fallback and rounding


def check_fallback(owner: str, unreachable_factor: float, speed_kmh: float, circuity: float) -> None:
    for name, value, low, strict in (
        ("unreachable_factor", unreachable_factor, 1.0, False),
        ("speed_kmh", speed_kmh, 0.0, True),
        ("circuity", circuity, 1.0, False),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{owner} {name} must be a number, got {value!r}.")
        if (value <= low) if strict else (value < low):
            bound = "positive" if strict else f"at least {low:g}"
            raise ValueError(f"{owner} {name} must be {bound}, got {value}.")


def coordinates(locations: Sequence[Location]) -> tuple[FloatMatrix, FloatMatrix]:
    count = len(locations)
    lat = np.fromiter((loc.lat for loc in locations), dtype=np.float64, count=count)
    lon = np.fromiter((loc.lon for loc in locations), dtype=np.float64, count=count)
    return lat, lon


def empty_matrix() -> TravelMatrix:
    empty = np.zeros((0, 0), dtype=np.int64)
    return TravelMatrix(empty, empty)


def single_matrix() -> TravelMatrix:
    zero = np.zeros((1, 1), dtype=np.int64)
    return TravelMatrix(zero, zero)


def assemble_matrix(
    durations: FloatMatrix,
    distances: FloatMatrix,
    locations: Sequence[Location],
    *,
    unreachable_factor: float,
    speed_kmh: float,
    circuity: float,
    source: str,
) -> TravelMatrix:
    """OSRM's float seconds and metres (NaN where it found no road) as a :class:`TravelMatrix`.

    A NaN off the diagonal is priced like :class:`routing.HaversineTravel` (great circle times ``circuity`` at
    ``speed_kmh``) times ``unreachable_factor``: dearer than any plausible road, so the solver avoids such a leg
    when it can, yet finite, so one stray location does not fail the whole day. Everything is then rounded up.
    """
    missing = np.isnan(durations) | np.isnan(distances)
    np.fill_diagonal(missing, False)
    # A location to itself is no travel, whatever OSRM snapped it to.
    np.fill_diagonal(durations, 0.0)
    np.fill_diagonal(distances, 0.0)
    count = int(missing.sum())
    if count:
        lat, lon = coordinates(locations)
        metres = haversine_metres(lat, lon) * (circuity * unreachable_factor)
        distances[missing] = metres[missing]
        durations[missing] = (metres / (speed_kmh / 3.6))[missing]
        pairs = len(locations) * (len(locations) - 1)
        log.warning(
            "%s found no road for %d of %d location pairs; priced them at %g x the straight-line estimate",
            source,
            count,
            pairs,
            unreachable_factor,
        )
    for name, values in (("durations", durations), ("distances", distances)):
        # Two places a few centimetres apart on one street can come back as -0.1: OSRM subtracts the two points'
        # offsets along the segment, each rounded to a tenth. That is no travel; anything more negative is wrong.
        values[(values < 0) & (values > -1.0)] = 0.0
        if not np.isfinite(values).all() or (values < 0).any():
            raise RoadTravelError(f"{source} returned {name} that are negative or not finite.")
    return TravelMatrix(
        durations=np.ceil(durations).astype(np.int64),
        distances=np.ceil(distances).astype(np.int64),
        unreachable=count,
    )


def table_blocks(count: int, size: int) -> list[list[int]]:
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def shortened(text: object) -> str:
    """A server-supplied code, only if it looks like one (letters), so no echoed URL reaches a message."""
    return text if isinstance(text, str) and text.isalpha() and len(text) <= 40 else "?"
