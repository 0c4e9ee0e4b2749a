"""The CRUD services the API, the importer, the demo and the console share: ``bookings`` (and
patients), ``roster`` (medics, shifts, credentials), ``places``, ``catalogue`` (the services),
``geocode`` and ``validation`` (the errors they raise, and the field checks they share).

May import ``dispatch.store`` and ``dispatch.rules``; nothing in ``api``.
"""
