"""The one rule for OCOP certificates: valid for 36 months from the decision.

Most sources give only the year.  Then the certificate is taken to start on 1 January of that
year, the earliest it can have started, so a status errs towards "expired" and a listing of
certificates about to end shows one too early rather than too late.  `expired` never hides a
product: the producer may have renewed it, and the map says so.  Every page, popup, export and
statistic asks this module; nothing else computes an expiry.
"""
from __future__ import annotations

from datetime import date

VALID_MONTHS = 36
STATUSES = ("valid", "expired", "unknown")


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(d)


def day_text(d: date) -> str:
    """The one way pages and popups write a day: 31/12/2025, day first as in Vietnam (an
    ISO date reads as a code to most people)."""
    return d.strftime("%d/%m/%Y")


def _blank(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def certified_on(rec: dict) -> tuple[date | None, bool]:
    """(the certificate's start, whether that day is known) or (None, False)."""
    d = rec.get("certified_date")
    if isinstance(d, str) and d:
        try:
            return date.fromisoformat(d[:10]), True
        except ValueError:
            pass
    y = rec.get("certified_year")
    if not _blank(y):
        return date(int(y), 1, 1), False
    return None, False


def expires_on(rec: dict) -> date | None:
    start, _ = certified_on(rec)
    return add_months(start, VALID_MONTHS) if start else None


def status(rec: dict, today: date) -> str:
    """valid | expired | unknown, as of `today`."""
    end = expires_on(rec)
    if end is None:
        return "unknown"
    return "valid" if end > today else "expired"
