"""Preparing road data for OSRM travel times: ``dripline roads build`` (osrm-extract with the car profile, then
osrm-contract), with the executables shipped in osrm-bindings."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import subprocess
from pathlib import Path

from routing.travel import RoadTravelError

log = logging.getLogger(__name__)


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
