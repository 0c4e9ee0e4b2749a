"""What the database keeps and how it is reached: ``config`` (settings from config.toml and the
environment), ``db`` (engines and sessions, SQLite or PostgreSQL), ``tables`` (every table),
``migrations`` (Alembic) and ``idempotency`` (answers to POSTs sent with an Idempotency-Key).

May import ``routing`` and ``dispatch.rules`` (the settings hold their parameters); nothing in ``api``.
"""
