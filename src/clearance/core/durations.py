"""Durations written in plans (`30d`, `14d`, `12h`, `2w`, `90m`) and expiries given on the
command line (a duration from now, or an ISO date or datetime)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import StringConstraints

DURATION_PATTERN = r"^[1-9][0-9]{0,5}[mhdw]$"
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]

#: The latest expiry accepted: the end of 9998. The year left before datetime's limit keeps
#: later arithmetic on an expiry (time zones, a day more, storage in UTC) from overflowing.
LATEST_EXPIRY = datetime(9999, 1, 1, tzinfo=UTC)
EXPIRY_HINT = "give a duration such as 14d or a date such as 2026-12-31"

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Turn `30d` into `timedelta(days=30)`; ValueError for anything else."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"not a duration: {text!r} (write e.g. 30d, 12h, 2w, 90m)")
    try:
        return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long; write a shorter one") from None


def parse_expiry(text: str, now: datetime) -> datetime:
    """When something given `text` expires: a duration (`14d`) from `now`, the end of an ISO
    date (`2026-12-31` lasts until 2027-01-01T00:00Z), or an ISO datetime (naive means UTC;
    an offset is kept). ValueError, saying what to give instead, for anything else and for
    expiries past the end of 9998 (see LATEST_EXPIRY). `now` should be timezone-aware."""
    text = text.strip()
    try:
        if re.fullmatch(DURATION_PATTERN, text):
            until = now + parse_duration(text)
        else:
            until = _moment(text)
        in_utc = until.astimezone(UTC)
    except OverflowError:
        # Past datetime's range: far ahead for a duration or a date in 9999, far behind for
        # a datetime in year 1 whose offset moves it before year 1 in UTC.
        raise ValueError(_out_of_range(text)) from None
    if in_utc > LATEST_EXPIRY:
        raise ValueError(_out_of_range(text))
    return until


def _moment(text: str) -> datetime:
    """An ISO date (the end of that day, UTC) or datetime (naive means UTC)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(), UTC) + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an expiry: {text!r}; {EXPIRY_HINT}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _out_of_range(text: str) -> str:
    return f"expiry {text!r} is out of range: it must fall before the end of 9998; {EXPIRY_HINT}"
