"""Reading officers' answers as they type them: numbers, percentages, yes/no, choices, dates.

Every parser returns `Accepted(value)` (with an optional `note` for the officer, e.g. how a
money amount was converted) or `Rejected(message)` (a short Vietnamese explanation of what is
expected, worded in bot.domain.messages_vi); none raises on any text. Numbers are read by
bot.domain.amounts. Values are JSON-friendly: int, float, bool, option id, list of option ids,
ISO date string, text, or a photo's file id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from bot.domain import messages_vi as M
from bot.domain import vnformat
from bot.domain.amounts import read_number
from bot.domain.periods import Period
from bot.domain.templates import Question, QuestionType
from bot.domain.text import fold, nfc


@dataclass(frozen=True)
class Accepted:
    value: Any
    note: str | None = None  # what the officer should see with it: a money conversion


@dataclass(frozen=True)
class Rejected:
    message: str


Parsed = Accepted | Rejected

# --- numbers ---------------------------------------------------------------------------------
# Read by bot.domain.amounts: words around the figure, money words, what is refused and why.


def parse_number(text: str) -> float | Rejected:
    """The single number in `text` (words around it are fine: '12 HTX', 'khoảng 30'); vague
    figures ('hơn 10', '10-15'), '1,500' (thousands or decimal?) and magnitude words are
    refused: without a question there is no unit to convert them into."""
    read = read_number(text, QuestionType.DECIMAL, None)
    return Rejected(read) if isinstance(read, str) else float(read.value)


def _parse_numeric(q: Question, text: str) -> Parsed:
    read = read_number(text, q.type, q.unit, q.text, q.max)
    if isinstance(read, str):
        return Rejected(read)
    value, note = read.value, read.note
    outside = _out_of_bounds(q, value, note)
    if outside is not None:
        return outside
    if q.type is QuestionType.INTEGER:
        if value != value.to_integral_value():
            if note:  # a converted amount: say what it came to, never round it
                assert q.unit is not None  # only money questions convert, and name their unit
                return Rejected(M.converted_not_whole(note, q.unit))
            return Rejected(M.WHOLE_NUMBER_NEEDED)
        return Accepted(int(value), note)
    return Accepted(float(value), note)


def _out_of_bounds(q: Question, value: Any, note: str | None = None) -> Rejected | None:
    low, high = q.bounds
    if (low is not None and value < low) or (high is not None and value > high):
        percent = q.type is QuestionType.PERCENT or (q.unit or "").strip() == "%"
        sign = "%" if percent else ""  # the bounds carry it: "từ 0% đến 100%", no unit after
        shown = note or vnformat.number(float(value), 4) + sign
        fmt = vnformat.percent if percent else vnformat.number
        return Rejected(M.out_of_range(shown, None if low is None else fmt(low),
                                       None if high is None else fmt(high),
                                       None if percent else q.unit))
    return None


# --- yes / no --------------------------------------------------------------------------------

_YES = {"co", "c", "roi", "da co", "co roi", "yes", "y", "ok", "oke", "dung", "vang", "u",
        "uh", "um", "da", "dung roi", "x", "1", "true", "dong y", "dung vay"}
_NO = {"khong", "k", "ko", "kg", "kh", "khg", "hk", "hok", "hong", "khum", "chua", "chua co",
       "khong co", "no", "n", "sai", "2", "false", "ko co", "k co", "kh co", "khong duoc",
       "chua dau", "khong dau"}
# Words that end a reply without changing it: "có nhé", "không ạ", "có đấy anh".
_PARTICLES = frozenset({"a", "ah", "ak", "nhe", "nha", "nhen", "ne", "oi", "day", "thoi",
                        "luon", "vay", "ban", "anh", "chi", "em"})
_KNOWN = frozenset(w for phrase in _YES | _NO for w in phrase.split()) | _PARTICLES
# After "có"/"không": doubt, not an answer ("không biết", "k bt", "chưa rõ", "có lẽ", "có
# thể", "có phải", "không có số liệu").
_UNSURE = frozenset({"biet", "bt", "ro", "nho", "chac", "le", "the", "khi", "phai", "han",
                     "hay", "hoac", "hieu", "nam", "gi", "xac dinh", "dam bao", "so lieu",
                     "thong tin", "du lieu"})
# A word of the other answer in what follows: "có hay không", "không, có".
_CONTRARY = {True: frozenset({"khong", "chua", "ko", "k", "kh", "khg", "hk", "hok", "hong",
                              "khum", "no", "sai"}),
             False: frozenset({"co", "c", "yes", "ok", "vang"})}
_SEPARATORS = frozenset({",", ";"})
_MORE_WORDS = 4  # "có tổ chức", "không tham gia hoạt động": a few words, no more
_VNI_MARK = re.compile(r"(?<=[a-z])[1-9]")  # "co1", "kho6ng": VNI typing left undone
_TELEX_DOUBLE = re.compile(r"([aeod])\1")  # "khoong", "dda": Telex â ô ê đ left undone


def _untyped(word: str) -> str:
    """A word as meant when the Vietnamese keyboard did not turn it into letters: Telex
    'cos', 'khoong', 'chuwa', 'aj', VNI 'co1', 'kho6ng'. Known words stay as they are."""
    if word in _KNOWN or not word.isascii():
        return word
    plain = _TELEX_DOUBLE.sub(r"\1", _VNI_MARK.sub("", word)).replace("w", "")
    if plain not in _KNOWN and len(plain) > 1 and plain[-1] in "sfrxj":
        plain = plain[:-1]  # the tone key: "cos" = có, "roif" = rồi
    return plain if plain in _KNOWN else word


Unsure = Literal["unsure"]


def _yes_no(text: str) -> bool | Unsure | None:
    """True or False; "unsure" for "không biết", "chưa rõ"; None for anything else."""
    # A comma separates: "không, có" is not "không có".
    words = [_untyped(w) for w in re.findall(r"\w+|[,;]", fold(text))]
    if len(words) > 1 and words[0] in ("da", "vang"):
        words = words[1:]  # "dạ có", "vâng, không ạ"
    return _answer(words)


def _answer(words: list[str]) -> bool | Unsure | None:
    while words and words[0] in _SEPARATORS:
        words = words[1:]
    while len(words) > 1 and (words[-1] in _PARTICLES or words[-1] in _SEPARATORS):
        words = words[:-1]
    for size in (3, 2, 1):  # the longest answer first: "không có" before "không"
        head = " ".join(words[:size])
        if len(words) < size or (head not in _YES and head not in _NO):
            continue
        yes, rest = head in _YES, words[size:]
        if not rest:
            return yes
        if (head.isdigit() or len([w for w in rest if w not in _SEPARATORS]) > _MORE_WORDS
                or any(ch.isdigit() for w in rest for ch in w)):
            return None  # "1 cái", "có 2": a number, not yes or no
        again = _answer(rest)
        rest = [w for w in rest if w not in _SEPARATORS]
        if rest[0] in _UNSURE or " ".join(rest[:2]) in _UNSURE:
            return "unsure"
        if isinstance(again, bool):
            return yes if again == yes else "unsure"  # "chưa, không có"; "không, có"
        if again is not None or _CONTRARY[yes] & set(rest):
            return "unsure"  # "có tổ chức không", "có hay không"
        return yes  # "có tổ chức", "không tham gia"
    return None


def parse_yes_no(text: str) -> bool | None:
    """True for 'có/co/c/rồi/yes…', False for 'không/khong/k/chưa/no…', None otherwise. A few
    words may follow ("có nhé", "không tham gia"); doubt ("không biết") is not an answer."""
    found = _yes_no(text)
    return found if isinstance(found, bool) else None


# --- choices -----------------------------------------------------------------------------------


def _labels(q: Question) -> list[str]:
    return [o.label for o in q.options]


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
        return Rejected(M.unclear_choice(_labels(q)))
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
            return Rejected(M.unknown_option(piece, _labels(q)))
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        return Rejected(M.nothing_chosen(_labels(q)))
    order = [o.id for o in q.options]
    return Accepted(sorted(chosen, key=order.index))


# --- dates -------------------------------------------------------------------------------------

_DAY = r"^(?:(?:vao\s+)?ngay\s+)?(?:(?:mung|mong)\s+)?"  # "ngày", "vào ngày", "mùng", "mồng"
_DATE_FORMS = [
    re.compile(_DAY + r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})$"),
    re.compile(_DAY + r"(\d{1,2})\s+thang\s+(\d{1,2})\s+nam\s+(\d{2}|\d{4})$"),
    re.compile(_DAY + r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})$"),
    re.compile(_DAY + r"(\d{1,2})\s+thang\s+(\d{1,2})$"),
]
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAYS_AGO = {"hom nay": 0, "ngay hom nay": 0, "today": 0, "hom qua": 1, "ngay hom qua": 1,
             "hom kia": 2}
# Said around a date without changing it: "dạ 2/7/2026 ạ", "hôm qua nhé".
_LEADING = re.compile(r"^(?:da|vang)\s+")
_TRAILING = re.compile(r"(?:\s+(?:a|nhe|nha|nhen|ne|thoi|roi|day|ak|ah))+$")
_YEARS = range(1900, 2101)


@dataclass(frozen=True)
class _Day:
    """A date read from an answer; `year_typed` False when it came from '28/12' alone."""

    day: date
    year_typed: bool = True


def parse_date(text: str, today: date | None = None) -> date | Rejected:
    """'15/11/2026', '15-11-2026', '15 tháng 11 năm 2026', 'mùng 1/7', 'hôm nay', 'hôm qua';
    '28/12' is the most recent 28 December not after `today`; '15/11/26' only when 2026 is
    `today`'s year or the year before. Without `today` a date must carry its four-digit year."""
    read = _read_date(text, today)
    return read if isinstance(read, Rejected) else read.day


def _read_date(text: str, today: date | None) -> _Day | Rejected:
    folded = _TRAILING.sub("", _LEADING.sub("", fold(text).strip(" .!")))
    if folded in _DAYS_AGO and today is not None:
        return _Day(today - timedelta(days=_DAYS_AGO[folded]))
    m = _ISO.match(folded)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        for form in _DATE_FORMS:
            m = form.match(folded)
            if m:
                break
        if not m:
            return Rejected(M.no_date(text))
        d, mo = int(m.group(1)), int(m.group(2))
        if m.lastindex != 3:
            found = _without_year(d, mo, today)
            return found if isinstance(found, Rejected) else _Day(found, year_typed=False)
        raw = m.group(3)
        y = int(raw)
        if len(raw) == 2:
            recent = () if today is None else (today.year, today.year - 1)
            if 2000 + y not in recent:
                return Rejected(M.short_year(raw, d, mo))
            y += 2000
    if y not in _YEARS:
        return Rejected(M.invalid_year(y))
    try:
        return _Day(date(y, mo, d))
    except ValueError:
        return Rejected(M.no_such_date(d, mo, y))


def _without_year(d: int, mo: int, today: date | None) -> date | Rejected:
    """The most recent such day not after `today` (typed on 3 January, '28/12' is last year's)."""
    try:
        date(2000, mo, d)  # a leap year: does the day exist at all?
    except ValueError:
        return Rejected(M.no_such_date(d, mo))
    if today is not None:
        for year in (today.year, today.year - 1):
            try:
                found = date(year, mo, d)
            except ValueError:
                continue  # 29/02 outside a leap year
            if found <= today:
                return found
    return Rejected(M.YEAR_NEEDED)


def _allowed(q: Question, period: Period, today: date | None) -> tuple[date, date]:
    """The first and last day `q.within` allows in `period`: the period itself, or for
    "period_to_today" its first day to the earlier of its last day and today (a report made
    after the period ended takes no date after it)."""
    low, high = period.start, period.end
    if q.within == "period_to_today" and today is not None and today >= low:
        high = min(high, today)
    return low, high


def _in_range(q: Question, read: _Day, period: Period, today: date | None) -> _Day | str:
    """`read` if it is inside what `q.within` allows for `period`, or why it is not. A date
    typed without its year is the one inside the range when there is one: a range is never
    longer than a year, so at most one day of it has that day and month."""
    low, high = _allowed(q, period, today)
    day = read.day
    if not read.year_typed:
        for year in range(low.year, high.year + 1):
            try:
                candidate = date(year, day.month, day.day)
            except ValueError:
                continue  # 29/02 outside a leap year
            if low <= candidate <= high:
                return _Day(candidate, year_typed=False)
            if low <= candidate <= period.end:
                day = candidate  # in the period, after today: "chưa tới" below
    elif low <= day <= high:
        return read
    # Said back as typed: "04/07", never a year the officer did not write.
    shown = vnformat.day(day) if read.year_typed else f"{day:%d/%m}"
    if today is not None and high == today and today < day <= period.end:
        return M.date_not_yet(shown, today, low, high)
    return M.date_outside_period(shown, period.label_vi(), low, high)


# --- entry point -------------------------------------------------------------------------------


def parse_answer(q: Question, text: str, today: date | None = None,
                 period: Period | None = None) -> Parsed:
    """Parse typed text as an answer to `q` in the report for `period` (checked against dates
    when `q.within` says so), typed on `today`. Never raises."""
    text = nfc(text or "").strip()
    if not text:
        return Rejected(M.EMPTY_ANSWER)
    t = q.type
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.PERCENT):
        return _parse_numeric(q, text)
    if t is QuestionType.YES_NO:
        yes = _yes_no(text)
        if yes == "unsure":
            return Rejected(M.yes_no_unsure(text))
        if not isinstance(yes, bool):
            return Rejected(M.YES_OR_NO_NEEDED)
        return Accepted(yes)
    if t is QuestionType.CHOICE:
        return _parse_choice(q, text)
    if t is QuestionType.MULTI_CHOICE:
        return _parse_multi(q, text)
    if t is QuestionType.DATE:
        read = _read_date(text, today)
        if isinstance(read, Rejected):
            return read
        if q.within and period:
            inside = _in_range(q, read, period, today)
            if isinstance(inside, str):
                return Rejected(inside)
            read = inside
        return Accepted(read.day.isoformat())
    if t is QuestionType.PHOTO:
        return Rejected(M.PHOTO_NEEDED)
    if len(text) > q.max_length:
        return Rejected(M.too_long(len(text), q.max_length))
    return Accepted(text)


def check_value(q: Question, value: Any) -> Parsed:
    """A stored answer (last period's, for prefill) checked against the question as it is now,
    as strictly as a typed one: its type, bounds, whole numbers, options, length."""
    t = q.type
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.PERCENT):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return Rejected(M.NOT_A_NUMBER_STORED)
        outside = _out_of_bounds(q, value)
        if outside is not None:
            return outside
        if t is QuestionType.INTEGER:
            if value != int(value):
                return Rejected(M.WHOLE_NUMBER_NEEDED)
            return Accepted(int(value))
        return Accepted(float(value))
    ids = {o.id for o in q.options}
    fits = {QuestionType.YES_NO: isinstance(value, bool),
            QuestionType.CHOICE: isinstance(value, str) and value in ids,
            QuestionType.MULTI_CHOICE: isinstance(value, list) and bool(value)
            and all(v in ids for v in value),
            QuestionType.TEXT: isinstance(value, str) and 0 < len(value) <= q.max_length}
    if not fits.get(t, False):
        return Rejected(M.PREVIOUS_DOES_NOT_FIT)
    return Accepted(list(value) if isinstance(value, list) else value)


def accept_photo(q: Question, file_id: str) -> Parsed:
    """A photo sent as the answer to `q`."""
    if q.type is not QuestionType.PHOTO:
        return Rejected(M.PHOTO_NOT_NEEDED)
    return Accepted(file_id)


def format_answer(q: Question, value: Any) -> str:
    """An answer as shown back to people: '1.234 HTX', '85,5%', 'Có', '15/11/2026'."""
    if value is None:
        return M.SKIPPED_VALUE
    t = q.type
    unit = f" {q.unit}" if q.unit else ""
    if t is QuestionType.PERCENT:
        return vnformat.percent(value)
    if t in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return vnformat.number(value, 4) + unit
    if t is QuestionType.YES_NO:
        return M.ANSWER_YES if value else M.ANSWER_NO
    labels = {o.id: o.label for o in q.options}
    if t is QuestionType.CHOICE:
        return labels.get(value, str(value))
    if t is QuestionType.MULTI_CHOICE:
        # "Hội nghị, tọa đàm, diễn đàn; Loa truyền thanh": labels with commas of their own
        # stay apart.
        glue = "; " if any("," in o.label for o in q.options) else ", "
        return glue.join(labels.get(v, str(v)) for v in value)
    if t is QuestionType.DATE:
        return vnformat.day(date.fromisoformat(value))
    if t is QuestionType.PHOTO:
        return M.PHOTO_ANSWER
    return str(value)
