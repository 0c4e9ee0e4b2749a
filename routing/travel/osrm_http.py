"""Road travel from a running ``osrm-routed``, over HTTP (stdlib ``urllib``: routing takes on no web dependency).

The table service refuses a request whose sources x destinations exceed the square of the server's
``--max-table-size``, so the matrix is fetched in square blocks of at most ``max_table_size`` sources and
destinations; connection errors, timeouts and 5xx answers are retried a bounded number of times with exponential
backoff. Anything else that goes wrong raises :class:`RoadTravelError` with one plain sentence naming the server,
never a coordinate (locations are patients' addresses).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import OpenerDirector, ProxyHandler, Request, build_opener

import numpy as np

from routing.travel.matrix import Location, TravelMatrix
from routing.travel.road_tables import (
    COORDINATE_DIGITS,
    FloatMatrix,
    RoadTravelError,
    TooBig,
    assemble_matrix,
    check_fallback,
    empty_matrix,
    shortened,
    single_matrix,
    table_blocks,
)

log = logging.getLogger(__name__)

#: Straight to the server, ignoring $http_proxy: osrm-routed is self-hosted, and a proxy in between would turn
#: "server down" into a proxy's error page.
_OPENER: OpenerDirector = build_opener(ProxyHandler({}))


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
        check_fallback(owner, self.unreachable_factor, self.speed_kmh, self.circuity)

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
            return empty_matrix() if not count else single_matrix()
        coordinates = [f"{loc.lon:.{COORDINATE_DIGITS}f},{loc.lat:.{COORDINATE_DIGITS}f}" for loc in locations]
        durations = np.full((count, count), np.nan)
        distances = np.full((count, count), np.nan)
        state = {"split": False}
        blocks = table_blocks(count, self.max_table_size)
        for rows in blocks:
            for cols in blocks:
                self._fill(rows, cols, coordinates, durations, distances, state)
        return assemble_matrix(
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
        except TooBig:
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
                    raise TooBig from None
                raise RoadTravelError(
                    f"The OSRM server at {self.server} refused the table request (HTTP {error.code}, code "
                    f"{shortened(code)})."
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
            raise TooBig
        if code != "Ok":
            raise RoadTravelError(
                f"The OSRM server at {self.server} could not compute the table (code {shortened(code)})."
            )
        return payload


# --------------------------------------------------------------------------- in-process: osrm-bindings
