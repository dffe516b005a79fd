"""Review (Duyệt / Trả lại) through the service, on a real SQLite file: a supervisor opens a
unit's submitted report from /trangthai, approves it or returns it with a reason typed in
chat; the unit's officers are told; a returned report reopens even after the lock until it
is sent again; stale and duplicate presses, officers and other subtrees are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.domain.buttons import (
    Approve,
    CorrectReport,
    NudgeMissing,
    OpenReport,
    ReturnReport,
    ViewSubmission,
)
from bot.domain.roles import Role
from bot.domain.templates import Level, Template
from bot.domain.units import Unit
from bot.services.invites import create_invite, new_code
from storage.interface import ReviewRefused
from storage.models import Review
from storage.sqlite import SqliteStorage
from tests.harness import Chat, Clock, Messenger, deliver_through, join, make_app

REVIEWED_TEMPLATE = '''
id = "duyet_thu"
title = "Báo cáo quý có duyệt"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
lock_days = 10
review = true
applies_to = { levels = ["xa"] }

[[questions]]
id = "htx_tong"
text = "Tổng số HTX"
type = "integer"
unit = "HTX"

[[questions]]
id = "ghi_chu"
text = "Ghi chú"
type = "text"
required = false
'''
PLAIN_TEMPLATE = REVIEWED_TEMPLATE.replace('id = "duyet_thu"', 'id = "khong_duyet"').replace(
    "review = true\n", "").replace("có duyệt", "không duyệt")
T, P = "duyet_thu", "2026-Q1"
KEY = ("LC-BX-01", T, P)


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 20/02/2026: Quý I/2026 is open, due 05/03, locked 15/03


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "duyet_thu.toml").write_text(REVIEWED_TEMPLATE, encoding="utf-8")
    (folder / "khong_duyet.toml").write_text(PLAIN_TEMPLATE, encoding="utf-8")
    app = await make_app(tmp_path, clock, reports=folder)
    yield app
    await app.close()


async def send_report(chat: Chat, figure: str, template: str = T) -> None:
    await chat.press(OpenReport(0, template, P).pack())
    await chat.say(figure)
    await chat.say("bỏ qua")
    await chat.press_label("Gửi báo cáo")
    assert "✅ Đã gửi" in chat.text, chat.text


async def correct_report(chat: Chat, figure: str) -> None:
    await chat.press(CorrectReport(0, T, P).pack())
    assert "Bạn đang sửa báo cáo đã gửi" in chat.text, chat.text
    await chat.press_label("Sửa câu")
    await chat.press_label("Câu 1")
    await chat.say(figure)
    await chat.press_label("Gửi bản sửa")
    assert "Đã gửi bản sửa" in chat.text, chat.text


async def test_template_key_review_defaults_off_and_keeps_old_hashes() -> None:
    body = {"id": "x", "title": "X", "period": "month", "deadline": "trước ngày 05 tháng sau",
            "questions": [{"id": "a", "text": "A", "type": "integer"}]}
    plain = Template.model_validate(body)
    assert plain.review is False
    assert "review" not in plain.model_dump(exclude_defaults=True)
    reviewed = Template.model_validate({**body, "review": True})
    assert reviewed.content_hash() != plain.content_hash()
    # an upgrade alone gives no template a new version: the hash of the unset key is as before
    assert Template.model_validate({**body, "review": False}).content_hash() \
        == plain.content_hash()


async def test_approve_from_trangthai_tells_the_officers(app: App, clock: Clock) -> None:
    officer = await join(app, "o1")
    colleague = await join(app, "o2")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await boss.cmd("trangthai")
    assert "Duyệt: 0 đã duyệt, 0 bị trả lại, 1 chờ duyệt" in boss.text
    await boss.press_label("Xem: Đoàn xã Bản Vược")
    assert "Lần gửi 1" in boss.text and "người gửi: đ/c Cán bộ" in boss.text
    assert "Tổng số HTX" in boss.text and "5 HTX" in boss.text
    assert "⏳ Trạng thái: chờ duyệt" in boss.text
    await boss.press_label("Duyệt")
    assert "☑️ Đã duyệt báo cáo «Báo cáo quý có duyệt» kỳ Quý I/2026 của Đoàn xã Bản Vược" \
        in boss.text
    assert await app.storage.review_states(T, P) == {"LC-BX-01": "approved"}
    # a second press of the same button: refused with a sentence, nothing recorded twice
    await boss.press(Approve(*KEY, 1).pack())
    assert "Báo cáo này đã được duyệt rồi." in boss.text
    await boss.press(ReturnReport(*KEY, 1).pack())
    assert "Báo cáo này đã được duyệt rồi." in boss.text
    # every officer of the unit is told once, on their next message
    await colleague.cmd("trangthai")
    assert "Báo cáo «Báo cáo quý có duyệt» kỳ Quý I/2026 của đơn vị bạn đã được duyệt." \
        in colleague.text
    assert "☑️ Báo cáo quý có duyệt — Quý I/2026: đã gửi lúc" in colleague.text
    assert "(đúng hạn) · đã duyệt" in colleague.text
    await colleague.cmd("trangthai")
    assert "đã được duyệt." not in colleague.text
    await officer.cmd("baocao")
    assert "đã được duyệt." in officer.text and "☑️ đã duyệt" in officer.text
    await boss.cmd("trangthai")
    assert "Duyệt: 1 đã duyệt, 0 bị trả lại, 0 chờ duyệt" in boss.text
    audit = [a for a in await app.storage.audit_log() if a["action"].startswith("review.")]
    assert [(a["action"], a["entity"], a["details"]) for a in audit] == [
        ("review.approve", "report:LC-BX-01/duyet_thu/2026-Q1", {"version": 1, "reason": None})]


async def test_return_with_reason_reopens_after_lock_until_resubmitted(
        app: App, clock: Clock) -> None:
    officer = await join(app, "o1")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC", role=Role.SUPERVISOR)  # the province: an ancestor
    clock.now += timedelta(days=30)  # past the lock (15/03)
    await officer.press(CorrectReport(0, T, P).pack())
    assert "đã khóa sổ" in officer.text
    await boss.press(ViewSubmission(*KEY).pack())
    await boss.press_label("Trả lại")
    assert "Gõ lý do trả lại" in boss.text
    await boss.say("   ")
    assert "Lý do trả lại không được để trống." in boss.text and "Gõ lý do" in boss.text
    await boss.say("x" * 501)
    assert "quá 500 ký tự" in boss.text and "Gõ lý do" in boss.text
    assert await app.storage.review_states(T, P) == {}
    await boss.say("Số HTX chưa khớp với sổ theo dõi")
    assert "↩️ Đã trả lại báo cáo" in boss.text
    assert await app.storage.review_states(T, P, ["LC-BX-01", "LC-BX-02"]) == {
        "LC-BX-01": "returned"}
    # the officer is told, and the report reopens although it is locked
    await officer.cmd("baocao")
    assert ("Báo cáo «Báo cáo quý có duyệt» kỳ Quý I/2026 của đơn vị bạn bị trả lại: Số HTX "
            "chưa khớp với sổ theo dõi. Gõ /baocao để sửa và gửi lại.") in officer.text
    assert "↩️ bị trả lại" in officer.text
    await officer.cmd("trangthai")
    assert "↩️ Báo cáo quý có duyệt — Quý I/2026: đã gửi lúc 10:00 ngày 20/02/2026 (đúng hạn)" \
        " · bị trả lại (lý do: Số HTX chưa khớp với sổ theo dõi)" in officer.text
    assert "Sửa: Báo cáo quý có duyệt" in officer.last[0].flat_buttons()[0].label
    await correct_report(officer, "6")
    # the sent message does not offer corrections until a lock time that has passed
    assert "Đã gửi bản sửa" in officer.text and "Có thể sửa đến" not in officer.text
    assert "Báo cáo kỳ này đã khóa từ 00:00 ngày 15/03/2026" in officer.text
    # sent again: waiting for review again, and locked again for the officer
    assert await app.storage.review_states(T, P) == {}
    await officer.cmd("trangthai")
    assert "bị trả lại" not in officer.text and "✅ Báo cáo quý có duyệt — Quý I/2026: đã gửi" \
        in officer.text
    await officer.press(CorrectReport(0, T, P).pack())
    assert "đã khóa sổ" in officer.text
    # the old return button (version 1) is stale; the new version can be reviewed
    await boss.press(ReturnReport(*KEY, 1).pack())
    assert "Đơn vị đã gửi lại báo cáo" in boss.text
    await boss.press(ViewSubmission(*KEY).pack())
    assert "Lần gửi 2" in boss.text and "6 HTX" in boss.text
    await boss.press(Approve(*KEY, 2).pack())
    assert "Đã duyệt" in boss.text
    audit = [(a["action"], a["details"]) for a in reversed(await app.storage.audit_log())
             if a["action"].startswith("review.")]
    assert audit == [("review.return", {"version": 1,
                                        "reason": "Số HTX chưa khớp với sổ theo dõi"}),
                     ("review.approve", {"version": 2, "reason": None})]


async def test_return_cancelled_and_stale_reason(app: App) -> None:
    officer = await join(app, "o1")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    other = await join(app, "s2", unit="LC", role=Role.ADMIN)
    await boss.press(ReturnReport(*KEY, 1).pack())
    await boss.cmd("huy")
    assert "Đã thôi trả lại báo cáo" in boss.text
    await boss.say("chữ bất kỳ")  # no longer a reason
    assert await app.storage.review_states(T, P) == {}
    # asked for a reason, but an admin approves meanwhile: the reason is refused
    await boss.press(ReturnReport(*KEY, 1).pack())
    await other.press(Approve(*KEY, 1).pack())
    assert "Đã duyệt" in other.text
    await boss.say("Thiếu số liệu")
    assert "Báo cáo này đã được duyệt rồi." in boss.text
    assert await app.storage.review_states(T, P) == {"LC-BX-01": "approved"}


async def test_officers_other_subtrees_and_plain_templates_cannot_review(app: App) -> None:
    officer = await join(app, "o1")
    await send_report(officer, "5")
    await send_report(officer, "5", template="khong_duyet")
    neighbour = await join(app, "o2", unit="LC-BX-02")
    far = await join(app, "s9", unit="LC-SP", role=Role.SUPERVISOR)
    for chat in (officer, neighbour):
        await chat.press(Approve(*KEY, 1).pack())
        assert "không dành cho vai trò của bạn" in chat.text
        await chat.press(ViewSubmission(*KEY).pack())
        assert "không dành cho vai trò của bạn" in chat.text
    await far.press(Approve(*KEY, 1).pack())
    assert "Bạn không theo dõi đơn vị này" in far.text
    await far.press(ViewSubmission(*KEY).pack())
    assert "Bạn không theo dõi đơn vị này" in far.text
    assert await app.storage.review_states(T, P) == {}
    # a template without review: no buttons, and a forged one changes nothing
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await boss.cmd("trangthai")
    assert boss.text.count("Duyệt:") == 1
    assert all("không duyệt" not in b.label for b in boss.last[0].flat_buttons())
    await boss.press(ViewSubmission("LC-BX-01", "khong_duyet", P).pack())
    assert "5 HTX" in boss.text and not boss.last[0].buttons
    await boss.press(Approve("LC-BX-01", "khong_duyet", P, 1).pack())
    assert "Nút này đã cũ" in boss.text
    assert await app.storage.review_states("khong_duyet", P) == {}


async def test_zalo_style_typed_keywords(app: App) -> None:
    """On a channel without buttons the supervisor types the number or the keyword."""
    officer = await join(app, "o1")
    await send_report(officer, "5")
    boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
    await boss.cmd("trangthai")
    await boss.say("1")  # the first unit waiting
    assert "⏳ Trạng thái: chờ duyệt" in boss.text
    await boss.say("tra lai")
    assert "Gõ lý do trả lại" in boss.text
    await boss.say("Thiếu ảnh")
    assert "Đã trả lại" in boss.text
    await officer.say("xin chào")
    assert "bị trả lại: Thiếu ảnh." in officer.text


async def test_review_states_and_record_review(storage: SqliteStorage,
                                               shipped_templates: dict[str, Template]
                                               ) -> None:
    """The storage read (one query per template and period) and the transaction's checks."""
    from datetime import UTC, datetime

    from storage.models import Changes, Submit

    await storage.upsert_units([Unit("T", "Tỉnh", None, Level.TINH)] + [
        Unit(code, code, "T", Level.XA) for code in ("X1", "X2", "X3")])
    template = next(iter(shipped_templates.values()))
    await storage.sync_templates([template])
    people = {}
    for i, code in enumerate(("X1", "X2", "X3")):
        person, _ = await _officer(storage, code, str(i))
        people[code] = person
    now = datetime(2026, 3, 1, tzinfo=UTC)

    async def submit(code: str, replaces: int | None = None) -> None:
        draft = await _draft(storage, people[code], code, template.id)
        await storage.apply(Changes(actor=people[code], ops=[Submit(
            draft, code, template.id, 1, "2026-Q1", {}, now, now, True, replaces=replaces)]))

    for code in ("X1", "X2", "X3"):
        await submit(code)
    await storage.record_review(people["X1"], Review("X1", template.id, "2026-Q1", 1, "approve"))
    await storage.record_review(people["X1"], Review("X2", template.id, "2026-Q1", 1, "return",
                                                     "sai"))
    with pytest.raises(ReviewRefused, match="approve"):
        await storage.record_review(people["X1"], Review("X1", template.id, "2026-Q1", 1,
                                                         "return", "muộn"))
    with pytest.raises(ReviewRefused, match="resubmitted"):
        await storage.record_review(people["X1"], Review("X3", template.id, "2026-Q1", 2,
                                                         "approve"))
    assert await storage.review_states(template.id, "2026-Q1") == {
        "X1": "approved", "X2": "returned"}
    assert await storage.review_states(template.id, "2026-Q1", ["X2", "X3"]) == {
        "X2": "returned"}
    assert await storage.review_states(template.id, "2026-Q2") == {}
    await submit("X2", replaces=1)  # resubmitted after the return: waiting again
    assert await storage.review_states(template.id, "2026-Q1") == {"X1": "approved"}
    reviews = await storage.report_reviews(["X1", "X2"])
    assert list(reviews) == [("X1", template.id, "2026-Q1")]
    assert reviews[("X1", template.id, "2026-Q1")].status == "approved"
    actions = [a["action"] for a in await storage.audit_log() if a["action"].startswith("rev")]
    assert actions == ["review.return", "review.approve"]


async def _officer(storage: SqliteStorage, unit: str, external: str) -> tuple[int, str]:
    from datetime import UTC, datetime

    from storage.models import Invite

    code = new_code()
    await storage.create_invite(Invite(code, unit, Role.OFFICER, 1))
    person, _ = await storage.redeem_invite(code, "test", external, "Cán bộ",
                                            datetime(2026, 3, 1, tzinfo=UTC))
    return person.id, code


async def _draft(storage: SqliteStorage, person: int, unit: str, template_id: str) -> int:
    from storage.models import Changes, StartDraft

    await storage.apply(Changes(actor=person, ops=[StartDraft(unit, template_id, 1,
                                                              "2026-Q1")]))
    draft = await storage.find_draft(unit, template_id, "2026-Q1")
    assert draft is not None
    return draft.id


async def test_officer_who_also_supervises_gets_one_numbering(app: App) -> None:
    from bot.services.invites import create_invite

    officer = await join(app, "o1")
    await send_report(officer, "5")
    invite = await create_invite(app.storage, "LC-BX", Role.SUPERVISOR, 1, 7,
                                 app.reporting.clock())
    await officer.cmd("start", invite.code)
    await officer.cmd("trangthai")
    status = [r for r in officer.last if r.buttons]
    assert len(status) == 1  # own reports and the watched units in one message
    labels = [b.label for b in status[0].flat_buttons()]
    assert labels[0].startswith("Sửa:") and labels[1].startswith("Xem: Đoàn xã Bản Vược")
    await officer.say("2")
    assert "⏳ Trạng thái: chờ duyệt" in officer.text
    await officer.say("duyet")
    assert "Đã duyệt" in officer.text



async def test_a_nudge_tells_a_returned_units_officers_it_was_returned(app: App) -> None:
    courier = await deliver_through(app, Messenger())
    try:
        officer = await join(app, "o1")
        await send_report(officer, "5")
        boss = await join(app, "s1", unit="LC-BX", role=Role.SUPERVISOR)
        await boss.press(ReturnReport(*KEY, 1).pack())
        await boss.say("Thiếu số HTX ngừng hoạt động")
        assert "Đã trả lại" in boss.text, boss.text
        await boss.press(NudgeMissing("LC-BX", T, P).pack())
        assert boss.text.startswith("🔔 Đã nhắc 1 đơn vị (1 người)."), boss.text
        (nudged,) = [t for t in await officer.received() if "bị trả lại để sửa" in t]
        assert nudged.startswith("↩️ Báo cáo của đơn vị đã bị trả lại để sửa"), nudged
    finally:
        await courier.stop()


async def test_the_presser_is_not_nudged_by_their_own_press(app: App) -> None:
    """A commune's officer who is also the district's supervisor: their press reminds the
    others, not themselves, and does not count their unit as unreachable."""
    courier = await deliver_through(app, Messenger())
    try:
        await join(app, "o1")  # officer of Bản Vược
        both = Chat(app, "o1")
        invite = await create_invite(app.storage, "LC-BX", Role.SUPERVISOR, 1, 7,
                                     app.reporting.clock())
        await both.cmd("start", invite.code)
        other = await join(app, "o2", unit="LC-BX-02")
        before = len(await both.received())
        await both.press(NudgeMissing("LC-BX", T, P).pack())
        assert both.text.startswith("🔔 Đã nhắc 1 đơn vị (1 người)."), both.text
        assert "không nhận được" not in both.text
        assert len(await both.received()) == before + 1  # the summary only
        assert any("Đoàn xã Mường Hum" in t for t in await other.received())
    finally:
        await courier.stop()
