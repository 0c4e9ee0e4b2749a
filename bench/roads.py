"""Shared by the road benchmarks: the Baltimore graph, an osrm-routed server, and places on the road network.

The extract is the project's own copy, tests/data/baltimore.osm.pbf (see tests/data/SOURCES.md for its ODbL
attribution). Its graph is built once into the temporary directory and reused while the extract is unchanged.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError

from dispatch.roads import build_graph, osrm_executable
from routing import Location
from routing.travel import OsrmLocalTravel

EXTRACT = Path(__file__).resolve().parents[1] / "tests" / "data" / "baltimore.osm.pbf"
#: Where the extract's road network is (south, west, north, east): inside the 1st-99th percentile of its nodes.
BALTIMORE_BBOX = (39.26, -76.61, 39.31, -76.525)


def baltimore_graph(graph: str | None = None) -> Path:
    """``graph`` if given, else the Baltimore graph under the temporary directory, built if missing or stale."""
    if graph is not None:
        return Path(graph)
    folder = Path(tempfile.gettempdir()) / "dripline-bench-roads"
    base = folder / "baltimore.osrm"
    built = Path(f"{base}.hsgr")
    if not built.exists() or built.stat().st_mtime < EXTRACT.stat().st_mtime:
        print(f"building the Baltimore road graph in {folder} (osrm-extract + osrm-contract) ...", flush=True)
        began = time.perf_counter()
        build_graph(EXTRACT, folder)
        print(f"built in {time.perf_counter() - began:.1f} s", flush=True)
    return base


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def osrm_routed(graph: Path, max_table_size: int, threads: int = 2) -> Iterator[str]:
    """osrm-routed serving ``graph`` on a free loopback port; yields its base URL and stops it afterwards."""
    port = free_port()
    command = [
        str(osrm_executable("osrm-routed")),
        *("--ip", "127.0.0.1", "--port", str(port), "--threads", str(threads)),
        *("--max-table-size", str(max_table_size), str(graph)),
    ]
    environment = {**os.environ, "DISABLE_ACCESS_LOGGING": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"osrm-routed exited with status {process.returncode}")
            try:
                urllib.request.urlopen(f"{url}/nearest/v1/driving/0,0", timeout=1).close()
                break
            except HTTPError:
                break  # it answers: it is up
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("osrm-routed did not start within 60 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def road_places(provider: OsrmLocalTravel, count: int, rng: random.Random) -> list[Location]:
    """``count`` distinct random places in the Baltimore box, put on the road network as the table service puts
    them (a geocoded address would be somewhere near a road, too)."""
    south, west, north, east = BALTIMORE_BBOX
    places: dict[Location, None] = {}
    while len(places) < count:
        raw = [Location(rng.uniform(south, north), rng.uniform(west, east)) for _ in range(count - len(places))]
        places.update(dict.fromkeys(provider.snap(raw)))
    return list(places)
