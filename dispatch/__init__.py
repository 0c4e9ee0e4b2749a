"""Dripline's business layer: bookings, medics, planning and publishing."""
