"""Planning and publishing a day: ``translate`` (the one place rows become a ``routing.Problem`` and a
``routing.Result`` becomes rows), ``day`` (plan_day: lease, solve in a child, check, draft, atomic
publish), ``leases``, ``processes``, ``jobs`` (re-plans asked for through the API, and the published
plans), ``sheets`` (route sheets), ``report`` and ``scheduler`` (the nightly re-plan).

May import ``routing`` and the rest of ``dispatch``; nothing in ``api``.
"""
