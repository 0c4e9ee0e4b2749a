"""routing.travel.matrix: the haversine travel estimate and the TravelMatrix container.

geopy's geodesic distance (on the WGS 84 ellipsoid) is the exact reference; it is used only here, to check
that the spherical estimate with circuity 1 is within 0.5 % for Denver-area trips.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from geopy.distance import geodesic

from routing.model import Location
from routing.travel.matrix import EARTH_RADIUS_M, HaversineTravel, TravelMatrix, TravelMatrixProvider, haversine_metres

DENVER = Location(39.7392, -104.9903)
BOULDER = Location(40.0150, -105.2705)
AURORA = Location(39.7294, -104.8319)
GOLDEN = Location(39.7555, -105.2211)
LITTLETON = Location(39.6133, -105.0166)
VAIL = Location(39.6403, -106.3742)
POINTS = [DENVER, BOULDER, AURORA, GOLDEN, LITTLETON, VAIL]


def reference_haversine_m(a: Location, b: Location) -> float:
    """Great-circle metres from the textbook haversine formula, written out with math."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlam = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


# --- HaversineTravel ------------------------------------------------------------------------------------------------


def test_zero_haversine_matrix_diagonal() -> None:
    """Travel from a location to itself takes 0 s and 0 m."""
    matrix = HaversineTravel().matrix(POINTS)
    assert np.all(np.diag(matrix.durations) == 0)
    assert np.all(np.diag(matrix.distances) == 0)


def test_mirror_haversine_matrix_symmetric() -> None:
    """Durations and distances from i to j equal those from j to i."""
    matrix = HaversineTravel().matrix(POINTS)
    assert np.array_equal(matrix.durations, matrix.durations.T)
    assert np.array_equal(matrix.distances, matrix.distances.T)


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(range(len(POINTS)), 2)))
def test_match_haversine_distance_geodesic_within_half_percent(a: int, b: int) -> None:
    """With circuity 1, each Denver-area distance (Denver-Vail included) is within 0.5 % of geopy's geodesic."""
    matrix = HaversineTravel(circuity=1.0).matrix(POINTS)
    exact_m = geodesic((POINTS[a].lat, POINTS[a].lon), (POINTS[b].lat, POINTS[b].lon)).meters
    assert matrix.distances[a, b] == pytest.approx(exact_m, rel=0.005)


def test_measure_haversine_denver_vail_straight_line() -> None:
    """Denver-Vail is about 119 km in a straight line (the ~160 km figure is the drive on I-70)."""
    matrix = HaversineTravel(circuity=1.0).matrix([DENVER, VAIL])
    assert 115_000 < matrix.distances[0, 1] < 125_000


def test_compute_haversine_pair_by_hand_at_10_m_per_s() -> None:
    """0.01 deg of latitude is R * pi / 18000 = 1111.95 m; at 36 km/h (10 m/s), circuity 1: 1112 m and 112 s."""
    south, north = Location(39.70, -105.0), Location(39.71, -105.0)
    road_m = reference_haversine_m(south, north)
    assert road_m == pytest.approx(EARTH_RADIUS_M * math.pi / 18_000, rel=1e-9)
    assert (math.ceil(road_m), math.ceil(road_m / (36 / 3.6))) == (1112, 112)
    matrix = HaversineTravel(speed_kmh=36.0, circuity=1.0).matrix([south, north])
    assert matrix.distances[0, 1] == 1112
    assert matrix.durations[0, 1] == 112


def test_compute_haversine_pair_by_hand_with_defaults() -> None:
    """0.01 deg of latitude at circuity 1.3 is 1445.54 m; at 40 km/h that is 130.1 s, so 1446 m and 131 s."""
    south, north = Location(39.70, -105.0), Location(39.71, -105.0)
    road_m = reference_haversine_m(south, north) * 1.3
    expected_s = math.ceil(road_m / (40 / 3.6))
    assert (math.ceil(road_m), expected_s) == (1446, 131)
    matrix = HaversineTravel().matrix([south, north])
    assert matrix.distances[0, 1] == 1446
    assert matrix.durations[0, 1] == expected_s


def test_round_haversine_values_up_as_int64() -> None:
    """Durations and distances are int64 and are the float values rounded up: never below, less than 1 above."""
    travel = HaversineTravel(speed_kmh=37.0, circuity=1.27)
    matrix = travel.matrix(POINTS)
    lat = np.array([p.lat for p in POINTS])
    lon = np.array([p.lon for p in POINTS])
    road_m = haversine_metres(lat, lon) * travel.circuity
    seconds = road_m / (travel.speed_kmh / 3.6)
    assert matrix.durations.dtype == np.int64
    assert matrix.distances.dtype == np.int64
    assert np.all(matrix.distances >= road_m)
    assert np.all(matrix.distances < road_m + 1)
    assert np.all(matrix.durations >= seconds)
    assert np.all(matrix.durations < seconds + 1)


def test_agree_haversine_metres_with_reference_formula() -> None:
    """The vectorised haversine equals the textbook formula to a millimetre for every pair."""
    lat = np.array([p.lat for p in POINTS])
    lon = np.array([p.lon for p in POINTS])
    metres = haversine_metres(lat, lon)
    for i, j in itertools.product(range(len(POINTS)), repeat=2):
        assert metres[i, j] == pytest.approx(reference_haversine_m(POINTS[i], POINTS[j]), abs=1e-3)


@pytest.mark.parametrize("speed", [0.0, -40.0, math.nan])
def test_reject_haversine_bad_speed(speed: float) -> None:
    """A speed that is not positive raises ValueError naming HaversineTravel and speed_kmh."""
    with pytest.raises(ValueError, match=r"HaversineTravel speed_kmh must be positive"):
        HaversineTravel(speed_kmh=speed)


@pytest.mark.parametrize("circuity", [0.99, 0.0, -1.3, math.nan])
def test_reject_haversine_bad_circuity(circuity: float) -> None:
    """A circuity below 1 raises ValueError naming HaversineTravel and circuity."""
    with pytest.raises(ValueError, match=r"HaversineTravel circuity must be at least 1"):
        HaversineTravel(circuity=circuity)


def test_satisfy_provider_protocol_haversine() -> None:
    """HaversineTravel is a TravelMatrixProvider (runtime_checkable isinstance)."""
    assert isinstance(HaversineTravel(), TravelMatrixProvider)


def test_build_haversine_matrix_empty_locations() -> None:
    """No locations give a 0x0 matrix of size 0."""
    matrix = HaversineTravel().matrix([])
    assert matrix.durations.shape == (0, 0)
    assert matrix.distances.shape == (0, 0)
    assert matrix.size == 0


# --- TravelMatrix ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3), (3,), (1, 2, 2)])
def test_reject_travel_matrix_non_square(shape: tuple[int, ...]) -> None:
    """A durations array that is not a square 2-D matrix raises ValueError naming TravelMatrix and durations."""
    with pytest.raises(ValueError, match=r"TravelMatrix durations must be square"):
        TravelMatrix(np.zeros(shape, dtype=np.int64), np.zeros((2, 2), dtype=np.int64))


def test_reject_travel_matrix_non_square_distances() -> None:
    """A 2x3 distances array raises ValueError naming TravelMatrix and distances."""
    with pytest.raises(ValueError, match=r"TravelMatrix distances must be square"):
        TravelMatrix(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 3), dtype=np.int64))


@pytest.mark.parametrize("name", ["durations", "distances"])
def test_reject_travel_matrix_negative(name: str) -> None:
    """A single -1 entry raises ValueError naming TravelMatrix and the array."""
    arrays = {"durations": np.array([[0, 5], [5, 0]]), "distances": np.array([[0, 7], [7, 0]])}
    arrays[name] = np.array([[0, -1], [5, 0]])
    with pytest.raises(ValueError, match=rf"TravelMatrix {name} must not hold negative values"):
        TravelMatrix(**arrays)


def test_reject_travel_matrix_mismatched_shapes() -> None:
    """Square durations (2x2) and distances (3x3) of different sizes raise ValueError naming both."""
    with pytest.raises(ValueError, match=r"TravelMatrix durations \(2, 2\) and distances \(3, 3\) differ in shape"):
        TravelMatrix(np.zeros((2, 2), dtype=np.int64), np.zeros((3, 3), dtype=np.int64))


def test_store_travel_matrix_int64_read_only() -> None:
    """Lists of whole numbers are stored as read-only int64 arrays of the right size."""
    matrix = TravelMatrix([[0, 60], [60, 0]], [[0, 500], [500, 0]])  # type: ignore[arg-type]
    assert matrix.size == 2
    assert matrix.durations.dtype == np.int64
    assert matrix.distances.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        matrix.durations[0, 1] = 1
