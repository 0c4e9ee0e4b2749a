"""The server's access log, with calendar-feed tokens cut out of the paths it prints.

A feed's address is its credential (see :mod:`dispatch.access.calendar_feeds`), so a log line such as
``GET /feeds/<token>/route.ics`` would hand out read access to anyone who can read the log.
:func:`log_config` is uvicorn's own logging set-up plus :class:`RedactFeedTokens` on the access
handler, which rewrites those paths before any handler formats them.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

FEED_PATH = re.compile(r"(/feeds/)[^/?#\s\"]+")
REDACTED = r"\1[redacted]"


class RedactFeedTokens(logging.Filter):
    """Replaces the token in any ``/feeds/<token>`` found in a record's message or arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = FEED_PATH.sub(REDACTED, record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(FEED_PATH.sub(REDACTED, arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with the redacting filter on its access handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_feed_tokens"] = {"()": RedactFeedTokens}
    config["handlers"]["access"].setdefault("filters", []).append("redact_feed_tokens")
    return config
