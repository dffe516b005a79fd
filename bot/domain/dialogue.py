"""The report dialogue, channel-agnostic: which question comes next and what to say.

A step is a `Reply` (text + buttons, perhaps a picture). Telegram shows buttons as inline
keyboards; Zalo and the terminal show them as numbered lines (`numbered=True`: typing the
number presses the button) or, for free-text questions, as keywords to type ("bỏ qua",
"quay lại").
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from bot.domain import messages_vi as M
from bot.domain.answers import format_answer
from bot.domain.buttons import (
    Back,
    ButtonData,
    Choose,
    ClearAnswer,
    DoneChoosing,
    EditQuestion,
    Explain,
    Keep,
    Skip,
    Toggle,
    ToSummary,
    UsePrevious,
)
from bot.domain.templates import Aggregate, Question, QuestionType, Template, rule_holds

SKIP_WORDS = {"bo qua", "boqua", "skip", "/boqua"}
BACK_WORDS = {"quay lai", "quaylai", "back", "/quaylai", "tro lai"}
KEEP_WORDS = {"giu nguyen", "giu", "tiep", "tiep tuc"}
CLEAR_WORDS = {"xoa", "xoa di", "xoa bo"}
DONE_WORDS = {"xong", "done", "het"}
NAVIGATION = {**dict.fromkeys(SKIP_WORDS, "skip"), **dict.fromkeys(BACK_WORDS, "back"),
              **dict.fromkeys(KEEP_WORDS, "keep"), **dict.fromkeys(CLEAR_WORDS, "clear"),
              **dict.fromkeys(DONE_WORDS, "done")}
_POLITE = {"a", "ah", "nhe", "nha", "nhen", "di", "nhi", "ha", "vay", "nghe"}
_ABOUT_IT = ("cau nay", "cau truoc", "cau hoi nay", "cau tra loi", "cau tra loi nay", "cau do")


def navigation(folded: str) -> str | None:
    """'skip', 'back', 'keep', 'clear' or 'done' when typed text means moving through the
    report rather than answering: the words, politely or as a button's label ("bỏ qua ạ",
    "Giữ nguyên ➡", "quay lại câu trước", "xóa câu trả lời"); None for an answer."""
    words = re.sub(r"[^\w\s/]", " ", folded).split()
    if len(words) > 1 and words[0] == "da":  # "dạ, bỏ qua"
        words = words[1:]
    while len(words) > 1 and words[-1] in _POLITE:
        words = words[:-1]
    phrase = " ".join(words)
    for tail in _ABOUT_IT:
        if phrase.endswith(" " + tail):
            phrase = phrase[:-len(tail) - 1]
            break
    return NAVIGATION.get(phrase)


# Reuse last period's answer (prefill = "previous"): "giữ" alone only while unanswered (once
# answered, it keeps the answer given, as everywhere else).
PREVIOUS_WORDS = {"nhu ky truoc", "giu nhu ky truoc", "nhu cu", "giu nhu cu", "giong ky truoc",
                  "nhu truoc", "lay ky truoc", "lay nhu ky truoc", "dung lai ky truoc"}
EXPLAIN_WORDS = {"giai thich", "/giaithich", "giaithich", "giai thich cau nay",
                 "giai thich giup", "cau nay la gi", "nghia la gi"}


def help_request(folded: str, answered: bool) -> str | None:
    """'previous' when typed text asks to reuse last period's answer, 'explain' when it asks
    what the question means ("?", "giải thích"); None otherwise."""
    if folded and not folded.strip("? "):
        return "explain"  # "?", "??"
    words = " ".join(re.sub(r"[^\w\s/]", " ", folded).split())
    while words.rsplit(" ", 1)[-1] in _POLITE and " " in words:
        words = words.rsplit(" ", 1)[0]
    if words in EXPLAIN_WORDS:
        return "explain"
    if words in PREVIOUS_WORDS or (words == "giu" and not answered):
        return "previous"
    return None


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # packed ButtonData: opaque to channels, ≤ 64 bytes
    keyword: str | None = None  # what to type on channels without buttons

    @classmethod
    def of(cls, label: str, data: ButtonData, keyword: str | None = None) -> Button:
        return cls(label, data.pack(), keyword)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply (an Excel workbook, a Word report): its name and bytes."""

    name: str
    data: bytes
    file_id: str | None = None  # Telegram: a file already on Telegram, sent again by its id


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    numbered: bool = False  # text channels: typing N presses the N-th button
    listed: bool = False  # the text already numbers the buttons' items (no need to repeat)
    replace: bool = False  # Telegram: edit the message whose button was pressed
    # A picture (PNG) shown with the text, on channels that can send pictures
    # (`Courier.pictures`); the others show the text alone. Always a new message.
    photo: bytes | None = None
    # A file sent with the text as its caption, on the same channels as pictures; the others
    # show the text alone (the handler says there that the file needs Telegram).
    document: Attachment | None = None
    # Telegram: a picture already on Telegram (its file id), sent again without uploading
    photo_id: str | None = None

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


def answers_version(answers: dict[str, Any]) -> str:
    """A short fingerprint of a draft's answers (6 characters, 36 bits), carried by the send
    button of the summary that showed them: a send submits only the version the officer saw.
    Short because Telegram's button data holds 64 bytes (a 40-character template id fits);
    it tells edits apart, it does not defend against forgery (a forged button can only send
    the unit's own draft as it stands)."""
    canonical = json.dumps(answers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode()[:6]


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
    """The template's rules that fail, then every rate whose part exceeds its total (an
    implicit rule of `aggregate = "ratio"`): the summary shows them and nothing is sent."""
    current = effective_answers(t, answers)
    out = [r.message for r in t.rules if rule_holds(r.check, current) is False]
    for part, whole in rate_pairs(t):  # few questions each: no need to cache
        a, b = current.get(part.id), current.get(whole.id)
        if _number(a) and _number(b) and a > b:
            out.append(M.part_exceeds_whole_rule(_named(part), format_answer(part, a),
                                                 _named(whole), format_answer(whole, b)))
    return out


def rate_pairs(t: Template) -> list[tuple[Question, Question]]:
    """(numerator, denominator) of every rate of the template (`aggregate = "ratio"`)."""
    ids = set(t.question_ids)
    return [(q, t.question(q.denominator)) for q in t.questions
            if q.aggregation is Aggregate.RATIO and q.denominator in ids]


def rate_conflict(t: Template, answers: dict[str, Any], qid: str, value: Any) -> str | None:
    """Why `value` cannot be the answer to `qid`: a part larger than its total already
    answered, or a total smaller than a part already answered (either may come first, or be
    changed later from the summary); None when it fits. 0 of 0 fits."""
    pairs = [(p, w) for p, w in rate_pairs(t) if qid in (p.id, w.id)]
    if not pairs or not _number(value):
        return None
    current = effective_answers(t, answers)
    shown = [q.id for q in expected_questions(t, answers)]
    for part, whole in pairs:
        if part.id == qid and _number(other := current.get(whole.id)) and value > other:
            return M.part_exceeds_whole(_named(part), format_answer(part, value), _named(whole),
                                        format_answer(whole, other), _number_of(shown, whole.id))
        if whole.id == qid and _number(other := current.get(part.id)) and value < other:
            return M.whole_below_part(_named(whole), format_answer(whole, value), _named(part),
                                      format_answer(part, other), _number_of(shown, part.id))
    return None


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _named(q: Question) -> str:
    return q.text.rstrip(" ?:")


def _number_of(shown: list[str], qid: str) -> int | None:
    return shown.index(qid) + 1 if qid in shown else None


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Previous:
    """The unit's answers in its report of the period before (for `prefill = "previous"`)."""

    period_words: str  # "quý 4/2025"
    answers: dict[str, Any] = field(compare=False)

    def answer(self, q: Question) -> Any:
        """Last period's answer to `q` if it offers one (None: none to offer)."""
        return self.answers.get(q.id) if q.prefill == "previous" else None


def question_reply(t: Template, answers: dict[str, Any], q: Question, *,
                   selected: list[str] | None = None, note: str | None = None,
                   replace: bool = False, previous: Previous | None = None) -> Reply:
    """Show one question: progress, text, unit and hint, current answer, last period's answer
    (prefill), and its buttons."""
    shown = expected_questions(t, answers)
    ids = [x.id for x in shown]
    number = ids.index(q.id) + 1 if q.id in ids else len(ids)
    lines = [note] if note else []
    lines.append(M.question_heading(number, len(shown), q.text))
    details = M.question_details(q.unit, q.required)
    if details:
        lines.append(details)
    hint = q.hint or M.TYPE_HINT.get(q.type.value)
    if hint:
        lines.append(f"💡 {hint}")
    answered = q.id in answers
    if answered:
        lines.append(M.already_answered(format_answer(q, answers[q.id])))
    before = previous.answer(q) if previous is not None else None
    if previous is not None and before is not None:
        lines.append(M.previous_line(previous.period_words, format_answer(q, before), answered))

    rows: list[list[Button]] = []
    numbered = False
    if q.type is QuestionType.YES_NO:
        rows.append([Button.of(M.BUTTON_YES, Choose(q.id, 1)),
                     Button.of(M.BUTTON_NO, Choose(q.id, 0))])
        numbered = True
    elif q.type is QuestionType.CHOICE:
        rows.extend([Button.of(o.label, Choose(q.id, i))] for i, o in enumerate(q.options))
        numbered = True
    elif q.type is QuestionType.MULTI_CHOICE:
        chosen = set(selected or [])
        rows.extend([Button.of(("☑ " if o.id in chosen else "☐ ") + o.label, Toggle(q.id, i))]
                    for i, o in enumerate(q.options))
        rows.append([Button.of(M.BUTTON_DONE, DoneChoosing(q.id), M.KW_DONE)])
        numbered = True
    helpers = []
    if before is not None:
        helpers.append(Button.of(M.BUTTON_PREVIOUS, UsePrevious(q.id),
                                 M.FROM_PREVIOUS if answered else M.KW_PREVIOUS))
    if q.definition:
        helpers.append(Button.of(M.BUTTON_EXPLAIN, Explain(q.id), M.KW_EXPLAIN))
    if helpers:
        rows.append(helpers)
    nav = []
    if answered:
        nav.append(Button.of(M.BUTTON_KEEP, Keep(q.id), M.KW_KEEP))
        if not q.required and answers[q.id] is not None:
            nav.append(Button.of(M.BUTTON_CLEAR, ClearAnswer(q.id), M.KW_CLEAR))
    elif not q.required:
        nav.append(Button.of(M.BUTTON_SKIP, Skip(q.id), M.KW_SKIP))
    if number > 1:
        nav.append(Button.of(M.BUTTON_BACK, Back(q.id), M.KW_BACK))
    if nav:
        rows.append(nav)
    return Reply("\n".join(lines), rows, numbered=numbered, replace=replace)


def summary_text(t: Template, answers: dict[str, Any], heading: str,
                 marked: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """All visible answers, numbered, then problems; returns (text, problems). The answers of
    `marked` questions carry a mark (changed since the officer last saw the summary)."""
    shown = visible_questions(t, answers)
    lines = [heading, ""]
    for i, q in enumerate(shown, 1):
        value = format_answer(q, answers[q.id]) if q.id in answers else M.NOT_ANSWERED
        if q.id in marked:
            value += M.CHANGED_MARK
        lines.append(M.summary_line(i, q.text, value))
    problems = [M.required_missing(shown.index(q) + 1) for q in missing_required(t, answers)]
    problems += [f"⚠ {m}" for m in rule_violations(t, answers)]
    if problems:
        lines += ["", M.FIX_BEFORE_SENDING, *problems]
    return "\n".join(lines), problems


def changed_questions(t: Template, before: dict[str, Any], after: dict[str, Any]
                      ) -> list[Question]:
    """The questions whose answer differs between `before` and `after`, in template order."""
    return [q for q in t.questions
            if (q.id in before or q.id in after) and before.get(q.id) != after.get(q.id)]


def changed_lines(t: Template, before: dict[str, Any], after: dict[str, Any],
                  who: dict[str, str] | None = None) -> list[str]:
    """'• Câu 3. Tổng số HTX: 1.234 HTX → 2.000 HTX' for every answer that changed, including
    one the change drops because its question is no longer asked (numbered as it was shown);
    `who` names, by question, the colleague who gave the new answer."""
    now_shown = [q.id for q in visible_questions(t, after)]
    was_shown = [q.id for q in visible_questions(t, before)]
    out = []
    for q in changed_questions(t, before, after):
        shown = now_shown if q.id in now_shown else was_shown
        number = shown.index(q.id) + 1 if q.id in shown else None
        old = format_answer(q, before[q.id]) if q.id in before else M.NOT_ANSWERED
        new = format_answer(q, after[q.id]) if q.id in after else M.NO_LONGER_ASKED
        out.append(M.change_line(number, q.text, old, new, (who or {}).get(q.id)))
    return out


def edit_picker(t: Template, answers: dict[str, Any]) -> Reply:
    """Buttons 'Câu 1', 'Câu 2'…: pick a question to change."""
    shown = visible_questions(t, answers)
    buttons = [Button.of(M.question_button(i), EditQuestion(q.id)) for i, q in enumerate(shown, 1)]
    rows = [buttons[i:i + 4] for i in range(0, len(buttons), 4)]
    rows.append([Button.of(M.BUTTON_TO_SUMMARY, ToSummary(), M.KW_SUMMARY)])
    return Reply(M.CHOOSE_QUESTION, rows, numbered=True)
