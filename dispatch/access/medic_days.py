"""Which days of their own route a medic may read: the rule both the medic's sheets and the calendar feed follow."""

from __future__ import annotations

from datetime import date, timedelta

from dispatch.store.config import Settings


def readable_days(settings: Settings, today: date) -> tuple[date, date]:
    """The first and last day a medic may read: ``[api] medic_days_back`` before today to ``medic_days_ahead``
    after it. A medic's phone is the likeliest device to be lost; it holds no key to the whole history."""
    return today - timedelta(days=settings.api.medic_days_back), today + timedelta(days=settings.api.medic_days_ahead)
