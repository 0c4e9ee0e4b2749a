"""Planning a day: ``day`` (plan_day: lease, queue for a slot, solve in a child under a memory limit,
check, draft, atomic publish), ``leases`` (the day's lease and the re-plan slots), ``processes`` (which
process holds them, and whether it still runs).

May import ``routing`` and the rest of ``dispatch``; nothing in ``api``. (Issue 12 moves the other
planning modules here: translate, plans, sheets, scheduler.)
"""
