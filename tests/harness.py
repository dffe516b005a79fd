"""A real app (real SQLite file, real templates) driven as one chat user, with a settable clock;
optionally delivering through the outbox to a fake messenger (`deliver_through`), so that what
reaches a chat without its user writing (pushes) can be read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App, build_app
from bot.config import Config, ReportsConfig, StorageConfig
from bot.domain.dialogue import Reply
from bot.domain.roles import Role
from bot.domain.units import check_import
from bot.services.channels import Inbound
from bot.services.delivery import Courier, Limits, Payload, Refused
from bot.services.invites import create_invite
from bot.unit_files import read_unit_rows
from storage.models import Changes

TEST_TEMPLATE = '''
id = "thu_nghiem"
title = "Báo cáo quý thử nghiệm"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
lock_days = 10
applies_to = { levels = ["xa"] }

[[questions]]
id = "co_fanpage"
text = "Đoàn xã có fanpage chưa?"
type = "yes_no"

[[questions]]
id = "so_tin"
text = "Số tin bài trên fanpage"
type = "integer"
unit = "tin bài"
when = { question = "co_fanpage", equals = true }

[[questions]]
id = "htx_tong"
text = "Tổng số HTX"
type = "integer"
unit = "HTX"

[[questions]]
id = "htx_moi"
text = "Số HTX mới"
type = "integer"
unit = "HTX"

[[questions]]
id = "ty_le"
text = "Tỉ lệ tổ vay vốn khá trở lên"
type = "percent"

[[questions]]
id = "von"
text = "Vốn ủy thác"
type = "decimal"
unit = "triệu đồng"
required = false

[[questions]]
id = "hinh_thuc"
text = "Hình thức chính"
type = "choice"
options = [{ id = "mxh", label = "Mạng xã hội" }, { id = "loa", label = "Loa truyền thanh" }]

[[questions]]
id = "kenh"
text = "Các kênh đã dùng"
type = "multi_choice"
options = [{ id = "zalo", label = "Zalo" }, { id = "facebook", label = "Facebook" },
           { id = "hop", label = "Họp dân" }]

[[questions]]
id = "ngay_hop"
text = "Ngày họp gần nhất"
type = "date"
required = false

[[questions]]
id = "anh"
text = "Ảnh hoạt động"
type = "photo"
required = false

[[questions]]
id = "kho_khan"
text = "Khó khăn, đề xuất"
type = "text"
required = false

[[rules]]
check = "htx_moi <= htx_tong"
message = "Số HTX mới không được lớn hơn tổng số HTX."

[[targets]]
question = "htx_moi"
value = 3
'''


def legacy_units_path() -> Path:
    """The unit tree before the 2025 reform (LC → LC-BX → LC-BX-01…) that the tests were
    written on; the shipped sample (bot/sample/units.csv) is the post-2025 tree."""
    return Path(__file__).parent / "data" / "units_legacy.csv"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 2, 20, 3, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Chat:
    """One chat user talking to the service, like a channel would."""

    app: App
    user_id: str
    name: str = "Cán bộ"
    counter: int = 0
    last: list[Reply] = field(default_factory=list)
    waits: bool = True  # for the reply to be delivered before acting again
    channel: str = "test"

    async def _send(self, **kw: object) -> list[Reply]:
        self.counter += 1
        event = Inbound(self.channel, self.user_id, self.name,
                        event_id=f"{self.user_id}-{self.counter}", **kw)  # type: ignore[arg-type]
        self.last = await self.app.reporting.handle(event)
        courier = self.app.channels.courier(self.channel)
        # a person acts on what reached them
        if courier is not None and courier.running and self.waits:
            await courier.delivered_all(self.user_id)
        return self.last

    async def cmd(self, name: str, arg: str = "") -> list[Reply]:
        return await self._send(command=name, argument=arg)

    async def say(self, text: str) -> list[Reply]:
        return await self._send(text=text)

    async def press(self, data: str) -> list[Reply]:
        return await self._send(button=data)

    async def photo(self, file_id: str, caption: str = "") -> list[Reply]:
        return await self._send(photo=file_id, caption=caption)

    async def document(self, file_id: str, name: str, caption: str = "") -> list[Reply]:
        return await self._send(document=(file_id, name), caption=caption)

    async def press_label(self, label_part: str) -> list[Reply]:
        """Press the button of the last replies whose label contains `label_part`."""
        for reply in reversed(self.last):
            for b in reply.flat_buttons():
                if label_part in b.label:
                    return await self.press(b.data)
        raise AssertionError(f"no button {label_part!r} in {[r.text for r in self.last]}")

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    async def received(self) -> list[str]:
        """Everything the messenger has delivered to this chat so far, replies and pushes,
        once nothing is left to deliver there (needs `deliver_through`)."""
        courier = self.app.channels.courier(self.channel)
        assert courier is not None and isinstance(courier.transport, Messenger)
        await courier.delivered_all(self.user_id)
        return courier.transport.texts(self.user_id)


async def make_app(tmp: Path, clock: Clock, with_test_template: bool = True,
                   reports: Path | None = None) -> App:
    folder = reports
    if folder is None:
        folder = tmp / "reports"
        folder.mkdir(exist_ok=True)
        if with_test_template:
            (folder / "thu_nghiem.toml").write_text(TEST_TEMPLATE, encoding="utf-8")
    config = Config(storage=StorageConfig(path=tmp / "baocao.db"),
                    reports=ReportsConfig(dir=folder, lock_days=10))
    app = await build_app(config, clock=clock)
    units, errors = check_import(read_unit_rows(legacy_units_path()),
                                 {u.code: u for u in await app.storage.list_units()})
    assert not errors
    await app.storage.upsert_units(units)
    return app


async def join(app: App, user_id: str, unit: str = "LC-BX-01",
               role: Role = Role.OFFICER) -> Chat:
    invite = await create_invite(app.storage, unit, role, 1, 7, app.reporting.clock())
    chat = Chat(app, user_id)
    await chat.cmd("start", invite.code)
    assert "Bạn đã tham gia" in chat.text, chat.text
    return chat


class Messenger:
    """The fake messenger of the "test" channel: what it accepted, per chat. Chats in
    `blocked` refuse (the person blocked the bot); an unset `gate` holds every call in flight
    (the messenger is unreachable)."""

    def __init__(self) -> None:
        self.got: dict[str, list[str]] = {}
        self.blocked: set[str] = set()
        self.gate: asyncio.Event | None = None

    async def deliver(self, chat_id: str, payload: Payload) -> int | None:
        if self.gate is not None:
            await self.gate.wait()
        if chat_id in self.blocked:
            raise Refused(chat_id)
        self.got.setdefault(chat_id, []).append(payload["text"])
        return None

    def texts(self, chat_id: str) -> list[str]:
        return list(self.got.get(chat_id, []))


def _render(event: object, chat: str, replies: list[Reply]) -> list[Payload]:
    return [{"text": r.text} for r in replies]


async def deliver_through(app: App, messenger: Messenger) -> Courier:
    """Deliver the "test" channel through the outbox to `messenger`, as `baocao run` does for
    Telegram: the courier is registered and started, then what the outbox still holds (a stop
    or a crash left it undelivered) is queued first."""
    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await app.storage.apply(Changes(actor=0, settled=settled))

    async def unreachable(person_id: int) -> None:
        await app.storage.set_reachable(person_id, False)

    courier = Courier("test", messenger, _render, record=record, unreachable=unreachable,
                      limits=Limits(0, 0))
    app.channels.register_courier(courier)
    courier.start()
    courier.enqueue(courier.stored(await app.storage.pending_outbox("test")))
    return courier
