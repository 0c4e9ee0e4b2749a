"""Who may read what, and the record of every read: ``accounts`` (users, passwords, tokens, sessions),
``revocation`` (ending an account's access at once), ``medic_days`` (which days a medic may read),
``calendar_feeds``, ``audit`` (the audit trail and its seal) and ``audit_writer`` (writing it off the
request path).

May import ``dispatch.store`` and ``dispatch.records``; nothing in ``api``.
"""
