"""Benchmarks for Dripline's solver (not part of the service)."""
