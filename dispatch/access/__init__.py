"""Who may read what, and until when: ``revocation`` (ending an account's tokens, sessions and feeds at
once, and enabling or disabling accounts).

May import the rest of ``dispatch``; nothing in ``api``. (Issue 12 moves accounts, calendar feeds and the
audit trail here.)
"""
