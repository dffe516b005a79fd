"""What chat users read, in one place, so the wording can be reviewed together.

Plain strings and small functions that fill in names, numbers and dates; no logic beyond
choosing words. (Answer-parsing explanations live beside their parsers in answers.py, and
period names in periods.py, because each is tied to the rule it explains.)
"""

from __future__ import annotations

from datetime import date, datetime

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
    }[reason]


def joined(name: str, unit_name: str, role: Role) -> str:
    hello = f"Chào {name}!" if name else "Chào bạn!"
    return f"{hello} Bạn đã tham gia {unit_name} với vai trò {ROLE_VI[role]}."


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


# --- report list and status ------------------------------------------------------------------

NO_REPORTS = "Hiện đơn vị bạn không có báo cáo nào cần làm."
LIST_HEADING = "Các báo cáo của đơn vị bạn (chọn một để làm):"
STATUS_HEADING = "Tình hình báo cáo của đơn vị:"
STATUS_EMPTY = "Chưa có báo cáo nào."
NOTHING_TO_WATCH = "Chưa có đơn vị nào để theo dõi."
LOCKED = "(đã khóa sổ)"


def progress_words(done: int, total: int) -> str:
    return f"({done}/{total} câu)"


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
NO_DRAFT_TO_CANCEL = "Không có bản nháp nào để hủy."
NOTHING_IN_PROGRESS = "Bạn không có báo cáo nào đang làm. Gõ /baocao để xem danh sách."
NOT_A_PHOTO_QUESTION = "Bạn chưa ở câu hỏi cần ảnh. Gõ /baocao để tiếp tục báo cáo."
CONTINUE_HINT = "Gõ /baocao để tiếp tục."
FIRST_QUESTION = "Đây là câu đầu tiên."
REQUIRED_NO_SKIP = "⚠ Câu này bắt buộc, không bỏ qua được."
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
SKIPPED_VALUE = "— (bỏ qua)"

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


def can_correct_until(lock: datetime) -> str:
    return f"Có thể sửa đến {vnformat.moment(lock)}."


def sent(first: bool, changed: int, lateness: str, title: str, unit_name: str, period: str,
         at: datetime, lock: datetime) -> str:
    what = f"Đã gửi báo cáo ({lateness})" if first else f"Đã gửi bản sửa ({changed} câu thay đổi)"
    return (f"✅ {what}\n{title}\n{unit_name} — {period}\nLúc {vnformat.moment(at)}.\n"
            f"Có thể sửa đến {vnformat.moment(lock)}: gõ /trangthai.\nCảm ơn bạn!")


def correction_unchanged(version: int) -> str:
    return (f"Bản sửa không thay đổi câu nào so với bản đã gửi, nên không gửi lại. Báo cáo "
            f"vẫn giữ lần gửi {version}.")


def confirm_correction(changes: list[str]) -> str:
    lines = [f"Gửi bản sửa với {len(changes)} câu thay đổi?", *changes,
             "", "Bản sửa sẽ thay báo cáo đã gửi."]
    return "\n".join(lines)


def change_line(number: int, text: str, old: str, new: str) -> str:
    return f"• Câu {number}. {text}: {old} → {new}"


def confirm_cancel(title: str, period: str) -> str:
    return f"Hủy bản nháp “{title}” — {period}? Các câu trả lời đã nhập sẽ bị xóa."


def report_list_line(number: int, title: str, where: str, period: str, due: str, icon: str,
                     status: str, extra: str) -> str:
    return f"{number}. {title}\n   {where}{period} · {due} · {icon} {status}{extra}"


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
