"""Importing bookings and medics from CSV or JSON files: parse and check every row, then apply.

Lives here: reading a file (:mod:`dispatch.intake.parse`) and writing it through the records
services the API uses (:mod:`dispatch.intake.apply`). May import the rest of ``dispatch``.
"""

from dispatch.intake.apply import DEFAULT_SOURCE, ImportReport, import_bookings, import_medics
from dispatch.intake.parse import RowError

__all__ = ["DEFAULT_SOURCE", "ImportReport", "RowError", "import_bookings", "import_medics"]
