"""Calendar feeds: a medic's route in a calendar app, by a secret address.

``POST /me/calendar-feed`` gives the medic a new address (the old one stops working) and
``DELETE /me/calendar-feed`` ends it. ``GET /feeds/{token}/route.ics`` is that address: no header,
no cookie, the token in the path is the credential (see :mod:`dispatch.access.calendar_feeds`). It holds
the medic's published stops from yesterday to two weeks ahead: times, stop numbers and a link to
the signed-in route page, but no address or service, because the calendar provider's servers are
what fetch and keep it. An unknown or revoked address is a
404 that says nothing more; every read is audited against the feed's owner.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status

from api.deps import AuditWriterDep, CurrentMedic, SessionDep, SettingsDep, TodayDep, audit, public_link
from api.models import CalendarFeedPublic
from api.sheet_views import etag_matches, route_calendar
from dispatch.access.audit import AuditEntry
from dispatch.access.calendar_feeds import find_feed, issue_feed, revoke_feeds
from dispatch.access.medic_days import readable_days
from dispatch.planning.sheets import medic_sheets

router = APIRouter(tags=["calendar feeds"])

DAYS_BEFORE = 1
DAYS_AFTER = 14
#: any text: a malformed address is a 404 like an unknown one (find_feed looks up nothing over 200 characters)
FeedToken = Annotated[str, Path(description="the secret part of the address")]


@router.post("/me/calendar-feed", response_model=CalendarFeedPublic, status_code=status.HTTP_201_CREATED)
def create_calendar_feed(
    request: Request, medic: CurrentMedic, session: SessionDep, settings: SettingsDep
) -> CalendarFeedPublic:
    """A new secret calendar address for your route (shown once); any earlier one stops working."""
    assert medic.id is not None
    issued = issue_feed(session, user_id=medic.id)
    audit(session, medic, action="write", resource="calendar_feed", resource_ids=[issued.feed_id], outcome="created")
    url = public_link(settings, request.app.url_path_for("read_calendar_feed", token=issued.token))
    return CalendarFeedPublic(url=url, days_before=DAYS_BEFORE, days_after=DAYS_AFTER)


@router.delete("/me/calendar-feed", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_calendar_feed(medic: CurrentMedic, session: SessionDep) -> Response:
    """Stop your calendar address working (a lost phone, a shared calendar)."""
    assert medic.id is not None
    revoked = revoke_feeds(session, user_id=medic.id)
    audit(session, medic, action="write", resource="calendar_feed", resource_ids=[], outcome=f"revoked:{revoked}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/feeds/{token}/route.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 404: {"description": "no such calendar address"}},
)
def read_calendar_feed(
    token: FeedToken,
    request: Request,
    session: SessionDep,
    writer: AuditWriterDep,
    settings: SettingsDep,
    today: TodayDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Your route as a calendar subscription: one event per stop, yesterday to two weeks ahead."""
    found = find_feed(session, token)
    user, feed = found if found is not None else (None, None)
    if user is None or feed is None or user.medic_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "calendar feed not found", headers={"Cache-Control": "no-store"})
    first, last = readable_days(settings, today)
    sheets = medic_sheets(
        session,
        user.medic_id,
        max(first, today - timedelta(days=DAYS_BEFORE)),
        min(last, today + timedelta(days=DAYS_AFTER)),
    )
    session.commit()  # the reads are done: release the connection before waiting on the audit writer
    body = route_calendar(
        sheets,
        settings.zone,
        "Dripline route",
        lambda day: public_link(settings, request.app.url_path_for("get_route_sheet_page", day=day.isoformat())),
        places=False,
    )
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    fresh = not etag_matches(if_none_match, etag)
    ids: list[int | str] = [f"feed:{feed.id}", f"medic:{user.medic_id}"]
    ids += [f"plan:{sheet.plan_id}" for sheet in sheets]
    ids += sorted({f"booking:{stop.booking_id}" for sheet in sheets for stop in sheet.stops})
    writer.record(AuditEntry(user.id, "read", "calendar_feed", ids, "ok" if fresh else "not_modified"))
    headers = {"Cache-Control": "no-store", "ETag": etag}
    if not fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
