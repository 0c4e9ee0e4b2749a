"""Settings from config.toml: the solver's parameters and the travel model."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from routing import HaversineTravel, SolveParams

DEFAULT_CONFIG = Path("config.toml")


@dataclass(frozen=True)
class Settings:
    solver: SolveParams = field(default_factory=SolveParams)
    travel: HaversineTravel = field(default_factory=HaversineTravel)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read ``path``, or $DRIPLINE_CONFIG, or ./config.toml; defaults if none exists."""
        chosen = Path(path or os.environ.get("DRIPLINE_CONFIG") or DEFAULT_CONFIG)
        if not chosen.exists():
            if path is not None:
                raise ValueError(f"config file {chosen} does not exist.")
            return cls()
        try:
            with open(chosen, "rb") as handle:
                document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"config file {chosen} is not valid TOML: {error}") from None
        travel = document.get("travel", {})
        unknown = sorted(set(travel) - {"speed_kmh", "circuity"})
        if unknown:
            raise ValueError(f"[travel] has unknown key(s) {unknown}.")
        for key, value in travel.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"[travel] {key} must be a number, got {value!r}.")
        return cls(solver=SolveParams.from_mapping(document.get("solver", {})), travel=HaversineTravel(**travel))
