"""Dripline's HTTP API: FastAPI routers, auth, Public models and the medic's pages.

Thin transport over :mod:`dispatch`; it never imports ortools or apscheduler.
"""

from api.main import create_app

__all__ = ["create_app"]
