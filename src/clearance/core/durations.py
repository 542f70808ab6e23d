"""Durations written in plans: `30d`, `14d`, `12h`, `2w`, `90m`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import StringConstraints

DURATION_PATTERN = r"^[1-9][0-9]{0,5}[mhdw]$"
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Turn `30d` into `timedelta(days=30)`; the plan model has already checked the form."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"not a duration: {text!r} (write e.g. 30d, 12h, 2w, 90m)")
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
