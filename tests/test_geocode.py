"""Geocoding against a real HTTP server on loopback that answers like Nominatim (or Photon).

The server is a fake of the public geocoder, which cannot be reached from the test
environment: it speaks the same URL paths and JSON formats, so geopy's real Nominatim and
Photon classes, their URL building, HTTP and parsing all run. Each test gets its own SQLite
database in tmp_path.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from dispatch.records.geocode import cache_key, geocode_place, make_geocoder
from dispatch.store.config import GeocoderSettings, Settings
from dispatch.store.db import make_engine, migrate, session_scope
from dispatch.store.tables import GeocodeCache, GeocodeStatus, Place

ADDRESS = "1701 Wynkoop St, Denver, CO 80202"
UNION_STATION = {"lat": "39.7527", "lon": "-105.0001", "display_name": "Union Station, 1701, Wynkoop Street, Denver"}
SALT_LAKE_CITY = {"lat": "40.7608", "lon": "-111.8910", "display_name": "Salt Lake City, Utah"}


class FakeGeocoder:
    """A fake of the public Nominatim / Photon service on 127.0.0.1 (the real one is out of reach)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.status = 200
        self.body: Any = [UNION_STATION]
        self.stall = False
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append((parts.path, parse_qs(parts.query)))
                if fake.stall:
                    fake.release.wait(5.0)
                payload = json.dumps(fake.body).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


@pytest.fixture
def fake() -> Iterator[FakeGeocoder]:
    server = FakeGeocoder()
    yield server
    server.close()


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file at the latest migration, migrated once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "dispatch.db"
    template = make_engine(f"sqlite:///{path}")
    migrate(template)
    template.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def engine(tmp_path: Path, migrated_db: Path) -> Iterator[Engine]:
    """This test's own SQLite database in tmp_path."""
    path = tmp_path / "dispatch.db"
    shutil.copyfile(migrated_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def settings_for(fake: FakeGeocoder, provider: str = "nominatim") -> GeocoderSettings:
    return GeocoderSettings(provider=provider, url=fake.url, timeout_s=0.5)


def geocode_new_place(engine: Engine, fake: FakeGeocoder, address: str = ADDRESS, **place: Any) -> Place:
    """Store a place, geocode it in one transaction, and read it back from the database."""
    geocoder = make_geocoder(settings_for(fake, place.pop("provider", "nominatim")))
    with session_scope(engine) as session:
        row = Place(address=address, **place)
        session.add(row)
        session.flush()
        geocode_place(session, row, geocoder)
        place_id = row.id
    with session_scope(engine) as session:
        stored = session.get(Place, place_id)
        assert stored is not None, "the place is kept whatever the outcome"
        return stored


def cache_rows(engine: Engine) -> list[GeocodeCache]:
    with session_scope(engine) as session:
        return list(session.exec(select(GeocodeCache)).all())


# --- outcomes -------------------------------------------------------------------------------------------------------


def test_geocode_place_answer_inside_area_ok(engine: Engine, fake: FakeGeocoder) -> None:
    """A Nominatim answer inside the service area sets the coordinates and status OK (fake of the public service)."""
    place = geocode_new_place(engine, fake)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.OK, None)
    assert (place.lat, place.lon) == pytest.approx((39.7527, -105.0001))
    [(path, params)] = fake.requests
    assert path == "/search"
    assert params["q"] == ["1701 wynkoop st, denver, co 80202"]
    assert params["format"] == ["json"] and params["limit"] == ["1"] and params["countrycodes"] == ["us"]


def test_geocode_place_slow_answer_timeout_then_retry_ok(engine: Engine, fake: FakeGeocoder) -> None:
    """An answer slower than timeout_s flags FAILED/timeout, is not cached, and a retry after recovery succeeds."""
    fake.stall = True
    place = geocode_new_place(engine, fake)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.FAILED, "timeout")
    assert (place.lat, place.lon) == (None, None)
    assert cache_rows(engine) == []

    fake.stall = False
    fake.release.set()
    geocoder = make_geocoder(settings_for(fake))
    with session_scope(engine) as session:
        retried = geocode_place(session, session.get(Place, place.id), geocoder)
        assert (retried.geocode_status, retried.geocode_problem) == (GeocodeStatus.OK, None)
    assert len(fake.requests) == 2
    assert len(cache_rows(engine)) == 1


def test_geocode_place_empty_answer_not_found(engine: Engine, fake: FakeGeocoder) -> None:
    """An empty result list flags FAILED/not_found, and that outcome is cached (fake of the public service)."""
    fake.body = []
    place = geocode_new_place(engine, fake)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.FAILED, "not_found")
    assert (place.lat, place.lon) == (None, None)
    [row] = cache_rows(engine)
    assert (row.lat, row.lon, row.problem) == (None, None, "not_found")
    again = geocode_new_place(engine, fake)
    assert again.geocode_problem == "not_found"
    assert len(fake.requests) == 1


def test_geocode_place_point_500_km_away_outside_area(engine: Engine, fake: FakeGeocoder) -> None:
    """A point in Salt Lake City (~600 km off) flags FAILED/outside_area with no coordinates, and is cached."""
    fake.body = [SALT_LAKE_CITY]
    place = geocode_new_place(engine, fake)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.FAILED, "outside_area")
    assert (place.lat, place.lon) == (None, None)
    assert [row.problem for row in cache_rows(engine)] == ["outside_area"]
    assert geocode_new_place(engine, fake).geocode_problem == "outside_area"
    assert len(fake.requests) == 1


def test_geocode_place_server_error_unavailable(engine: Engine, fake: FakeGeocoder) -> None:
    """An HTTP 503 flags FAILED/unavailable and is not cached, so the next call asks again."""
    fake.status, fake.body = 503, {"error": "overloaded"}
    place = geocode_new_place(engine, fake)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.FAILED, "unavailable")
    assert cache_rows(engine) == []
    fake.status, fake.body = 200, [UNION_STATION]
    assert geocode_new_place(engine, fake).geocode_status == GeocodeStatus.OK
    assert len(fake.requests) == 2


def test_geocode_place_refused_connection_unavailable(engine: Engine) -> None:
    """A geocoder port with nothing listening flags FAILED/unavailable; the place is kept."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    geocoder = make_geocoder(GeocoderSettings(url=f"http://127.0.0.1:{port}", timeout_s=0.5))
    with session_scope(engine) as session:
        place = Place(address=ADDRESS)
        session.add(place)
        geocode_place(session, place, geocoder)
    assert (place.geocode_status, place.geocode_problem) == (GeocodeStatus.FAILED, "unavailable")
    assert cache_rows(engine) == []


# --- cache and given coordinates ------------------------------------------------------------------------------------


def test_geocode_place_same_address_served_from_cache(engine: Engine, fake: FakeGeocoder) -> None:
    """A second lookup of the same address (other case, spacing) makes no HTTP request; the cache holds no address."""
    first = geocode_new_place(engine, fake)
    second = geocode_new_place(engine, fake, address="  1701 WYNKOOP St,   Denver, CO 80202 ")
    assert len(fake.requests) == 1
    assert (second.geocode_status, second.lat, second.lon) == (GeocodeStatus.OK, first.lat, first.lon)
    [row] = cache_rows(engine)
    assert row.key == cache_key("nominatim", ADDRESS) and len(row.key) == 64
    assert "wynkoop" not in " ".join(str(value) for value in row.model_dump().values()).casefold()


def test_geocode_place_given_coordinates_no_request(engine: Engine, fake: FakeGeocoder) -> None:
    """A place with coordinates already gets status GIVEN and the geocoder is not asked."""
    place = geocode_new_place(engine, fake, lat=39.75, lon=-104.99)
    assert (place.geocode_status, place.lat, place.lon) == (GeocodeStatus.GIVEN, 39.75, -104.99)
    assert fake.requests == []
    assert cache_rows(engine) == []


def test_geocode_place_photon_server_ok(engine: Engine, fake: FakeGeocoder) -> None:
    """Provider photon asks /api and reads a GeoJSON FeatureCollection (fake of the public Photon service)."""
    fake.body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-105.0001, 39.7527]},
                "properties": {"name": "Union Station", "city": "Denver", "country": "United States"},
            }
        ],
    }
    place = geocode_new_place(engine, fake, provider="photon")
    assert place.geocode_status == GeocodeStatus.OK
    assert (place.lat, place.lon) == pytest.approx((39.7527, -105.0001))
    [(path, params)] = fake.requests
    assert path == "/api" and params["limit"] == ["1"]
    assert cache_rows(engine)[0].key == cache_key("photon", ADDRESS)


# --- privacy ----------------------------------------------------------------------------------------------------------


def test_geocode_place_logs_no_address(engine: Engine, fake: FakeGeocoder, caplog: pytest.LogCaptureFixture) -> None:
    """Log lines at DEBUG, for a success, a cache hit, every failure code, carry ids and codes but no address text."""
    caplog.set_level(logging.DEBUG)
    geocode_new_place(engine, fake)
    geocode_new_place(engine, fake)
    fake.body = []
    geocode_new_place(engine, fake, address="12 Elm St, Golden, CO")
    fake.body = [SALT_LAKE_CITY]
    geocode_new_place(engine, fake, address="99 Pine Rd, Evergreen, CO")
    fake.stall = True
    geocode_new_place(engine, fake, address="7 Oak Ave, Boulder, CO")
    text = caplog.text.casefold()
    for fragment in ("wynkoop", "80202", "elm st", "pine rd", "oak ave", "golden", "evergreen", "boulder"):
        assert fragment not in text
    for code in ("not_found", "outside_area", "timeout"):
        assert code in text
    assert "geocoded (cache)" in text


# --- settings -------------------------------------------------------------------------------------------------------


def test_load_geocoder_settings_from_toml(tmp_path: Path) -> None:
    """A [geocoder] table sets provider, url, timeout and bbox; url splits into geopy's domain and scheme."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[geocoder]\nprovider = "photon"\nurl = "http://127.0.0.1:8080/"\ntimeout_s = 2\nbbox = [39, -106, 40, -104]\n',
        encoding="utf-8",
    )
    geocoder = Settings.load(path).geocoder
    assert geocoder == GeocoderSettings(
        provider="photon", url="http://127.0.0.1:8080/", timeout_s=2.0, bbox=(39, -106, 40, -104)
    )
    assert (geocoder.domain, geocoder.scheme) == ("127.0.0.1:8080", "http")
    assert GeocoderSettings().domain is None and Settings().geocoder == GeocoderSettings()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('provder = "photon"', "unknown key(s) ['provder']"),
        ('timeout_s = "5"', "timeout_s must be a number"),
        ("bbox = [39, -106, 40]", "bbox must be a list of four numbers"),
        ("user_agent = 3", "user_agent must be a string"),
        ('provider = "google"', "provider 'google' is unknown"),
        ('url = "127.0.0.1:8080"', "url must look like"),
        ("timeout_s = 0", "timeout_s must be positive"),
        ("bbox = [40, -106, 39, -104]", "south < north"),
    ],
)
def test_reject_geocoder_settings_bad_value(tmp_path: Path, table: str, message: str) -> None:
    """An unknown [geocoder] key, a wrong type or a bad value raises ValueError naming it."""
    path = tmp_path / "config.toml"
    path.write_text(f"[geocoder]\n{table}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[geocoder\].*" + re.escape(message)):
        Settings.load(path)
