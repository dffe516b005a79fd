"""What chat users read, in one place, so the wording can be reviewed together.

Plain strings and small functions that fill in names, numbers and dates; no logic beyond
choosing words. The parsers (answers.py, amounts.py) decide what is wrong with an answer and
call the explanation here with the values to fill in. Not here: period names ("Quý I/2026",
periods.py) and unit levels (units.py), which are formatting tied to their types, and the
words the parsers recognise (input, not output).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

from bot.domain import vnformat
from bot.domain.invites import InviteRefusal
from bot.domain.reports import Status
from bot.domain.roles import Role

ROLE_VI = {Role.OFFICER: "cán bộ báo cáo", Role.SUPERVISOR: "cán bộ theo dõi",
           Role.ADMIN: "quản trị"}
STATUS_VI = {
    Status.NOT_STARTED: "chưa làm",
    Status.IN_PROGRESS: "đang làm dở",
    Status.SUBMITTED: "đã gửi",
    Status.LATE: "trễ hạn",
}
STATUS_ICON = {Status.NOT_STARTED: "⚪", Status.IN_PROGRESS: "✏", Status.SUBMITTED: "✅",
               Status.LATE: "⏰"}

# --- announcements in chat (/thongbao, bot/services/reporting/broadcast_chat.py) -------------

BC_NOT_ALLOWED = ("Chỉ cán bộ quản trị mới gửi được thông báo"
                  " (cán bộ theo dõi: khi cấu hình cho phép).")
BC_CANCELLED = "✖ Đã hủy thông báo đang soạn. Chưa gửi gì cả."
BC_NOBODY = "⚠ Không có ai trong nhóm người nhận này. Hãy đổi người nhận."
BC_ASK_TEXT = ("✏️ Bước 2/3 — gõ nội dung thông báo thành một tin nhắn.\n"
               "Người nhận sẽ đọc đúng như bạn gõ (tin dài được tách thành nhiều phần).\n"
               "Trên Telegram có thể gửi kèm một ảnh hoặc một tệp (chú thích của ảnh là nội"
               " dung).")
BC_TEXT_EMPTY = "⚠ Nội dung trống. Hãy gõ nội dung thông báo."
BC_NO_FILES = ("⚠ Thông báo chỉ kèm được ảnh hoặc tệp, không kèm được loại tin nhắn này. Hãy"
               " gõ nội dung thông báo bằng chữ.")
BC_FILES_NEED_TELEGRAM = ("⚠ Ảnh và tệp chỉ gửi kèm được khi soạn thông báo trên Telegram (hoặc"
                          " bằng dòng lệnh `baocao broadcast`). Ở đây hãy gõ nội dung bằng chữ.")
BC_FILE_AT_TEXT_STEP = ("⚠ Ảnh hoặc tệp gửi kèm được ở bước gõ nội dung thông báo. Hãy làm tiếp"
                        " bước đang hiện.")
BC_WITH_PHOTO = "📎 Kèm ảnh"


def bc_with_document(name: str) -> str:
    return f"📎 Kèm tệp {name}"


def bc_file_kept(attached: str | None) -> str:
    return f"{attached or '📎'}: đã nhận. Bây giờ hãy gõ nội dung thông báo."


BC_ASK_TIME = ("🕒 Gõ giờ gửi theo giờ Việt Nam, ví dụ: 17:30 (hôm nay, hoặc mai nếu đã qua),"
               " mai 7h30, hoặc 07:30 08/12 (giờ và ngày).")
BC_PICK_LEVEL = "📶 Gửi cho đơn vị cấp nào?"
BC_PICK_ROLE = "👤 Gửi cho ai trong các đơn vị đó?"
BC_PICK_TEMPLATE = "📭 Các đơn vị chưa gửi báo cáo nào?"
BC_NO_TEMPLATE = "Không có báo cáo nào áp dụng cho các đơn vị bạn phụ trách."
BC_TEMPLATE_NO_PERIOD = "Báo cáo này chưa có kỳ nào bắt đầu."
BUTTON_BC_UNIT = "🏢 Chọn đơn vị"
BUTTON_BC_OPEN_UNIT = "📂 trực thuộc"
BUTTON_BC_LEVEL = "📶 Chọn cấp"
BUTTON_BC_ROLE = "👤 Chọn vai trò"
BUTTON_BC_MISSING = "📭 Đơn vị chưa gửi báo cáo"
BUTTON_BC_NEXT = "➡ Tiếp: soạn nội dung"
BUTTON_BC_LIST = "📋 Thông báo đã gửi"
BUTTON_BC_CANCEL = "✖ Hủy"
BUTTON_BC_BACK = "↩ Quay lại"
BUTTON_BC_ALL_LEVELS = "Mọi cấp"
BUTTON_BC_ALL_ROLES = "Mọi người"
BUTTON_BC_NO_MISSING = "Bỏ điều kiện chưa gửi báo cáo"
BUTTON_BC_OTHER_PERIOD = "Chọn kỳ khác"
BUTTON_BC_WHOLE = "✔ Toàn bộ phạm vi của bạn"
BUTTON_BC_NOW = "🕒 Gửi ngay"
BUTTON_BC_LATER = "🕒 Hẹn giờ…"
BUTTON_BC_PREVIEW = "👀 Xem trước ➡"
BUTTON_BC_RECIPIENTS = "👥 Đổi người nhận"
BUTTON_BC_EDIT_TEXT = "✏️ Sửa nội dung"
BUTTON_BC_SEND = "✅ Gửi"
BUTTON_BC_EDIT = "✏️ Sửa"
BUTTON_BC_WHO = "Ai chưa xác nhận"
BUTTON_BC_AGAIN = "🔁 Nhắc lại người chưa xác nhận"
BUTTON_BC_CANCEL_SCHEDULED = "✖ Hủy thông báo đã hẹn"
BUTTON_BC_RESEND_SAME = "🔁 Gửi lại nội dung cũ"
BUTTON_BC_TO_LIST = "📋 Về danh sách"
BUTTON_BC_OPEN_STATUS = "📊 Xem tình hình"
BC_ROLE_BUTTON = {Role.OFFICER: "Cán bộ báo cáo", Role.SUPERVISOR: "Cán bộ theo dõi",
                  Role.ADMIN: "Cán bộ quản trị"}
BC_ACK_STALE = "Thông báo này đã cũ hoặc không gửi cho bạn, không cần xác nhận."
BC_ACK_ALREADY = "✅ Bạn đã xác nhận thông báo này rồi, không cần xác nhận lại."
BC_STATE_VI = {"scheduled": "🕒 đã hẹn", "sending": "⏳ đang gửi", "done": "✔ đã gửi xong",
               "cancelled": "✖ đã hủy"}
BC_CANNOT_CANCEL = "Thông báo này đã bắt đầu gửi (hoặc đã hủy): không hủy được nữa."
BC_PRESS_A_BUTTON = "Hãy bấm một nút bên dưới (hoặc gõ số của nút)."
BC_LIST_EMPTY = "Bạn chưa gửi thông báo nào."
BC_NOT_YOURS = "Thông báo này không phải của bạn."


def bc_form(audience: str, reach: str) -> str:
    return ("📣 Thông báo mới — Bước 1/3: người nhận\n"
            f"Gửi tới: {audience}\nHiện có: {reach}\n"
            "Bấm để thu hẹp (đơn vị, cấp, vai trò, chưa gửi báo cáo), rồi bấm «Tiếp».")


def bc_pick_unit(name: str, page: int, pages: int) -> str:
    paging = f" (trang {page}/{pages})" if pages > 1 else ""
    return (f"🏢 Chọn đơn vị trong {name}{paging}: bấm «✔ tên đơn vị» để gửi cho cả đơn vị"
            f" đó, «{BUTTON_BC_OPEN_UNIT}» để xem các đơn vị trực thuộc nó.")


def bc_level_button(level: str) -> str:
    return f"Các đơn vị cấp {level}"


def bc_too_long(length: int, limit: int) -> str:
    return (f"⚠ Nội dung dài {vnformat.number(length)} ký tự, quá {vnformat.number(limit)}"
            " ký tự. Hãy rút gọn rồi gõ lại.")


def bc_choose_unit(name: str) -> str:
    return f"✔ Cả {name}"


def bc_missing_part(title: str, period: str) -> str:
    return f"đơn vị chưa gửi {title} — {period}"


def bc_pick_period(title: str) -> str:
    return f"📅 Kỳ nào của «{title}»?"


def bc_missing_button(title: str, period: str) -> str:
    return f"{title} — {period}"


def bc_yes_no(on: bool) -> str:
    return "có" if on else "không"


def bc_toggle(label: str, on: bool) -> str:
    return ("☑ " if on else "☐ ") + label


BC_ACK_LABEL = "Yêu cầu xác nhận ✅"
BC_URGENT_LABEL = "Khẩn (gửi cả giờ nghỉ)"


def bc_when(at: datetime | None) -> str:
    return "ngay" if at is None else f"lúc {vnformat.moment(at)}"


def bc_options(audience: str, text: str, ack: bool, urgent: bool, at: datetime | None) -> str:
    shown = text if len(text) <= 300 else text[:300] + "…"
    return ("⚙️ Bước 3/3 — tùy chọn\n"
            f"Gửi tới: {audience}\nNội dung: «{shown}»\n"
            f"Yêu cầu xác nhận: {bc_yes_no(ack)} · Khẩn: {bc_yes_no(urgent)} · "
            f"Gửi: {bc_when(at)}")


def bc_preview(people: int, units: int, unreachable: int, audience: str, at: datetime | None,
               ack: bool, urgent: bool, text: str, quiet: bool) -> str:
    reach = f"Sẽ gửi tới {vnformat.number(people)} người ở {vnformat.number(units)} đơn vị"
    if unreachable:
        reach += f" · {vnformat.number(unreachable)} người không nhận được tin"
    options = [f"Gửi {bc_when(at)}"]
    if ack:
        options.append("có nút «✅ Đã nhận»")
    if urgent:
        options.append("khẩn: gửi cả giờ nghỉ")
    lines = ["👀 Xem trước thông báo", reach, f"Gửi tới: {audience}", " · ".join(options)]
    if quiet:
        lines.append("🌙 Đang giờ nghỉ: thông báo không khẩn sẽ đi khi hết giờ nghỉ.")
    lines += ["━━━━━━━━━━", text, "━━━━━━━━━━",
              "Bấm «✅ Gửi» để gửi. Chưa bấm thì chưa có gì được gửi."]
    return "\n".join(lines)


def bc_zalo_quota(need: int, left: int, quota: int) -> str:
    return (f"⚠ Hạn mức Zalo: thông báo cần khoảng {vnformat.number(need)} tin nhắn Zalo, tháng"
            f" này chỉ còn {vnformat.number(left)}/{vnformat.number(quota)}. Quá hạn mức, Zalo"
            " không nhận gửi nữa (cả tin trả lời cán bộ trên Zalo) cho tới tháng sau hoặc khi"
            " nâng gói.")


def bc_bad_time(typed: str, why: str) -> str:
    return f"⚠ «{typed}»: {why}"


BC_TIME_UNREAD = "không đọc được giờ. Gõ như 17:30, mai 7h30 hoặc 07:30 08/12."
BC_TIME_PAST = "thời điểm này đã qua."
BC_TIME_FAR = "chỉ hẹn được trong vòng 60 ngày."


def bc_started(broadcast_id: int, people: int) -> str:
    return f"⏳ Đang gửi thông báo #{broadcast_id}: 0/{vnformat.number(people)} người…"


def bc_scheduled(broadcast_id: int, at: datetime) -> str:
    return (f"🕒 Đã hẹn gửi thông báo #{broadcast_id} {bc_when(at)}. Muốn hủy: /thongbao →"
            f" «{BUTTON_BC_LIST}».")


def bc_progress(broadcast_id: int, delivered: int, recipients: int, unreachable: int,
                failed: int) -> str:
    line = (f"⏳ Thông báo #{broadcast_id}: đang gửi {vnformat.number(delivered)}/"
            f"{vnformat.number(recipients)}")
    if unreachable:
        line += f" · {vnformat.number(unreachable)} không nhận được"
    if failed:
        line += f" · {vnformat.number(failed)} lỗi"
    return line


def bc_final(broadcast_id: int, delivered: int, recipients: int, unreachable: int,
             failed: int, ack: bool, acknowledged: int) -> str:
    if not recipients:  # the audience emptied before it started (all reported, all left)
        return (f"✔ Thông báo #{broadcast_id}: không có ai để gửi. Lúc bắt đầu gửi, nhóm người"
                " nhận đã chọn không còn ai (ví dụ: mọi đơn vị đã gửi báo cáo).")
    line = (f"✔ Thông báo #{broadcast_id} đã gửi xong: {vnformat.number(delivered)}/"
            f"{vnformat.number(recipients)} người nhận được")
    if unreachable:
        line += f" · {vnformat.number(unreachable)} không nhận được (đã chặn bot hoặc rời kênh)"
    if failed:
        line += f" · {vnformat.number(failed)} gửi lỗi"
    if ack:
        line += (f"\nĐã xác nhận: {vnformat.number(acknowledged)}. Xem ai chưa xác nhận:"
                 f" /thongbao → «{BUTTON_BC_LIST}».")
    return line


def bc_acked(at: datetime) -> str:
    return f"✅ Đã ghi nhận: bạn đã xác nhận lúc {at:%H:%M %d/%m/%Y}."


def bc_acked_mark(at: datetime) -> str:
    return f"✅ Đã xác nhận lúc {at:%H:%M %d/%m/%Y}"


def bc_list_heading(count: int) -> str:
    return f"📋 Thông báo bạn đã gửi gần đây ({count}):"


def bc_list_button(broadcast_id: int, state: str, delivered: int, recipients: int,
                   text: str) -> str:
    head = text.splitlines()[0] if text else ""
    head = head if len(head) <= 24 else head[:24] + "…"
    return (f"#{broadcast_id} {BC_STATE_VI.get(state, state)} "
            f"{vnformat.number(delivered)}/{vnformat.number(recipients)} · {head}")


def bc_status(broadcast_id: int, state: str, at: datetime, audience: str, text: str,
              recipients: int, delivered: int, unreachable: int, failed: int, pending: int,
              ack: bool, acknowledged: int) -> str:
    shown = text if len(text) <= 500 else text[:500] + "…"
    lines = [f"📣 Thông báo #{broadcast_id} — {BC_STATE_VI.get(state, state)}",
             f"Gửi tới: {audience}", f"Thời gian: {vnformat.moment(at)}",
             f"Người nhận: {vnformat.number(recipients)} · đã nhận được "
             f"{vnformat.number(delivered)} · đang chờ {vnformat.number(pending)}"
             f" · không nhận được {vnformat.number(unreachable)}"
             + (f" · lỗi {vnformat.number(failed)}" if failed else "")]
    if ack:
        lines.append(f"Đã xác nhận: {vnformat.number(acknowledged)}/"
                     f"{vnformat.number(recipients)}")
    lines += ["", shown]
    return "\n".join(lines)


def bc_unconfirmed(broadcast_id: int, names: Sequence[str], total: int, page: int,
                   pages: int) -> str:
    if not total:
        return f"✅ Mọi người nhận thông báo #{broadcast_id} đều đã xác nhận."
    paging = f" (trang {page}/{pages})" if pages > 1 else ""
    return "\n".join([f"⏳ Chưa xác nhận thông báo #{broadcast_id}: "
                      f"{vnformat.number(total)} người{paging}",
                      *(f"• {n}" for n in names)])


def bc_ask_follow_up(broadcast_id: int, count: int) -> str:
    return (f"🔁 Nhắc lại {vnformat.number(count)} người chưa xác nhận thông báo"
            f" #{broadcast_id}: gõ nội dung nhắc, hoặc bấm «{BUTTON_BC_RESEND_SAME}».")


def bc_cancelled_scheduled(broadcast_id: int) -> str:
    return f"✖ Đã hủy thông báo #{broadcast_id}. Không ai nhận được."

# --- joining ---------------------------------------------------------------------------------

JOIN_STEPS = ("Bạn chưa tham gia đơn vị nào. Hãy xin cán bộ quản trị một mã mời, rồi gõ:\n"
              "/start MÃ_MỜI   (ví dụ: /start AB12CD34)")
JOIN_HELP = "Xin chào! Đây là trợ lý báo cáo định kỳ baocao.\n" + JOIN_STEPS


def invite_refused(reason: InviteRefusal, typed_code: str) -> str:
    return {
        InviteRefusal.UNKNOWN: f"Mã mời “{typed_code}” không đúng. Vui lòng kiểm tra lại "
                               "(chữ và số, không có dấu cách) hoặc xin mã mới từ cán bộ "
                               "quản trị.",
        InviteRefusal.EXPIRED: "Mã mời này đã hết hạn. Vui lòng xin mã mới từ cán bộ quản trị.",
        InviteRefusal.USED_UP: "Mã mời này đã dùng hết số lượt. Vui lòng xin mã mới từ cán bộ "
                               "quản trị.",
        InviteRefusal.ALREADY: "Bạn đã tham gia với mã mời này rồi. Gõ /giup để xem các lệnh.",
        InviteRefusal.REVOKED: "Mã mời này đã bị thu hồi. Vui lòng xin mã mới từ cán bộ quản "
                               "trị.",
    }[reason]


def too_many_codes(until: datetime) -> str:
    return ("Bạn đã nhập sai mã mời nhiều lần. Để bảo vệ hệ thống, bạn có thể thử lại từ "
            f"{until:%H:%M} ngày {until:%d/%m/%Y}, hoặc xin mã mới (hay đường dẫn mời) từ cán "
            "bộ quản trị.")


def joined(name: str, unit_name: str, role: Role) -> str:
    hello = f"Chào {name}!" if name else "Chào bạn!"
    return f"{hello} Bạn đã tham gia {unit_name} với vai trò {ROLE_VI[role]}."


def link_code(code: str, minutes: int) -> str:
    return (f"🔗 Mã liên kết của bạn: {code} (dùng được một lần, trong {minutes} phút).\n"
            "Mở baocao trên kênh kia (Zalo hoặc Telegram) và gửi mã này: bạn sẽ dùng cùng "
            "đơn vị, cùng các báo cáo đang làm ở cả hai nơi. Nhắc hạn vẫn gửi về kênh bạn "
            "tham gia đầu tiên.")


def linked(name: str, units: list[str]) -> str:
    hello = f"Chào {name}!" if name else "Chào bạn!"
    return (f"{hello} Đã liên kết: tài khoản này dùng chung với tài khoản baocao của bạn "
            f"({', '.join(units) or 'chưa có đơn vị'}).")


LINK_ALREADY = ("Tài khoản này đã tham gia baocao riêng nên không liên kết được. Nếu cần gộp, "
                "hãy nhờ quản trị viên hỗ trợ.")
LINK_EXPIRED = "Mã liên kết đã hết hạn. Gõ /lienket ở tài khoản cũ để lấy mã mới."


def greeting(name: str, memberships: list[tuple[str, Role]]) -> str:
    hello = f"Chào {name}!" if name else "Chào bạn!"
    parts = [f"{unit} ({ROLE_VI[role]})" for unit, role in memberships]
    return f"{hello} Bạn đang tham gia: " + "; ".join(parts) + "."


# --- commands and refusals ---------------------------------------------------------------------

COMMAND_HELP = {
    "start": "bắt đầu; tham gia bằng mã mời: /start MÃ",
    "baocao": "làm báo cáo (tiếp tục báo cáo đang làm dở)",
    "danhsach": "danh sách các báo cáo cần làm",
    "trangthai": "tình hình báo cáo kỳ này và các kỳ gần đây",
    "huy": "hủy bản nháp báo cáo đang làm",
    "giup": "hướng dẫn và danh sách lệnh",
    "lienket": "dùng baocao trên cả Telegram và Zalo (lấy mã liên kết)",
    "nhapho": "nhập hộ báo cáo cho một đơn vị chưa gửi",
    "thongbao": "gửi thông báo tới các đơn vị và xem ai đã nhận",
    "tonghop": "tổng hợp một báo cáo: đơn vị đã gửi, chưa gửi, số liệu và chỉ tiêu",
    "quanly": "quản lý người dùng: mã mời, người trong đơn vị, đơn vị chưa có ai",
}
HELP_HEADING = "Các lệnh bạn có thể dùng:"
HELP_ANSWERING = ("Khi trả lời: gõ số hoặc chữ (có dấu hay không dấu đều được), ví dụ “12”, "
                  "“1.234”, “12,5”, “co”, “khong”. Mỗi câu trả lời được lưu ngay; nếu bị gián "
                  "đoạn, gõ /baocao để làm tiếp.")
STALE = "Nút này đã cũ, không còn dùng được."
HINT_OFFICER = "Gõ /baocao để làm báo cáo, /giup để xem hướng dẫn."
HINT_WATCHER = "Gõ /trangthai để xem tình hình báo cáo, /giup để xem hướng dẫn."
CHANGED_BY_COLLEAGUE = ("Báo cáo này vừa được cán bộ khác của đơn vị cập nhật (gửi, hủy hoặc "
                        "trả lời thêm). Gõ /baocao để xem lại rồi làm tiếp.")
A_PHOTO = "ảnh vừa gửi"
_UNREADABLE = {"sticker": "nhãn dán (sticker)", "voice": "tin nhắn thoại",
               "document": "tệp đính kèm"}


def cannot_read(kind: str) -> str:
    """A sticker, a voice message or anything else that is not text or a photo ("photo": a
    picture that could not be fetched)."""
    if kind == "photo":
        return ("Xin lỗi, baocao không tải được ảnh bạn vừa gửi, nên ảnh chưa được lưu. Nếu "
                "câu hỏi cần ảnh, vui lòng gửi lại ảnh.")
    what = _UNREADABLE.get(kind, "loại tin nhắn này")
    return (f"Xin lỗi, baocao chưa đọc được {what}. Vui lòng gõ câu trả lời bằng chữ hoặc số "
            "(hoặc gửi ảnh khi câu hỏi cần ảnh).")


def not_on_list(typed: str, count: int) -> str:
    """Typed on the report list, but none of its numbers."""
    what = typed.strip() if len(typed.strip()) <= 60 else typed.strip()[:57] + "…"
    head = f"⚠ Chưa rõ “{what}” là báo cáo nào." if what else "⚠ Bạn chưa chọn báo cáo nào."
    which = "1" if count == 1 else f"từ 1 đến {count}"
    return f"{head} Gõ số thứ tự của báo cáo trong danh sách ({which})."


def same_as_earlier(value: str, earlier_question: str) -> str:
    """A typed value that repeats the answer just given to an earlier question."""
    return (f"⚠ “{value}” giống hệt câu trả lời bạn vừa gửi cho câu “{earlier_question}”, "
            "nên chưa được lưu cho câu này. Nếu đúng là câu trả lời cho câu dưới đây, bấm "
            f"“{save_repeat_label(value)}” (hoặc gõ “{KW_SAVE}”); nếu không, gõ câu trả lời "
            "đúng.")


def save_repeat_label(value: str) -> str:
    return f"✓ Lưu {value} cho câu này"


def not_shown_yet(typed: str) -> str:
    """Typed while the bot's previous reply had not reached the person: not stored."""
    what = typed.strip() if len(typed.strip()) <= 60 else typed.strip()[:57] + "…"
    return (f"⏳ Tin nhắn trước của hệ thống chưa tới được máy bạn, nên “{what}” chưa được lưu "
            "vào câu nào. Các câu trả lời trước đó vẫn được giữ nguyên. Xin xem lại dưới đây "
            "rồi trả lời tiếp:")


# Not "please retry": the answer may already be saved, and retyping it would answer the next
# question. /baocao shows where the report stands.
APOLOGY = ("Xin lỗi, hệ thống vừa gặp lỗi khi trả lời bạn. Câu trả lời đã nhập có thể đã được "
           "lưu; gõ /baocao để xem câu hỏi hiện tại.")


def unknown_command(name: str) -> str:
    return f"Không có lệnh /{name}. Gõ /giup để xem các lệnh."


def not_for_your_role(roles: list[Role]) -> str:
    names = ", ".join(sorted(ROLE_VI[r] for r in roles)) or "chưa có"
    return (f"Lệnh này không dành cho vai trò của bạn ({names}). "
            "Gõ /giup để xem các lệnh bạn có thể dùng.")


# --- /quanly: people and invites (admins) ---------------------------------------------------

ROSTER_ADMINS_ONLY = ("Chỉ cán bộ quản trị mới quản lý người dùng và mã mời. Nếu cần mời "
                      "thêm người hoặc gỡ người khỏi đơn vị, hãy liên hệ cán bộ quản trị.")
ROSTER_NOT_YOURS = ("Đơn vị, người hoặc mã mời này không thuộc phạm vi bạn quản trị, nên "
                    "không xem hay thay đổi được.")
ROSTER_PICK = "👤 Quản lý người dùng — chọn đơn vị:"
ROSTER_INVITE = "➕ Tạo mã mời"
ROSTER_INVITES = "📋 Mã mời đang mở"
ROSTER_PEOPLE = "👥 Người trong đơn vị"
ROSTER_UNCOVERED = "🚫 Đơn vị chưa có ai"
ROSTER_CHANGE_ROLE = "Đổi vai trò"
ROSTER_REMOVE = "Gỡ khỏi đơn vị"
ROSTER_NO = "↩ Không, quay lại"
ROSTER_BACK_UNIT = "↩ Về đơn vị"
ROSTER_UNKNOWN_INVITE = "Không có mã mời này (hoặc đã bị xóa)."
ROSTER_ALREADY_REVOKED = "Mã mời này đã được thu hồi trước đó."
ROSTER_NOT_MEMBER = "Người này không còn trong đơn vị (có thể vừa được người khác gỡ)."
ROSTER_RETIRED = ("Đơn vị này đã thôi hoạt động (giải thể hoặc sáp nhập), nên không tạo mã mời "
                  "vào đơn vị được nữa.")
ROSTER_LAST_ADMIN = ("Bạn là cán bộ quản trị duy nhất của đơn vị này nên không thể tự gỡ mình "
                     "hay tự đổi vai trò. Hãy mời thêm một cán bộ quản trị trước.")
ROSTER_NO_INVITES = "Đơn vị này không có mã mời nào đang mở."
ROSTER_NO_PEOPLE = "Đơn vị này chưa có ai tham gia. Bấm “➕ Tạo mã mời” để mời người."
ROSTER_ALL_COVERED = "Mọi đơn vị trong phạm vi bạn quản trị đều đã có cán bộ báo cáo."
CHANNEL_VI = {"telegram": "Telegram", "zalo": "Zalo", "console": "máy tính"}


def roster_unit(name: str, people: int, officers: int, children: int) -> str:
    lines = [f"🏢 {name}", f"Người tham gia: {vnformat.number(people)} "
             f"(cán bộ báo cáo: {vnformat.number(officers)})."]
    if children:
        lines.append(f"Đơn vị trực thuộc: {vnformat.number(children)}.")
    lines.append("Chọn việc cần làm:")
    return "\n".join(lines)


def roster_children_button(count: int) -> str:
    return f"📂 Đơn vị trực thuộc ({vnformat.number(count)})"


def roster_up_button(name: str) -> str:
    return f"⬆ {name}"


def roster_children(name: str, page: int, pages: int) -> str:
    return f"📂 Đơn vị trực thuộc {name} (trang {page}/{pages}) — chọn đơn vị:"


def roster_pick_role(name: str) -> str:
    return f"➕ Mã mời vào {name}: người được mời sẽ có vai trò nào?"


def roster_role_button(role: Role) -> str:
    return ROLE_VI[role].capitalize()


def roster_invite_made(code: str, unit: str, role: Role, link: str | None, until: datetime,
                       days: int) -> str:
    lines = [f"🎟 Mã mời vào {unit}, vai trò {ROLE_VI[role]}: {code}"]
    if link:
        lines.append(f"Đường dẫn tham gia (Telegram): {link}")
    lines.append(f"Dùng được 1 lần, có hiệu lực đến {until:%H:%M} ngày {until:%d/%m/%Y} "
                 f"({days} ngày).")
    lines.append("Hãy chuyển tiếp tin nhắn này cho người cần tham gia: họ bấm đường dẫn, hoặc "
                 f"mở bot baocao (Telegram hay Zalo) và gửi: {code}")
    return "\n".join(lines)


def roster_invites(name: str, lines: list[str]) -> str:
    return f"📋 Mã mời đang mở của {name} ({vnformat.number(len(lines))}):\n" + "\n".join(lines)


def roster_invite_line(code: str, role: Role, uses: int, max_uses: int,
                       until: datetime | None) -> str:
    left = max_uses - uses
    when = f", hết hạn {until:%d/%m/%Y}" if until else ", không hết hạn"
    return f"{code} — {ROLE_VI[role]}, còn {vnformat.number(left)} lượt{when}"


def roster_revoke_button(code: str) -> str:
    return f"🗑 Thu hồi {code}"


def roster_ask_revoke(code: str, unit: str, role: Role) -> str:
    return (f"Thu hồi mã mời {code} ({unit}, {ROLE_VI[role]})? Sau đó không ai tham gia được "
            "bằng mã này; những người đã tham gia vẫn giữ nguyên.")


ROSTER_REVOKE_YES = "✅ Thu hồi"


def roster_revoked(code: str) -> str:
    return f"Đã thu hồi mã mời {code}."


def roster_people(name: str, count: int, page: int, pages: int, lines: list[str]) -> str:
    head = f"👥 Người trong {name}: {vnformat.number(count)}"
    if pages > 1:
        head += f" (trang {page}/{pages})"
    return head + "\n" + "\n".join(lines)


def roster_person_line(index: int, name: str, roles: list[Role], channels: list[str],
                       last: datetime | None, reachable: bool) -> str:
    role_words = ", ".join(ROLE_VI[r] for r in roles)
    where = " + ".join(CHANNEL_VI.get(c, c) for c in channels)
    seen = f"hoạt động gần nhất {last:%d/%m/%Y}" if last else "chưa hoạt động"
    line = f"{index}. {name or 'Chưa có tên'} — {role_words} · {where} · {seen}"
    if not reachable:
        line += " · ⚠ không nhận được tin (đã chặn bot)"
    return line


def roster_person_role_button(name: str) -> str:
    return f"Đổi vai trò: {name}"


def roster_person_remove_button(name: str) -> str:
    return f"Gỡ khỏi đơn vị: {name}"


def roster_ask_new_role(name: str, unit: str, roles: list[Role]) -> str:
    now = ", ".join(ROLE_VI[r] for r in roles)
    return f"Đổi vai trò của {name} trong {unit} (hiện là {now}) thành:"


def roster_role_changed(name: str, unit: str, role: Role) -> str:
    return f"Đã đổi vai trò của {name} trong {unit} thành {ROLE_VI[role]}."


def roster_ask_remove(name: str, unit: str, roles: list[Role]) -> str:
    now = ", ".join(ROLE_VI[r] for r in roles)
    return (f"Gỡ {name} ({now}) khỏi {unit}? Các báo cáo đã gửi và bản nháp đang làm của đơn "
            "vị vẫn được giữ nguyên; người này không làm báo cáo của đơn vị được nữa.")


ROSTER_REMOVE_YES = "✅ Gỡ khỏi đơn vị"


def roster_removed(name: str, unit: str) -> str:
    return f"Đã gỡ {name} khỏi {unit}. Dữ liệu báo cáo của đơn vị vẫn được giữ nguyên."


def roster_uncovered(nobody: int, no_officer: int, page: int, pages: int,
                     lines: list[str]) -> str:
    head = (f"🚫 Đơn vị chưa có ai đăng ký: {vnformat.number(nobody)}; có người nhưng chưa có "
            f"cán bộ báo cáo: {vnformat.number(no_officer)}")
    if pages > 1:
        head += f" (trang {page}/{pages})"
    return head + "\n" + "\n".join(lines) + "\nChọn một đơn vị để tạo mã mời."


def roster_uncovered_line(index: int, name: str, nobody: bool) -> str:
    return f"{index}. {name} — " + ("chưa có ai" if nobody else "chưa có cán bộ báo cáo")


# --- report list and status ------------------------------------------------------------------

NO_REPORTS = "Hiện đơn vị bạn không có báo cáo nào cần làm."
NO_TEMPLATE = ("Chưa có mẫu báo cáo nào áp dụng cho đơn vị của bạn, nên không có báo cáo nào "
               "cần làm. Nếu thấy chưa đúng, bạn hãy báo cán bộ quản trị hệ thống.")


def no_template_for(unit: str) -> str:
    """For a person with several units: the one no template applies to."""
    return f"{unit}: chưa có mẫu báo cáo nào áp dụng cho đơn vị này."


def unit_stopped(unit: str, last_day: date, merged_into: str | None,
                 reporter: str | None = None) -> str:
    """A retired (or merged) unit's officer opening the list after its last period;
    `reporter`: the unit that reports now, when `merged_into` was itself merged since."""
    text = f"{unit} đã thôi báo cáo từ sau ngày {vnformat.day(last_day)}"
    if merged_into:
        text += (f" do đã sáp nhập vào {merged_into}; các kỳ báo cáo tiếp theo do "
                 f"{reporter or merged_into} thực hiện")
    return text + ". Các báo cáo đã gửi vẫn xem được bằng /trangthai."
LIST_HEADING = "Các báo cáo của đơn vị bạn (chọn một để làm):"
STATUS_HEADING = "Tình hình báo cáo của đơn vị:"
STATUS_EMPTY = "Chưa có báo cáo nào."
NOTHING_TO_WATCH = "Chưa có đơn vị nào để theo dõi."
NOTHING_OPEN_TO_WATCH = ("Hiện không có kỳ báo cáo nào đang mở mà các đơn vị bạn "
                         "theo dõi phải gửi.")
LOCKED = "(đã khóa sổ)"


def progress_words(done: int, total: int) -> str:
    return f"({done}/{total} câu)"


def due_by(last_day: date) -> str:
    """'hạn: hết ngày 04/03/2026': the last on-time day."""
    return f"hạn: hết ngày {vnformat.day(last_day)}"


def lateness(days_late: int) -> str:
    return f"trễ hạn {days_late} ngày" if days_late else "đúng hạn"


def sent_at(moment: datetime, lateness: str, corrections: int) -> str:
    text = f" lúc {vnformat.moment(moment)} ({lateness})"
    return text + (f", đã sửa {corrections} lần" if corrections else "")


def correct_button(title: str, period: str) -> str:
    return f"Sửa: {title} · {period}"


def watch_heading(unit_name: str) -> str:
    return f"Tình hình báo cáo — {unit_name}:"


def watch_line(title: str, period: str, due: str, done: int, expected: int, on_time: int) -> str:
    return f"• {title} — {period} ({due}): đã gửi {done}/{expected}, đúng hạn {on_time}"


def not_sent(names: list[str]) -> str:
    return "  Chưa gửi: " + ", ".join(names[:10]) + (" …" if len(names) > 10 else "")


# --- a report: opening, asking, summary, sending --------------------------------------------

NOT_STARTED_YET = "Kỳ báo cáo này chưa bắt đầu."
NO_DRAFT = "Báo cáo này không còn bản nháp (có thể đã được gửi hoặc hủy)."
NO_DRAFT_TO_SEND = "Báo cáo này không còn bản nháp (có thể đã được gửi)."


def no_longer_officer(unit: str) -> str:
    return (f"Bạn không còn là cán bộ báo cáo của {unit}, nên không làm tiếp báo cáo này được. "
            "Những câu đã trả lời vẫn được giữ cho đơn vị.")

NO_DRAFT_TO_CANCEL = "Không có bản nháp nào để hủy."
NOTHING_IN_PROGRESS = "Bạn không có báo cáo nào đang làm. Gõ /baocao để xem danh sách."
NOT_A_PHOTO_QUESTION = "Bạn chưa ở câu hỏi cần ảnh. Gõ /baocao để tiếp tục báo cáo."
CONTINUE_HINT = "Gõ /baocao để tiếp tục."
FIRST_QUESTION = "Đây là câu đầu tiên."
REQUIRED_NO_SKIP = "⚠ Câu này bắt buộc, không bỏ qua được."
REQUIRED_NO_CLEAR = ("⚠ Câu này bắt buộc, không xóa được câu trả lời. Gửi câu trả lời mới để "
                     "thay, hoặc bấm “Giữ nguyên”.")
STILL_ON_QUESTION = "↩ Bạn đang trả lời câu hỏi này:"
PICK_AT_LEAST_ONE = "⚠ Vui lòng chọn ít nhất một mục rồi bấm “Xong”."
SKIPPED = "↷ Đã bỏ qua."
KEPT = "✓ Giữ nguyên câu trả lời."
CLEARED = "🧹 Đã xóa câu trả lời."
CANNOT_SEND_YET = "Chưa gửi được: còn câu cần sửa."
FIX_BEFORE_SENDING = "Cần sửa trước khi gửi:"
CORRECTING = ("Bạn đang sửa báo cáo đã gửi. Chọn “Sửa câu…” để thay câu trả lời, rồi “Gửi bản "
              "sửa”. Gõ /huy để bỏ bản sửa (báo cáo đã gửi giữ nguyên).")
CORRECTION_DROPPED = "Đã bỏ bản sửa. Báo cáo đã gửi vẫn giữ nguyên."
DRAFT_CANCELLED = "Đã hủy bản nháp. Gõ /baocao khi muốn làm lại."
CHOOSE_QUESTION = "Bạn muốn sửa câu nào? Chọn số câu:"
NOT_ANSWERED = "❗ chưa trả lời"
NO_LONGER_ASKED = "— (không còn hỏi)"
# Answers said back (summary, "✓ Đã lưu: …"); numbers, dates and option labels as they are.
SKIPPED_VALUE = "— (bỏ qua)"
ANSWER_YES, ANSWER_NO = "Có", "Không"
PHOTO_ANSWER = "(đã gửi ảnh)"

BUTTON_YES, BUTTON_NO = "Có", "Không"
BUTTON_DONE = "Xong ✔"
BUTTON_KEEP = "Giữ nguyên ➡"
BUTTON_SKIP = "Bỏ qua"
BUTTON_CLEAR = "🧹 Xóa câu trả lời"
BUTTON_BACK = "⬅ Quay lại"
BUTTON_SEND = "📤 Gửi báo cáo"
BUTTON_SEND_CORRECTION = "📤 Gửi bản sửa"
BUTTON_CONFIRM_SEND = "✅ Có, gửi bản sửa"
BUTTON_REVIEW = "↩ Chưa, xem lại"
BUTTON_EDIT = "✏ Sửa câu…"
BUTTON_CANCEL = "🗑 Hủy bản nháp"
BUTTON_DROP_CORRECTION = "🗑 Bỏ bản sửa"
BUTTON_CORRECT = "✏ Sửa báo cáo"
BUTTON_CONFIRM_CANCEL = "🗑 Có, hủy bản nháp"
BUTTON_KEEP_DRAFT = "↩ Không, làm tiếp"
BUTTON_TO_SUMMARY = "↩ Về bản tóm tắt"
BUTTON_REPORT_NOW = "📝 Báo cáo ngay"

# What to type for a button on channels without buttons (read with or without diacritics).
KW_YES, KW_NO, KW_DONE = "có", "không", "xong"
KW_KEEP, KW_CLEAR, KW_SKIP, KW_BACK = "giữ nguyên", "xóa", "bỏ qua", "quay lại"
KW_SEND, KW_EDIT, KW_CANCEL, KW_SUMMARY = "gửi", "sửa", "hủy", "tóm tắt"
KW_SAVE = "lưu"  # confirms a figure that repeats the previous answer (same_as_earlier)
KW_PREVIOUS = "giữ"  # reuse last period's answer (prefill = "previous"); "như kỳ trước" too
KW_EXPLAIN = "giải thích"  # a question's definition; "?" too
KW_REPORT = "/baocao"  # a command: typed on Zalo under a reminder, whatever the dialogue's state

TYPE_HINT = {
    "integer": "Nhập một số nguyên",
    "decimal": "Nhập một số (có thể có phần lẻ, ví dụ 12,5)",
    "percent": "Nhập tỉ lệ phần trăm, ví dụ 85 hoặc 85,5%",
    "text": "Nhập câu trả lời",
    "date": "Nhập ngày theo dạng ngày/tháng/năm, ví dụ 15/11/2026",
    "photo": "Gửi một ảnh (chụp hoặc chọn từ thư viện)",
    "multi_choice": "Chọn một hoặc nhiều mục, bấm “Xong” khi chọn xong (hoặc gõ các số, ví dụ: "
                    "1, 3)",
}


def review_then_send(correcting: bool) -> str:
    return f"Kiểm tra lại rồi bấm “{'Gửi bản sửa' if correcting else 'Gửi báo cáo'}”."


def locked_since(period: str, lock: datetime) -> str:
    return f"Báo cáo {period} đã khóa sổ từ {vnformat.moment(lock)}."


def intro(title: str, unit_name: str, period: str, due: str) -> str:
    return (f"📝 {title}\n{unit_name} — {period} ({due})\n"
            "Mỗi câu trả lời được lưu ngay. Gõ /huy để hủy, /giup để xem hướng dẫn.")


def resuming(title: str, period: str) -> str:
    return f"Tiếp tục báo cáo “{title}” — {period}. (Muốn làm báo cáo khác: gõ /danhsach)"


def question_heading(number: int, total: int, text: str) -> str:
    return f"Câu {number}/{total}: {text}"


def question_details(unit: str | None, required: bool) -> str | None:
    details = []
    if unit:
        details.append(f"đơn vị tính: {unit}")
    if not required:
        details.append("không bắt buộc")
    return f"({'; '.join(details)})" if details else None


def already_answered(value: str) -> str:
    return f"Đã trả lời: {value}. Gửi câu trả lời mới để thay, hoặc bấm “Giữ nguyên”."


# --- rates, last period's answer, definitions ------------------------------------------------

BUTTON_PREVIOUS = "↩️ Giữ như kỳ trước"
BUTTON_EXPLAIN = "❓ Giải thích"
FROM_PREVIOUS = "như kỳ trước"
NO_PREVIOUS = ("Chưa có câu trả lời của kỳ trước cho câu này (đơn vị chưa gửi báo cáo kỳ trước, "
               "hoặc kỳ trước bỏ trống câu này). Vui lòng nhập câu trả lời:")
NOT_A_NUMBER_STORED = "câu trả lời kỳ trước không phải là một số."
PREVIOUS_DOES_NOT_FIT = "câu hỏi đã thay đổi so với kỳ trước."
NO_DEFINITION = "Câu này không có giải thích thêm."


def previous_line(period: str, value: str, answered: bool) -> str:
    """Under a question with prefill: last period's answer and how to reuse it."""
    how = f"bấm “{BUTTON_PREVIOUS}” hoặc gõ “như kỳ trước”" if answered else (
        f"bấm “{BUTTON_PREVIOUS}” hoặc gõ “{KW_PREVIOUS}”")
    return f"↩️ Kỳ trước ({period}): {value}. Để dùng lại, {how}."


def previous_refused(value: str, why: str) -> str:
    """Last period's answer no longer fits the question (its bounds or options changed)."""
    return f"⚠ Câu trả lời kỳ trước ({value}) không dùng được cho câu này: {why}"


def definition(text: str) -> str:
    return f"📖 Giải thích: {text}"


def part_exceeds_whole(part_q: str, part: str, whole_q: str, whole: str,
                       number: int | None) -> str:
    """A count typed larger than the total it is a part of, answered at question `number`."""
    where = f" đã trả lời ở câu {number}" if number else " đã trả lời"
    return (f"⚠ {part_q} ({part}) không thể lớn hơn {_lower_first(whole_q)} ({whole}){where}. "
            "Nhập lại:")


def whole_below_part(whole_q: str, whole: str, part_q: str, part: str,
                     number: int | None) -> str:
    """A total typed smaller than a part of it, answered at question `number`."""
    where = f" đã trả lời ở câu {number}" if number else " đã trả lời"
    return (f"⚠ {whole_q} ({whole}) không thể nhỏ hơn {_lower_first(part_q)} ({part}){where}. "
            "Nhập lại:")


def part_exceeds_whole_rule(part_q: str, part: str, whole_q: str, whole: str) -> str:
    """On the summary: a part and its total that do not fit together."""
    return f"{part_q} ({part}) không thể lớn hơn {_lower_first(whole_q)} ({whole})."


def _lower_first(text: str) -> str:
    """'Tổng số tổ' → 'tổng số tổ' inside a sentence (an acronym such as 'HTX …' stays)."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[1:].isupper():
        return text
    return text[:1].lower() + text[1:]


def saved(value: str, note: str | None = None) -> str:
    return f"✓ Đã lưu: {value}" + (f" ({note})" if note else "")


def skipped_keeping(value: str) -> str:
    return f"↷ Chuyển câu tiếp, giữ câu trả lời đã có: {value}."


def summary_heading(title: str, unit_name: str, period: str, due: str) -> str:
    return f"📋 Tóm tắt — {title}\n{unit_name} — {period} ({due})"


def summary_line(number: int, text: str, value: str) -> str:
    return f"{number}. {text}\n   → {value}"


def required_missing(number: int) -> str:
    return f"❗ Câu {number} bắt buộc, chưa có câu trả lời."


def question_button(number: int) -> str:
    return f"Câu {number}"


def submitted_heading(title: str, unit_name: str, period: str, version: int,
                      at: datetime) -> str:
    return (f"✅ Đã gửi: {title}\n{unit_name} — {period}, lần gửi {version} lúc "
            f"{vnformat.moment(at)}")


def can_correct_until(lock: datetime, now: datetime | None = None) -> str:
    if now is not None and lock <= now:
        return correction_closed(lock)
    return f"Có thể sửa đến {vnformat.moment(lock)}."


def correction_closed(lock: datetime) -> str:
    """A report whose correction time has passed (e.g. a returned report sent again)."""
    return (f"Báo cáo kỳ này đã khóa từ {vnformat.moment(lock)}; nếu cần sửa nữa, bạn hãy "
            "liên hệ cấp trên.")


def sent(first: bool, changed: int, lateness: str, title: str, unit_name: str, period: str,
         at: datetime, lock: datetime) -> str:
    what = f"Đã gửi báo cáo ({lateness})" if first else f"Đã gửi bản sửa ({changed} câu thay đổi)"
    after = (correction_closed(lock) if lock <= at
             else f"Có thể sửa đến {vnformat.moment(lock)}: gõ /trangthai.")
    return (f"✅ {what}\n{title}\n{unit_name} — {period}\nLúc {vnformat.moment(at)}.\n"
            f"{after}\nCảm ơn bạn!")


def correction_unchanged(version: int) -> str:
    return (f"Bản sửa không thay đổi câu nào so với bản đã gửi, nên không gửi lại. Báo cáo "
            f"vẫn giữ lần gửi {version}.")


def confirm_correction(changes: list[str]) -> str:
    lines = [f"Gửi bản sửa với {len(changes)} câu thay đổi?", *changes,
             "", "Bản sửa sẽ thay báo cáo đã gửi."]
    return "\n".join(lines)


def change_line(number: int | None, text: str, old: str, new: str,
                who: str | None = None) -> str:
    """`who`: the colleague who gave the new answer (already "đ/c …")."""
    where = f"Câu {number}. " if number is not None else ""
    return f"• {where}{text}: {old} → {new}" + (f" ({who})" if who else "")


def confirm_cancel(title: str, period: str, colleagues: Sequence[tuple[str, int]] = ()) -> str:
    """`colleagues`: who else answered in the draft ("đ/c …") and how many answers each."""
    text = f"Hủy bản nháp “{title}” — {period}? Các câu trả lời đã nhập sẽ bị xóa"
    if not colleagues:
        return text + "."
    theirs = ", ".join(f"{n} câu của {who}" for who, n in colleagues)
    names = ", ".join(who for who, _ in colleagues)
    return text + f", kể cả {theirs}; bot sẽ báo cho {names} biết."


# --- colleagues of one unit working on one draft ---------------------------------------------

CHANGED_MARK = "  ✎ vừa thay đổi"
# Above the summary as it is now; the summary ends with "Kiểm tra lại rồi bấm “Gửi báo cáo”".
SUMMARY_OUTDATED = ("⚠ Chưa gửi được: bản tóm tắt có nút bạn vừa bấm đã cũ. Đây là bản tóm "
                    "tắt hiện tại.")


def colleague(name: str) -> str:
    """How a colleague is named in a message: 'đ/c Lan'."""
    return f"đ/c {name}" if name.strip() else "một cán bộ khác"


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def changed_since_seen(changes: Sequence[str]) -> str:
    """Above the summary, when a send found the draft changed since the officer saw it."""
    if not changes:
        return ("⚠ Chưa gửi được: báo cáo đã thay đổi từ khi bạn xem bản tóm tắt đó. Đây là "
                "bản tóm tắt hiện tại.")
    return "\n".join(["⚠ Chưa gửi được: báo cáo đã thay đổi từ khi bạn xem bản tóm tắt:",
                      *changes])


def shared_draft(starter: str | None, others: Sequence[str], done: int, total: int,
                 touched: datetime) -> str:
    """Above the question or summary of a draft a colleague started or answered in.
    `starter`: who started it ("đ/c …"), None if this officer did; `others`: colleagues who
    answered in it besides the starter."""
    if starter is not None:
        who = f"Bản nháp này do {starter} bắt đầu"
        if others:
            who += f" ({', '.join(others)} cũng đã trả lời)"
    else:
        who = f"{_capital(', '.join(others))} cũng đã trả lời bản nháp này"
    return (f"👥 {who}: đã trả lời {done}/{total} câu, cập nhật lần cuối lúc "
            f"{vnformat.moment(touched)}.")


def answer_replaced(who: str, number: int | None, text: str, title: str, period: str,
                    old: str, new: str) -> str:
    """Told once to the officer whose answer a colleague replaced, on their next message."""
    where = f"câu {number} ({_short(text, 60)})" if number is not None else _short(text, 60)
    return f"ℹ {_capital(who)} đã sửa {where} của báo cáo “{title}” — {period}: {old} → {new}."


def draft_dropped(who: str, title: str, period: str, answers: int, correcting: bool) -> str:
    """Told once to each officer whose answers went with a draft a colleague cancelled."""
    if correcting:
        return (f"ℹ {_capital(who)} đã bỏ bản sửa báo cáo “{title}” — {period}, gồm {answers} "
                "câu bạn đã trả lời. Báo cáo đã gửi vẫn giữ nguyên.")
    return (f"ℹ {_capital(who)} đã hủy bản nháp báo cáo “{title}” — {period}, gồm {answers} "
            "câu bạn đã trả lời.")


def report_list_line(number: int, title: str, where: str, period: str, due: str, icon: str,
                     status: str, extra: str) -> str:
    return f"{number}. {title}\n   {where}{period} · {due} · {icon} {status}{extra}"


# --- reading answers -------------------------------------------------------------------------
# Why a typed answer is not taken, and what to type instead. The parsers (answers.py,
# amounts.py) decide; these fill in what the officer typed (quoted short) and the question's
# unit, bounds and options.


def _short(typed: str, limit: int = 40) -> str:
    typed = " ".join(typed.split())
    return typed if len(typed) <= limit else typed[: limit - 1] + "…"


EMPTY_ANSWER = "Bạn chưa nhập gì. Vui lòng trả lời câu hỏi."
YES_OR_NO_NEEDED = "Vui lòng trả lời “Có” hoặc “Không” (có thể gõ: co / khong, c / k)."
PHOTO_NEEDED = "Câu này cần một ảnh: vui lòng chụp hoặc chọn ảnh rồi gửi."
PHOTO_NOT_NEEDED = "Câu này không cần ảnh. Vui lòng trả lời bằng chữ hoặc số."


def yes_no_unsure(typed: str) -> str:
    """'không biết', 'chưa rõ', 'có lẽ': not yet an answer."""
    return (f"“{_short(typed)}” chưa phải câu trả lời có hay không. Nếu chưa chắc, hãy kiểm tra "
            f"lại rồi trả lời sau (gõ /baocao để làm tiếp). {YES_OR_NO_NEEDED}")


def too_long(length: int, max_length: int) -> str:
    return (f"Câu trả lời dài quá ({vnformat.number(length)} ký tự). "
            f"Vui lòng viết gọn trong {vnformat.number(max_length)} ký tự.")


# Numbers: what the explanations ask for ("vui lòng nhập số hộ") ...
ASK_NUMBER = "số"  # the question names no unit
ASK_PERCENT = "tỷ lệ phần trăm"
ASK_PERCENT_FIGURE = "số %"  # a decimal question counted in %


def ask_count(unit: str) -> str:
    return f"số {unit}"


def ask_money(unit: str) -> str:
    return f"số tiền ({unit})"


# ... and why a figure is not taken.
NUMBER_HELP = "Vui lòng nhập một số, ví dụ: 12 hoặc 1.234 hoặc 12,5."
WHOLE_NUMBER_NEEDED = "Câu này cần một số nguyên (không có phần lẻ)."


def no_number(typed: str) -> str:
    return f"Chưa đọc được số trong “{_short(typed)}”. {NUMBER_HELP}"


def malformed_number(number: str) -> str:
    return f"Số “{number}” viết chưa đúng. {NUMBER_HELP}"


def several_numbers(typed: str) -> str:
    return f"Có nhiều số trong “{_short(typed)}”. Vui lòng chỉ nhập một số."


def vague_number(ask: str, example: str) -> str:
    """'hơn 10', 'gần 20', '10-15': not one figure."""
    return ("Cần một con số cụ thể, không ghi “hơn”, “gần”, “trên”, “dưới” hay một khoảng như "
            f"“10-15”. Vui lòng nhập đúng {ask}, ví dụ: {example}.")


def comma_on_whole_number(thousands: str, plain: str) -> str:
    """'1,500' on a question of whole numbers: thousands, or a slip."""
    return (f"Câu này cần một số nguyên. Nếu ý bạn là {thousands} (hàng nghìn), hãy "
            f"viết {thousands} hoặc viết liền {plain}.")


def ambiguous_comma(number: str, thousands: str, decimal: str, plain: str) -> str:
    """'1,500': 1.500 or 1,5?"""
    return (f"“{number}” chưa rõ là {thousands} (hàng nghìn) hay {decimal} (số lẻ). "
            f"Vui lòng viết {thousands} hoặc {plain} nếu là hàng nghìn, {decimal} "
            "nếu là số lẻ.")


def too_many_decimals(typed: str, max_decimals: int) -> str:
    return (f"“{_short(typed)}” có quá nhiều chữ số sau dấu phẩy: vui lòng ghi tối đa "
            f"{max_decimals} chữ số lẻ.")


def number_too_large(typed: str) -> str:
    return f"Số “{_short(typed)}” lớn quá. {NUMBER_HELP}"


def out_of_range(shown: str, low: str | None, high: str | None, unit: str | None) -> str:
    """`shown` and the bounds come formatted (as numbers or percentages)."""
    unit_words = f" {unit}" if unit else ""
    if low is not None and high is not None:
        allowed = f"Vui lòng nhập số từ {low} đến {high}{unit_words}."
    elif low is not None:
        allowed = f"Vui lòng nhập số không nhỏ hơn {low}{unit_words}."
    else:
        assert high is not None
        allowed = f"Vui lòng nhập số không lớn hơn {high}{unit_words}."
    return f"{shown} nằm ngoài khoảng cho phép. " + allowed


# Units: words next to the figure that name something else.
NOT_MONEY = "Câu này không hỏi số tiền: vui lòng chỉ nhập số, ví dụ: 12."


def not_money(unit: str, ask: str, example: str) -> str:
    return f"Câu này tính bằng {unit}, không phải tiền: vui lòng nhập {ask}, ví dụ: {example}."


def no_magnitude_words(unit: str | None, ask: str, percent: bool) -> str:
    """'2 nghìn' on a question that does not count money: digits only."""
    where = f"Câu này tính bằng {unit}: vui lòng nhập" if unit else "Vui lòng nhập"
    example = "85" if percent else "1200"
    return (f"{where} đúng {ask} bằng chữ số, ví dụ: {example}, không dùng “nghìn”, "
            "“triệu”.")


def foreign_money(typed: str, unit: str | None, money: bool, ask: str, example: str) -> str:
    """'12 $', '12 USD', '12 đô': money of another country, on any question."""
    if money:
        return (f"Câu này tính bằng {unit} (tiền Việt Nam), không nhận “{typed}”: vui lòng "
                f"quy ra tiền đồng rồi nhập {ask}, ví dụ: {example}.")
    if unit is None:
        return NOT_MONEY
    return not_money(unit, ask, example)


def per_mille(percent: bool, ask: str, example: str) -> str:
    """'85 ‰': per thousand, not per cent (on a question of percentages), nor a count."""
    if not percent:
        return f"Câu này không hỏi tỷ lệ: vui lòng nhập {ask}, ví dụ: {example}."
    return (f"“‰” là phần nghìn, không phải phần trăm (85‰ = 8,5%). Vui lòng nhập {ask}, "
            f"ví dụ: {example}.")


def not_percent(ask: str, example: str) -> str:
    return f"Câu này không hỏi tỷ lệ phần trăm: vui lòng nhập {ask}, ví dụ: {example}."


def wrong_unit(unit: str, words: str, ask: str, example: str) -> str:
    """'12 HTX' on a question counted in hộ."""
    return f"Câu này tính bằng {unit}, không phải {words}. Vui lòng nhập {ask}, ví dụ: {example}."


def words_not_understood(words: str, unit: str, ask: str, example: str) -> str:
    return (f"Chưa hiểu “{_short(words)}” trong câu trả lời. Câu này tính bằng {unit}: "
            f"vui lòng chỉ nhập {ask}, ví dụ: {example}.")


# Money: amounts written with magnitude words, and how they were converted.
MAGNITUDE_WORDS = {10: "chục", 100: "trăm", 1000: "nghìn", 10**6: "triệu", 10**9: "tỷ"}


def unclear_half(money: bool) -> str:
    """'rưỡi' that follows no magnitude word."""
    return ("Chưa rõ “rưỡi” đi với đơn vị nào: vui lòng viết số có dấu phẩy, "
            f"ví dụ: {'2,5 triệu' if money else '2,5'}.")


def unclear_money(typed: str) -> str:
    return (f"Chưa đọc được số tiền “{_short(typed)}”. Vui lòng viết, ví dụ: 2,5 tỷ hoặc "
            "2.500 triệu hoặc 2.500.000.000 đồng.")


def unclear_digits_after(typed: str, whole: str, magnitude: int) -> str:
    """'2 triệu 50': 2,5 triệu or 2,05 triệu?"""
    word = MAGNITUDE_WORDS[magnitude]
    return (f"“{_short(typed)}” chưa rõ. Vui lòng viết số có dấu phẩy, ví dụ: "
            f"{whole},5 {word} hoặc {whole},05 {word}.")


def quoted(typed: str) -> str:
    """An amount as typed, when said back: '“2tr5” = 2,5 triệu đồng'."""
    return f"“{typed}”"


def money_in_words(figure: str, magnitudes: Sequence[int] = ()) -> str:
    """'2,5 tỷ đồng', '2.500.000 đồng'."""
    return " ".join([figure, *(MAGNITUDE_WORDS[m] for m in magnitudes), "đồng"])


def money_converted(typed: str, value: str, unit: str) -> str:
    """'2,5 tỷ đồng = 2.500 triệu đồng': said with the saved answer; the refusals below start
    with it when the converted amount does not fit."""
    return f"{typed} = {value} {unit}"


# The smaller units an implausibly large bare figure may have been typed in.
MONEY_IN_MILLIONS, MONEY_IN_DONG = "triệu đồng", "đồng"


def implausible_money(figure: str, unit: str, billions: str | None,
                      likely: Sequence[tuple[str, str]]) -> str:
    """A bare '2500000' on a question counted in triệu đồng: 2.500 tỷ đồng. `billions`: the
    amount in tỷ đồng (None when `unit` already counts in tỷ); `likely`: the smaller units
    it was probably typed in, each with what it then comes to in `unit`."""
    amount = f"{figure} {unit}" + (f" = {billions} tỷ đồng" if billions else "")
    lines = [f"{amount}: số tiền rất lớn, có thể đã gõ nhầm đơn vị."]
    lines += [f"Nếu bạn nhập theo {word}, hãy viết {figure} {word} (= {meant} {unit})."
              for word, meant in likely]
    meant = f"{billions} tỷ đồng" if billions else "vậy"
    lines.append(f"Nếu đúng là {meant}, hãy viết {figure} {unit}.")
    return " ".join(lines)


def converted_not_whole(conversion: str, unit: str) -> str:
    return (f"{conversion}, nhưng câu này cần một số nguyên {unit} (không có phần lẻ). "
            "Vui lòng kiểm tra lại.")


def converted_too_small(conversion: str, value: str, unit: str, example: str) -> str:
    """Less than 0,001 of the question's unit: likely typed in the wrong unit."""
    return (f"{conversion}: nhỏ hơn 0,001 {unit}, có thể đã gõ nhầm đơn vị. "
            f"Nếu đúng là vậy, hãy nhập {value}; nếu không, vui lòng nhập lại, "
            f"ví dụ: {example} ({unit}).")


def converted_too_fine(conversion: str, max_decimals: int, unit: str, example: str) -> str:
    return (f"{conversion}: lẻ quá (hơn {max_decimals} chữ số sau dấu phẩy). Vui lòng nhập "
            f"theo {unit}, ví dụ: {example}.")


# Choices: the options are listed by number, as they are typed.


def _options(labels: Sequence[str]) -> str:
    return "; ".join(f"{i}. {label}" for i, label in enumerate(labels, 1))


def unclear_choice(labels: Sequence[str]) -> str:
    return f"Chưa rõ bạn chọn gì. Vui lòng chọn một trong: {_options(labels)}."


def unknown_option(typed: str, labels: Sequence[str]) -> str:
    """One piece of a multiple choice ('1, 3, abc') that matches no option."""
    return (f"Chưa rõ “{_short(typed)}” là lựa chọn nào. Có thể chọn nhiều, cách nhau bằng "
            f"dấu phẩy (ví dụ: 1, 3). Các lựa chọn: {_options(labels)}.")


def nothing_chosen(labels: Sequence[str]) -> str:
    return f"Vui lòng chọn ít nhất một: {_options(labels)}."


# Dates.
DATE_HELP = "Vui lòng nhập ngày theo dạng ngày/tháng/năm, ví dụ: 15/11/2026."
YEAR_NEEDED = f"Vui lòng ghi cả năm. {DATE_HELP}"


def no_date(typed: str) -> str:
    return f"Chưa đọc được ngày trong “{_short(typed)}”. {DATE_HELP}"


def short_year(year: str, day: int, month: int) -> str:
    """'15/11/26' when 2026 is neither this year nor last."""
    return (f"Năm “{year}” viết tắt chưa rõ: vui lòng ghi đủ bốn chữ số, "
            f"ví dụ: {day:02d}/{month:02d}/20{year}.")


def invalid_year(year: int) -> str:
    return f"Năm {year} không hợp lệ. {DATE_HELP}"


def no_such_date(day: int, month: int, year: int | None = None) -> str:
    typed = f"{day:02d}/{month:02d}" + (f"/{year}" if year is not None else "")
    return f"Ngày {typed} không tồn tại. {DATE_HELP}"


def _dates_allowed(low: date, high: date) -> str:
    return f"Vui lòng nhập ngày từ {vnformat.day(low)} đến {vnformat.day(high)}"


def date_not_yet(shown: str, today: date, low: date, high: date) -> str:
    """`shown`: the date as typed, with its year only when the officer wrote one."""
    return (f"Ngày {shown} chưa tới (hôm nay là {vnformat.day(today)}). "
            f"{_dates_allowed(low, high)}.")


def date_outside_period(shown: str, period: str, low: date, high: date) -> str:
    return f"Ngày {shown} nằm ngoài kỳ báo cáo {period}. {_dates_allowed(low, high)}."


# --- Excel and CSV exports (bot/exports/workbook.py) -----------------------------------------

SHEET_SUMMARY, SHEET_UNITS, SHEET_MISSING, SHEET_HISTORY = (
    "Tổng hợp", "Theo đơn vị", "Chưa gửi", "Lịch sử sửa")
XLSX_COMPLETENESS = ("Phải gửi", "Đã gửi", "Tỷ lệ đã gửi", "Đúng hạn", "Tỷ lệ đúng hạn",
                     "Chưa gửi", "Gửi muộn")
XLSX_QUESTION, XLSX_UNIT_WORD, XLSX_AGGREGATION, XLSX_UNITS_COUNTED = (
    "Câu hỏi", "Đơn vị tính", "Cách tổng hợp", "Số đơn vị có số liệu")
XLSX_TARGET, XLSX_GOAL, XLSX_RESULT, XLSX_PROGRESS, XLSX_MET, XLSX_BASIS = (
    "Chỉ tiêu", "Mức chỉ tiêu", "Kết quả", "Tiến độ", "Đạt", "Căn cứ chỉ tiêu")
XLSX_MET_WORDS = {True: "Đạt", False: "Chưa đạt", None: "Chưa rõ"}
XLSX_BASIS_WORDS = {"plan": "Theo kế hoạch", "assumed": "Giả định (chưa có văn bản)"}
XLSX_AGGREGATIONS = {"sum": "Tổng", "average": "Trung bình", "min": "Nhỏ nhất",
                     "max": "Lớn nhất", "ratio": "Tỷ lệ", "count_yes": "Số đơn vị trả lời có",
                     "count": "Số đơn vị trả lời", "distribution": "Số đơn vị chọn",
                     "none": "Không tổng hợp"}
XLSX_UNITS_WORD = "đơn vị"
XLSX_THIS_PERIOD, XLSX_PREVIOUS_PERIOD = "Kỳ này", "Kỳ trước"
XLSX_CODE, XLSX_NAME, XLSX_PARENT, XLSX_PERIOD, XLSX_STATUS = (
    "Mã đơn vị", "Tên đơn vị", "Trực thuộc", "Kỳ", "Tình trạng")
XLSX_SENT_AT, XLSX_ON_TIME, XLSX_SENDER, XLSX_VERSION, XLSX_REVIEW = (
    "Gửi lúc", "Đúng hạn", "Người gửi", "Lần gửi", "Duyệt")
XLSX_STATUS_WORDS = {"sent": "Đã gửi", "late": "Gửi muộn", "missing": "Chưa gửi",
                     "returned": "Bị trả lại", "drafting": "Đang nhập"}
XLSX_REVIEW_WORDS = {"approved": "Đã duyệt", "returned": "Đã trả lại"}
XLSX_YES, XLSX_NO = "Có", "Không"
XLSX_IMPORTED = "Nhập từ tệp"
XLSX_DAYS_OVERDUE, XLSX_DRAFT, XLSX_OFFICERS, XLSX_REACHABLE = (
    "Số ngày quá hạn", "Đang nhập dở", "Cán bộ", "Liên lạc được")
XLSX_NO_OFFICER = "Chưa có cán bộ"
XLSX_EDITOR, XLSX_EDITED_AT, XLSX_OLD, XLSX_NEW = ("Người sửa", "Lúc", "Giá trị cũ",
                                                   "Giá trị mới")
XLSX_NO_CORRECTIONS = "Không có lần sửa nào."


def xlsx_title(title: str, period: str, unit: str, at: datetime) -> str:
    """The first row of every sheet: the report, the period, the subtree, when it was made."""
    return f"{title} — {period} — {unit} — lập lúc {vnformat.moment(at)} (giờ địa phương)"


def xlsx_on_behalf(name: str) -> str:
    return f"{name} (nhập hộ)"


def xlsx_unreachable(name: str) -> str:
    return f"{name} (đã chặn bot)"


def xlsx_draft(answered: int, total: int) -> str:
    return f"{answered}/{total} câu"


# --- the digest chart (bot/charts.py) ---------------------------------------------------------

CHART_COMPLETENESS = "Tình hình gửi báo cáo của các đơn vị"
CHART_ON_TIME, CHART_LATE, CHART_MISSING = "Đúng hạn", "Trễ hạn", "Chưa gửi"
CHART_NONE_EXPECTED = "Không có đơn vị nào phải báo cáo kỳ này."
CHART_NOT_EXPECTED = "không phải báo cáo"
CHART_TARGETS = "Tiến độ so với chỉ tiêu"
CHART_NO_FIGURE = "chưa có số liệu"


def chart_more_units(count: int) -> str:
    """Below the bars when more units than fit a phone screen: the best are left out."""
    return f"… và {vnformat.number(count)} đơn vị khác (tỷ lệ cao hơn)"


def chart_more_targets(count: int) -> str:
    return f"… và {vnformat.number(count)} chỉ tiêu khác"


def chart_share(fraction: float) -> str:
    """0.875 → '87,5%'."""
    return vnformat.percent(fraction * 100)


# --- reminders -------------------------------------------------------------------------------


def reminder_lines(title: str, last_day: date, lock: datetime, overdue: bool,
                   today: date) -> tuple[str, str]:
    """The heading and the deadline line of a reminder or an overdue notice."""
    if overdue:
        late = (today - last_day).days
        return (f"⏰ Quá hạn báo cáo: {title}",
                f"Hạn đã hết ngày {vnformat.day(last_day)} ({late} ngày trước). Vui lòng gửi "
                f"sớm; báo cáo khóa sổ lúc {vnformat.moment(lock)}.")
    left = (last_day - today).days + 1
    when = "hôm nay là ngày cuối" if left <= 1 else f"còn {left} ngày"
    return f"🔔 Nhắc báo cáo: {title}", f"Hạn: hết ngày {vnformat.day(last_day)} ({when})."


def reminder_progress(progress: tuple[int, int] | None) -> str:
    if progress is None:
        return "Đơn vị chưa bắt đầu báo cáo này."
    return f"Đơn vị đã trả lời {progress[0]}/{progress[1]} câu."


# --- channels without buttons (terminal, Zalo) -----------------------------------------------

TYPE_THE_NUMBER = "(Gõ số để chọn)"


def keywords_to_type(keywords: Sequence[str]) -> str:
    return "(Có thể gõ: " + " · ".join(f"“{k}”" for k in keywords) + ")"


def zalo_quota(sent: int, quota: int, month: str) -> str:
    """To admins, once at 80% of the Zalo bot's monthly messages and once when used up."""
    year, number = month.split("-")
    used = f"{vnformat.number(sent)}/{vnformat.number(quota)} tin nhắn của tháng {number}/{year}"
    if sent >= quota:
        return (f"⛔ Bot Zalo đã dùng hết hạn mức: {used}. Zalo sẽ không chuyển thêm tin của "
                "baocao (trả lời, nhắc hạn) đến hết tháng. Hãy nâng gói Zalo Bot hoặc hướng dẫn "
                "cán bộ dùng Telegram.")
    return (f"⚠ Bot Zalo đã dùng {vnformat.percent(sent / quota * 100)} hạn mức: {used}. "
            "Khi hết hạn mức, Zalo sẽ không chuyển thêm tin của baocao đến hết tháng.")


# --- the terminal demo (baocao demo) ---------------------------------------------------------

DEMO_NAME = "Cán bộ"  # the demo user's display name: "Chào Cán bộ!"
DEMO_HOW_TO = "Gõ câu trả lời rồi Enter; /giup để xem lệnh; Ctrl+D để thoát."
DEMO_GOODBYE = "Tạm biệt!"


def demo_banner(unit: str, db_path: Path | None, today: date | None = None) -> str:
    """`unit`: the name of the unit played (--unit); `db_path`: where the data is kept (--db),
    or None for a throw-away database; `today`: the day the demo plays (--date), or None for
    the real one."""
    kept = f"dữ liệu lưu trong {db_path}" if db_path else "dữ liệu thử, xóa khi thoát"
    banner = f"baocao demo — bạn là cán bộ {unit} ({kept})."
    if today is not None:
        banner += f"\nChạy thử như thể hôm nay là ngày {today:%d/%m/%Y}."
    return banner


# --- review (Duyệt / Trả lại): templates with review = true ----------------------------------

KW_APPROVE, KW_RETURN = "duyệt", "trả lại"
BUTTON_APPROVE = "✅ Duyệt"
BUTTON_RETURN = "↩️ Trả lại"
REVIEW_VI = {"approved": "đã duyệt", "returned": "bị trả lại"}
REVIEW_ICON = {"approved": "☑️", "returned": "↩️"}
WAITING_REVIEW = "chờ duyệt"
MAX_REASON = 500  # characters of a return reason
REVIEW_NOT_YOURS = "Bạn không theo dõi đơn vị này nên không thể xem hay duyệt báo cáo của đơn vị."
REVIEW_NOT_SENT = "Đơn vị này chưa gửi báo cáo kỳ này."
REVIEW_RESUBMITTED = ("Đơn vị đã gửi lại báo cáo sau khi bạn mở nó: nút này đã cũ. Gõ "
                      "/trangthai để xem bản mới nhất.")
REASON_EMPTY = "Lý do trả lại không được để trống."
def reason_is_button(typed: str) -> str:
    return (f"«{typed}» là tên một nút, không phải lý do trả lại. Gõ lý do (ví dụ: «Số HTX chưa "
            "khớp với sổ theo dõi»), hoặc /huy để thôi trả lại.")


REASON_NO_WORDS = ("Lý do trả lại cần viết bằng chữ để cán bộ hiểu cần sửa gì, ví dụ: "
                   "«Số HTX chưa khớp với sổ theo dõi».")
RETURN_CANCELLED = "Đã thôi trả lại báo cáo. Báo cáo vẫn chờ duyệt."
REVIEW_CHANGED = ("Báo cáo này vừa được người khác duyệt hoặc trả lại, hoặc đơn vị vừa gửi lại. "
                  "Gõ /trangthai để xem lại.")


def already_reviewed(status: str) -> str:
    return f"Báo cáo này đã {'được duyệt' if status == 'approved' else 'bị trả lại'} rồi."


def reason_too_long(length: int) -> str:
    return (f"Lý do dài {length} ký tự, quá {MAX_REASON} ký tự cho phép. "
            "Hãy viết ngắn gọn hơn.")


def ask_reason(title: str, unit_name: str, period: str, version: int) -> str:
    return (f"Trả lại báo cáo «{title}» kỳ {period} của {unit_name} (lần gửi {version}).\n"
            "Gõ lý do trả lại (cán bộ của đơn vị sẽ được báo lý do này), hoặc /huy để thôi.")


def submission_heading(title: str, unit_name: str, period: str, version: int, at: datetime,
                       by: str, late: str) -> str:
    return (f"📄 {title}\n{unit_name} — {period}\nLần gửi {version}, lúc {vnformat.moment(at)} "
            f"({late}), người gửi: {by}")


def review_line(status: str | None, reason: str | None, by: str | None = None,
                at: datetime | None = None) -> str:
    if status is None:
        return f"⏳ Trạng thái: {WAITING_REVIEW}."
    who = f" bởi {by}" if by else ""
    when = f" lúc {vnformat.moment(at)}" if at else ""
    line = f"{REVIEW_ICON[status]} Trạng thái: {REVIEW_VI[status]}{who}{when}"
    return line + (f". Lý do: {reason}" if status == "returned" and reason else ".")


def reviewed(status: str, title: str, unit_name: str, period: str) -> str:
    if status == "approved":
        return f"☑️ Đã duyệt báo cáo «{title}» kỳ {period} của {unit_name}."
    return (f"↩️ Đã trả lại báo cáo «{title}» kỳ {period} của {unit_name}. Cán bộ của đơn vị "
            "sẽ được báo lý do trong lần nhắn tin tới.")


def told_approved(title: str, period: str) -> str:
    return f"☑️ Báo cáo «{title}» kỳ {period} của đơn vị bạn đã được duyệt."


def told_returned(title: str, period: str, reason: str) -> str:
    return (f"↩️ Báo cáo «{title}» kỳ {period} của đơn vị bạn bị trả lại: {reason}. "
            "Gõ /baocao để sửa và gửi lại.")


def review_counts(approved: int, returned: int, waiting: int) -> str:
    return (f"   Duyệt: {approved} {REVIEW_VI['approved']}, {returned} {REVIEW_VI['returned']}, "
            f"{waiting} {WAITING_REVIEW}")


def view_button(unit_name: str, title: str) -> str:
    return f"Xem: {unit_name} · {title}"


def more_waiting(count: int) -> str:
    return f"   … và {count} báo cáo khác chờ duyệt."


def review_suffix(status: str, reason: str | None) -> str:
    """After "đã gửi lúc …" on the officer's status line: " · bị trả lại (lý do: …)"."""
    words = f" · {REVIEW_VI[status]}"
    return words + (f" (lý do: {reason})" if status == "returned" and reason else "")


# --- entry on behalf of a unit (nhập hộ) ------------------------------------------------------

ON_BEHALF_NONE = ("Không có đơn vị nào trong phạm vi của bạn đang thiếu báo cáo kỳ này, nên "
                  "không có gì cần nhập hộ.")


def on_behalf_pick(count: int, page: int = 1, pages: int = 1) -> str:
    where = f" (trang {page}/{pages})" if pages > 1 else ""
    return (f"📝 Nhập hộ báo cáo: {count} đơn vị chưa gửi{where}. Chọn đơn vị để nhập thay "
            f"(bạn sẽ trả lời các câu hỏi như cán bộ của đơn vị):")


def on_behalf_button(unit_name: str, title: str, period: str) -> str:
    return f"{unit_name} · {title} · {period}"


def on_behalf_intro(unit_name: str) -> str:
    return f"📝 Bạn đang nhập hộ cho {unit_name}."


def on_behalf_sent(unit_name: str, officers: int) -> str:
    told = (f"Đã báo cho {officers} cán bộ của đơn vị." if officers
            else "Đơn vị chưa có cán bộ nào tham gia baocao để báo tin.")
    return f"📝 Báo cáo đã được ghi là nhập hộ cho {unit_name}. {told}"


def entered_on_behalf(title: str, period: str, unit_name: str, who: str) -> str:
    return (f"📝 Báo cáo «{title}» kỳ {period} của đơn vị bạn ({unit_name}) đã được {who} "
            "nhập hộ. Gõ /trangthai để xem; nếu có chỗ chưa đúng, bạn có thể sửa.")


def sent_meanwhile(version: int, source: str, who: str | None, at: datetime) -> str:
    """The officer sends a draft, but the report was stored meanwhile by another way."""
    how = {"import": "nhập từ tệp",
           "on_behalf": f"nhập hộ bởi {who}" if who else "nhập hộ"}.get(
        source, f"gửi bởi {who}" if who else "gửi")
    return (f"⚠ Chưa gửi. Trong lúc bạn nhập, báo cáo này đã được {how} lúc "
            f"{vnformat.moment(at)} (lần gửi {version}). Bản của bạn nay là bản sửa của lần gửi "
            "đó: các câu bạn đã trả lời được giữ nguyên. Xem lại bên dưới; nếu bấm Gửi, số liệu "
            "của bạn sẽ thay số liệu đã có.")


def source_line(source: str, who: str | None) -> str | None:
    """Under a sent report: who entered it, when not an officer of the unit."""
    if source == "on_behalf":
        return f"(nhập hộ bởi {who})" if who else "(nhập hộ)"
    if source == "import":
        return "(nhập từ tệp)"
    return None


# --- /tonghop: a supervisor's digest in chat ---------------------------------------------------

DIGEST_PICK = "Chọn báo cáo để xem tổng hợp:"
DIGEST_NOTHING = ("Hiện không có kỳ báo cáo nào mà các đơn vị bạn theo dõi phải gửi, nên "
                  "chưa có gì để tổng hợp.")
DIGEST_NOT_YOURS = "Đơn vị này không thuộc các đơn vị bạn theo dõi."
DIGEST_NOT_SENT = "Đơn vị này chưa gửi báo cáo kỳ này."
DIGEST_PREVIOUS = "⏪ Kỳ trước"
DIGEST_PAGE_BACK = "◀ Trước"
DIGEST_PAGE_NEXT = "Sau ▶"
DIGEST_FIGURES = "Số liệu chính:"
DIGEST_TARGETS = "Chỉ tiêu:"


def _share(part: int, whole: int) -> str:
    return vnformat.percent(100 * part / whole) if whole else "—"


def digest_heading(title: str, unit: str, period: str, now: datetime) -> str:
    return f"📊 {title} — {unit}\n{period} · đến {vnformat.moment(now)}"


def digest_completeness(actual: int, expected: int, on_time: int) -> str:
    """'Đã gửi 45/50 (90%), đúng hạn 40 (80%)': both shares of the expected units."""
    return (f"Đã gửi {actual}/{expected} ({_share(actual, expected)}), "
            f"đúng hạn {on_time} ({_share(on_time, expected)})")


def digest_missing_heading(missing: int, late: int, page: int, pages: int) -> str:
    parts = [f"chưa gửi {missing}"] * bool(missing) + [f"gửi muộn {late}"] * bool(late)
    where = f" — trang {page}/{pages}" if pages > 1 else ""
    return "Đơn vị " + ", ".join(parts) + where + ":"


def digest_missing(name: str, overdue_days: int, returned: bool) -> str:
    why = "bị trả lại, chưa gửi lại" if returned else "chưa gửi"
    late = f", quá hạn {overdue_days} ngày" if overdue_days else ""
    return f"• {name}: {why}{late}"


def digest_late(name: str, days: int) -> str:
    return f"• {name}: gửi muộn {days} ngày"


def digest_figure(text: str, value: str, previous: str | None) -> str:
    before = f" (kỳ trước: {previous})" if previous is not None else ""
    return f"• {text}: {value}{before}"


def digest_target(met: bool | None, label: str, value: str, goal: str,
                  progress: float | None) -> str:
    mark = {True: "✔", False: "✘", None: "…"}[met]
    reached = f" — đạt {vnformat.percent(progress)} chỉ tiêu" if progress is not None else ""
    return f"{mark} {label}: {value}/{goal}{reached}"


def digest_child_button(name: str, actual: int, expected: int) -> str:
    return f"🔎 {name} · {actual}/{expected}"


def digest_pick_button(title: str, period: str, unit: str) -> str:
    return f"📊 {title} · {period} · {unit}"


def digest_up_button(name: str) -> str:
    return f"⬆ Về {name}"


# --- scheduled digests for supervisors (bot/services/digest_sweep.py) -------------------------

DIGEST_SCHEDULED = {
    "last_day": "📬 Tổng hợp sáng ngày cuối hạn",
    "after_due": "📬 Kết quả sau hạn",
    "weekly": "📬 Tổng hợp hằng tuần",
}
# Where buttons are typed (Zalo), a pushed digest has none: a typed number would answer the
# person's last screen, not this message. The command works whatever they were doing.
DIGEST_SCHEDULED_TYPE = "Gõ /tonghop để xem chi tiết và mở từng đơn vị."


def digest_scheduled_heading(family: str, last_day: date | None) -> str:
    """'📬 Tổng hợp sáng ngày cuối hạn (hạn chót hết ngày 09/12/2026)'."""
    heading = DIGEST_SCHEDULED[family]
    if family == "last_day" and last_day is not None:
        heading += f" (hạn chót hết ngày {last_day:%d/%m/%Y})"
    return heading


def digest_not_started(opens: date) -> str:
    return f"Kỳ này chưa bắt đầu (mở từ {vnformat.day(opens)}), chưa đơn vị nào phải gửi."


def digest_section(heading: str, count: int, items: Sequence[str], more: bool) -> str:
    """'⚠ Quá hạn từ 3 ngày trở lên (2 đơn vị): Xã A (5 ngày), Xã B (3 ngày)': the count,
    then this page's names (the rest on the next pages, never left out)."""
    head = f"{heading} ({vnformat.number(count)} đơn vị)"
    if not items:
        return f"{head}: đã liệt kê ở các trang trước."
    tail = " … (xem trang sau)" if more else ""
    return f"{head}: " + ", ".join(items) + tail


def digest_escalated_heading(days: int) -> str:
    return f"⚠ Quá hạn từ {days} ngày trở lên"


def digest_escalated(name: str, days: int) -> str:
    return f"{name} ({days} ngày)"


DIGEST_LISTED_BEFORE = "• (đã liệt kê ở các trang trước)"
DIGEST_DRAFTING = "✏️ Đang nhập dở"
DIGEST_NO_OFFICER = "👤 Chưa có cán bộ đăng ký"
DIGEST_UNREACHABLE = "📵 Cán bộ đều không nhận được tin nhắn (đã chặn bot)"


def digest_drafting(name: str, answered: int, total: int) -> str:
    return f"{name} đang nhập {answered}/{total} câu"


# --- "Nhắc các đơn vị chưa gửi" and the period picker ----------------------------------------

BUTTON_NUDGE = "🔔 Nhắc các đơn vị chưa gửi"
KW_NUDGE = "nhac"
BUTTON_PICK_PERIOD = "📅 Chọn kỳ"
BUTTON_EXCEL = "📊 Excel"
BUTTON_WORD = "📄 Báo cáo (Word)"
FILES_NEED_TELEGRAM = ("Tệp Excel và Word chỉ gửi được qua Telegram. Trên kênh này, bạn có thể "
                       "nhờ quản trị viên xuất tệp bằng lệnh baocao export.")
FILE_FAILED = "Chưa tạo được tệp, vui lòng thử lại sau ít phút."
FILE_JUST_SENT = "Tệp này vừa được gửi ở tin nhắn phía trên, vui lòng xem lại."
KW_PICK_PERIOD = "chon ky"
PERIODS_OLDER = "Cũ hơn ▶"
PERIODS_NEWER = "◀ Mới hơn"
NUDGE_CLOSED = "Kỳ báo cáo này đã khóa sổ, không nhắc các đơn vị được nữa."
NUDGE_NONE_MISSING = "Các đơn vị đều đã gửi báo cáo kỳ này, không cần nhắc."
NUDGE_RACED = ("Vừa có người khác nhắc các đơn vị này nên bot không nhắc lại. "
               "Gõ /tonghop để xem lại.")
BACK_TO_DIGEST = "📊 Về bảng tổng hợp"


def nudge_quiet(start: time, end: time) -> str:
    return (f"Bây giờ là giờ yên lặng ({start:%H:%M}–{end:%H:%M}): bot không nhắn tin cho cán bộ "
            f"lúc này. Hãy bấm lại sau {end:%H:%M}.")


NUDGE_RETURNED = ("↩️ Báo cáo của đơn vị đã bị trả lại để sửa: gõ /trangthai xem lý do, sửa "
                  "rồi gửi lại.")


def nudge_summary(units: int, people: int, recent: int, hours: int, no_officer: int,
                  unreachable: int) -> str:
    """'Đã nhắc 12 đơn vị (15 người). 3 đơn vị đã được nhắc trong 24 giờ qua nên không nhắc
    lại. 2 đơn vị chưa có cán bộ đăng ký.'"""
    n = vnformat.number
    parts = [f"🔔 Đã nhắc {n(units)} đơn vị ({n(people)} người)." if units
             else "🔔 Không nhắc đơn vị nào."]
    if recent:
        parts.append(f"{n(recent)} đơn vị đã được nhắc trong {n(hours)} giờ qua nên không "
                     "nhắc lại.")
    if no_officer:
        parts.append(f"{n(no_officer)} đơn vị chưa có cán bộ đăng ký.")
    if unreachable:
        parts.append(f"{n(unreachable)} đơn vị có cán bộ nhưng đều không nhận được tin nhắn "
                     "(đã chặn bot).")
    return " ".join(parts)


def pick_period(title: str, unit: str, page: int, pages: int) -> str:
    where = f" — trang {page}/{pages}" if pages > 1 else ""
    return f"📅 Chọn kỳ của «{title}» — {unit}{where}:"


# --- a report's correction history (drill-down) -----------------------------------------------

HISTORY_HEADING = "🕘 Lịch sử gửi và sửa:"
HISTORY_NOTHING_CHANGED = "• (không đổi câu trả lời nào)"


def history_version(version: int, at: datetime, by: str) -> str:
    what = "Gửi lần đầu" if version == 1 else f"Lần sửa {version - 1} (lần gửi {version})"
    return f"{what} — {by}, lúc {vnformat.moment(at)}"


def file_caption(kind: str, title: str, period: str, unit_name: str, at: datetime) -> str:
    what = "Bảng tổng hợp (Excel)" if kind == "xlsx" else "Dự thảo báo cáo (Word)"
    return f"{what}: {title} — {period} — {unit_name}, lập lúc {vnformat.moment(at)}."


# --- broadcasts (thông báo): the core's words (bot/domain/broadcasts.py, services) ---------

BROADCAST_WHOLE_REACH = "Toàn bộ đơn vị trong phạm vi"
BROADCAST_ACK_BUTTON = "✅ Đã nhận"
BROADCAST_ACK_LINE = "Gõ ĐÃ NHẬN để xác nhận đã nhận thông báo."
BROADCAST_DOCUMENT_ELSEWHERE = ("📎 Thông báo có kèm tệp, được gửi qua Telegram hoặc qua kênh "
                                "khác của người gửi.")
BROADCAST_PHOTO_ELSEWHERE = ("🖼 Thông báo có kèm ảnh, được gửi qua Telegram hoặc qua kênh "
                             "khác của người gửi.")
BROADCAST_EMPTY_TEXT = "Thông báo chưa có nội dung."
BROADCAST_NOT_ALLOWED = "Bạn không có quyền gửi thông báo."
BROADCAST_IN_PAST = "Thời điểm gửi đã qua, vui lòng chọn một thời điểm sau bây giờ."
BROADCAST_NOT_FOUND = "Không tìm thấy thông báo này."
BROADCAST_NOT_YOURS = "Bạn chỉ hủy được thông báo của mình hoặc trong phạm vi của mình."
BROADCAST_NOTHING_UNCONFIRMED = "Mọi người nhận đã xác nhận thông báo này."
BROADCAST_NO_ACK = "Thông báo này không yêu cầu xác nhận đã nhận."
BROADCAST_NOBODY = "Không có ai trong phạm vi đã chọn."
BROADCAST_NOT_SENT_YET = ("Thông báo này chưa được gửi đi (đang chờ đến giờ gửi hoặc đã hủy), "
                          "nên chưa có ai để nhắc lại.")
BROADCAST_NOT_A_PICTURE = ("Tệp gửi kèm không phải là ảnh (JPEG, PNG, GIF hoặc WebP). Vui lòng "
                           "gửi ảnh, hoặc gửi tệp dưới dạng tài liệu.")


def broadcast_heading(sender: str) -> str:
    return f"📢 Thông báo từ {sender}"


def broadcast_follow_up_heading(sender: str) -> str:
    return f"📢 Nhắc lại thông báo từ {sender}"


def broadcast_file_too_large(people: int) -> str:
    return (f"Tệp quá lớn để gửi cho {vnformat.number(people)} người qua Telegram. Vui lòng "
            "gửi tệp nhỏ hơn, hoặc đưa đường dẫn tải tệp vào nội dung thông báo.")


def broadcast_unit_outside(code: str) -> str:
    return f"Đơn vị {code} nằm ngoài phạm vi bạn được gửi thông báo."


def broadcast_unknown_unit(code: str) -> str:
    return f"Không có đơn vị mã {code}."


def broadcast_unknown_report(template: str, period: str) -> str:
    return f"Không có báo cáo {template} kỳ {period}."


def broadcast_period_not_started(period: str, start: str) -> str:
    return (f"Kỳ {period} bắt đầu từ ngày {start}: chưa đơn vị nào phải gửi báo cáo kỳ này. "
            "Vui lòng chọn kỳ khác.")


def broadcast_text_too_long(limit: int) -> str:
    return (f"Nội dung thông báo dài quá {vnformat.number(limit)} ký tự. Vui lòng rút gọn, "
            "hoặc đưa đường dẫn tới văn bản đầy đủ vào nội dung.")


def broadcast_missing_part(title: str, period: str) -> str:
    return f"chưa gửi “{title}” {period}"


def broadcast_follows_part(broadcast_id: int) -> str:
    return f"chưa xác nhận thông báo số {broadcast_id}"
