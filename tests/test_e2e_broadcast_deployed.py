"""Issue 15's announcements on the deployed path: `baocao run` as a subprocess against the fake
Bot API with Telegram's flood limits on, the `baocao broadcast` command line run beside it (as
an admin on the server would), and nothing driven by hand: the running bot's pump claims the
rows the command wrote, its courier sends them, its per-second tick finishes them and reports.

- The command line: an announcement to the communes that have not sent a report reaches each
  of them exactly once, a recipient who blocked the bot is marked unreachable, two confirm with
  "✅ Đã nhận", `broadcast status --json` says so, a follow-up reaches only the one left, and a
  scheduled announcement cancelled before its time sends nothing, even once its time comes.
- A crash: the bot is SIGKILLed in the middle of an announcement to 40 officers (its limit
  slowed to 10 messages a second so that the kill lands mid-way) and started again: nobody is
  left out, and only messages in flight at the kill (rows still 'sending') may arrive twice.
- In chat: an admin composes an announcement with /thongbao; the preview becomes the progress
  message, which ends with the final figures, and the final report arrives as a new message.

No timed assertion: every wait is a loop polling the fake or the database up to a generous
deadline."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from tests.chaos import REPO, BotProcess, Site
from tests.fakebotapi import FakeBotAPI, Limits
from tests.phones import TelegramPhone

T = TypeVar("T")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATE = """id = "thang"
title = "Báo cáo tháng"
period = "month"
deadline = "trước ngày 05 tháng sau"
applies_to = { levels = ["xa"] }

[[questions]]
id = "htx_moi"
text = "Số HTX mới"
type = "integer"
unit = "HTX"
"""
PERIOD = "2026-01"  # long started whenever this runs: "missing" is about a past month
DISTRICT, DISTRICT_NAME = "H", "Huyện đoàn Thử Nghiệm"
ADMIN = 6000
WAIT = 60.0  # seconds: the bound of every wait (liveness, not speed)
NEWS = "Tỉnh đoàn nhắc: báo cáo tháng 1 còn thiếu, các đồng chí gửi trước ngày 10/02."
FOLLOW = "Nhắc lại: đề nghị bấm «Đã nhận» sau khi đọc thông báo."
LATER = "Thông báo hẹn giờ: họp giao ban sáng thứ hai."
CRASH = "Thông báo khẩn: kiểm tra lại số liệu quý trước khi gửi."
CHAT = "Thông báo từ huyện: lịch tập huấn cán bộ báo cáo tuần sau."


def commune(i: int) -> str:
    return f"X{i:02d}"


def officer_chat(i: int) -> int:
    return 6000 + i


def wait_until(ready: Callable[[], T | None], what: str, timeout: float = WAIT,
               tick: float = 0.1) -> T:
    """Poll `ready()` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        found = ready()
        if found is not None and found is not False:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(tick)


def make_site(root: Path, fake: FakeBotAPI, communes: int, telegram: str = "",
              level: str = "xa") -> Site:
    """A bot folder: a district of `communes` communes, the month report, quiet hours off (the
    test runs at any hour: nothing may wait for the morning), no digests (the admin's chat
    holds the composing only), `telegram` more config lines; the report is owed by the units
    of `level` (none of the tree at "tinh": no reminders)."""
    reports = root / "reports"
    reports.mkdir(parents=True)
    (reports / "thang.toml").write_text(TEMPLATE.replace('"xa"', f'"{level}"'),
                                        encoding="utf-8")
    db = root / "data" / "baocao.db"
    config = root / "config.toml"
    config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\n{telegram}'
                      f'[storage]\npath = "{db}"\n[reports]\ndir = "{reports}"\n'
                      '[reminders]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
                      '[digests]\nsend = []\n',
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("BAOCAO_TELEGRAM_TOKEN", "BAOCAO_ZALO_TOKEN")}
    env.update({"BAOCAO_CONFIG": str(config), "PYTHONPATH": str(REPO),
                "BAOCAO_TELEGRAM_TOKEN": fake.token})
    site = Site(root, db, env, 1)
    units = root / "units.csv"
    units.write_text(f"code,name,parent_code,level\n{DISTRICT},{DISTRICT_NAME},,huyen\n" + "".join(
        f"{commune(i)},Đoàn xã Số {i},{DISTRICT},xa\n" for i in range(1, communes + 1)),
        encoding="utf-8")
    site.cli("units", "import", str(units))
    return site


def invites(site: Site, wanted: list[tuple[str, str]]) -> list[str]:
    """One invite per (unit, role), made by `baocao invite create` (its entry point called in
    one process: forty processes would take half a minute)."""
    script = ("import sys\nfrom bot.cli import main\nargs = sys.argv[1:]\n"
              "for unit, role in zip(args[::2], args[1::2]):\n"
              "    code = main(['invite', 'create', '--unit', unit, '--role', role])\n"
              "    sys.stdout.flush()\n    if code:\n        sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script, *(x for pair in wanted for x in pair)],
                          env=site.env, cwd=site.root, text=True, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    codes = done.stdout.split()
    assert len(codes) == len(wanted), done.stdout
    return codes


def join(fake: FakeBotAPI, chats: dict[int, str]) -> None:
    """Everyone types their code at once; each is told they joined."""
    for chat, code in chats.items():
        fake.send_text(chat, f"/start {code}")
    wait_until(lambda: all(received(fake, chat, "Bạn đã tham gia") == 1 for chat in chats),
               "everyone joined")


def received(fake: FakeBotAPI, chat: int, text: str) -> int:
    """How many messages to `chat` hold `text` (an edited message counts once)."""
    return sum(text in str(m.get("text", "")) for m in fake.sent_messages(chat))


def status(site: Site, bid: int) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(site.cli("broadcast", "status", str(bid), "--json"))
    return found


def status_reaches(site: Site, bid: int, **wanted: object) -> dict[str, Any]:
    """`broadcast status BID --json`, asked again until it shows `wanted`."""
    last: dict[str, Any] = {}

    def ready() -> dict[str, Any] | None:
        nonlocal last
        last = status(site, bid)
        return last if all(last[k] == v for k, v in wanted.items()) else None

    try:
        return wait_until(ready, f"broadcast {bid} at {wanted}", tick=0.3)
    except AssertionError as e:
        raise AssertionError(f"{e}; last status {last}") from None


def press(fake: FakeBotAPI, chat: int, label: str) -> dict[str, Any]:
    """Press the button whose label holds `label` on the newest message that has one (its
    callback data as the bot put it in the message's reply_markup); that message."""
    for message in reversed(fake.sent_messages(chat)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    fake.press_button(chat, message["message_id"], button["callback_data"])
                    return message
    raise AssertionError(f"no button {label!r} in chat {chat}: "
                         f"{[m.get('text') for m in fake.sent_messages(chat)[-3:]]}")


def press_and_see(fake: FakeBotAPI, chat: int, label: str, expect: str) -> str:
    """Press, then wait for `expect` in the pressed message (edited) or a later one."""
    pressed = press(fake, chat, label)
    index = next(i for i, m in enumerate(fake.sent_messages(chat))
                 if m["message_id"] == pressed["message_id"])
    found = fake.wait_for_message(chat, lambda m: expect in str(m.get("text", "")),
                                  timeout=WAIT, after=index)
    return str(found.get("text", ""))


def outbox_states(site: Site, bid: int) -> dict[str, str]:
    """chat → the state of its outbox row of broadcast `bid` (one part each here)."""
    con = sqlite3.connect(site.db, timeout=30)
    try:
        rows = con.execute("SELECT chat_id, state FROM outbox WHERE broadcast_id=?",
                           (bid,)).fetchall()
    finally:
        con.close()
    assert len({chat for chat, _ in rows}) == len(rows), "one row per recipient"
    return {str(chat): str(state) for chat, state in rows}


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


def test_the_command_line_broadcasts_through_the_running_bot(tmp_path: Path,
                                                              fake: FakeBotAPI) -> None:
    site = make_site(tmp_path, fake, communes=6)
    codes = invites(site, [(commune(i), "officer") for i in range(1, 7)]
                    + [(DISTRICT, "admin")])
    reported = tmp_path / "reported.csv"  # two communes sent January's report (on paper)
    reported.write_text("unit,htx_moi\nX01,3\nX02,4\n", encoding="utf-8")
    site.cli("submissions", "import", "--template", "thang", "--period", PERIOD,
             "--received", "2026-02-03 10:00", str(reported))
    fake.set_limits(Limits())  # Telegram's: 30 a second overall, 1 a second per chat
    bot = BotProcess(site)
    bot.start()
    try:
        join(fake, {officer_chat(i): codes[i - 1] for i in range(1, 7)} | {ADMIN: codes[6]})
        blocked = officer_chat(6)
        fake.block(blocked)
        missing = [officer_chat(i) for i in range(3, 7)]

        out = site.cli("broadcast", "create", "--missing", f"thang:{PERIOD}", "--text", NEWS,
                       "--ack", "--yes")
        bid = int(out.strip())
        first = status_reaches(site, bid, state="done")
        assert first == {"id": bid, "state": "done", "recipients": 4, "delivered": 3,
                         "unreachable": 1, "failed": 0, "pending": 0, "acknowledged": 0}
        for i in range(1, 7):
            chat = officer_chat(i)
            assert received(fake, chat, NEWS) == (1 if chat in missing and chat != blocked
                                                  else 0), chat
        assert received(fake, ADMIN, NEWS) == 0
        assert outbox_states(site, bid)[str(blocked)] == "unreachable"
        con = sqlite3.connect(site.db, timeout=30)
        try:  # the person is marked, so later announcements count them without trying
            reachable = dict(con.execute("SELECT external_id, reachable FROM people"))
        finally:
            con.close()
        assert reachable == {str(c): int(c != blocked)
                             for c in [ADMIN, *map(officer_chat, range(1, 7))]}

        for chat in (officer_chat(3), officer_chat(4)):  # two confirm
            marked = press_and_see(fake, chat, "Đã nhận", "Đã xác nhận lúc")
            assert NEWS in marked
        status_reaches(site, bid, acknowledged=2)
        unconfirmed = site.cli("broadcast", "unconfirmed", str(bid))
        assert sorted(line.split("\t")[0] for line in unconfirmed.splitlines()) == [
            "X05", "X06"]  # the one who blocked the bot has not confirmed either

        # scheduled for tomorrow and cancelled; then its time is brought forward in the
        # database, as if the clock had reached it: a cancelled broadcast never starts
        at = (datetime.now(VN) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        later = int(site.cli("broadcast", "create", "--unit", DISTRICT, "--text", LATER, "--at",
                             at, "--yes").strip())
        assert status(site, later)["state"] == "scheduled"
        site.cli("broadcast", "cancel", str(later))
        con = sqlite3.connect(site.db, timeout=30)
        try:
            with con:
                con.execute("UPDATE broadcasts SET send_at=? WHERE id=?",
                            ("2026-01-01T00:00:00+00:00", later))
        finally:
            con.close()

        follow = int(site.cli("broadcast", "follow-up", str(bid), "--text", FOLLOW,
                              "--yes").strip())
        # done: the pump has ticked (start_due included) since the cancelled one fell due
        again = status_reaches(site, follow, state="done")
        assert again == {"id": follow, "state": "done", "recipients": 2, "delivered": 1,
                         "unreachable": 1, "failed": 0, "pending": 0, "acknowledged": 0}
        for i in range(1, 7):
            chat = officer_chat(i)
            assert received(fake, chat, FOLLOW) == (1 if i == 5 else 0), chat
            assert received(fake, chat, NEWS) == (1 if i in (3, 4, 5) else 0), chat
        assert status(site, later) == {"id": later, "state": "cancelled", "recipients": 0,
                                       "delivered": 0, "unreachable": 0, "failed": 0,
                                       "pending": 0, "acknowledged": 0}
        assert outbox_states(site, later) == {}
        assert all(received(fake, chat, LATER) == 0
                   for chat in [ADMIN, *map(officer_chat, range(1, 7))])
        assert status(site, bid)["acknowledged"] == 2
    finally:
        bot.stop()
    assert bot.tracebacks() == 0, (tmp_path / "bot.log").read_text(encoding="utf-8")


CROWD = 40
RATE = 10  # messages a second, the bot's and the fake's: 40 recipients take about 4 s


def test_a_kill_in_the_middle_of_a_broadcast_and_then_one_from_chat(
        tmp_path: Path, fake: FakeBotAPI) -> None:
    site = make_site(tmp_path, fake, communes=CROWD, telegram=f"max_per_second = {RATE}\n",
                     level="tinh")  # no overdue reminders to share the slowed limit with
    codes = invites(site, [(commune(i), "officer") for i in range(1, CROWD + 1)]
                    + [(DISTRICT, "admin")])
    officers = [officer_chat(i) for i in range(1, CROWD + 1)]
    fake.set_limits(Limits(overall_per_second=RATE, overall_burst=RATE))
    bot = BotProcess(site)
    bot.start()
    try:
        join(fake, dict(zip([*officers, ADMIN], codes, strict=True)))

        bid = int(site.cli("broadcast", "create", "--unit", DISTRICT, "--role", "officer",
                           "--text", CRASH, "--yes").strip())
        wait_until(lambda: list(outbox_states(site, bid).values()).count("sent") >= CROWD // 4,
                   "a quarter delivered", tick=0.02)
        bot.kill()
        # at least once for the one in flight (README, admins): a row still 'sending' may have
        # reached Telegram before the kill; it goes out again, every other row exactly once
        at_kill = {int(chat): state for chat, state in outbox_states(site, bid).items()}
        seen_at_kill = {c: received(fake, c, CRASH) for c in officers}
        in_flight = {c for c, state in at_kill.items() if state == "sending"}
        sent = {c for c, state in at_kill.items() if state == "sent"}
        assert set(at_kill) == set(officers)
        assert sent and len(sent) < CROWD, at_kill  # killed in the middle
        assert all(seen_at_kill[c] == 1 for c in sent)  # recorded after Telegram had it

        bot.start()
        status_reaches(site, bid, state="done", delivered=CROWD, pending=0)
        counts = {c: received(fake, c, CRASH) for c in officers}
        assert [c for c, n in counts.items() if n == 0] == []  # nothing lost
        twice = {c for c, n in counts.items() if n > 1}
        assert twice <= in_flight and all(counts[c] == 2 for c in twice), (twice, in_flight)
        assert all(counts[c] == 1 for c in sent)
        assert set(outbox_states(site, bid).values()) == {"sent"}

        # in chat, the bot running (its own pump): compose, preview, send, watch
        admin = TelegramPhone(fake, user=ADMIN)
        admin.type("/thongbao", expect="Bước 1/3")
        press_and_see(fake, ADMIN, "Chọn vai trò", "Gửi cho ai")
        press_and_see(fake, ADMIN, "Cán bộ báo cáo", f"Hiện có: {CROWD} người")
        press_and_see(fake, ADMIN, "Tiếp", "Bước 2/3")
        admin.type(CHAT, expect="Bước 3/3")
        press_and_see(fake, ADMIN, "Yêu cầu xác nhận", "Yêu cầu xác nhận: có")
        preview = press_and_see(fake, ADMIN, "Xem trước", "Xem trước thông báo")
        assert f"Sẽ gửi tới {CROWD} người ở {CROWD} đơn vị" in preview, preview
        assert all(received(fake, c, CHAT) == 0 for c in officers)
        preview_id = fake.sent_messages(ADMIN)[-1]["message_id"]
        shown = press_and_see(fake, ADMIN, "✅ Gửi", "đang gửi")
        assert shown.startswith(f"⏳ Thông báo #{bid + 1}: đang gửi ")
        progress = fake.wait_for_message(
            ADMIN, lambda m: m["message_id"] == preview_id and "#" in str(m.get("text", "")))
        assert "Xem trước" not in str(progress["text"])  # the preview became the progress

        done = f"✔ Thông báo #{bid + 1} đã gửi xong: {CROWD}/{CROWD} người nhận được"
        report = fake.wait_for_message(
            ADMIN, lambda m: done in str(m.get("text", "")) and m["message_id"] != preview_id,
            timeout=WAIT)
        assert "Đã xác nhận: 0" in str(report["text"])
        wait_until(lambda: done in str(next(m for m in fake.sent_messages(ADMIN)
                                            if m["message_id"] == preview_id).get("text")),
                   "the progress message shows the final figures")
        edits = [str(c.get("text")) for c in fake.iter_calls("editMessageText")
                 if c.get("chat_id") in (ADMIN, str(ADMIN)) and c.get("message_id") == preview_id]
        assert any("đang gửi" in e for e in edits) and done in edits[-1], edits
        assert all(received(fake, c, CHAT) == 1 for c in officers)
        assert received(fake, ADMIN, CHAT) == 0
        status_reaches(site, bid + 1, state="done", recipients=CROWD, delivered=CROWD)
    finally:
        bot.stop()
    log = (tmp_path / "bot.log").read_text(encoding="utf-8")
    assert bot.tracebacks() == 0, log
