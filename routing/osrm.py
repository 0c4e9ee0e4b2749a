"""Road travel from OSRM (the Open Source Routing Machine), as :class:`TravelMatrix` providers.

Two ways to ask the same engine:

* :class:`OsrmHttpTravel` calls a running ``osrm-routed`` over HTTP (stdlib ``urllib``: routing takes on no web
  dependency). The table service refuses a request whose sources x destinations exceed the square of the server's
  ``--max-table-size``, so the matrix is fetched in square blocks of at most ``max_table_size`` sources and
  destinations; connection errors, timeouts and 5xx answers are retried a bounded number of times with exponential
  backoff.
* :class:`OsrmLocalTravel` runs the table service in-process through the ``osrm-bindings`` package (``import osrm``,
  loaded lazily so that routing works without it) on a graph prepared by :func:`build_graph` (``dripline roads
  build``).

Both return whole seconds and whole metres rounded *up* (a plan feasible on these integers is never optimistic by a
rounding error), and both price the pairs OSRM finds no road between (``null`` cells: one-way traps, islands) by the
haversine estimate times ``unreachable_factor``, counting them in :attr:`TravelMatrix.unreachable` and logging a
warning: an unreachable pair never crashes a solve, and it is never silently priced like a road.

Anything else that goes wrong (server down, timeout, garbage, an error code, a table of the wrong shape, a graph
that was never built) raises :class:`RoadTravelError` with one plain sentence; its message names the server or the
graph, never a coordinate (locations are patients' addresses).

:class:`CachedTravel` wraps any provider with a process-wide LRU of matrices keyed by the set of locations and the
provider's identity (its settings, plus the graph files' sizes and modification times for a local graph), so
re-planning the same day does not ask OSRM again.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import itertools
import json
import logging
import math
import shutil
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import OpenerDirector, ProxyHandler, Request, build_opener

import numpy as np
import numpy.typing as npt

from routing.matrix import TravelMatrix, TravelMatrixProvider, haversine_metres
from routing.model import Location

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float64]

#: OSRM keeps coordinates as fixed-point millionths of a degree (about 0.1 m); more digits only lengthen the URL.
COORDINATE_DIGITS = 6
ALGORITHMS = frozenset({"CH", "MLD"})


class RoadTravelError(ValueError):
    """Road travel could not be priced. The message is one sentence naming the server or graph, never a location.

    A ValueError, so that the command line reports it on one line like any other bad setting or input.
    """


class _TooBig(Exception):
    """The server answered ``TooBig``: the block exceeds its ``--max-table-size``."""


# --------------------------------------------------------------------------- shared: fallback and rounding


def _check_fallback(owner: str, unreachable_factor: float, speed_kmh: float, circuity: float) -> None:
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


def _coordinates(locations: Sequence[Location]) -> tuple[FloatMatrix, FloatMatrix]:
    count = len(locations)
    lat = np.fromiter((loc.lat for loc in locations), dtype=np.float64, count=count)
    lon = np.fromiter((loc.lon for loc in locations), dtype=np.float64, count=count)
    return lat, lon


def _empty() -> TravelMatrix:
    empty = np.zeros((0, 0), dtype=np.int64)
    return TravelMatrix(empty, empty)


def _one() -> TravelMatrix:
    zero = np.zeros((1, 1), dtype=np.int64)
    return TravelMatrix(zero, zero)


def _assemble(
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
        lat, lon = _coordinates(locations)
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


# --------------------------------------------------------------------------- HTTP: osrm-routed

#: Straight to the server, ignoring $http_proxy: osrm-routed is self-hosted, and a proxy in between would turn
#: "server down" into a proxy's error page.
_OPENER: OpenerDirector = build_opener(ProxyHandler({}))


def _blocks(count: int, size: int) -> list[list[int]]:
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def _short(text: object) -> str:
    """A server-supplied code, only if it looks like one (letters), so no echoed URL reaches a message."""
    return text if isinstance(text, str) and text.isalpha() and len(text) <= 40 else "?"


@dataclass(frozen=True)
class OsrmHttpTravel:
    """Road travel from an ``osrm-routed`` server at ``url`` (e.g. ``http://127.0.0.1:5000``).

    ``max_table_size`` must not exceed the server's ``--max-table-size`` (default 100); if it does, the server
    answers ``TooBig`` and the block is split until it fits (with a warning to fix the setting). ``timeout_s``
    bounds each socket operation; a connection error, timeout or 5xx answer is retried ``retries`` more times,
    waiting ``backoff_s``, then twice that, and so on. Unreachable pairs: see the module docstring.
    """

    url: str
    max_table_size: int = 100
    timeout_s: float = 10.0
    retries: int = 2
    unreachable_factor: float = 2.0
    speed_kmh: float = 40.0
    circuity: float = 1.3
    profile: str = "driving"
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        owner = "OsrmHttpTravel"
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{owner} url must look like http(s)://host[:port][/prefix], got {self.url!r}.")
        for name, low in (("max_table_size", 1), ("retries", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{owner} {name} must be a whole number >= {low}, got {value!r}.")
        for name in ("timeout_s", "backoff_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{owner} {name} must be a number, got {value!r}.")
        if not self.timeout_s > 0:
            raise ValueError(f"{owner} timeout_s must be positive, got {self.timeout_s}.")
        if self.backoff_s < 0:
            raise ValueError(f"{owner} backoff_s must not be negative, got {self.backoff_s}.")
        if not isinstance(self.profile, str) or not self.profile.isidentifier():
            raise ValueError(f"{owner} profile must be a plain name such as 'driving', got {self.profile!r}.")
        _check_fallback(owner, self.unreachable_factor, self.speed_kmh, self.circuity)

    @property
    def server(self) -> str:
        """``url`` without any user:password, for messages and logs."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    def cache_key(self) -> str:
        """What the answer depends on: the server and the fallback (not timeouts, retries or block size)."""
        return (
            f"osrm-http|{self.url.rstrip('/')}|{self.profile}|"
            f"{self.unreachable_factor!r}|{self.speed_kmh!r}|{self.circuity!r}"
        )

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        count = len(locations)
        if count < 2:
            # OSRM refuses a table of one coordinate; one place needs no travel.
            return _empty() if not count else _one()
        coordinates = [f"{loc.lon:.{COORDINATE_DIGITS}f},{loc.lat:.{COORDINATE_DIGITS}f}" for loc in locations]
        durations = np.full((count, count), np.nan)
        distances = np.full((count, count), np.nan)
        state = {"split": False}
        blocks = _blocks(count, self.max_table_size)
        for rows in blocks:
            for cols in blocks:
                self._fill(rows, cols, coordinates, durations, distances, state)
        return _assemble(
            durations,
            distances,
            locations,
            unreachable_factor=self.unreachable_factor,
            speed_kmh=self.speed_kmh,
            circuity=self.circuity,
            source=f"The OSRM server at {self.server}",
        )

    def _fill(
        self,
        rows: list[int],
        cols: list[int],
        coordinates: list[str],
        durations: FloatMatrix,
        distances: FloatMatrix,
        state: dict[str, bool],
    ) -> None:
        """Fetch the block rows x cols into the matrices, splitting it in two if the server finds it too big."""
        # Only the block's own locations go in the URL: OSRM snaps every coordinate it is sent.
        members = list(dict.fromkeys([*rows, *cols]))
        if len(members) == 1:
            # A block of one place to itself (the last diagonal block when the count leaves a remainder of one):
            # OSRM refuses a one-coordinate table, and the answer is no travel.
            durations[members[0], members[0]] = distances[members[0], members[0]] = 0.0
            return
        position = {index: pos for pos, index in enumerate(members)}
        query = "annotations=duration,distance&generate_hints=false&skip_waypoints=true"
        if rows != members or cols != members:
            query += "&sources=" + ";".join(str(position[i]) for i in rows)
            query += "&destinations=" + ";".join(str(position[j]) for j in cols)
        path = f"/table/v1/{self.profile}/" + ";".join(coordinates[i] for i in members) + "?" + query
        try:
            payload = self._get(path)
        except _TooBig:
            if len(rows) * len(cols) <= 1:
                raise RoadTravelError(
                    f"The OSRM server at {self.server} refuses even a 1 x 1 table as too big; check its "
                    "--max-table-size."
                ) from None
            if not state["split"]:
                state["split"] = True
                log.warning(
                    "The OSRM server at %s refused a %d x %d table as too big: [travel] max_table_size = %d exceeds "
                    "its --max-table-size; splitting the blocks",
                    self.server,
                    len(rows),
                    len(cols),
                    self.max_table_size,
                )
            if len(rows) >= len(cols):
                half = (len(rows) + 1) // 2
                self._fill(rows[:half], cols, coordinates, durations, distances, state)
                self._fill(rows[half:], cols, coordinates, durations, distances, state)
            else:
                half = (len(cols) + 1) // 2
                self._fill(rows, cols[:half], coordinates, durations, distances, state)
                self._fill(rows, cols[half:], coordinates, durations, distances, state)
            return
        block = np.ix_(rows, cols)
        durations[block] = self._table(payload, "durations", len(rows), len(cols))
        distances[block] = self._table(payload, "distances", len(rows), len(cols))

    def _table(self, payload: dict[str, Any], key: str, rows: int, cols: int) -> FloatMatrix:
        """``payload[key]`` as a rows x cols float array, NaN for null; anything else is an error."""
        raw = payload.get(key)
        wrong = RoadTravelError(
            f"The OSRM server at {self.server} answered a table of the wrong shape: expected {rows} x {cols} "
            f"numbers in '{key}' (is it an OSRM 5.8 or newer, which returns distances?)."
        )
        if not isinstance(raw, list) or len(raw) != rows or any(not isinstance(r, list) or len(r) != cols for r in raw):
            raise wrong
        try:
            values = np.array(raw, dtype=np.float64)  # JSON null becomes NaN
        except (TypeError, ValueError):
            raise wrong from None
        if values.shape != (rows, cols):
            raise wrong
        return values

    def _get(self, path: str) -> dict[str, Any]:
        """GET ``path`` and return the decoded ``Ok`` answer, retrying what a retry can fix."""
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = Request(self.url.rstrip("/") + path, headers={"Accept": "application/json"})
            try:
                with _OPENER.open(request, timeout=self.timeout_s) as response:
                    body = response.read()
            except HTTPError as error:
                if error.code >= 500 or error.code == 429:
                    problem = f"HTTP {error.code}"
                    continue
                # OSRM answers 400 with a JSON body whose code says why (TooBig, NoSegment, InvalidQuery, ...).
                try:
                    code = json.loads(error.read()).get("code")
                except (ValueError, AttributeError, OSError, http.client.HTTPException):
                    code = None
                if code == "TooBig":
                    raise _TooBig from None
                raise RoadTravelError(
                    f"The OSRM server at {self.server} refused the table request (HTTP {error.code}, code "
                    f"{_short(code)})."
                ) from None
            except TimeoutError:
                problem = f"no answer within {self.timeout_s:g} s"
                continue
            except URLError as error:
                if isinstance(error.reason, TimeoutError):
                    problem = f"no answer within {self.timeout_s:g} s"
                elif isinstance(error.reason, ConnectionRefusedError):
                    problem = "connection refused"
                else:
                    problem = f"cannot connect ({type(error.reason).__name__})"
                continue
            except (OSError, http.client.HTTPException) as error:  # reset, closed mid-answer, bad status line
                problem = f"the connection failed ({type(error).__name__})"
                continue
            return self._decode(body)
        raise RoadTravelError(
            f"The OSRM server at {self.server} did not answer the table request after {attempts} attempt(s) "
            f"({problem}); check that osrm-routed is running there."
        )

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RoadTravelError(
                f"The OSRM server at {self.server} answered with something that is not JSON."
            ) from None
        if not isinstance(payload, dict):
            raise RoadTravelError(f"The OSRM server at {self.server} answered JSON that is not an OSRM table.")
        code = payload.get("code")
        if code == "TooBig":
            raise _TooBig
        if code != "Ok":
            raise RoadTravelError(
                f"The OSRM server at {self.server} could not compute the table (code {_short(code)})."
            )
        return payload


# --------------------------------------------------------------------------- in-process: osrm-bindings

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
        _check_fallback(owner, self.unreachable_factor, self.speed_kmh, self.circuity)

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
            return _empty() if not count else _one()
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
            raise RoadTravelError(f"{self._source} could not compute the table (code {_short(code)}).") from None
        durations = _float_matrix(result["durations"], count, self._source)
        distances = _float_matrix(result["distances"], count, self._source)
        return _assemble(
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
            raise RoadTravelError(f"{self._source} could not place the locations (code {_short(code)}).") from None
        snapped = []
        for waypoint in result["destinations"]:
            lon, lat = waypoint["location"]
            snapped.append(Location(float(lat), float(lon)))
        return snapped[: len(locations)]


# --------------------------------------------------------------------------- the matrix cache

_MATRICES: OrderedDict[tuple[str, str], TravelMatrix] = OrderedDict()
_MATRICES_LOCK = threading.Lock()


def clear_matrix_cache() -> None:
    """Forget every cached matrix (tests; or after rebuilding the graph behind an HTTP server)."""
    with _MATRICES_LOCK:
        _MATRICES.clear()


def provider_key(provider: TravelMatrixProvider) -> str:
    """What a provider's answers depend on: its ``cache_key()`` if it has one, else its repr.

    A dataclass's repr lists its fields, which is right for :class:`routing.HaversineTravel`; any other object's
    repr holds its id, which only ever makes the cache miss.
    """
    key = getattr(provider, "cache_key", None)
    return f"{type(provider).__qualname__}:{key() if callable(key) else repr(provider)}"


@dataclass(frozen=True)
class CachedTravel:
    """``provider`` with a process-wide LRU of its matrices, holding at most ``max_entries``.

    The key is the provider's identity (:func:`provider_key`: its settings, and for a local graph the files'
    sizes and modification times, so a rebuilt graph misses) and the *set* of locations: the matrix is stored in
    a canonical (sorted) order and permuted on the way out, so the same places in another order still hit. A
    server's graph cannot be seen from here: after rebuilding the graph behind ``osrm-routed``, restart the
    process or call :func:`clear_matrix_cache`. The store lives in the module, not the instance, so a settings
    reload (a new but equal wrapper) keeps it.
    """

    provider: TravelMatrixProvider
    max_entries: int = 16

    def __post_init__(self) -> None:
        if not callable(getattr(self.provider, "matrix", None)):
            raise ValueError(f"CachedTravel provider must have a matrix() method, got {self.provider!r}.")
        if isinstance(self.max_entries, bool) or not isinstance(self.max_entries, int) or self.max_entries < 1:
            raise ValueError(f"CachedTravel max_entries must be a whole number >= 1, got {self.max_entries!r}.")

    def cache_key(self) -> str:
        return provider_key(self.provider)

    def matrix(self, locations: Sequence[Location]) -> TravelMatrix:
        if not locations:
            return self.provider.matrix(locations)
        lat, lon = _coordinates(locations)
        order = np.lexsort((lon, lat))
        canonical = np.stack([lat[order], lon[order]]).tobytes()
        key = (provider_key(self.provider), hashlib.sha256(canonical).hexdigest())
        with _MATRICES_LOCK:
            stored = _MATRICES.get(key)
            if stored is not None:
                _MATRICES.move_to_end(key)
        if stored is None:
            fresh = self.provider.matrix(locations)
            block = np.ix_(order, order)
            stored = TravelMatrix(fresh.durations[block], fresh.distances[block], unreachable=fresh.unreachable)
            with _MATRICES_LOCK:
                _MATRICES[key] = stored
                _MATRICES.move_to_end(key)
                while len(_MATRICES) > self.max_entries:
                    _MATRICES.popitem(last=False)
            return fresh
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        back = np.ix_(rank, rank)
        return TravelMatrix(stored.durations[back], stored.distances[back], unreachable=stored.unreachable)


# --------------------------------------------------------------------------- building a graph

#: Suffixes of OpenStreetMap extracts, longest first: "baltimore.osm.pbf" -> "baltimore".
OSM_SUFFIXES = (".osm.pbf", ".osm.bz2", ".osm", ".pbf")


def _package_dir() -> Path:
    spec = importlib.util.find_spec("osrm")
    if spec is None or spec.origin is None:
        raise RoadTravelError(
            "The osrm-bindings package is not installed; install it with pip install 'dripline[osrm]'."
        )
    return Path(spec.origin).parent


def osrm_executable(name: str) -> Path:
    """An OSRM tool (``osrm-extract``, ``osrm-contract``, ``osrm-routed``): the one shipped in osrm-bindings,
    else one on PATH."""
    shipped = _package_dir() / "bin" / name
    if shipped.is_file():
        return shipped
    found = shutil.which(name)
    if found is None:
        raise RoadTravelError(f"{name} was found neither in the osrm-bindings package nor on PATH.")
    return Path(found)


def car_profile() -> Path:
    """The car profile shipped with osrm-bindings."""
    return _package_dir() / "share" / "profiles" / "car.lua"


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RoadTravelError(f"{what} failed (exit status {done.returncode}): {' / '.join(lines) or 'no output'}.")


def build_graph(
    source: str | Path,
    out_dir: str | Path | None = None,
    *,
    profile: str | Path | None = None,
    threads: int | None = None,
) -> Path:
    """Prepare an OpenStreetMap extract for :class:`OsrmLocalTravel` and ``osrm-routed``: ``osrm-extract`` with the
    car profile, then ``osrm-contract`` (the CH algorithm). Returns the graph's base path, ``<out_dir>/<name>.osrm``
    (``out_dir`` defaults to the extract's directory). A graph already there is overwritten."""
    source = Path(source)
    if not source.is_file():
        raise RoadTravelError(f"{source} is not a file.")
    name = source.name
    stem = next((name[: -len(suffix)] for suffix in OSM_SUFFIXES if name.endswith(suffix)), source.stem)
    target = Path(out_dir) if out_dir is not None else source.parent
    target.mkdir(parents=True, exist_ok=True)
    base = target / f"{stem}.osrm"
    extra = ["--threads", str(threads)] if threads else []
    profile_path = Path(profile) if profile is not None else car_profile()
    _run(
        [str(osrm_executable("osrm-extract")), "-p", str(profile_path), str(source), "-o", str(base), *extra],
        f"osrm-extract of {source}",
    )
    _run([str(osrm_executable("osrm-contract")), str(base), *extra], f"osrm-contract of {base}")
    return base
