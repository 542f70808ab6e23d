"""Durations and expiries: what parses, to what, and that nothing but ValueError (with a
message saying what to give instead) comes out of any other text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.durations import LATEST_EXPIRY, parse_duration, parse_expiry

NOW = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
HINT = "give a duration such as 14d or a date such as 2026-12-31"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("999999w", timedelta(weeks=999999)),
    ],
)
def test_parse_duration_reads_each_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "14", "d", "-1d", "1.5d", "14y", "1000000d", " 1d"])
def test_parse_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14d", NOW + timedelta(days=14)),
        ("12h", NOW + timedelta(hours=12)),
        (" 2w ", NOW + timedelta(weeks=2)),
        # an ISO date lasts until the end of that day, UTC
        ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC)),
        ("20261231", datetime(2027, 1, 1, tzinfo=UTC)),
        ("9998-12-31", LATEST_EXPIRY),
        # a naive datetime is UTC; an offset is kept
        ("2026-12-31T12:00", datetime(2026, 12, 31, 12, tzinfo=UTC)),
        (
            "2026-12-31T12:00+02:00",
            datetime(2026, 12, 31, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-12-31T12:00Z", datetime(2026, 12, 31, 12, tzinfo=UTC)),
        # in the past is still an expiry; the caller decides whether that is allowed
        ("2020-01-01", datetime(2020, 1, 2, tzinfo=UTC)),
    ],
)
def test_parse_expiry_reads_durations_dates_and_datetimes(text: str, expected: datetime) -> None:
    until = parse_expiry(text, NOW)
    assert until == expected
    assert until.utcoffset() == expected.utcoffset()


def test_parse_expiry_keeps_the_offset_it_was_given() -> None:
    until = parse_expiry("2026-12-31T12:00-05:00", NOW)
    assert until.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31",  # the end of that day is past datetime's range
        "9999-01-01",
        "9999-12-31T23:59:59",
        "9998-12-31T23:00-05:00",  # in 9998 locally, in 9999 in UTC
        "999999w",  # about 19,000 years from now
        "600000w",
        "0001-01-01T00:00+01:00",  # before year 1 in UTC
    ],
)
def test_parse_expiry_refuses_out_of_range_with_a_value_error(text: str) -> None:
    """Expiries datetime cannot hold, or past the end of 9998, are bad input, not overflow."""
    with pytest.raises(ValueError, match="out of range") as error:
        parse_expiry(text, NOW)
    assert HINT in str(error.value)


def test_parse_expiry_refuses_a_duration_that_ends_past_9998() -> None:
    """Within datetime's range but past LATEST_EXPIRY: refused all the same."""
    late = datetime(9998, 6, 1, tzinfo=UTC)
    assert parse_expiry("20w", late) == late + timedelta(weeks=20)
    with pytest.raises(ValueError, match="out of range"):
        parse_expiry("40w", late)


@pytest.mark.parametrize(
    "text", ["", "soon", "14", "14 days", "0d", "2026-13-01", "2026-02-30", "tomorrow", "1y"]
)
def test_parse_expiry_refuses_other_text_saying_what_to_give(text: str) -> None:
    with pytest.raises(ValueError, match="not an expiry") as error:
        parse_expiry(text, NOW)
    assert HINT in str(error.value)


@given(
    st.one_of(
        st.text(),
        st.from_regex(r"[1-9][0-9]{0,5}[mhdw]", fullmatch=True),
        st.dates().map(str),
        st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    ),
    st.datetimes(timezones=st.just(UTC)),
)
def test_parse_expiry_raises_nothing_but_value_error(text: str, now: datetime) -> None:
    """Whatever the text and whenever now is, the result is an aware datetime no later than
    LATEST_EXPIRY, or a ValueError."""
    try:
        until = parse_expiry(text, now)
    except ValueError as error:
        assert str(error)
    else:
        assert until.tzinfo is not None
        assert until.astimezone(UTC) <= LATEST_EXPIRY


@given(st.text())
def test_parse_duration_raises_nothing_but_value_error(text: str) -> None:
    try:
        parsed = parse_duration(text)
    except ValueError as error:
        assert "duration" in str(error)
    else:
        assert parsed > timedelta(0)
