"""SolveParams and Settings: defaults, TOML loading, and rejection of bad values with a named key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.store.config import Settings
from routing.params import SolveParams
from routing.travel.matrix import HaversineTravel

REPO_CONFIG = Path(__file__).parents[1] / "config.toml"
WEIGHTS = ["unassigned_penalty", "optional_penalty", "preference_cost", "balance_cost"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- SolveParams: mappings and TOML ---------------------------------------------------------------------------------


def test_load_params_empty_mapping_defaults() -> None:
    """An empty [solver] mapping gives the defaults."""
    assert SolveParams.from_mapping({}) == SolveParams()


def test_load_params_empty_solver_table_defaults(tmp_path: Path) -> None:
    """A TOML file with an empty [solver] table gives the defaults."""
    assert SolveParams.from_toml(write(tmp_path, "[solver]\n")) == SolveParams()


def test_load_params_missing_solver_table_defaults(tmp_path: Path) -> None:
    """A TOML file with no [solver] table at all gives the defaults."""
    assert SolveParams.from_toml(write(tmp_path, '[travel]\nspeed_kmh = 35.0\n[other]\nname = "x"\n')) == SolveParams()


def test_load_params_values_from_toml(tmp_path: Path) -> None:
    """Keys set in [solver] override just those defaults; a TOML array of strategies becomes a tuple."""
    text = '[solver]\nworkers = 2\nsolution_limit = 50\nfirst_solution_strategies = ["SAVINGS", "SWEEP"]\n'
    params = SolveParams.from_toml(write(tmp_path, text))
    assert params == replace(
        SolveParams(), workers=2, solution_limit=50, first_solution_strategies=("SAVINGS", "SWEEP")
    )
    assert params.first_solution_strategies == ("SAVINGS", "SWEEP")


def test_load_repo_config_defaults() -> None:
    """The repository's config.toml (every key commented out) loads to the default settings."""
    settings = Settings.load(REPO_CONFIG)
    assert settings.solver == SolveParams()
    assert settings.travel == HaversineTravel()
    assert settings == Settings()


def test_reject_params_unknown_key() -> None:
    """An unknown [solver] key ('time_limit', a typo of time_limit_s) raises ValueError naming it."""
    with pytest.raises(ValueError, match=re.escape("[solver] has unknown key(s) ['time_limit']")):
        SolveParams.from_mapping({"time_limit": 5})


def test_reject_params_unknown_key_in_toml(tmp_path: Path) -> None:
    """An unknown key in a file's [solver] table raises ValueError naming it."""
    with pytest.raises(ValueError, match=re.escape("['worker']")):
        SolveParams.from_toml(write(tmp_path, "[solver]\nworker = 1\n"))


# --- SolveParams: bad values ----------------------------------------------------------------------------------------


def test_reject_params_unknown_strategy() -> None:
    """An unknown first-solution strategy raises ValueError naming the field and the strategy."""
    with pytest.raises(ValueError, match=r"SolveParams first_solution_strategies holds unknown strategy 'CHEAPEST'"):
        SolveParams.from_mapping({"first_solution_strategies": ["SAVINGS", "CHEAPEST"]})


def test_reject_params_empty_strategies() -> None:
    """An empty strategy list raises ValueError naming first_solution_strategies."""
    with pytest.raises(ValueError, match=r"SolveParams first_solution_strategies must name at least one"):
        SolveParams(first_solution_strategies=())


def test_reject_params_unknown_metaheuristic() -> None:
    """An unknown metaheuristic raises ValueError naming the field and the value."""
    with pytest.raises(ValueError, match=r"SolveParams metaheuristic 'HILL_CLIMBING' is unknown"):
        SolveParams(metaheuristic="HILL_CLIMBING")


@pytest.mark.parametrize("limit", [0.0, -1.0])
def test_reject_params_non_positive_time_limit(limit: float) -> None:
    """time_limit_s <= 0 raises ValueError naming time_limit_s."""
    with pytest.raises(ValueError, match=r"SolveParams time_limit_s must be positive"):
        SolveParams(time_limit_s=limit)


def test_reject_params_negative_workers() -> None:
    """workers = -1 raises ValueError naming workers."""
    with pytest.raises(ValueError, match=r"SolveParams workers"):
        SolveParams(workers=-1)


def test_reject_params_zero_solution_limit() -> None:
    """solution_limit = 0 raises ValueError naming solution_limit (omit it for no limit)."""
    with pytest.raises(ValueError, match=r"SolveParams solution_limit must be at least 1"):
        SolveParams(solution_limit=0)


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_reject_params_seed_share_outside_unit_interval(share: float) -> None:
    """seed_share outside (0, 1) raises ValueError naming seed_share."""
    with pytest.raises(ValueError, match=r"SolveParams seed_share must lie strictly between 0 and 1"):
        SolveParams(seed_share=share)


@pytest.mark.parametrize("share", [1.0, -0.1])
def test_reject_params_lns_share_outside_unit_interval(share: float) -> None:
    """lns_share outside [0, 1) raises ValueError naming lns_share."""
    with pytest.raises(ValueError, match=r"SolveParams lns_share must lie in \[0, 1\)"):
        SolveParams(lns_share=share)


def test_reject_params_unknown_seeder() -> None:
    """A seeder that does not exist raises ValueError naming it and the known ones."""
    with pytest.raises(ValueError, match=r"unknown seeder 'jsprit'; choose from \['pyvrp', 'vroom'\]"):
        SolveParams.from_mapping({"seeders": ["vroom", "jsprit"]})


def test_load_params_no_seeders_means_ortools_alone() -> None:
    """An empty seeder list is allowed (OR-Tools then searches alone) and comes back as a tuple."""
    assert SolveParams.from_mapping({"seeders": []}).seeders == ()


@pytest.mark.parametrize("level", [0, 6])
def test_reject_params_vroom_exploration_out_of_range(level: int) -> None:
    """VROOM knows exploration levels 1 to 5 only."""
    with pytest.raises(ValueError, match=r"SolveParams vroom_exploration must be 1 to 5"):
        SolveParams(vroom_exploration=level)


@pytest.mark.parametrize("name", WEIGHTS)
def test_reject_params_negative_weight(name: str) -> None:
    """A negative objective weight raises ValueError naming that weight."""
    with pytest.raises(ValueError, match=rf"SolveParams {name} must not be negative"):
        SolveParams.from_mapping({name: -1})


@pytest.mark.parametrize("name", WEIGHTS)
def test_accept_params_zero_weight(name: str) -> None:
    """A weight of zero is allowed (it switches that term off)."""
    assert getattr(SolveParams.from_mapping({name: 0}), name) == 0


def test_reject_params_non_positive_guided_local_search_lambda() -> None:
    """guided_local_search_lambda = 0 raises ValueError naming it."""
    with pytest.raises(ValueError, match=r"SolveParams guided_local_search_lambda must be positive"):
        SolveParams(guided_local_search_lambda=0.0)


# --- Settings.load --------------------------------------------------------------------------------------------------


def test_reject_settings_missing_explicit_path(tmp_path: Path) -> None:
    """An explicit path that does not exist raises ValueError naming the file."""
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ValueError, match=r"nowhere\.toml does not exist"):
        Settings.load(missing)


def test_reject_settings_invalid_toml(tmp_path: Path) -> None:
    """Invalid TOML raises a plain ValueError, not tomllib's TOMLDecodeError (itself a ValueError subclass)."""
    path = write(tmp_path, "[solver\nworkers = 1\n")
    with pytest.raises(ValueError, match=r"is not valid TOML") as caught:
        Settings.load(path)
    assert not isinstance(caught.value, tomllib.TOMLDecodeError)


def test_reject_settings_unknown_travel_key(tmp_path: Path) -> None:
    """An unknown [travel] key ('speed', a typo of speed_kmh) raises ValueError naming it."""
    with pytest.raises(ValueError, match=re.escape("[travel] has unknown key(s) ['speed']")):
        Settings.load(write(tmp_path, "[travel]\nspeed = 40.0\n"))


def test_reject_settings_unknown_solver_key(tmp_path: Path) -> None:
    """An unknown [solver] key in the settings file raises ValueError naming it."""
    with pytest.raises(ValueError, match=re.escape("['seeds']")):
        Settings.load(write(tmp_path, "[solver]\nseeds = 3\n"))


def test_load_settings_travel_values(tmp_path: Path) -> None:
    """[travel] speed_kmh and circuity reach HaversineTravel; [solver] keys reach SolveParams."""
    settings = Settings.load(write(tmp_path, "[solver]\nseed = 7\n[travel]\nspeed_kmh = 30.0\ncircuity = 1.5\n"))
    assert settings.travel == HaversineTravel(speed_kmh=30.0, circuity=1.5)
    assert settings.solver == replace(SolveParams(), seed=7)


def test_reject_settings_bad_travel_value(tmp_path: Path) -> None:
    """A [travel] circuity below 1 raises ValueError naming circuity."""
    with pytest.raises(ValueError, match=r"HaversineTravel circuity"):
        Settings.load(write(tmp_path, "[travel]\ncircuity = 0.5\n"))
