"""What the database keeps for the server itself: ``idempotency`` (the answers to POSTs sent with an
Idempotency-Key, for 24 hours).

May import ``dispatch.models`` and ``dispatch.db``; nothing in ``api``. (Issue 12 moves settings, the
engine, the tables and the migrations here.)
"""
