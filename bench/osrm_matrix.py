"""Time a travel matrix on the Baltimore road network: OSRM over HTTP, OSRM in-process, and haversine.

    python -m bench.osrm_matrix [--points 1000] [--repeats 5] [--max-table-size 1000 100] [--graph PATH.osrm]

Builds tests/data/baltimore.osm.pbf once (see bench/roads.py) unless ``--graph`` names a built graph, places
``--points`` random places on its road network, and times building the points x points matrix (no cache):

* ``osrm-http``: :class:`routing.OsrmHttpTravel` against osrm-routed on a loopback port, once per
  ``--max-table-size`` (the server's limit and the provider's block size: 1000 is one request, 100 is 100 requests
  of 100 x 100);
* ``osrm-local``: :class:`routing.OsrmLocalTravel` in this process (engine loaded before timing);
* ``haversine``: :class:`routing.HaversineTravel`.

Prints the median, minimum and maximum of ``--repeats`` runs of each (one untimed warm-up run first).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from bench.roads import baltimore_graph, osrm_routed, road_places
from routing import HaversineTravel, Location, OsrmHttpTravel, OsrmLocalTravel, TravelMatrix


def timed(label: str, build: Callable[[], TravelMatrix], repeats: int) -> TravelMatrix:
    matrix = build()  # warm up: engine load, connection, numpy
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        matrix = build()
        runs.append(time.perf_counter() - began)
    size = matrix.size
    print(
        f"{label:<34} {size}x{size}: median {statistics.median(runs):8.3f} s "
        f"(min {min(runs):.3f}, max {max(runs):.3f}, {repeats} runs; {matrix.unreachable} unreachable pairs)",
        flush=True,
    )
    return matrix


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-table-size", type=int, nargs="+", default=[1000, 100])
    parser.add_argument("--graph", default=None, help="a built .osrm graph (default: build the Baltimore extract)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    graph = baltimore_graph(args.graph)
    local = OsrmLocalTravel(str(graph))
    points: list[Location] = road_places(local, args.points, random.Random(args.seed))
    print(f"{len(points)} random places on the road network of {graph.name}", flush=True)

    reference = timed("osrm-local (in-process)", lambda: local.matrix(points), args.repeats)
    for size in args.max_table_size:
        with osrm_routed(graph, max_table_size=size) as url:
            remote = OsrmHttpTravel(url, max_table_size=size, timeout_s=300)
            blocks = -(-len(points) // size)
            matrix = timed(
                f"osrm-http (max table {size}, {blocks * blocks} req)", lambda r=remote: r.matrix(points), args.repeats
            )
        same = (matrix.durations == reference.durations).all() and (matrix.distances == reference.distances).all()
        print(f"{'':<34} same matrix as osrm-local: {'yes' if same else 'NO'}", flush=True)
    timed("haversine", lambda: HaversineTravel().matrix(points), max(args.repeats, 15))


if __name__ == "__main__":
    main()
