"""Time the haversine travel matrix, and geopy's exact geodesic for contrast.

    python -m bench.matrix [--points 1000] [--repeats 15] [--geodesic-points 150]

Prints the median and spread of building a points x points matrix with
:class:`routing.HaversineTravel`, and the per-pair cost of geopy's geodesic on
a smaller set, scaled to the same number of pairs (geodesic is only used to
validate haversine, never to build matrices). Also prints the largest relative
difference between the two (circuity 1) on the smaller set.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from geopy.distance import geodesic

from routing import HaversineTravel, Location


def denver_points(count: int, seed: int = 1) -> list[Location]:
    rng = random.Random(seed)
    return [Location(39.74 + rng.uniform(-0.5, 0.5), -104.99 + rng.uniform(-1.4, 0.5)) for _ in range(count)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--geodesic-points", type=int, default=150)
    args = parser.parse_args(argv)

    points = denver_points(args.points)
    provider = HaversineTravel()
    provider.matrix(points[:10])  # warm numpy up
    timings = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        provider.matrix(points)
        timings.append(time.perf_counter() - began)
    median = statistics.median(timings)
    print(
        f"haversine {args.points}x{args.points}: median {median * 1000:.1f} ms "
        f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}, {args.repeats} runs)"
    )

    few = points[: args.geodesic_points]
    began = time.perf_counter()
    exact = [[geodesic((a.lat, a.lon), (b.lat, b.lon)).meters for b in few] for a in few]
    per_pair = (time.perf_counter() - began) / len(few) ** 2
    scaled = per_pair * args.points**2
    print(
        f"geopy geodesic: {per_pair * 1e6:.1f} us per pair -> about {scaled:.1f} s for {args.points}x{args.points}, "
        f"{scaled / median:.0f}x the haversine median"
    )
    straight = HaversineTravel(circuity=1.0).matrix(few).distances
    worst = max(
        abs(int(straight[i][j]) - exact[i][j]) / exact[i][j]
        for i in range(len(few))
        for j in range(len(few))
        if exact[i][j] > 1000
    )
    print(f"haversine vs geodesic on {len(few)} points: worst relative difference {worst * 100:.3f} %")


if __name__ == "__main__":
    main()
