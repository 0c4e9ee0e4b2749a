"""Settings from config.toml: the solver's parameters, the travel model, the geocoder, the scheduler, the database,
the API, planning and the credential kinds."""

from __future__ import annotations

import ipaddress
import itertools
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import limits

from dispatch.rules.eligibility import CredentialRules
from routing import CachedTravel, HaversineTravel, OsrmHttpTravel, OsrmLocalTravel, SolveParams, TravelMatrixProvider
from routing.params import reject_unknown_keys

DEFAULT_CONFIG = Path("config.toml")
TABLES = (
    "solver",
    "travel",
    "geocoder",
    "scheduler",
    "database",
    "api",
    "planning",
    "credentials",
    "audit",
    "console",
)

GEOCODER_PROVIDERS = frozenset({"nominatim", "photon"})


@dataclass(frozen=True)
class GeocoderSettings:
    """Which geocoder to ask, and the service area its answers must fall in.

    ``url`` None means the provider's public service; a self-hosted one is given as
    ``http(s)://host[:port][/prefix]``. ``bbox`` is (south, west, north, east) in degrees:
    an answer outside it is rejected as ``outside_area``, never used.
    """

    provider: str = "nominatim"
    url: str | None = None
    user_agent: str = "dripline-dispatch"
    timeout_s: float = 5.0
    #: Denver metro, Boulder and the I-70 mountain towns
    bbox: tuple[float, float, float, float] = (38.9, -107.0, 40.6, -104.3)
    country_codes: str = "us"

    def __post_init__(self) -> None:
        if self.provider not in GEOCODER_PROVIDERS:
            raise ValueError(
                f"GeocoderSettings provider {self.provider!r} is unknown; choose from {sorted(GEOCODER_PROVIDERS)}."
            )
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
                raise ValueError(
                    f"GeocoderSettings url must look like http(s)://host[:port][/prefix], got {self.url!r}."
                )
        if not self.user_agent.strip():
            raise ValueError("GeocoderSettings user_agent must not be empty.")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(f"GeocoderSettings timeout_s must be positive, got {self.timeout_s}.")
        bbox = tuple(float(v) for v in self.bbox)
        if len(bbox) != 4:
            raise ValueError(f"GeocoderSettings bbox must be [south, west, north, east], got {list(self.bbox)}.")
        south, west, north, east = bbox
        if not (-90.0 <= south < north <= 90.0 and -180.0 <= west < east <= 180.0):
            raise ValueError(
                "GeocoderSettings bbox must be [south, west, north, east] with south < north and west < east, "
                f"in range, got {list(bbox)}."
            )
        object.__setattr__(self, "bbox", bbox)

    @property
    def domain(self) -> str | None:
        """``host[:port][/prefix]`` of ``url`` (geopy's ``domain``); None for the public service."""
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        return parts.netloc + parts.path.rstrip("/")

    @property
    def scheme(self) -> str | None:
        """``http`` or ``https`` of ``url``; None for the public service."""
        return None if self.url is None else urlsplit(self.url).scheme

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> GeocoderSettings:
        """Build from a ``[geocoder]`` table; unknown keys and wrong types are an error."""
        reject_unknown_keys("geocoder", table, [f.name for f in fields(cls)])
        for key, value in table.items():
            if key == "timeout_s":
                ok, wanted = isinstance(value, int | float) and not isinstance(value, bool), "a number"
            elif key == "bbox":
                ok = (
                    isinstance(value, list | tuple)
                    and len(value) == 4
                    and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                )
                wanted = "a list of four numbers [south, west, north, east]"
            else:
                ok, wanted = isinstance(value, str), "a string"
            if not ok:
                raise ValueError(f"[geocoder] {key} must be {wanted}, got {value!r}.")
        values = dict(table)
        if "bbox" in values:
            values["bbox"] = tuple(float(v) for v in values["bbox"])
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"[geocoder] {error}") from None


#: The [travel] keys each provider takes, besides ``provider`` itself.
TRAVEL_KEYS: dict[str, tuple[str, ...]] = {
    "haversine": ("speed_kmh", "circuity"),
    "osrm-http": ("url", "max_table_size", "timeout_s", "retries", "unreachable_factor", "speed_kmh", "circuity"),
    "osrm-local": ("graph", "unreachable_factor", "speed_kmh", "circuity"),
}
_TRAVEL_STRINGS = frozenset({"provider", "url", "graph"})
_TRAVEL_WHOLE = frozenset({"max_table_size", "retries"})


def travel_from_mapping(table: Mapping[str, Any]) -> TravelMatrixProvider:
    """The travel provider a ``[travel]`` table chooses.

    ``provider = "haversine"`` (the default) is a :class:`routing.HaversineTravel` from ``speed_kmh`` and
    ``circuity``. ``"osrm-http"`` (needs ``url``) and ``"osrm-local"`` (needs ``graph``) are road travel from OSRM,
    wrapped in a :class:`routing.CachedTravel` so that re-planning the same day reuses the matrix; for them
    ``speed_kmh`` and ``circuity`` price the pairs OSRM finds no road between, times ``unreachable_factor``. An
    unknown key, a key the chosen provider does not take, a wrong type or a bad value is a ValueError naming it.
    """
    reject_unknown_keys("travel", table, {"provider", *itertools.chain.from_iterable(TRAVEL_KEYS.values())})
    for key, value in table.items():
        if key in _TRAVEL_STRINGS:
            ok, wanted = isinstance(value, str), "a string"
        elif key in _TRAVEL_WHOLE:
            ok, wanted = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        else:
            ok, wanted = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        if not ok:
            raise ValueError(f"[travel] {key} must be {wanted}, got {value!r}.")
    provider = table.get("provider", "haversine")
    if provider not in TRAVEL_KEYS:
        raise ValueError(f"[travel] provider must be one of {list(TRAVEL_KEYS)}, got {provider!r}.")
    misplaced = sorted(set(table) - {"provider", *TRAVEL_KEYS[provider]})
    if misplaced:
        raise ValueError(
            f"[travel] key(s) {misplaced} do not apply to provider {provider!r}, which takes "
            f"{list(TRAVEL_KEYS[provider])}."
        )
    values = {key: value for key, value in table.items() if key != "provider"}
    needed = {"osrm-http": "url", "osrm-local": "graph"}.get(provider)
    if needed is not None and needed not in values:
        example = 'url = "http://127.0.0.1:5000"' if needed == "url" else 'graph = "roads/baltimore.osrm"'
        raise ValueError(f"[travel] provider = {provider!r} needs {needed}, e.g. {example}.")
    try:
        if provider == "osrm-http":
            return CachedTravel(OsrmHttpTravel(**values))
        if provider == "osrm-local":
            return CachedTravel(OsrmLocalTravel(**values))
        return HaversineTravel(**values)
    except ValueError as error:
        raise ValueError(f"[travel] {error}") from None


@dataclass(frozen=True)
class PlanningSettings:
    """How a day's bookings become a plan: the ``[planning]`` table.

    ``overtime_minutes``: how long past its end a shift that sets no hard end may keep a medic out
    (0, the default, plans no overtime; a shift's own ``hard_end_at`` always wins).
    ``group_arrival_minutes``: when several medics share one group booking, their starts lie at most
    this far apart, so that they arrive together.
    ``max_bookings_per_day``: a day holds at most this many bookings (a booking past it is refused,
    and a day over it is not planned), so that one day cannot take the machine's memory.
    ``solver_memory_mb``: the address-space budget of a solve, shared out between the solver process
    and its search workers; a solve that needs more fails (``solver_out_of_memory``) and leaves the
    published plan as it was.
    ``max_concurrent_replans``: at most this many re-plans solve at once, across every process on
    the database; the others queue.
    """

    overtime_minutes: int = 0
    group_arrival_minutes: int = 10
    max_bookings_per_day: int = 2000
    solver_memory_mb: int = 4096
    max_concurrent_replans: int = 1

    def __post_init__(self) -> None:
        for key, low, high in (
            ("overtime_minutes", 0, 12 * 60),
            ("group_arrival_minutes", 0, 120),
            ("max_bookings_per_day", 1, 100_000),
            ("solver_memory_mb", 256, 1_048_576),
            ("max_concurrent_replans", 1, 64),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"[planning] {key} must be a whole number from {low} to {high}, got {value!r}.")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> PlanningSettings:
        reject_unknown_keys("planning", table, [f.name for f in fields(cls)])
        return cls(**table)


#: Hours a nightly or cut-off job must not fire in: the daylight-saving hole. In spring 02:00-03:00 does not
#: exist (a 02:30 job runs at 03:30); in autumn 01:00-02:00 happens twice (a 01:30 job runs twice).
DST_HOLE_HOURS = frozenset({1, 2})


@dataclass(frozen=True)
class SchedulerSettings:
    """When the scheduler process re-plans: the ``[scheduler]`` table.

    ``nightly_cron`` re-plans the next day; each of ``cutoffs`` (same-day batch cut-offs) re-plans today. Each is a
    5-field crontab (minute hour day month day-of-week) read in ``timezone``. Day-of-week must be written as names
    (``mon-fri``): APScheduler 3 numbers Monday 0, crontab numbers Sunday 0. No job may fire from 01:00 to 03:00
    (:data:`DST_HOLE_HOURS`). ``misfire_grace_s`` is how late a delayed run may still start (hours, not seconds).
    """

    timezone: str = "America/Denver"
    nightly_cron: str = "0 22 * * *"
    cutoffs: tuple[str, ...] = ()
    misfire_grace_s: int = 6 * 3600

    def __post_init__(self) -> None:
        if isinstance(self.cutoffs, list):
            object.__setattr__(self, "cutoffs", tuple(self.cutoffs))
        for key in ("timezone", "nightly_cron"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"[scheduler] {key} must be a string, got {getattr(self, key)!r}.")
        if not isinstance(self.cutoffs, tuple) or not all(isinstance(expr, str) for expr in self.cutoffs):
            raise ValueError(f"[scheduler] cutoffs must be a list of crontab strings, got {self.cutoffs!r}.")
        if isinstance(self.misfire_grace_s, bool) or not isinstance(self.misfire_grace_s, int):
            raise ValueError(f"[scheduler] misfire_grace_s must be a whole number, got {self.misfire_grace_s!r}.")
        if self.misfire_grace_s < 3600:
            raise ValueError(
                f"[scheduler] misfire_grace_s must be at least 3600 (an hour), got {self.misfire_grace_s}: "
                "a run delayed by a busy or sleeping host longer than the grace is silently skipped."
            )
        try:
            zone = ZoneInfo(self.timezone)
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"[scheduler] timezone {self.timezone!r} is not a known IANA time zone (e.g. 'America/Denver')."
            ) from None
        _check_crontab("nightly_cron", self.nightly_cron, zone)
        for number, expr in enumerate(self.cutoffs):
            _check_crontab(f"cutoffs[{number}]", expr, zone)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> SchedulerSettings:
        """Build from a ``[scheduler]`` table; unknown keys, wrong types, a bad zone or crontab are an error."""
        reject_unknown_keys("scheduler", table, [f.name for f in fields(cls)])
        if "cutoffs" in table and not isinstance(table["cutoffs"], list):
            raise ValueError(f"[scheduler] cutoffs must be a list of crontab strings, got {table['cutoffs']!r}.")
        return cls(**table)


def _check_crontab(key: str, expr: str, zone: ZoneInfo) -> None:
    """A 5-field crontab that fires some day, with day names, outside the daylight-saving hole."""
    from apscheduler.triggers.cron import CronTrigger  # lazy: only the scheduler process needs APScheduler

    fields_ = expr.split()
    if len(fields_) == 5 and any(char.isdigit() for char in fields_[4]):
        raise ValueError(
            f"[scheduler] {key} = {expr!r}: write the day of week as names (mon, tue, ..., sun or mon-fri): "
            "APScheduler 3 numbers Monday 0 where crontab numbers Sunday 0."
        )
    try:
        trigger = CronTrigger.from_crontab(expr, timezone=zone)
    except ValueError as error:
        raise ValueError(
            f"[scheduler] {key} = {expr!r} is not a valid crontab (minute hour day month day-of-week): {error}."
        ) from None
    hour = trigger.fields[CronTrigger.FIELD_NAMES.index("hour")]
    in_hole = sorted(h for h in DST_HOLE_HOURS if hour.get_next_value(datetime(2001, 1, 1, h)) == h)
    if in_hole:
        raise ValueError(
            f"[scheduler] {key} = {expr!r} fires at hour(s) {in_hole}, inside the 01:00-03:00 daylight-saving hole: "
            "on the spring change 02:00-03:00 does not exist and on the autumn change 01:00-02:00 happens twice, "
            "so the job would run late or twice. Choose another hour."
        )
    if trigger.get_next_fire_time(None, datetime.now(zone)) is None:
        raise ValueError(f"[scheduler] {key} = {expr!r} never fires (no such date).")


@dataclass(frozen=True)
class DatabaseSettings:
    """``url``: SQLite (the embedded default) or PostgreSQL, e.g.
    ``postgresql+psycopg://user@host/dripline``. $DRIPLINE_DATABASE_URL wins."""

    url: str = "sqlite:///dripline.db"

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> DatabaseSettings:
        reject_unknown_keys("database", table, ["url"])
        url = os.environ.get("DRIPLINE_DATABASE_URL") or table.get("url", cls.url)
        if not isinstance(url, str) or not url.startswith(("sqlite:", "postgresql")):
            raise ValueError("[database] url must be an sqlite:/// or postgresql:// URL.")
        return cls(url=url)


API_ENVIRONMENTS = frozenset({"development", "production"})


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API: the ``[api]`` table.

    ``environment`` is ``development`` or ``production``. ``docs_enabled`` serves the OpenAPI docs
    (``/docs``, ``/openapi.json``); unset, they are on in development and off in production. Production
    refuses docs (they are served without auth) and an open CORS origin (``*``). Bearer tokens are random
    and stored as a sha256 digest, so there is no signing secret to leave at a default. ``token_minutes``
    is how long a token lives (short: a lost phone's token dies soon). ``session_hours`` is how long a
    medic stays signed in on the phone's route page (a cookie that only reads; a shift's length, so
    nobody types a password at the wheel). ``workers`` is how many server processes share the port
    (one per core: each process runs Python on one core at a time).

    Sign-ins are throttled over a moving window: failed attempts at one account name from one client
    address (``login_failures_per_account_and_client``, against guessing a medic's password; kept per
    address so nobody can lock a medic out from elsewhere), and failures from one address in all
    (``login_failures_per_client``, against trying many accounts). ``login_throttle_storage`` is a
    `limits` storage URI: ``memory://`` counts in each server process; ``redis://host:6379`` shares the
    counts between processes. Past ``login_failures_per_account`` failures at one account name from
    any address (an office behind one NAT shares an address), that account takes one attempt per
    ``login_account_cooldown_s``: a cool-down that slows guessing, never a lock-out.

    ``trusted_proxies`` lists the addresses (or networks) of reverse proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; empty (the default), the client's
    address is the TCP peer's, whatever headers it sends. ``public_url`` is the address clients
    reach the server at; links handed out (calendar feeds) are built from it, never from the
    request's Host header (https:// in production). ``max_body_bytes`` and ``max_json_depth`` bound
    a request body before it is parsed (413 and 400). ``staff_session_minutes`` is how long a
    dispatcher's or admin's sign-in cookie lives: it reads every patient's data, so it lives far
    shorter than a medic's. A medic reads their own sheets from ``medic_days_back`` days ago to
    ``medic_days_ahead`` days ahead, no further.
    """

    environment: str = "development"
    docs_enabled: bool | None = None
    token_minutes: int = 30
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: tuple[str, ...] = ()
    session_hours: int = 12
    workers: int = 1
    login_failures_per_account_and_client: str = "5 per 15 minutes"
    login_failures_per_client: str = "30 per 15 minutes"
    login_throttle_storage: str = "memory://"
    login_failures_per_account: str = "20 per 15 minutes"
    login_account_cooldown_s: int = 30
    trusted_proxies: tuple[str, ...] = ()
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576
    max_json_depth: int = 32
    staff_session_minutes: int = 60
    medic_days_back: int = 7
    medic_days_ahead: int = 14

    def __post_init__(self) -> None:
        for key in ("trusted_proxies",):
            if isinstance(getattr(self, key), list):
                object.__setattr__(self, key, tuple(getattr(self, key)))
        if not isinstance(self.trusted_proxies, tuple) or not all(isinstance(p, str) for p in self.trusted_proxies):
            raise ValueError(f"[api] trusted_proxies must be a list of addresses, got {self.trusted_proxies!r}.")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"[api] trusted_proxies entry {proxy!r} is not an IP address or network "
                    "(e.g. 10.0.0.5, 10.0.0.0/24)."
                ) from None
        parts = urlsplit(self.public_url) if isinstance(self.public_url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"[api] public_url must look like https://host[:port][/prefix], got {self.public_url!r}.")
        for key in ("login_failures_per_account_and_client", "login_failures_per_client", "login_failures_per_account"):
            value = getattr(self, key)
            try:
                limits.parse(value)
            except (TypeError, ValueError):
                raise ValueError(f'[api] {key} must read like "5 per 15 minutes", got {value!r}.') from None
        if not isinstance(self.login_throttle_storage, str) or "://" not in self.login_throttle_storage:
            raise ValueError(
                f'[api] login_throttle_storage must be a storage URI such as "memory://", '
                f"got {self.login_throttle_storage!r}."
            )
        if isinstance(self.cors_origins, list):
            object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        if self.environment not in API_ENVIRONMENTS:
            raise ValueError(f"[api] environment must be one of {sorted(API_ENVIRONMENTS)}, got {self.environment!r}.")
        if self.docs_enabled is not None and not isinstance(self.docs_enabled, bool):
            raise ValueError(f"[api] docs_enabled must be true or false, got {self.docs_enabled!r}.")
        for key, low, high in (
            ("token_minutes", 1, 24 * 60),
            ("session_hours", 1, 24),
            ("workers", 1, 32),
            ("port", 1, 65535),
            ("login_account_cooldown_s", 1, 3600),
            ("max_body_bytes", 1024, 64 * 1_048_576),
            ("max_json_depth", 2, 1000),
            ("staff_session_minutes", 5, 24 * 60),
            ("medic_days_back", 0, 366),
            ("medic_days_ahead", 0, 366),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"[api] {key} must be a whole number from {low} to {high}, got {value!r}.")
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"[api] host must be a non-empty string, got {self.host!r}.")
        if not isinstance(self.cors_origins, tuple) or not all(isinstance(o, str) for o in self.cors_origins):
            raise ValueError(f"[api] cors_origins must be a list of origins, got {self.cors_origins!r}.")
        if self.environment == "production":
            if self.docs_enabled:
                raise ValueError(
                    "[api] docs_enabled = true is refused in production: the OpenAPI docs are served without auth."
                )
            if "*" in self.cors_origins:
                raise ValueError("[api] cors_origins = ['*'] (any origin) is refused in production; list the origins.")
            plain = [o for o in self.cors_origins if not o.startswith("https://")]
            if plain:
                raise ValueError(f"[api] cors_origins must be https:// origins in production, got {plain}.")
            if not self.public_url.startswith("https://"):
                raise ValueError(f"[api] public_url must be https:// in production, got {self.public_url!r}.")

    @property
    def docs(self) -> bool:
        """Whether to serve the OpenAPI docs."""
        return self.docs_enabled if self.docs_enabled is not None else self.environment == "development"

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> ApiSettings:
        """Build from an ``[api]`` table; unknown keys, wrong types and unsafe production values are an error."""
        reject_unknown_keys("api", table, [f.name for f in fields(cls)])
        for key in ("cors_origins", "trusted_proxies"):
            if key in table and not isinstance(table[key], list):
                raise ValueError(f"[api] {key} must be a list, got {table[key]!r}.")
        if "environment" in table and not isinstance(table["environment"], str):
            raise ValueError(f"[api] environment must be a string, got {table['environment']!r}.")
        return cls(**table)


#: the development default: refused in production, where the trail must be keyed with a real secret
DEV_AUDIT_KEY = "dripline-development-audit-key-not-secret"


@dataclass(frozen=True, repr=False)
class AuditSettings:
    """The audit trail: the ``[audit]`` table.

    ``key`` keys the trail's hash chain (HMAC-SHA256), so that nobody without it can recompute the
    chain after changing a row. $DRIPLINE_AUDIT_KEY wins over the file. Production refuses the
    development default and any key shorter than 32 characters.
    """

    key: str = DEV_AUDIT_KEY

    def __repr__(self) -> str:  # never print the key
        return "AuditSettings(key=<hidden>)"

    def check_for(self, environment: str) -> None:
        if not isinstance(self.key, str) or len(self.key) < 16:
            raise ValueError("[audit] key must be a string of at least 16 characters.")
        if environment == "production" and (self.key == DEV_AUDIT_KEY or len(self.key) < 32):
            raise ValueError(
                "[audit] key must be set to a secret of at least 32 characters in production "
                "(or $DRIPLINE_AUDIT_KEY); the development default is refused."
            )

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> AuditSettings:
        reject_unknown_keys("audit", table, ["key"])
        key = os.environ.get("DRIPLINE_AUDIT_KEY") or table.get("key", DEV_AUDIT_KEY)
        settings = cls(key=key)
        settings.check_for("development")
        return settings


@dataclass(frozen=True)
class ConsoleSettings:
    """The dispatcher's console: the ``[console]`` table.

    ``tile_url``: the map's tile server, a Leaflet URL template such as
    ``https://tiles.example.com/{z}/{x}/{y}.png`` (https, or http on this machine). Empty, the default: no
    tiles, and the map draws every marker and line on a plain background (nothing leaves the server; tests
    run that way). ``attribution``: the credit line the tile server asks for (plain text).
    """

    tile_url: str = ""
    attribution: str = ""

    def __post_init__(self) -> None:
        for name in ("tile_url", "attribution"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"[console] {name} must be a string.")
        if self.tile_url:
            parts = urlsplit(self.tile_url)
            local = parts.hostname in {"localhost", "127.0.0.1", "::1"}
            if parts.scheme != "https" and not (parts.scheme == "http" and local):
                raise ValueError("[console] tile_url must be an https:// URL (http:// only on this machine).")
            if not all(part in self.tile_url for part in ("{z}", "{x}", "{y}")):
                raise ValueError("[console] tile_url must hold {z}, {x} and {y}.")

    @property
    def tile_origin(self) -> str:
        """Where the tiles come from (scheme and host), for the page's Content-Security-Policy; empty: none."""
        if not self.tile_url:
            return ""
        parts = urlsplit(self.tile_url)
        return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"  # {s}.tile.example -> *.tile.example

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> ConsoleSettings:
        reject_unknown_keys("console", table, [f.name for f in fields(cls)])
        return cls(**table)


@dataclass(frozen=True)
class Settings:
    solver: SolveParams = field(default_factory=SolveParams)
    travel: TravelMatrixProvider = field(default_factory=HaversineTravel)
    geocoder: GeocoderSettings = field(default_factory=GeocoderSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    database: DatabaseSettings = field(default_factory=lambda: DatabaseSettings.from_mapping({}))
    api: ApiSettings = field(default_factory=ApiSettings)
    planning: PlanningSettings = field(default_factory=PlanningSettings)
    credentials: CredentialRules = field(default_factory=CredentialRules)
    audit: AuditSettings = field(default_factory=lambda: AuditSettings.from_mapping({}))
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    def __post_init__(self) -> None:
        self.audit.check_for(self.api.environment)

    @property
    def zone(self) -> ZoneInfo:
        """The company's time zone (America/Denver by default)."""
        return ZoneInfo(self.scheduler.timezone)

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
        reject_unknown_keys(str(chosen), document, TABLES)
        geocoder = document.get("geocoder", {})
        if not isinstance(geocoder, dict):
            raise ValueError("[geocoder] must be a table.")
        return cls(
            solver=SolveParams.from_mapping(document.get("solver", {})),
            travel=travel_from_mapping(document.get("travel", {})),
            geocoder=GeocoderSettings.from_mapping(geocoder),
            scheduler=SchedulerSettings.from_mapping(document.get("scheduler", {})),
            database=DatabaseSettings.from_mapping(document.get("database", {})),
            api=ApiSettings.from_mapping(document.get("api", {})),
            planning=PlanningSettings.from_mapping(document.get("planning", {})),
            credentials=CredentialRules.from_mapping(document.get("credentials", {})),
            audit=AuditSettings.from_mapping(document.get("audit", {})),
            console=ConsoleSettings.from_mapping(document.get("console", {})),
        )
