"""Business time in a dealer's time zone: how much of it lies between two instants,
and when a number of business hours after an instant ends. A vendor's feedback
target is counted in it (measures.feedback).

Closed form, no loop over days: `_position(t)` is the business seconds from a fixed
Monday to t (whole weeks, then the week's earlier working days, then today's part),
so the business time between a and b is position(b) - position(a), and a deadline
is the inverse. Wall-clock hours in the dealer's zone (a day of 08:00-17:00 is nine
hours on the days the clocks change too). Public holidays are not known.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

EPOCH = date(2000, 1, 3)  # a Monday
DAY = 86400


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str = "UTC"
    day_starts: time = time(8, 0)
    day_ends: time = time(17, 0)
    days: str = "12345"  # ISO weekdays, 1 = Monday
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_zone", zoneinfo.ZoneInfo(self.time_zone))
        if _seconds(self.day_ends) <= _seconds(self.day_starts) or not self.days:
            raise ValueError("a business day must end after it starts, on at least one weekday")

    @classmethod
    def of_dealer(cls, dealer) -> BusinessHours:
        return cls(dealer.time_zone, dealer.business_day_starts, dealer.business_day_ends, dealer.business_days)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self._zone

    @property
    def day_seconds(self) -> int:
        return _seconds(self.day_ends) - _seconds(self.day_starts)

    def _working(self, weekday_index: int) -> bool:  # 0 = Monday
        return str(weekday_index + 1) in self.days

    @property
    def week_seconds(self) -> int:
        return self.day_seconds * len(self.days)

    def _position(self, instant: datetime) -> int:
        local = instant.astimezone(self._zone)
        days = (local.date() - EPOCH).days
        weeks, weekday = divmod(days, 7)
        position = weeks * self.week_seconds + sum(self.day_seconds for d in range(weekday) if self._working(d))
        if self._working(weekday):
            now = _seconds(local.time())
            position += min(max(now - _seconds(self.day_starts), 0), self.day_seconds)
        return position

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from start to end (negative if end is earlier)."""
        return float(self._position(end) - self._position(start))

    def after(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` business hours after `start` (a deadline). Ends at a
        day's end when it uses that day up, rather than at the next day's start."""
        target = self._position(start) + round(hours * 3600)
        weeks, rest = divmod(target, self.week_seconds)
        if rest == 0 and weeks > 0:  # exactly a week's end: the last working day's end
            weeks, rest = weeks - 1, self.week_seconds
        for weekday in range(7):
            if not self._working(weekday):
                continue
            if rest <= self.day_seconds:
                day = EPOCH + timedelta(days=weeks * 7 + weekday)
                naive = datetime.combine(day, self.day_starts) + timedelta(seconds=rest)
                # Never before start (zero hours from a Saturday is that Saturday).
                return max(naive.replace(tzinfo=self._zone), start)
            rest -= self.day_seconds
        raise AssertionError("unreachable: rest is within the week")
