"""Business time in a dealer's zone (apps/reports/business_hours.py)."""
from __future__ import annotations

import random
import zoneinfo
from datetime import datetime, time, timedelta

import pytest

from apps.reports.business_hours import BusinessHours

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
HOURS = BusinessHours("America/Chicago", time(8), time(17), "12345")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_friday_afternoon_plus_two_hours_is_monday_morning():
    assert HOURS.after(at(2026, 12, 4, 16, 0), 2) == at(2026, 12, 7, 9, 0)  # Fri 16:00 -> Mon 09:00


def test_a_lead_received_on_saturday_starts_its_clock_on_monday():
    assert HOURS.after(at(2026, 12, 5, 11, 30), 9) == at(2026, 12, 7, 17, 0)  # a whole Monday
    assert HOURS.between(at(2026, 12, 5, 11, 30), at(2026, 12, 7, 8, 0)) == 0


def test_a_used_up_day_ends_at_its_close_not_the_next_morning():
    assert HOURS.after(at(2026, 12, 7, 8, 0), 9) == at(2026, 12, 7, 17, 0)
    assert HOURS.after(at(2026, 12, 7, 8, 0), 45) == at(2026, 12, 11, 17, 0)  # the week's last day's end


def test_night_and_weekend_hours_do_not_count():
    assert HOURS.between(at(2026, 12, 4, 16, 0), at(2026, 12, 7, 10, 0)) == 3 * 3600


def test_it_counts_wall_clock_hours_across_the_clock_change():
    # Sunday 2026-03-08 02:00 the clocks go forward in Chicago.
    assert HOURS.between(at(2026, 3, 6, 16, 0), at(2026, 3, 9, 9, 0)) == 2 * 3600


def test_working_days_of_the_dealers_choosing():
    six_days = BusinessHours("UTC", time(9), time(13), "123456")
    utc = zoneinfo.ZoneInfo("UTC")
    assert six_days.after(datetime(2026, 12, 4, 12, tzinfo=utc), 2) == datetime(2026, 12, 5, 10, tzinfo=utc)


def test_after_and_between_agree_everywhere():
    rng = random.Random(7)
    for _ in range(500):
        start = at(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        hours = rng.randrange(0, 200) / 4
        end = HOURS.after(start, hours)
        assert HOURS.between(start, end) == pytest.approx(hours * 3600), (start, hours, end)
        assert end >= start


def test_a_day_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        BusinessHours("UTC", time(17), time(8), "12345")
