"""`datetime` (OGC API - Features Part 1): an instant or an interval, matched against a
collection's temporal property.

Only products have one: the certification, `certified_date` as the whole day in Vietnam time
(UTC+7) when known, else `certified_year` as the whole year.  A product without either never
matches a `datetime` query.  Other collections check the value and ignore it, as the standard
says.  Times are clamped to pandas' Timestamp range (years 1677-2262).  Pure code, no Flask.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd

from .errors import FilterError

VIETNAM = timezone(timedelta(hours=7))
# {collection: (date column, year column)}: what `datetime` is matched against.
TEMPORAL = {"products": ("certified_date", "certified_year")}

# RFC 3339 full-date, or date-time (a time without an offset is read as UTC).
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}"
                      r"(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?)?")
_MIN = pd.Timestamp.min.tz_localize("UTC").ceil("s")
_MAX = pd.Timestamp.max.tz_localize("UTC").floor("s")


def _clamp(t: datetime) -> pd.Timestamp:
    try:
        t = t.astimezone(timezone.utc)
    except OverflowError:       # within a day of year 1 or 9999
        return _MIN if t.year < 2000 else _MAX
    if t <= _MIN.to_pydatetime():
        return _MIN
    if t >= _MAX.to_pydatetime():
        return _MAX
    return pd.Timestamp(t)


def _instant(raw: str, end: bool) -> pd.Timestamp | None:
    """One end: None when open ("" or ".."); a date is its whole day in Vietnam time."""
    if raw in ("", ".."):
        return None
    if not _INSTANT.fullmatch(raw):
        raise FilterError("datetime", f"{raw[:40]!r} is not an RFC 3339 date or date-time "
                                      "(e.g. 2024-05-01 or 2024-05-01T08:00:00Z)")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=VIETNAM)
            if not end:
                return _clamp(start)
            if day == date.max:
                return _MAX
            return _clamp(start + timedelta(days=1) - timedelta(microseconds=1))
        t = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise FilterError("datetime", f"{raw[:40]!r} is not a valid date or time") from None
    return _clamp(t if t.tzinfo else t.replace(tzinfo=timezone.utc))


def parse_datetime(raw: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """`raw` as (start, end), both inclusive, UTC; None for an open end.  Raises FilterError."""
    parts = raw.split("/")
    if len(parts) == 1:
        if raw in ("", ".."):
            raise FilterError("datetime", "an instant cannot be open; use start/end with .. "
                                          "for an open end")
        return _instant(raw, False), _instant(raw, True)
    if len(parts) != 2:
        raise FilterError("datetime", "expected an instant or start/end")
    start, end = _instant(parts[0], False), _instant(parts[1], True)
    if start is not None and end is not None and start > end:
        raise FilterError("datetime", "the interval ends before it starts")
    return start, end


def periods(frame, collection: str):
    """(start, end) arrays: each feature's temporal extent, [start, end), UTC; NaT if none."""
    date_col, year_col = TEMPORAL[collection]
    days = pd.to_datetime(frame[date_col], format="%Y-%m-%d", errors="coerce")
    years = pd.to_numeric(frame[year_col], errors="coerce")
    year_start = pd.to_datetime(years.astype("Int64").astype("string") + "-01-01",
                                format="%Y-%m-%d", errors="coerce")
    start = days.where(days.notna(), year_start)
    end = (days + pd.Timedelta(days=1)).where(days.notna(), year_start + pd.DateOffset(years=1))
    local = [s.dt.tz_localize(VIETNAM).dt.tz_convert("UTC") for s in (start, end)]
    return local[0], local[1]


def matches(frame, collection: str, when) -> np.ndarray:
    """Rows whose temporal extent meets `when` (from parse_datetime); all rows when the
    collection has no temporal property."""
    if when is None or collection not in TEMPORAL:
        return np.ones(len(frame), dtype=bool)
    start, end = periods(frame, collection)
    lo, hi = when
    ok = start.notna().to_numpy(dtype=bool, copy=True)
    if hi is not None:
        ok &= (start <= hi).fillna(False).to_numpy(dtype=bool)
    if lo is not None:
        ok &= (end > lo).fillna(False).to_numpy(dtype=bool)
    return ok
