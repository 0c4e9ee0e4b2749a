"""Road travel in-process: OSRM's table service through the ``osrm-bindings`` package (``import osrm``, loaded
lazily so that routing works without it), on a graph prepared by ``dripline roads build``
(:func:`dispatch.roads.build_graph`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.travel.matrix import Location, TravelMatrix
from routing.travel.road_tables import (
    ALGORITHMS,
    FloatMatrix,
    RoadTravelError,
    assemble_matrix,
    check_fallback,
    empty_matrix,
    shortened,
    single_matrix,
)

log = logging.getLogger(__name__)


_ENGINES: dict[tuple[str, str], tuple[str, Any]] = {}
_ENGINES_LOCK = threading.Lock()


def _osrm_module() -> Any:
    try:
        import osrm
    except ImportError:
        raise RoadTravelError(
            "The osrm-bindings package is not installed; install it with pip install 'dripline[osrm]'."
        ) from None
    return osrm


def graph_identity(graph: str | Path) -> str:
    """A digest of the names, sizes and modification times of a graph's files (``<graph>.*``).

    OSRM writes no ``.osrm`` file itself, only ``.osrm.hsgr``, ``.osrm.ebg`` and so on, so the set of them is what
    identifies a build: rebuilding changes the digest, which invalidates cached matrices and engines.
    """
    base = Path(graph)
    files = sorted(base.parent.glob(base.name + ".*")) if base.parent.is_dir() else []
    if not files:
        raise RoadTravelError(
            f"The road graph {base} has not been built (no {base.name}.* files); run `dripline roads build`."
        )
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _float_matrix(table: Any, count: int, source: str) -> FloatMatrix:
    """A bindings Array of rows as a float matrix, converted in one pass (NaN for null).

    Fetch each table from the result once (every ``result[key]`` converts the whole table: 0.26 s for 1000 x 1000)
    and never index cell by cell (``table[i][j]`` materialises row ``i`` on every access: 19 s for 1000 x 1000).
    Iterating the rows and chaining them into ``np.fromiter`` takes about 0.2 s, and numpy turns ``None`` (a
    null, no road) into NaN on the way.
    """
    try:
        flat = np.fromiter(itertools.chain.from_iterable(table), dtype=np.float64, count=count * count)
    except (TypeError, ValueError):
        raise RoadTravelError(f"{source} returned a table of the wrong shape.") from None
    return flat.reshape(count, count)


@dataclass(frozen=True)
class OsrmLocalTravel:
    """Road travel computed in-process on the OSRM graph ``graph`` (the ``.osrm`` base path given to
    ``osrm-contract``; see :func:`build_graph`), with the ``CH`` or ``MLD`` algorithm it was prepared for.

    The engine is loaded on first use and kept for the process, and reloaded if the graph files change. A graph
    that does not exist is reported when a matrix is asked for, not when the provider is made, so that
    ``dripline roads build`` can run with a config that already names the graph it is about to build.
    """

    graph: str
    algorithm: str = "CH"
    unreachable_factor: float = 2.0
    speed_kmh: float = 40.0
    circuity: float = 1.3

    def __post_init__(self) -> None:
        owner = "OsrmLocalTravel"
        if isinstance(self.graph, Path):
            object.__setattr__(self, "graph", str(self.graph))
        if not isinstance(self.graph, str) or not self.graph.strip():
            raise ValueError(f"{owner} graph must be the path of a .osrm graph, got {self.graph!r}.")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"{owner} algorithm must be one of {sorted(ALGORITHMS)}, got {self.algorithm!r}.")
        check_fallback(owner, self.unreachable_factor, self.speed_kmh, self.circuity)

    @property
    def _source(self) -> str:
        return f"The road graph {self.graph}"

    def cache_key(self) -> str:
        """The graph (path and build) and the fallback: what the answer depends on."""
        return (
            f"osrm-local|{Path(self.graph).resolve()}|{self.algorithm}|{graph_identity(self.graph)}|"
            f"{self.unreachable_factor!r}|{self.speed_kmh!r}|{self.circuity!r}"
        )

    def engine(self) -> Any:
        """The loaded ``osrm.OSRM`` engine for this graph (loaded once per process and graph build)."""
        osrm = _osrm_module()
        identity = graph_identity(self.graph)
        key = (str(Path(self.graph).resolve()), self.algorithm)
        with _ENGINES_LOCK:
            known = _ENGINES.get(key)
            if known is not None and known[0] == identity:
                return known[1]
            try:
                engine = osrm.OSRM(storage_config=self.graph, algorithm=self.algorithm, use_shared_memory=False)
            except RuntimeError as error:
                raise RoadTravelError(
                    f"{self._source} could not be loaded for {self.algorithm} ({error}); rebuild it with "
                    "`dripline roads build`."
                ) from None
            _ENGINES[key] = (identity, engine)
            return engine

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        count = len(locations)
        if count < 2:
            # OSRM refuses a table of one coordinate ("Invalid Table Parameters"); one place needs no travel.
            return empty_matrix() if not count else single_matrix()
        osrm = _osrm_module()
        engine = self.engine()
        params = osrm.TableParameters(
            coordinates=[(loc.lon, loc.lat) for loc in locations],
            annotations=["duration", "distance"],
            generate_hints=False,
        )
        params.skip_waypoints = True  # the snapped waypoints are not needed, only the two tables
        try:
            result = engine.Table(params)
        except RuntimeError as error:  # e.g. "NoSegment - Could not find a matching segment for coordinate 3"
            code = str(error).split(" ", 1)[0]
            raise RoadTravelError(f"{self._source} could not compute the table (code {shortened(code)}).") from None
        durations = _float_matrix(result["durations"], count, self._source)
        distances = _float_matrix(result["distances"], count, self._source)
        return assemble_matrix(
            durations,
            distances,
            locations,
            unreachable_factor=self.unreachable_factor,
            speed_kmh=self.speed_kmh,
            circuity=self.circuity,
            source=self._source,
        )

    def snap(self, locations: Sequence[Location]) -> list[Location]:
        """Where the table service puts each location on the road network: its nearest road, or the nearest road
        of the main network when that one is a disconnected scrap (a parking lot, a clipped street) and the
        locations are not all on it. (The nearest service would return the scrap.)"""
        if not locations:
            return []
        osrm = _osrm_module()
        engine = self.engine()
        # A 1 x n table (n >= 2: OSRM refuses a single coordinate) is the cheapest way to have it place them all.
        coordinates = [(loc.lon, loc.lat) for loc in locations] * (2 if len(locations) == 1 else 1)
        params = osrm.TableParameters(coordinates=coordinates, sources=[0], annotations=["duration"])
        try:
            result = engine.Table(params)
        except RuntimeError as error:
            code = str(error).split(" ", 1)[0]
            raise RoadTravelError(f"{self._source} could not place the locations (code {shortened(code)}).") from None
        snapped = []
        for waypoint in result["destinations"]:
            lon, lat = waypoint["location"]
            snapped.append(Location(float(lat), float(lon)))
        return snapped[: len(locations)]


# --------------------------------------------------------------------------- the matrix cache
