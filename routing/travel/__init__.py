"""Travel times and distances between locations: ``matrix`` (Location, TravelMatrix, the provider protocol,
the haversine estimate), ``osrm_http`` and ``osrm_local`` (road travel from OSRM), ``road_tables`` (what those
two share), ``cache`` (an LRU of matrices).

Imports nothing else from ``routing``: the model and the solver build on it.
"""

from routing.travel.cache import CachedTravel, clear_matrix_cache, provider_key
from routing.travel.matrix import HaversineTravel, Location, TravelMatrix, TravelMatrixProvider, haversine_metres
from routing.travel.osrm_http import OsrmHttpTravel
from routing.travel.osrm_local import OsrmLocalTravel, graph_identity
from routing.travel.road_tables import RoadTravelError

__all__ = [
    "CachedTravel",
    "HaversineTravel",
    "Location",
    "OsrmHttpTravel",
    "OsrmLocalTravel",
    "RoadTravelError",
    "TravelMatrix",
    "TravelMatrixProvider",
    "clear_matrix_cache",
    "graph_identity",
    "haversine_metres",
    "provider_key",
]
