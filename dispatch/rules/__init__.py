"""The business rules, each in one module: ``eligibility`` (who may serve which booking: role,
credentials and their expiry, clearance, pumps), ``durations`` (how long a visit takes), ``breaks``
(Colorado's meal and rest periods).

May import ``dispatch.store.tables`` and ``routing``'s data types; nothing else.
"""
