"""Reading officers' answers as they type them: numbers, percentages, yes/no, choices, dates.

Every parser returns `Accepted(value)` or `Rejected(message)` (a short Vietnamese explanation
of what is expected); none raises on any text. Values are JSON-friendly: int, float, bool,
option id, list of option ids, ISO date string, text, or a photo's file id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain import vnformat
from bot.domain.templates import Question, QuestionType
from bot.domain.text import fold, nfc


@dataclass(frozen=True)
class Accepted:
    value: Any


@dataclass(frozen=True)
class Rejected:
    message: str


Parsed = Accepted | Rejected

# --- numbers ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+−]?\d(?:[\d.,]*\d)?")
_ZERO_WORDS = {"khong", "khong co", "ko", "ko co", "k co", "kh co", "chua co", "khong co a",
               "chua", "chua co a", "khong a", "none", "zero"}
_NUMBER_HELP = "Vui lòng nhập một số, ví dụ: 12 hoặc 1.234 hoặc 12,5."


def _groups_ok(groups: list[str]) -> bool:
    return (1 <= len(groups[0]) <= 3 and groups[0] != "0"
            and all(len(g) == 3 for g in groups[1:]))


def _read_number_token(token: str) -> float | None:
    """'1.234' → 1234, '12,5' → 12.5, '12.5' → 12.5, '1.234,5' → 1234.5, '1,234,567' → 1234567."""
    sign = -1 if token[0] in "-−" else 1
    s = token.lstrip("+-−")
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        dec, th = (".", ",") if s.rfind(".") > s.rfind(",") else (",", ".")
        whole, frac = s.rsplit(dec, 1)
        if th in frac or dec in whole or not _groups_ok(whole.split(th)):
            return None
        return sign * float(whole.replace(th, "") + "." + frac)
    sep = "." if dots else "," if commas else ""
    if not sep:
        return sign * float(s)
    parts = s.split(sep)
    if len(parts) > 2:  # several separators of one kind can only be thousands
        return sign * float("".join(parts)) if _groups_ok(parts) else None
    whole, frac = parts
    if sep == "." and len(frac) == 3 and _groups_ok(parts):
        return sign * float(whole + frac)  # Vietnamese thousands: 1.234 = 1234
    return sign * float(whole + "." + frac)


def parse_number(text: str) -> float | Rejected:
    """The single number in `text` (words around it are fine: '12 HTX', 'khoảng 30')."""
    folded = fold(text).rstrip(".!")
    if folded in _ZERO_WORDS:
        return 0.0  # "không có" is an answer: zero
    tokens = _NUMBER.findall(folded)
    if not tokens:
        return Rejected(f"Chưa đọc được số trong “{_short(text)}”. {_NUMBER_HELP}")
    if len(tokens) > 1:
        return Rejected(f"Có nhiều số trong “{_short(text)}”. Vui lòng chỉ nhập một số.")
    value = _read_number_token(tokens[0])
    if value is None or value != value or abs(value) > 1e15:
        return Rejected(f"Số “{tokens[0]}” viết chưa đúng. {_NUMBER_HELP}")
    return value


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _range_message(q: Question) -> str:
    low, high = q.bounds
    unit = f" {q.unit}" if q.unit else ""
    fmt = vnformat.percent if q.type is QuestionType.PERCENT else vnformat.number
    if low is not None and high is not None:
        return f"Vui lòng nhập số từ {fmt(low)} đến {fmt(high)}{unit}."
    if low is not None:
        return f"Vui lòng nhập số không nhỏ hơn {fmt(low)}{unit}."
    assert high is not None
    return f"Vui lòng nhập số không lớn hơn {fmt(high)}{unit}."


def _parse_numeric(q: Question, text: str) -> Parsed:
    raw = text.replace("%", " ") if q.type is QuestionType.PERCENT else text
    value = parse_number(raw)
    if isinstance(value, Rejected):
        return value
    low, high = q.bounds
    if (low is not None and value < low) or (high is not None and value > high):
        return Rejected(f"{vnformat.number(value, 4)} nằm ngoài khoảng cho phép. "
                        + _range_message(q))
    if q.type is QuestionType.INTEGER:
        if value != int(value):
            hint = ""
            token = _NUMBER.findall(fold(text))
            if token and re.fullmatch(r"\d{1,3},\d{3}", token[0].lstrip("+-")):
                whole = token[0].replace(",", ".")
                hint = f" Nếu ý bạn là {whole} (hàng nghìn), hãy viết {whole} hoặc viết liền."
            return Rejected("Câu này cần một số nguyên (không có phần lẻ)." + hint)
        return Accepted(int(value))
    return Accepted(round(value, 6))


# --- yes / no --------------------------------------------------------------------------------

_YES = {"co", "c", "roi", "da co", "co roi", "yes", "y", "ok", "oke", "dung", "vang", "u",
        "uh", "um", "da", "dung roi", "co a", "x", "1", "true", "dong y"}
_NO = {"khong", "k", "ko", "kg", "kh", "khg", "hk", "hong", "chua", "chua co", "khong co",
       "no", "n", "sai", "2", "false", "ko co", "k co", "chua a", "khong a", "khong duoc"}


def parse_yes_no(text: str) -> bool | None:
    """True for 'có/co/c/rồi/yes…', False for 'không/khong/k/chưa/no…', None otherwise."""
    words = re.sub(r"[^\w\s]", " ", fold(text)).split()
    if len(words) > 1 and words[0] == "da":
        words = words[1:]  # "dạ có", "dạ không"
    if len(words) > 1 and words[-1] == "a":
        words = words[:-1]  # "có ạ"
    phrase = " ".join(words)
    if phrase in _YES:
        return True
    if phrase in _NO:
        return False
    return None


# --- choices -----------------------------------------------------------------------------------


def _options_list(q: Question) -> str:
    return "; ".join(f"{i}. {o.label}" for i, o in enumerate(q.options, 1))


def match_option(q: Question, text: str) -> str | None:
    """An option id from its number ('2'), label (with or without diacritics) or a unique prefix."""
    key = fold(text).strip(" .")
    if key.isascii() and key.isdigit():  # "²" is a digit to Python, not to int()
        n = int(key)
        return q.options[n - 1].id if 1 <= n <= len(q.options) else None
    for o in q.options:
        if key in (fold(o.label), o.id, o.id.replace("_", " ")):
            return o.id
    if len(key) >= 2:
        hits = [o.id for o in q.options if fold(o.label).startswith(key)]
        if len(hits) == 1:
            return hits[0]
        hits = [o.id for o in q.options if key in fold(o.label)]
        if len(hits) == 1:
            return hits[0]
    return None


def _parse_choice(q: Question, text: str) -> Parsed:
    found = match_option(q, text)
    if found is None:
        return Rejected(f"Chưa rõ bạn chọn gì. Vui lòng chọn một trong: {_options_list(q)}.")
    return Accepted(found)


def _parse_multi(q: Question, text: str) -> Parsed:
    folded = fold(text)
    only_numbers = re.fullmatch(r"[\d\s,;/+.]*(?:va[\d\s,;/+.]*)*", folded)
    if only_numbers and any(c.isdigit() for c in folded):
        pieces = re.findall(r"\d+", folded)
    else:
        pieces = [p for p in re.split(r"\s*(?:[,;/+\n]|\bva\b)\s*", text) if p.strip()]
    chosen: list[str] = []
    for piece in pieces:
        found = match_option(q, piece)
        if found is None:
            return Rejected(f"Chưa rõ “{_short(piece)}” là lựa chọn nào. Có thể chọn nhiều, "
                            f"cách nhau bằng dấu phẩy (ví dụ: 1, 3). Các lựa chọn: "
                            f"{_options_list(q)}.")
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        return Rejected(f"Vui lòng chọn ít nhất một: {_options_list(q)}.")
    order = [o.id for o in q.options]
    return Accepted(sorted(chosen, key=order.index))


# --- dates -------------------------------------------------------------------------------------

_DATE_FORMS = [
    re.compile(r"^(?:ngay\s+)?(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})$"),
    re.compile(r"^(?:ngay\s+)?(\d{1,2})\s+thang\s+(\d{1,2})\s+nam\s+(\d{4})$"),
    re.compile(r"^(?:ngay\s+)?(\d{1,2})\s*[/.\-]\s*(\d{1,2})$"),
    re.compile(r"^(?:ngay\s+)?(\d{1,2})\s+thang\s+(\d{1,2})$"),
]
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATE_HELP = "Vui lòng nhập ngày theo dạng ngày/tháng/năm, ví dụ: 15/11/2026."


def parse_date(text: str, today: date | None = None) -> date | Rejected:
    """'15/11/2026', '15-11-2026', '15 tháng 11 năm 2026', '15/11' (this year), 'hôm nay'."""
    folded = fold(text).strip(" .")
    if folded in ("hom nay", "today") and today is not None:
        return today
    m = _ISO.match(folded)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        for form in _DATE_FORMS:
            m = form.match(folded)
            if m:
                break
        if not m:
            return Rejected(f"Chưa đọc được ngày trong “{_short(text)}”. {_DATE_HELP}")
        d, mo = int(m.group(1)), int(m.group(2))
        if m.lastindex == 3:
            y = int(m.group(3))
            y = y + 2000 if y < 100 else y
        elif today is not None:
            y = today.year
        else:
            return Rejected(f"Vui lòng ghi cả năm. {_DATE_HELP}")
    try:
        return date(y, mo, d)
    except ValueError:
        return Rejected(f"Ngày {d:02d}/{mo:02d}/{y} không tồn tại. {_DATE_HELP}")


# --- entry point -------------------------------------------------------------------------------


def parse_answer(q: Question, text: str, today: date | None = None) -> Parsed:
    """Parse typed text as an answer to `q`. Never raises."""
    text = nfc(text or "").strip()
    if not text:
        return Rejected("Bạn chưa nhập gì. Vui lòng trả lời câu hỏi.")
    t = q.type
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.PERCENT):
        return _parse_numeric(q, text)
    if t is QuestionType.YES_NO:
        yes = parse_yes_no(text)
        if yes is None:
            return Rejected("Vui lòng trả lời “Có” hoặc “Không” (có thể gõ: co / khong, c / k).")
        return Accepted(yes)
    if t is QuestionType.CHOICE:
        return _parse_choice(q, text)
    if t is QuestionType.MULTI_CHOICE:
        return _parse_multi(q, text)
    if t is QuestionType.DATE:
        d = parse_date(text, today)
        return d if isinstance(d, Rejected) else Accepted(d.isoformat())
    if t is QuestionType.PHOTO:
        return Rejected("Câu này cần một ảnh: vui lòng chụp hoặc chọn ảnh rồi gửi.")
    if len(text) > q.max_length:
        return Rejected(f"Câu trả lời dài quá ({len(text)} ký tự). "
                        f"Vui lòng viết gọn trong {vnformat.number(q.max_length)} ký tự.")
    return Accepted(text)


def accept_photo(q: Question, file_id: str) -> Parsed:
    """A photo sent as the answer to `q`."""
    if q.type is not QuestionType.PHOTO:
        return Rejected("Câu này không cần ảnh. Vui lòng trả lời bằng chữ hoặc số.")
    return Accepted(file_id)


def format_answer(q: Question, value: Any) -> str:
    """An answer as shown back to people: '1.234 HTX', '85,5%', 'Có', '15/11/2026'."""
    if value is None:
        return "— (bỏ qua)"
    t = q.type
    unit = f" {q.unit}" if q.unit else ""
    if t is QuestionType.PERCENT:
        return vnformat.percent(value)
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return vnformat.number(value, 4) + unit
    if t is QuestionType.YES_NO:
        return "Có" if value else "Không"
    labels = {o.id: o.label for o in q.options}
    if t is QuestionType.CHOICE:
        return labels.get(value, str(value))
    if t is QuestionType.MULTI_CHOICE:
        return ", ".join(labels.get(v, str(v)) for v in value)
    if t is QuestionType.DATE:
        return vnformat.day(date.fromisoformat(value))
    if t is QuestionType.PHOTO:
        return "(đã gửi ảnh)"
    return str(value)
