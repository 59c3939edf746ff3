"""Calendar arithmetic of terms: a subscription runs for whole months.

A month later is the same day of the next month, or that month's last day when it is shorter
(31 January + 1 month = 28 or 29 February). Renewals extend from the current end when it is
still ahead, so nobody loses paid days by renewing early, and from now when it has passed.
"""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved ``months`` calendar months on, clamped to the last day of the month."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def renewed_end(current_end: datetime, now: datetime, months: int) -> datetime:
    """The new end of a subscription renewed at ``now`` for ``months``."""
    return add_months(max(current_end, now), months)
