"""Time as a dependency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.clock import Clock, FixedClock, SystemClock


def test_system_clock_is_aware_utc_whole_seconds_and_current():
    before = datetime.now(UTC).replace(microsecond=0)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert now.microsecond == 0
    assert before <= now <= after


def test_fixed_clock_moves_only_when_advanced():
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock = FixedClock(start)
    assert clock.now() == clock.now() == start
    clock.advance(timedelta(days=1, seconds=30))
    assert clock.now() == start + timedelta(days=1, seconds=30)


def test_both_clocks_satisfy_the_protocol():
    def read(clock: Clock) -> datetime:
        return clock.now()

    assert isinstance(read(SystemClock()), datetime)
    assert isinstance(read(FixedClock(datetime(2030, 1, 1, tzinfo=UTC))), datetime)
