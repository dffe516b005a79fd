"""The report dialogue, channel-agnostic: which question comes next and what to say.

A step is a `Reply` (text + buttons). Telegram shows buttons as inline keyboards; Zalo and the
terminal show them as numbered lines (`numbered=True`: typing the number presses the button)
or, for free-text questions, as keywords to type ("bỏ qua", "quay lại").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.answers import format_answer
from bot.domain.templates import Question, QuestionType, Template, rule_holds

SKIP_WORDS = {"bo qua", "boqua", "skip", "/boqua"}
BACK_WORDS = {"quay lai", "quaylai", "back", "/quaylai", "tro lai"}
KEEP_WORDS = {"giu nguyen", "giu", "tiep", "tiep tuc"}
DONE_WORDS = {"xong", "done", "het"}


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # opaque to channels; ≤ 64 bytes (Telegram's callback_data limit)
    keyword: str | None = None  # what to type on channels without buttons


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    numbered: bool = False  # text channels: typing N presses the N-th button
    listed: bool = False  # the text already numbers the buttons' items (no need to repeat)
    replace: bool = False  # Telegram: edit the message whose button was pressed

    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


# --- navigation --------------------------------------------------------------------------------


def visible_questions(t: Template, answers: dict[str, Any]) -> list[Question]:
    """Questions asked given the answers so far; a condition sees only visible answers."""
    shown: list[Question] = []
    seen: dict[str, Any] = {}
    for q in t.questions:
        if q.when is None or q.when.holds(seen):
            shown.append(q)
            if q.id in answers:
                seen[q.id] = answers[q.id]
    return shown


def expected_questions(t: Template, answers: dict[str, Any]) -> list[Question]:
    """Visible questions plus those whose condition hangs on a question not answered yet,
    so that 'Câu 3/12' does not grow as conditions are met."""
    visible = {q.id for q in visible_questions(t, answers)}
    return [q for q in t.questions
            if q.id in visible or (q.when is not None and q.when.question not in answers)]


def effective_answers(t: Template, answers: dict[str, Any]) -> dict[str, Any]:
    """Only the answers of visible questions (a hidden question's old answer does not count)."""
    return {q.id: answers[q.id] for q in visible_questions(t, answers) if q.id in answers}


def first_unanswered(t: Template, answers: dict[str, Any]) -> Question | None:
    return next((q for q in visible_questions(t, answers) if q.id not in answers), None)


def question_after(t: Template, answers: dict[str, Any], current: str) -> Question | None:
    """The next visible question after `current`; at the end, the first still unanswered."""
    shown = visible_questions(t, answers)
    ids = [q.id for q in shown]
    if current in ids:
        i = ids.index(current)
        if i + 1 < len(shown):
            return shown[i + 1]
    return first_unanswered(t, answers)


def question_before(t: Template, answers: dict[str, Any], current: str) -> Question | None:
    shown = visible_questions(t, answers)
    ids = [q.id for q in shown]
    if current in ids and ids.index(current) > 0:
        return shown[ids.index(current) - 1]
    return None


def progress(t: Template, answers: dict[str, Any]) -> tuple[int, int]:
    """(answered, total) over the visible questions."""
    shown = visible_questions(t, answers)
    return sum(1 for q in shown if q.id in answers), len(shown)


def missing_required(t: Template, answers: dict[str, Any]) -> list[Question]:
    return [q for q in visible_questions(t, answers)
            if q.required and answers.get(q.id) is None]


def rule_violations(t: Template, answers: dict[str, Any]) -> list[str]:
    current = effective_answers(t, answers)
    return [r.message for r in t.rules if rule_holds(r.check, current) is False]


# --- rendering ---------------------------------------------------------------------------------

_TYPE_HINT = {
    QuestionType.INTEGER: "Nhập một số nguyên",
    QuestionType.DECIMAL: "Nhập một số (có thể có phần lẻ, ví dụ 12,5)",
    QuestionType.PERCENT: "Nhập tỉ lệ phần trăm, ví dụ 85 hoặc 85,5%",
    QuestionType.TEXT: "Nhập câu trả lời",
    QuestionType.DATE: "Nhập ngày theo dạng ngày/tháng/năm, ví dụ 15/11/2026",
    QuestionType.PHOTO: "Gửi một ảnh (chụp hoặc chọn từ thư viện)",
    QuestionType.MULTI_CHOICE: "Chọn một hoặc nhiều mục, bấm “Xong” khi chọn xong "
                               "(hoặc gõ các số, ví dụ: 1, 3)",
}


def question_reply(t: Template, answers: dict[str, Any], q: Question, *,
                   selected: list[str] | None = None, note: str | None = None,
                   replace: bool = False) -> Reply:
    """Show one question: progress, text, unit and hint, current answer, and its buttons."""
    shown = expected_questions(t, answers)
    ids = [x.id for x in shown]
    number = ids.index(q.id) + 1 if q.id in ids else len(ids)
    lines = [note] if note else []
    lines.append(f"Câu {number}/{len(shown)}: {q.text}")
    details = []
    if q.unit:
        details.append(f"đơn vị tính: {q.unit}")
    if not q.required:
        details.append("không bắt buộc")
    if details:
        lines.append(f"({'; '.join(details)})")
    hint = q.hint or _TYPE_HINT.get(q.type)
    if hint:
        lines.append(f"💡 {hint}")
    if q.id in answers:
        lines.append(f"Đã trả lời: {format_answer(q, answers[q.id])}. "
                     "Gửi câu trả lời mới để thay, hoặc bấm “Giữ nguyên”.")

    rows: list[list[Button]] = []
    numbered = False
    if q.type is QuestionType.YES_NO:
        rows.append([Button("Có", f"a|{q.id}|1"), Button("Không", f"a|{q.id}|0")])
        numbered = True
    elif q.type is QuestionType.CHOICE:
        rows.extend([Button(o.label, f"a|{q.id}|{i}")] for i, o in enumerate(q.options))
        numbered = True
    elif q.type is QuestionType.MULTI_CHOICE:
        chosen = set(selected or [])
        rows.extend([Button(("☑ " if o.id in chosen else "☐ ") + o.label, f"t|{q.id}|{i}")]
                    for i, o in enumerate(q.options))
        rows.append([Button("Xong ✔", f"d|{q.id}", "xong")])
        numbered = True
    nav = []
    if q.id in answers:
        nav.append(Button("Giữ nguyên ➡", f"k|{q.id}", "giữ nguyên"))
    if not q.required:
        nav.append(Button("Bỏ qua", f"s|{q.id}", "bỏ qua"))
    if number > 1:
        nav.append(Button("⬅ Quay lại", f"b|{q.id}", "quay lại"))
    if nav:
        rows.append(nav)
    return Reply("\n".join(lines), rows, numbered=numbered, replace=replace)


def summary_text(t: Template, answers: dict[str, Any], heading: str) -> tuple[str, list[str]]:
    """All visible answers, numbered, then problems; returns (text, problems)."""
    shown = visible_questions(t, answers)
    lines = [heading, ""]
    for i, q in enumerate(shown, 1):
        value = format_answer(q, answers[q.id]) if q.id in answers else "❗ chưa trả lời"
        lines.append(f"{i}. {q.text}\n   → {value}")
    problems = [f"❗ Câu {shown.index(q) + 1} bắt buộc, chưa có câu trả lời."
                for q in missing_required(t, answers)]
    problems += [f"⚠ {m}" for m in rule_violations(t, answers)]
    if problems:
        lines += ["", "Cần sửa trước khi gửi:", *problems]
    return "\n".join(lines), problems


def edit_picker(t: Template, answers: dict[str, Any]) -> Reply:
    """Buttons 'Câu 1', 'Câu 2'…: pick a question to change."""
    shown = visible_questions(t, answers)
    buttons = [Button(f"Câu {i}", f"e|{q.id}") for i, q in enumerate(shown, 1)]
    rows = [buttons[i:i + 4] for i in range(0, len(buttons), 4)]
    rows.append([Button("↩ Về bản tóm tắt", "sum", "tóm tắt")])
    return Reply("Bạn muốn sửa câu nào? Chọn số câu:", rows, numbered=True)
