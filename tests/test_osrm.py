"""Road travel from OSRM (routing/travel/), on the real engine: no mocks of OSRM.

* A synthetic town, written here as OSM XML and built with osrm-extract + osrm-contract (car profile, CH) once per
  session, checked against durations and distances worked out by hand.
* The Baltimore extract in tests/data (slow: about 15-25 s to build on 2 cores), checked for sanity.
* osrm-routed on a loopback port with a small --max-table-size, so that osrm-http must chunk, checked to agree
  exactly with osrm-local.
* HTTP failures (server down, timeout, garbage, error codes, wrong shape, null cells) against tiny loopback servers.
* The matrix cache, the [travel] settings and ``dripline roads build``.

The engine tests skip, with the reason, when osrm-bindings is not installed (pip install -e '.[osrm]').
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import random
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError

import numpy as np
import pytest

from api.cli import main
from dispatch.roads import build_graph, osrm_executable
from dispatch.store.config import Settings
from routing import Location, Problem, Shift, TravelMatrix, Visit
from routing.travel import CachedTravel, OsrmHttpTravel, OsrmLocalTravel, RoadTravelError, clear_matrix_cache
from routing.travel.matrix import HaversineTravel, haversine_metres
from tests.helpers import at, solve_checked, window

DATA = Path(__file__).parent / "data"
needs_osrm = pytest.mark.skipif(
    importlib.util.find_spec("osrm") is None,
    reason="osrm-bindings is not installed (pip install -e '.[osrm]'): the road-travel tests need the real engine",
)

# --------------------------------------------------------------------------- the synthetic town
#
# At the equator, so that a degree of latitude and of longitude are (almost) the same length. Streets every
# 0.002 degrees (about 222 m): eleven north-south columns at lon 0.000 ... 0.020, three east-west rows at lat 0.000,
# 0.002 and 0.004. The bottom row (lat 0) is a fast road, highway=primary with maxspeed=90; everything else is
# residential. Column lon 0.010 is one-way northbound, column 0.016 one-way southbound. A one-way dead end leaves the
# top right corner northwards (a trap: you can drive in, not out), and a short street at lat 0.010 touches nothing
# (an island).

STEP = 0.002
COLUMNS = [round(i * STEP, 3) for i in range(11)]
ROWS = [0.0, 0.002, 0.004]

# Named places, (lat, lon), all on a street, mid-block so that snapping is unambiguous.
X = Location(0.0, 0.001)  # on the primary, near its west end
Y = Location(0.0, 0.019)  # on the primary, near its east end
U = Location(0.004, 0.005)  # on the top (residential) row
V = Location(0.004, 0.013)  # on the top row, 0.008 degrees east of U
W1 = Location(0.001, 0.010)  # on the one-way column, between the primary and row 0.002
W2 = Location(0.003, 0.010)  # on the one-way column, between rows 0.002 and 0.004 (north of W1)
TRAP = Location(0.005, 0.020)  # on the one-way dead end
ISLAND = Location(0.010, 0.002)  # on the street that touches nothing

#: 25 places on the town's streets for the chunking tests (includes the trap and the island: some nulls).
TOWN_POINTS = [
    *(Location(lat, lon) for lat in ROWS for lon in (0.001, 0.005, 0.009, 0.013, 0.017, 0.019)),
    W1,
    W2,
    Location(0.001, 0.004),
    Location(0.003, 0.016),
    Location(0.001, 0.020),
    TRAP,
    ISLAND,
]

# What OSRM's car profile (osrm/share/profiles/car.lua) makes of the town, for the arithmetic below.
#: OSRM measures segments on the WGS 84 ellipsoid (its "cheap ruler"): at the equator 0.001 degree of longitude is
#: a/1000 * pi/180 with a = 6378137 m, and 0.001 degree of latitude is a(1-e^2)/1000 * pi/180, with a(1-e^2) the
#: meridian radius of curvature, 6335439 m. (routing.HaversineTravel uses a sphere of 6371 km: 111.195 m.)
M_LON = 111.3195
M_LAT = 110.5743
#: highway=primary with maxspeed=90: the profile drives maxspeed times speed_reduction 0.8, 72 km/h = 20 m/s.
PRIMARY = 90 * 0.8 / 3.6
#: highway=residential without maxspeed: the profile's table speed, 25 km/h.
RESIDENTIAL = 25 / 3.6
#: A 90 degree right turn at a junction of three or more roads: turn_penalty / (1 + exp(-(13 / turn_bias * 90/180 -
#: 6.5 * turn_bias))) with turn_penalty 7.5 and turn_bias 1.075 (right turns cross no oncoming traffic).
RIGHT_TURN = 7.5 / (1 + math.exp(-(13 / 1.075 * 0.5 - 6.5 * 1.075)))


def town_osm() -> str:
    """The town as OSM XML (what osrm-extract reads besides .pbf)."""
    nodes: dict[tuple[float, float], int] = {}

    def node(lat: float, lon: float) -> int:
        return nodes.setdefault((lat, lon), len(nodes) + 1)

    ways: list[tuple[list[int], dict[str, str]]] = []
    for lat in ROWS:
        tags = {"highway": "primary", "maxspeed": "90"} if lat == 0.0 else {"highway": "residential"}
        ways.append(([node(lat, lon) for lon in COLUMNS], tags))
    for lon in COLUMNS:
        refs = [node(lat, lon) for lat in ROWS]  # drawn south to north
        tags = {"highway": "residential"}
        if lon == 0.010:
            tags["oneway"] = "yes"  # northbound only
        if lon == 0.016:
            refs, tags["oneway"] = refs[::-1], "yes"  # drawn north to south: southbound only
        ways.append((refs, tags))
    ways.append(([node(0.004, 0.020), node(0.006, 0.020)], {"highway": "residential", "oneway": "yes"}))
    ways.append(([node(0.010, 0.0), node(0.010, 0.004)], {"highway": "residential"}))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="dripline tests">']
    lines += [f'  <node id="{nid}" version="1" lat="{lat:.6f}" lon="{lon:.6f}"/>' for (lat, lon), nid in nodes.items()]
    for wid, (refs, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines += [f'    <tag k="{key}" v="{value}"/>' for key, value in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def town_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The town built once per session: osrm-extract (car profile) + osrm-contract, through build_graph."""
    if importlib.util.find_spec("osrm") is None:
        pytest.skip("osrm-bindings is not installed (pip install -e '.[osrm]')")
    folder = tmp_path_factory.mktemp("town")
    source = folder / "town.osm"
    source.write_text(town_osm())
    return build_graph(source, folder / "graph", threads=1)


@pytest.fixture(scope="session")
def baltimore_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/data/baltimore.osm.pbf built once per session (about 15-25 s on 2 cores)."""
    if importlib.util.find_spec("osrm") is None:
        pytest.skip("osrm-bindings is not installed (pip install -e '.[osrm]')")
    return build_graph(DATA / "baltimore.osm.pbf", tmp_path_factory.mktemp("baltimore"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_matrix_cache()
    yield
    clear_matrix_cache()


def within(got: int, expected: float, tolerance: float) -> bool:
    """``got`` (rounded up by the provider) is ``expected`` give or take ``tolerance``."""
    return expected - tolerance <= got <= expected + tolerance + 1


# --------------------------------------------------------------------------- the town, by hand


@needs_osrm
def test_town_matches_hand_arithmetic(town_graph: Path) -> None:
    """Durations and distances on the town equal the hand arithmetic, within OSRM's rounding.

    Along the primary, X -> Y is 0.018 degree of longitude: 18 x 111.32 = 2003.8 m, at 20 m/s 100.2 s.
    Along the top residential row, U -> V is 0.008 degree: 8 x 111.32 = 890.6 m, at 25 km/h (6.94 m/s) 128.2 s
    (dropping to the primary would cost 2 x 64 s of side streets to save 84 s, so OSRM stays on the row).
    Up the one-way column, W1 -> W2 is 0.002 degree of latitude: 2 x 110.57 = 221.1 m, 31.8 s.
    W2 -> W1 cannot go south on that column: north to row 0.004 (110.6 m), right, east to column 0.012 (222.6 m),
    right, south to the primary (442.3 m), right, west to column 0.010 on the primary (222.6 m at 20 m/s), right,
    north to W1 (110.6 m): 1108.7 m, 663.4 / 6.94 + 222.6 / 6.94 + 222.6 / 20 = 138.7 s plus four right turns of
    2.1 s each (car.lua's turn sigmoid at 90 degrees) = 147.1 s.

    Tolerances: distances 0.5 % (OSRM sums segment lengths to a tenth of a metre); durations 1.5 s (OSRM stores
    each segment and turn in whole deciseconds, e.g. 9 primary segments of 11.13 s become 9 x 11.1 s = 99.9 s, and
    each straight crossing costs a sigmoid tail of 0.007 s). The provider rounds up, which adds less than 1.
    """
    places = [X, Y, U, V, W1, W2]
    matrix = OsrmLocalTravel(str(town_graph)).matrix(places)
    d, s = matrix.durations, matrix.distances
    x, y, u, v, w1, w2 = range(6)
    cases = [
        ("X->Y on the primary", x, y, 18 * M_LON, 18 * M_LON / PRIMARY),
        ("U->V on a residential row", u, v, 8 * M_LON, 8 * M_LON / RESIDENTIAL),
        ("W1->W2 up the one-way", w1, w2, 2 * M_LAT, 2 * M_LAT / RESIDENTIAL),
        (
            "W2->W1 round the block via the primary",
            w2,
            w1,
            6 * M_LAT + 4 * M_LON,
            (6 * M_LAT + 2 * M_LON) / RESIDENTIAL + 2 * M_LON / PRIMARY + 4 * RIGHT_TURN,
        ),
    ]
    for name, i, j, metres, seconds in cases:
        assert within(int(s[i, j]), metres, 0.005 * metres), (name, int(s[i, j]), metres)
        assert within(int(d[i, j]), seconds, 1.5), (name, int(d[i, j]), seconds)
    assert matrix.unreachable == 0
    assert (np.diag(d) == 0).all() and (np.diag(s) == 0).all()


@needs_osrm
def test_town_one_way_differs_by_direction(town_graph: Path) -> None:
    """On the one-way column A -> B is a straight 32 s; B -> A goes round the block (about 147 s)."""
    matrix = OsrmLocalTravel(str(town_graph)).matrix([W1, W2])
    assert matrix.durations[0, 1] <= 33
    assert matrix.durations[1, 0] >= 4 * matrix.durations[0, 1]
    assert matrix.distances[1, 0] >= 4 * matrix.distances[0, 1]


@needs_osrm
def test_town_fast_road_is_faster(town_graph: Path) -> None:
    """The primary (20 m/s) moves almost three times faster than a residential street (6.9 m/s), so a longer trip
    along it (X -> Y, 2 km) takes less time than a shorter one across the top row (U -> V, 0.9 km)."""
    matrix = OsrmLocalTravel(str(town_graph)).matrix([X, Y, U, V])
    primary_speed = matrix.distances[0, 1] / matrix.durations[0, 1]
    residential_speed = matrix.distances[2, 3] / matrix.durations[2, 3]
    assert primary_speed > 2.5 * residential_speed
    assert matrix.durations[0, 1] < matrix.durations[2, 3]


@needs_osrm
def test_town_unreachable_pairs_fall_back_and_are_counted(town_graph: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The trap cannot be left and the island touches nothing: those null pairs are priced as the haversine
    estimate (great circle x circuity at speed_kmh) times unreachable_factor, counted, and logged."""
    places = [X, Y, TRAP, ISLAND]
    provider = OsrmLocalTravel(str(town_graph), unreachable_factor=2.0, speed_kmh=36.0, circuity=1.25)
    with caplog.at_level(logging.WARNING, logger="routing.travel"):
        matrix = provider.matrix(places)
    # Reachable: X <-> Y and into the trap from X and Y. Everything else off the diagonal is null: 8 pairs.
    unreachable = [(2, 0), (2, 1), (2, 3), (3, 0), (3, 1), (3, 2), (0, 3), (1, 3)]
    assert matrix.unreachable == len(unreachable)
    lat = np.array([p.lat for p in places])
    lon = np.array([p.lon for p in places])
    fallback_m = haversine_metres(lat, lon) * 1.25 * 2.0
    for i, j in unreachable:
        assert matrix.distances[i, j] == math.ceil(fallback_m[i, j])
        assert matrix.durations[i, j] == math.ceil(fallback_m[i, j] / 10.0)  # 36 km/h = 10 m/s
    assert matrix.durations[0, 2] < 300 and matrix.distances[0, 2] < 3000  # into the trap by road
    assert "no road for 8 of 12 location pairs" in caplog.text
    assert "0.005" not in caplog.text  # the log names no location


@needs_osrm
def test_town_unreachable_visit_does_not_crash_a_solve(town_graph: Path) -> None:
    """A visit on the island is priced by the fallback and the solve goes through the checker as usual."""
    home = X
    visits = [
        Visit(f"v{k}", place, timedelta(minutes=20), (window("09:00", "15:00"),))
        for k, place in enumerate([U, V, ISLAND])
    ]
    shift = Shift("m1", home, home, window("08:00", "17:00"))
    problem = Problem.build(visits, [shift], CachedTravel(OsrmLocalTravel(str(town_graph))))
    assert problem.matrix.unreachable == 6  # the island to and from each of the three other places
    result = solve_checked(problem)
    assert result.routes[0].departure >= at("08:00")


# --------------------------------------------------------------------------- osrm-routed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def osrm_routed(graph: Path, max_table_size: int) -> Iterator[str]:
    """osrm-routed serving ``graph`` on a free loopback port; yields its base URL and stops it afterwards."""
    port = free_port()
    log_path = graph.parent / f"osrm-routed-{port}.log"
    command = [
        str(osrm_executable("osrm-routed")),
        *("--ip", "127.0.0.1", "--port", str(port), "--threads", "1"),
        *("--max-table-size", str(max_table_size), str(graph)),
    ]
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "DISABLE_ACCESS_LOGGING": "1"}
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(f"osrm-routed exited with {process.returncode}: {log_path.read_text()[-500:]}")
                try:
                    urllib.request.urlopen(f"{url}/nearest/v1/driving/0,0", timeout=1).close()
                    break
                except HTTPError:
                    break  # it answers (400 is fine): it is up
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"osrm-routed did not start within 60 s: {log_path.read_text()[-500:]}")
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def raw_table_code(url: str, points: Sequence[Location]) -> str:
    """The code osrm-routed answers to one unchunked table request for ``points``."""
    coordinates = ";".join(f"{p.lon},{p.lat}" for p in points)
    try:
        with urllib.request.urlopen(f"{url}/table/v1/driving/{coordinates}", timeout=10) as response:
            return str(json.load(response)["code"])
    except HTTPError as error:
        return str(json.load(error)["code"])


def assert_same(a: TravelMatrix, b: TravelMatrix) -> None:
    assert np.array_equal(a.durations, b.durations)
    assert np.array_equal(a.distances, b.distances)
    assert a.unreachable == b.unreachable


@pytest.fixture(scope="module")
def town_server(town_graph: Path) -> Iterator[str]:
    with osrm_routed(town_graph, max_table_size=10) as url:
        yield url


@needs_osrm
def test_http_chunks_and_agrees_with_local_on_town(town_graph: Path, town_server: str) -> None:
    """With --max-table-size 10 the server refuses the 25 x 25 table (TooBig); osrm-http fetches it in 10 x 10
    blocks and agrees exactly with osrm-local, nulls and their fallback included."""
    assert len(TOWN_POINTS) == 25
    assert raw_table_code(town_server, TOWN_POINTS) == "TooBig"
    local = OsrmLocalTravel(str(town_graph)).matrix(TOWN_POINTS)
    remote = OsrmHttpTravel(town_server, max_table_size=10).matrix(TOWN_POINTS)
    assert local.unreachable > 0
    assert_same(remote, local)


@needs_osrm
def test_http_too_big_splits_blocks(town_graph: Path, town_server: str, caplog: pytest.LogCaptureFixture) -> None:
    """max_table_size set above the server's: the server answers TooBig, the blocks are split until they fit, the
    answer is still exact, and a warning says to fix the setting."""
    with caplog.at_level(logging.WARNING, logger="routing.travel"):
        remote = OsrmHttpTravel(town_server, max_table_size=100).matrix(TOWN_POINTS)
    assert_same(remote, OsrmLocalTravel(str(town_graph)).matrix(TOWN_POINTS))
    assert "refused a 25 x 25 table as too big" in caplog.text


# --------------------------------------------------------------------------- Baltimore

#: Where the extract's road network is (south, west, north, east), inside its 1st-99th percentile of nodes.
BALTIMORE_BBOX = (39.26, -76.61, 39.31, -76.525)


def baltimore_points(provider: OsrmLocalTravel, count: int, seed: int = 3) -> list[Location]:
    """``count`` distinct random places in the Baltimore box, snapped onto the road network (as a geocoded address
    is; two random points can snap to the same dead end, so duplicates are dropped and more drawn)."""
    rng = random.Random(seed)
    south, west, north, east = BALTIMORE_BBOX
    places: dict[Location, None] = {}
    while len(places) < count:
        raw = [Location(rng.uniform(south, north), rng.uniform(west, east)) for _ in range(count - len(places))]
        places.update(dict.fromkeys(provider.snap(raw)))
    return list(places)


@pytest.mark.slow
@needs_osrm
def test_baltimore_sanity(baltimore_graph: Path) -> None:
    """On the real extract: zero diagonal, road distance at least the straight line, every pair reachable, and
    roughly symmetric (one-way streets make some trips longer one way, not most)."""
    provider = OsrmLocalTravel(str(baltimore_graph))
    points = baltimore_points(provider, 40)
    matrix = provider.matrix(points)
    d, s = matrix.durations, matrix.distances
    assert (np.diag(d) == 0).all() and (np.diag(s) == 0).all()
    assert matrix.unreachable == 0
    lat = np.array([p.lat for p in points])
    lon = np.array([p.lon for p in points])
    straight = haversine_metres(lat, lon)
    # 0.5 %: OSRM measures on the ellipsoid, haversine on a sphere.
    assert (s >= 0.995 * straight - 1).all()
    off = ~np.eye(len(points), dtype=bool)
    assert (d[off] > 0).all()
    ratio = d[off] / d.T[off]
    assert 0.9 <= float(np.median(ratio)) <= 1.1
    assert float(np.mean((ratio > 0.67) & (ratio < 1.5))) >= 0.8
    speed_kmh = s[off] / d[off] * 3.6
    assert 10 <= float(np.median(speed_kmh)) <= 80  # city driving


@pytest.mark.slow
@needs_osrm
def test_baltimore_http_agrees_with_local(baltimore_graph: Path) -> None:
    """osrm-routed with --max-table-size 10 on the Baltimore graph, 25 places: osrm-http (chunked) and osrm-local
    give exactly the same matrix."""
    local = OsrmLocalTravel(str(baltimore_graph))
    points = baltimore_points(local, 25, seed=5)
    with osrm_routed(baltimore_graph, max_table_size=10) as url:
        assert raw_table_code(url, points) == "TooBig"
        remote = OsrmHttpTravel(url, max_table_size=10).matrix(points)
    assert_same(remote, local.matrix(points))


# --------------------------------------------------------------------------- HTTP failures, on loopback stubs


@dataclass
class Canned:
    status: int
    body: bytes
    delay_s: float = 0.0


class Stub:
    """A tiny loopback HTTP server answering each GET with the next canned answer (the last one repeats)."""

    def __init__(self, answers: list[Canned]) -> None:
        self.answers = answers
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    answer = stub.answers[min(stub.requests, len(stub.answers) - 1)]
                    stub.requests += 1
                time.sleep(answer.delay_s)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def ok_table(durations: list[list[float | None]], distances: list[list[float | None]]) -> Canned:
    return Canned(200, json.dumps({"code": "Ok", "durations": durations, "distances": distances}).encode())


TWO = [Location(39.2904, -76.6122), Location(39.2992, -76.6050)]


def quick(url: str, **overrides: float) -> OsrmHttpTravel:
    values: dict[str, float] = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01} | overrides
    return OsrmHttpTravel(url, **values)  # type: ignore[arg-type]


def assert_names_no_location(error: pytest.ExceptionInfo[RoadTravelError]) -> None:
    text = str(error.value)
    assert "39.29" not in text and "76.6" not in text


def test_http_server_down_is_a_clear_error() -> None:
    """Nothing listens on the port: three attempts (retries=2), then RoadTravelError saying so."""
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RoadTravelError, match=r"did not answer .* after 3 attempt\(s\) \(connection refused\)") as err:
        quick(url).matrix(TWO)
    assert isinstance(err.value, ValueError)
    assert_names_no_location(err)


def test_http_timeout_is_a_clear_error_after_bounded_retries() -> None:
    """A server that sleeps past timeout_s: retried `retries` times, then RoadTravelError naming the timeout."""
    with Stub([Canned(200, b"{}", delay_s=3.0)]) as stub:
        began = time.monotonic()
        with pytest.raises(RoadTravelError, match=r"after 2 attempt\(s\) \(no answer within 0.3 s\)") as err:
            quick(stub.url, timeout_s=0.3, retries=1).matrix(TWO)
        elapsed = time.monotonic() - began
        assert stub.requests == 2
    assert elapsed < 2.5  # two timeouts and a backoff, not the server's 3 s sleep
    assert_names_no_location(err)


def test_http_5xx_is_retried_then_succeeds() -> None:
    """A 503 is retried; the next answer is used."""
    answers = [Canned(503, b"busy"), ok_table([[0, 60.2], [61, 0]], [[0, 500.1], [499, 0]])]
    with Stub(answers) as stub:
        matrix = quick(stub.url).matrix(TWO)
        assert stub.requests == 2
    assert matrix.durations.tolist() == [[0, 61], [61, 0]]
    assert matrix.distances.tolist() == [[0, 501], [499, 0]]


def test_http_garbage_is_a_clear_error() -> None:
    """An answer that is not JSON is an error at once (not retried, never a matrix)."""
    with Stub([Canned(200, b"<html>proxy error</html>")]) as stub:
        with pytest.raises(RoadTravelError, match="answered with something that is not JSON"):
            quick(stub.url).matrix(TWO)
        assert stub.requests == 1


def test_http_error_code_is_a_clear_error() -> None:
    """OSRM's 400 with a code (NoSegment) names the code; its message, which may quote the URL, is left out."""
    body = json.dumps({"code": "NoSegment", "message": "Could not find a matching segment for -76.6122,39.2904"})
    with Stub([Canned(400, body.encode())]) as stub:
        with pytest.raises(RoadTravelError, match=r"refused the table request \(HTTP 400, code NoSegment\)") as err:
            quick(stub.url).matrix(TWO)
        assert stub.requests == 1
    assert_names_no_location(err)


def test_http_code_not_ok_is_a_clear_error() -> None:
    """A 200 whose code is not Ok is an error naming the code."""
    with Stub([Canned(200, b'{"code": "NoTable"}')]) as stub, pytest.raises(RoadTravelError, match="code NoTable"):
        quick(stub.url).matrix(TWO)


@pytest.mark.parametrize(
    "payload",
    [
        {"code": "Ok", "durations": [[0]], "distances": [[0]]},  # 1 x 1 for 2 x 2
        {"code": "Ok", "durations": [[0, 1], [1, 0]]},  # no distances (an OSRM before 5.8)
        {"code": "Ok", "durations": [[0, 1], [1]], "distances": [[0, 1], [1, 0]]},  # ragged
        {"code": "Ok", "durations": [[0, "fast"], [1, 0]], "distances": [[0, 1], [1, 0]]},  # not a number
        ["Ok"],  # not an object
    ],
)
def test_http_wrong_shape_is_a_clear_error(payload: object) -> None:
    with Stub([Canned(200, json.dumps(payload).encode())]) as stub, pytest.raises(RoadTravelError):
        quick(stub.url).matrix(TWO)


def test_http_negative_value_is_a_clear_error() -> None:
    negative = ok_table([[0, -5], [5, 0]], [[0, 10], [10, 0]])
    with Stub([negative]) as stub, pytest.raises(RoadTravelError, match="negative or not finite"):
        quick(stub.url).matrix(TWO)


def test_http_rounding_noise_below_zero_is_no_travel() -> None:
    """OSRM answers -0.1 for two places centimetres apart on one street (offsets rounded to a tenth): that is 0."""
    with Stub([ok_table([[0, -0.1], [0.1, 0]], [[0, -0.1], [0.1, 0]])]) as stub:
        matrix = quick(stub.url).matrix(TWO)
    assert matrix.durations.tolist() == [[0, 0], [1, 0]]
    assert matrix.distances.tolist() == [[0, 0], [1, 0]]


def test_http_null_cell_falls_back_to_haversine_and_is_counted() -> None:
    """A null cell is priced as haversine x circuity x unreachable_factor at speed_kmh and counted; the other cells
    are rounded up."""
    with Stub([ok_table([[0, None], [60.2, 0]], [[0, None], [500.1, 0]])]) as stub:
        matrix = quick(stub.url, unreachable_factor=3.0, speed_kmh=36.0, circuity=1.2).matrix(TWO)
    straight = haversine_metres([p.lat for p in TWO], [p.lon for p in TWO])[0, 1]
    assert matrix.unreachable == 1
    assert matrix.distances[0, 1] == math.ceil(straight * 1.2 * 3.0)
    assert matrix.durations[0, 1] == math.ceil(straight * 1.2 * 3.0 / 10.0)
    assert (matrix.durations[1, 0], matrix.distances[1, 0]) == (61, 501)


def test_http_chunks_requests_by_max_table_size() -> None:
    """5 places with max_table_size 2: blocks of at most 2 x 2, each asking only for its own places; the last
    diagonal block, one place to itself, needs no request (OSRM refuses a one-coordinate table): 8 requests."""
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            query = dict(part.split("=", 1) for part in self.path.split("?", 1)[1].split("&"))
            count = len(self.path.split("?")[0].rsplit("/", 1)[1].split(";"))
            rows = len(query["sources"].split(";")) if "sources" in query else count
            cols = len(query["destinations"].split(";")) if "destinations" in query else count
            body = json.dumps({"code": "Ok", "durations": [[1.0] * cols] * rows, "distances": [[2.0] * cols] * rows})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        places = [Location(39.29 + k / 1000, -76.61) for k in range(5)]
        matrix = OsrmHttpTravel(f"http://127.0.0.1:{server.server_address[1]}", max_table_size=2).matrix(places)
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 8
    assert all(len(path.split("?")[0].rsplit("/", 1)[1].split(";")) <= 4 for path in seen)
    expected = np.ones((5, 5), dtype=np.int64) - np.eye(5, dtype=np.int64)
    assert np.array_equal(matrix.durations, expected)
    assert np.array_equal(matrix.distances, 2 * expected)


@needs_osrm
def test_one_place_needs_no_travel(town_graph: Path, town_server: str) -> None:
    """OSRM refuses a table of one coordinate; one place is a 1 x 1 zero matrix from both providers."""
    for provider in (OsrmLocalTravel(str(town_graph)), OsrmHttpTravel(town_server)):
        matrix = provider.matrix([U])
        assert matrix.durations.tolist() == [[0]] and matrix.distances.tolist() == [[0]]
        assert provider.matrix([]).size == 0


# --------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Counting:
    """A real provider that counts how often it is asked."""

    inner: OsrmLocalTravel
    calls: list[int]

    def cache_key(self) -> str:
        return self.inner.cache_key()

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        self.calls.append(len(locations))
        return self.inner.matrix(locations)


@needs_osrm
def test_cache_second_matrix_does_not_call_the_provider(town_graph: Path) -> None:
    """The same places again (even in another order, even through a new but equal wrapper, as after a settings
    reload) come from the cache; other places, or a rebuilt graph, miss."""
    calls: list[int] = []
    provider = Counting(OsrmLocalTravel(str(town_graph)), calls)
    places = [X, Y, U, V, W1, W2]
    first = CachedTravel(provider).matrix(places)
    second = CachedTravel(provider).matrix(places)
    assert calls == [6]
    assert_same(second, first)

    shuffled = [W2, U, X, V, Y, W1]
    again = CachedTravel(provider).matrix(shuffled)
    assert calls == [6]
    index = [places.index(p) for p in shuffled]
    assert np.array_equal(again.durations, first.durations[np.ix_(index, index)])
    assert np.array_equal(again.distances, first.distances[np.ix_(index, index)])

    CachedTravel(provider).matrix(places[:5])
    assert calls == [6, 5]

    hsgr = Path(f"{town_graph}.hsgr")
    stat = hsgr.stat()
    os.utime(hsgr, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # "rebuilt": same size, newer
    CachedTravel(provider).matrix(places)
    assert calls == [6, 5, 6]


def test_cache_is_bounded() -> None:
    """An LRU: beyond max_entries the least recently used matrix is dropped."""
    calls: list[int] = []

    @dataclass(frozen=True)
    class CountingHaversine:
        def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
            calls.append(len(locations))
            return HaversineTravel().matrix(locations)

    provider = CachedTravel(CountingHaversine(), max_entries=2)
    sets = [[Location(39.0 + k / 100, -105.0), Location(39.5, -105.0 + k / 100)] for k in range(3)]
    for places in sets:
        provider.matrix(places)
    provider.matrix(sets[2])
    provider.matrix(sets[1])
    assert len(calls) == 3
    provider.matrix(sets[0])  # evicted
    assert len(calls) == 4


# --------------------------------------------------------------------------- settings and the command line


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_settings_default_travel_is_haversine(tmp_path: Path) -> None:
    assert Settings.load(config(tmp_path, "[travel]\n")).travel == HaversineTravel()


def test_settings_osrm_http(tmp_path: Path) -> None:
    """Every osrm-http key reaches OsrmHttpTravel, wrapped in the matrix cache; asdict still works for the hash."""
    text = (
        '[travel]\nprovider = "osrm-http"\nurl = "http://127.0.0.1:5000"\nmax_table_size = 250\ntimeout_s = 4.5\n'
        "retries = 1\nunreachable_factor = 3.0\nspeed_kmh = 30\ncircuity = 1.4\n"
    )
    travel = Settings.load(config(tmp_path, text)).travel
    assert travel == CachedTravel(
        OsrmHttpTravel(
            "http://127.0.0.1:5000",
            max_table_size=250,
            timeout_s=4.5,
            retries=1,
            unreachable_factor=3.0,
            speed_kmh=30,
            circuity=1.4,
        )
    )
    assert json.dumps(asdict(travel))  # type: ignore[call-overload]


def test_settings_osrm_local_graph_need_not_exist_yet(tmp_path: Path) -> None:
    """A config may name a graph `dripline roads build` has yet to make; asking it for a matrix says so."""
    graph = str(tmp_path / "roads" / "town.osrm")
    travel = Settings.load(config(tmp_path, f'[travel]\nprovider = "osrm-local"\ngraph = "{graph}"\n')).travel
    assert travel == CachedTravel(OsrmLocalTravel(graph))
    with pytest.raises(RoadTravelError, match=r"has not been built .*`dripline roads build`"):
        travel.matrix([X, Y])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[travel]\nspeeed_kmh = 30\n", r"unknown key\(s\) \['speeed_kmh'\]"),
        ('[travel]\nprovider = "google"\n', "provider must be one of"),
        ('[travel]\nurl = "http://127.0.0.1:5000"\n', r"key\(s\) \['url'\] do not apply to provider 'haversine'"),
        ('[travel]\nprovider = "osrm-local"\ngraph = "g.osrm"\nretries = 1\n', r"\['retries'\] do not apply"),
        ('[travel]\nprovider = "osrm-http"\n', "needs url"),
        ('[travel]\nprovider = "osrm-local"\n', "needs graph"),
        ('[travel]\nprovider = "osrm-http"\nurl = "127.0.0.1:5000"\n', "url must look like"),
        ('[travel]\nprovider = "osrm-http"\nurl = "http://h"\nretries = -1\n', "retries must be a whole number >= 0"),
        ('[travel]\nprovider = "osrm-http"\nurl = "http://h"\nretries = 1.5\n', "retries must be a whole number"),
        ('[travel]\nprovider = "osrm-http"\nurl = "http://h"\nmax_table_size = 0\n', "max_table_size must be"),
        ('[travel]\nprovider = "osrm-http"\nurl = "http://h"\ntimeout_s = "5"\n', "timeout_s must be a number"),
        ('[travel]\nprovider = "osrm-http"\nurl = "http://h"\ntimeout_s = 0\n', "timeout_s must be positive"),
        ('[travel]\nprovider = "osrm-local"\ngraph = "g"\nunreachable_factor = 0.5\n', "unreachable_factor must be"),
        ('[travel]\nprovider = "osrm-local"\ngraph = "g"\ncircuity = 0.9\n', "circuity must be at least 1"),
        ("[travel]\nprovider = 3\n", "provider must be a string"),
    ],
)
def test_settings_reject_bad_travel(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.load(config(tmp_path, text))


def test_travel_matrix_unreachable_is_validated() -> None:
    zero = np.zeros((2, 2), dtype=np.int64)
    assert TravelMatrix(zero, zero).unreachable == 0
    assert TravelMatrix(zero, zero, unreachable=2).unreachable == 2
    for bad in (-1, 3, 1.5, True):
        with pytest.raises(ValueError, match="unreachable must be a whole number"):
            TravelMatrix(zero, zero, unreachable=bad)  # type: ignore[arg-type]


@needs_osrm
def test_cli_roads_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`dripline roads build town.osm --out DIR` leaves a graph OsrmLocalTravel can load; a missing file is a
    one-line error with exit status 2."""
    source = tmp_path / "town.osm"
    source.write_text(town_osm())
    settings = config(tmp_path, "")
    assert main(["--config", str(settings), "roads", "build", str(source), "--out", str(tmp_path / "roads")]) == 0
    graph = tmp_path / "roads" / "town.osrm"
    assert f"road graph ready: {graph}" in capsys.readouterr().out
    assert OsrmLocalTravel(str(graph)).matrix([W1, W2]).durations[0, 1] <= 33
    assert main(["--config", str(settings), "roads", "build", str(tmp_path / "nowhere.osm.pbf")]) == 2
    assert "nowhere.osm.pbf is not a file" in capsys.readouterr().err
