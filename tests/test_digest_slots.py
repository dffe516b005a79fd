"""When supervisors' scheduled digests fall due: table tests of the pure slot rules."""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import DigestsConfig, RemindersConfig
from bot.domain.digest_slots import DigestPolicy, DigestSlot, pick, slots_for, weekly_kind
from bot.domain.periods import Period
from bot.domain.reports import Window
from bot.domain.templates import Template, load_template
from bot.services.digest_sweep import policy_for
from tests.test_tonghop import TEMPLATE

VN = ZoneInfo("Asia/Ho_Chi_Minh")
T = Template.model_validate(tomllib.loads(TEMPLATE))


def local(m: int, d: int, h: int = 0, minute: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=VN)


def win(period: str, due: datetime, lock_days: int = 10) -> Window:
    return Window(T, Period.parse(period), due, due + timedelta(days=lock_days))


def only(*kinds: str, **kw: object) -> DigestPolicy:
    return DigestPolicy(send=frozenset(kinds), **kw)  # type: ignore[arg-type]


def kinds(slots: list[DigestSlot]) -> list[tuple[str, str]]:
    return [(s.at.strftime("%d/%m %H:%M"), s.kind) for s in slots]


@pytest.mark.parametrize(("due", "expected"), [
    # due at 00:00 on 5 Nov: last on-time day is 4 Nov, the morning after is 5 Nov
    (local(11, 5), [("04/11 07:30", "last_day"), ("05/11 07:30", "after_due")]),
    # due at 12:00 on 5 Nov: the last on-time day is 5 Nov itself, the morning after 6 Nov
    (local(11, 5, 12), [("05/11 07:30", "last_day"), ("06/11 07:30", "after_due")]),
    # due at 07:00: 07:30 that day is already late, so no last_day digest; after_due next day
    (local(11, 5, 7), [("06/11 07:30", "after_due")]),
])
def test_last_day_and_after_due(due: datetime, expected: list[tuple[str, str]]) -> None:
    assert kinds(slots_for(win("2026-10", due), only("last_day", "after_due"), VN)) == expected


def test_quiet_hours_move_a_slot_to_their_end() -> None:
    policy = only("last_day", "after_due", send_at=time(6, 0), quiet_start=time(21, 0),
                  quiet_end=time(7, 0))
    assert kinds(slots_for(win("2026-10", local(11, 5)), policy, VN)) == [
        ("04/11 07:00", "last_day"), ("05/11 07:00", "after_due")]


def test_weekly_in_a_long_window_skips_the_days_of_the_others() -> None:
    # a quarter (Q4 2026: 1 Oct – 31 Dec), due 00:00 on 10 Jan 2027 (a Sunday), lock 20 Jan
    w = win("2026-Q4", local(1, 10, y=2027))
    slots = slots_for(w, DigestPolicy(weekly_on="saturday"), VN)
    weekly = [s for s in slots if s.family == "weekly"]
    # every Saturday from 3 Oct 2026 to 16 Jan 2027, but 9 Jan is the last on-time day
    assert len(weekly) == 15 and weekly[0].at == local(10, 3, 7, 30)
    assert weekly[-1].at == local(1, 16, 7, 30, y=2027)
    assert local(1, 9, 7, 30, y=2027) not in {s.at for s in weekly}
    assert {s.kind for s in weekly} == {weekly_kind(s.at.date()) for s in weekly}
    assert weekly[0].kind == "weekly-2026-W40" and len({s.kind for s in weekly}) == 15
    assert [s.kind for s in slots if s.family != "weekly"] == ["last_day", "after_due"]
    assert slots == sorted(slots)


def test_weekly_alone_keeps_the_last_day_saturday() -> None:
    w = win("2026-Q4", local(1, 10, y=2027))
    weekly = slots_for(w, only("weekly", weekly_on="saturday"), VN)
    assert local(1, 9, 7, 30, y=2027) in {s.at for s in weekly}


def test_send_nothing() -> None:
    assert slots_for(win("2026-10", local(11, 5)), only(), VN) == []


def test_after_due_past_the_lock_is_not_scheduled() -> None:
    assert kinds(slots_for(win("2026-10", local(11, 5), lock_days=0),
                           only("last_day", "after_due"), VN)) == [("04/11 07:30", "last_day")]


W = win("2026-10", local(11, 5))  # Mondays 5 Oct … 9 Nov; last day 4 Nov; after 5 Nov
SLOTS = slots_for(W, DigestPolicy(), VN)
OCT = ["weekly-2026-W41", "weekly-2026-W42", "weekly-2026-W43", "weekly-2026-W44"]


@pytest.mark.parametrize(("now", "chosen", "stale"), [
    (local(10, 5, 7, 29), None, []),
    (local(10, 5, 7, 30), "weekly-2026-W41", []),
    # down all October: only Monday 2 Nov's weekly goes out, October's are recorded skipped
    (local(11, 2, 7, 30), "weekly-2026-W45", OCT),
    # down until the last day's morning: only the last_day goes out
    (local(11, 4, 9), "last_day", [*OCT, "weekly-2026-W45"]),
    # down across the due instant: nothing from before it goes out late, after_due does
    (local(11, 5, 8), "after_due", [*OCT, "weekly-2026-W45", "last_day"]),
    # after the due instant but before the morning after: nothing to send yet
    (local(11, 5, 0, 1), None, [*OCT, "weekly-2026-W45", "last_day"]),
])
def test_pick_after_downtime(now: datetime, chosen: str | None, stale: list[str]) -> None:
    got, dropped = pick(SLOTS, now, W)
    assert (got.kind if got else None) == chosen
    assert sorted(s.kind for s in dropped) == sorted(stale)


def test_pick_ignores_what_was_handled() -> None:
    pending = [s for s in SLOTS if s.kind != "after_due"]
    got, dropped = pick(pending, local(11, 9, 8), W)  # Monday 9 Nov: a weekly again
    assert got is not None and got.kind == "weekly-2026-W46"
    assert "after_due" not in {s.kind for s in dropped}


def test_a_template_overrides_the_config_and_can_turn_digests_off(tmp_path: Path) -> None:
    own = Template.model_validate(tomllib.loads(
        TEMPLATE + '\n[digests]\nweekly_on = "friday"\nsend_at = "08:15:00"\n'))
    p = policy_for(own, DigestsConfig(send=["weekly", "last_day"]), RemindersConfig())
    assert (p.send, p.weekly_on, p.send_at) == (frozenset({"weekly", "last_day"}), "friday",
                                                time(8, 15))
    off = Template.model_validate(tomllib.loads(TEMPLATE + "\n[digests]\nsend = []\n"))
    assert policy_for(off, DigestsConfig(), RemindersConfig()).send == frozenset()
    assert slots_for(W, policy_for(off, DigestsConfig(), RemindersConfig()), VN) == []
    path = tmp_path / "t.toml"
    path.write_text(TEMPLATE + '\n[digests]\nsend_at = "22:30:00"\n', encoding="utf-8")
    loaded, problems = load_template(path, quiet=(time(21, 0), time(7, 0)))
    assert loaded is None and [p.path for p in problems] == ["digests.send_at"]
