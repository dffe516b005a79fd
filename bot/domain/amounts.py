"""Reading a typed number the way officers write it, or refusing it with a reason.

Accepted: `12`, `1.234` (= 1234), `12,5`, `1.234,5`, `,5` (= 0,5), `khoảng 30`, `có 12 hộ ạ`,
`12 tin` (a question counted in "tin bài"), words the question's text counts in (`3 diễn đàn`
on "Số lớp tập huấn, hội nghị, diễn đàn…"), people words on questions counting people or lượt
of people (`80 đoàn viên`, `80 đ/c`), `3 buổi` on a question counting gatherings; on money
questions `2,5 tỷ`, `500k`, `500 nghìn`, `2 triệu rưỡi`, `2tr5`, `2 tỷ 500 triệu`,
`2.500.000.000 đồng`, `2.500.000 ₫`, converted into the question's own unit and echoed
("2,5 tỷ đồng = 2.500 triệu đồng").

Refused, because a guess could store a wrong figure: vague figures (`hơn 10`, `10+`, `10-15`,
`10 hoặc 12`); a comma followed by exactly three digits (`1,500`: 1.500 or 1,5?); magnitude or
money words on a question that does not count money; another country's money (`12 $`,
`12 USD`, `12 đô`) and `‰` on any question; a unit word that contradicts the question's own
(`12 HTX` on a question counted in hộ); colloquial forms that could mean two amounts
(`2 triệu 50`, `1 triệu 2 trăm`); a bare figure that makes an implausible amount (100 tỷ đồng
or more, e.g. `2500000` on a question counted in triệu đồng: probably typed in đồng), which is
taken once typed with its unit. The explanations are worded in bot.domain.messages_vi.

Values are exact (decimal.Decimal). No library reads this: vietnam-number (GPL) and
vn-numberwords read numbers spelled out in words, vn-money reads whole đồng; none reads digits
with magnitude words or knows when to refuse.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import Enum, auto
from functools import lru_cache
from itertools import pairwise
from math import prod

from bot.domain import messages_vi as M
from bot.domain import vnformat
from bot.domain.templates import QuestionType
from bot.domain.text import fold, nfc


@dataclass(frozen=True)
class Reading:
    """A number read from an answer, in the question's own unit."""

    value: Decimal
    note: str | None = None  # how a money amount was converted: "2,5 tỷ đồng = 2.500 triệu đồng"
    bare: bool = False  # a figure without magnitude or money words: in the question's unit


MAX_DECIMALS = 6  # what a stored answer keeps; more is refused, never rounded silently
_LIMIT = Decimal(10) ** 15
_TINY = Decimal("0.001")  # a converted amount below this much of the unit is likely a slip

ZERO_WORDS = frozenset({
    "khong", "khong co", "ko", "ko co", "k co", "kh co", "chua co", "khong co a", "chua",
    "chua co a", "khong a", "none", "zero"})

# --- vocabulary (folded: lower case, no diacritics) ----------------------------------------

MAGNITUDES = {"chuc": 10, "tram": 100, "nghin": 1000, "ngan": 1000, "k": 1000,
              "trieu": 10**6, "tr": 10**6, "ty": 10**9, "ti": 10**9}
_ONE_WORD = frozenset(MAGNITUDES.values())  # magnitudes said in one word (not "nghìn tỷ")
CURRENCY = frozenset({"dong", "d", "vnd"})
_MAGNITUDE_AND_CURRENCY = {"trd": 10**6}  # "trđ": triệu đồng in one word

# Words around a figure that change nothing: particles, framing ("tổng cộng", "trên địa bàn").
_FILLERS = frozenset({
    "a", "da", "vang", "u", "uh", "um", "ok", "oke", "nhe", "nha", "nhen", "ne", "thoi", "roi",
    "day", "do", "nhi", "chan", "tron", "dung", "dung roi", "chinh xac", "dung la", "tong cong",
    "tat ca", "ca thay", "trong ky", "trong thang", "trong quy", "trong nam", "ca ky", "ca nam",
    "ky nay", "thang nay", "quy nay", "nam nay", "tren dia ban", "dia ban", "den nay",
    "tinh den nay", "cho den nay", "tinh den thoi diem bao cao", "den thoi diem bao cao",
    "luy ke", "luy ke den nay", "tu dau nam", "tu dau nam den nay", "tu dau ky",
    "tu dau ky den nay"})
# Harmless before the figure ("có 12", "khoảng 30": documented, an approximate figure is taken
# as given; "xã em"), but after it some would name a count ("12 xã") or make no sense.
_LEADS = frozenset({
    "co", "co tat ca", "duoc", "la", "dat", "gom", "gom co", "tong", "tong so", "chi", "chi co",
    "moi", "so", "so luong", "so lieu", "ket qua", "hien", "hien co", "hien nay", "hien tai",
    "hien dang", "dang", "dang co", "khoang", "khoang chung", "tam", "tam khoang", "chung",
    "chung khoang", "xap xi", "uoc", "uoc tinh", "uoc khoang", "bao cao", "kinh bao cao",
    "xin bao cao", "em", "anh", "toi", "minh", "chung em", "chung toi", "ben em", "ben minh",
    "doan", "doan xa", "hoi", "chi doan", "chi hoi", "xa", "xa em", "xa minh", "phuong",
    "thi tran", "don vi", "dia phuong"})
# Not one figure: more than, less than, about-but-not-exactly, a range.
_VAGUE = frozenset({
    "hon", "tren", "gan", "duoi", "it nhat", "toi thieu", "toi da", "nhieu nhat", "khong qua",
    "khong den", "khong toi", "chua den", "chua toi", "vuot", "vuot qua", "tro len",
    "tro xuong", "tro lai", "do lai", "do len", "may", "vai", "dam", "hang chuc", "hang tram",
    "hang nghin", "hang ngan", "hang trieu", "hang ty", "co le", "hinh nhu", "chac", "chac la",
    "ngot", "suyt", "tren duoi", "le", "tu"})
_RANGE = frozenset({"den", "toi", "hoac", "hoac la", "hay", "hay la", "cho den", "den khoang"})
_HALF = "ruoi"  # rưỡi: half of the magnitude word before it

# Other names of a unit (folded); "12 tin" for "tin bài" comes from the first-word rule.
_ALIASES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "htx": {"hop tac xa"}, "hop tac xa": {"htx"},
    "tht": {"to hop tac", "to"}, "to hop tac": {"tht", "to"},
    "cau lac bo": {"clb"}, "clb": {"cau lac bo"},
    "san pham": {"sp"}, "hoat dong": {"hd"}, "mo hinh": {"mh"},
    "tin bai": {"bai", "bai viet", "tin"},
    "can": {"can nha", "nha", "ngoi nha", "ngoi"},
    "ho": {"ho gia dinh", "gia dinh"},
    "y tuong": {"de an", "du an"},
    "doi": {"doi hinh"},
}.items()}
# Words for people: any of them names the unit of a question counted in people, or in lượt of
# people ("Số lượt đoàn viên, thanh niên…"). "đồng chí" and "đ/c" are people, never money.
_PEOPLE = frozenset({"nguoi", "thanh vien", "hoi vien", "doan vien", "dvtn", "thanh nien",
                     "lao dong", "em", "xa vien", "ban", "dong chi", "d/c", "truong hop",
                     "can bo", "nong dan", "tri thuc", "hoc vien", "hoc sinh", "nguoi dan"})
# Gatherings: a question counting any of them takes "3 buổi" ("3 cuộc"); one counting
# "hoạt động" takes any kind of gathering ("2 hội nghị" are 2 activities).
_SESSION_WORDS = frozenset({"buoi", "cuoc"})
_GATHERINGS = frozenset({"lop", "lop tap huan", "tap huan", "hoi nghi", "dien dan", "hoi thao",
                         "toa dam", "hoi thi", "buoi", "cuoc"})
_ACTIVITY = "hoat dong"
# Words that name some other quantity: the refusal then says "không phải HTX".
_KNOWN_UNITS = frozenset({
    *_ALIASES, *(a for v in _ALIASES.values() for a in v), *_PEOPLE, *_GATHERINGS, "luot",
    "to", "xa", "thon", "ap", "to dan pho", "chi hoi", "chi doan", "co so", "doanh nghiep", "dn",
    "cai", "chiec", "con", "kg", "tan", "ha", "m2", "km", "nam", "thang", "ngay", "tuan", "tuoi",
    "lan", "suat", "phan qua", "qua", "phan tram", "du an", "de an", "y tuong", "sp", "guong",
    "to chuc"})
# How known names of two words or more begin: a counted item starting so ("cán bộ", "diễn đàn")
# is never cut to its first word ("căn" are houses).
_COMPOUND_STARTS = frozenset(" ".join(p.split()[:2]) for p in _KNOWN_UNITS if " " in p)
# Money of another country: never dropped (12 $ is not 12 triệu đồng), refused on every question.
# Words count only right after the figure ("xã Yên Lạc có 12 hộ" names a place); "đô" is read
# with its diacritics ("đó" folds to the same "do").
_FOREIGN_WORDS = frozenset({"usd", "do la", "dola", "dollar", "euro", "eur", "yen", "jpy",
                            "nhan dan te", "cny", "rmb", "bang anh", "gbp", "won", "krw", "baht",
                            "thb"})
_DONG_SIGN = "₫"  # a currency symbol, but ours
_PER_MILLE = frozenset({"‰", "‱"})


class _K(Enum):
    NUM = auto()
    MAG = auto()
    CUR = auto()
    HALF = auto()
    UNIT = auto()  # the question's own unit
    FILL = auto()
    LEAD = auto()
    VAGUE = auto()
    RANGE = auto()
    OTHER = auto()
    SIGN = auto()
    PLUS = auto()
    CMP = auto()
    APPROX = auto()
    PCT = auto()
    PUNCT = auto()
    FOREIGN = auto()  # another country's money: $, €, USD, đô
    PER_MILLE = auto()  # ‰: not a percentage


_SYMBOLS = {"-": _K.SIGN, "−": _K.SIGN, "–": _K.SIGN, "—": _K.SIGN, "‐": _K.SIGN,
            "‑": _K.SIGN, "+": _K.PLUS, "<": _K.CMP, ">": _K.CMP, "≤": _K.CMP, "≥": _K.CMP,
            "⩽": _K.CMP, "⩾": _K.CMP, "±": _K.CMP, "~": _K.APPROX, "≈": _K.APPROX,
            "∼": _K.APPROX, "%": _K.PCT}
_PHRASES: dict[str, _K] = {
    **dict.fromkeys(_FILLERS, _K.FILL), **dict.fromkeys(_LEADS, _K.LEAD),
    **dict.fromkeys(_RANGE, _K.RANGE), **dict.fromkeys(_VAGUE, _K.VAGUE),
    **dict.fromkeys(MAGNITUDES, _K.MAG), **dict.fromkeys(CURRENCY, _K.CUR),
    **dict.fromkeys(_FOREIGN_WORDS, _K.FOREIGN),
    "dong chi": _K.OTHER,  # "80 đồng chí": people, not "80 đồng"
    _HALF: _K.HALF}
_LONGEST = 6  # words in the longest phrase above

# A number: digits with . or , between groups, or a leading separator (",5"). "đ/c" (đồng chí)
# is one word, so that its "đ" is not read as đồng.
_TOKEN = re.compile(r"(?P<num>(?<![0-9])[.,]?[0-9]+(?:[.,][0-9]+)*)"
                    r"|(?P<word>(?<![^\W\d_])[đĐdD]/[cC](?![^\W\d_])"
                    r"|(?:[^\W\d_]|[\u0300-\u036f])+)"
                    r"|(?P<sym>\S)")
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")


@dataclass(frozen=True, slots=True)
class _Item:
    kind: _K
    raw: str  # as typed, for messages
    span: tuple[int, int]  # where in the text
    factor: int = 1  # a magnitude word's value


@dataclass(frozen=True)
class _Unit:
    """What a question counts in, as the reader needs it."""

    label: str | None  # named in messages: "hộ", "%", "triệu đồng"; None: no unit given
    own: frozenset[str]  # folded phrases that name it
    money: int | None  # đồng per unit on a money question
    percent: bool
    integer: bool
    ask: str  # "số hộ", "tỷ lệ phần trăm", "số tiền (triệu đồng)"
    example: str


@lru_cache(maxsize=1024)
def _unit(kind: QuestionType, unit: str | None, question: str | None = None) -> _Unit:
    integer = kind is QuestionType.INTEGER
    example = "12" if integer else "12,5"
    if kind is QuestionType.PERCENT:
        return _Unit("%", frozenset({"phan tram"}), None, True, False, M.ASK_PERCENT, "85")
    if unit and unit.strip() == "%":  # a decimal counted in %
        return _Unit("%", frozenset({"phan tram"}), None, True, integer, M.ASK_PERCENT_FIGURE,
                     example)
    factor = money_factor(unit) if unit else None
    if factor is not None:
        assert unit is not None
        return _Unit(unit, frozenset(), factor, False, integer, M.ask_money(unit),
                     "2500" if integer else "2,5")
    if not unit:
        return _Unit(None, frozenset(), None, False, integer, M.ASK_NUMBER, example)
    own: set[str] = set()
    people = False
    for alt in re.split(r"[,;/]|\bva\b|\bhoac\b", fold(unit)):
        words = _WORD.findall(alt)
        if not words:
            continue
        phrase = " ".join(words)
        own |= {phrase, words[0], *_ALIASES.get(phrase, ())}
        people = people or phrase in _PEOPLE or " ".join(words[1:]) in _PEOPLE  # "lượt người"
    counted = counted_phrases(question) if question else []
    own |= {p for p in counted if p not in _PHRASES}
    # Lượt of people ("Số lượt đoàn viên, thanh niên…"), or people themselves.
    people = people or ("luot" in own and any(p in _PEOPLE for p in counted))
    if people:
        own |= _PEOPLE
    if own & _GATHERINGS:
        own |= _SESSION_WORDS
    if _ACTIVITY in own:
        own |= _GATHERINGS
    return _Unit(unit, frozenset(own), None, False, integer, M.ask_count(unit), "12")


# "bao nhiêu" names what is counted more surely than "số" ("hỗ trợ số hóa cho bao nhiêu hộ").
_COUNTED = (re.compile(r"\bbao nhieu(?: luot\b)?\s+(.*)"),
            re.compile(r"\b(?:tong so|so)(?: luot\b| luong\b)?\s+(.*)"))
_SHORT_ITEM = 3  # words: "lớp tập huấn, hội nghị, diễn đàn": the list goes on after a short item


def counted_phrases(question: str) -> list[str]:
    """What a question counts, as its text names it (folded), each with its leading words:
    "Số lớp tập huấn, hội nghị, diễn đàn tuyên truyền…" → "lop tap", "lop tap huan",
    "hoi nghi", "dien dan", "dien dan tuyen"…; a known word of two syllables is never cut
    ("Số lượt cán bộ" gives "can bo", not "can": căn are houses). An officer may write any of them
    after the figure ("3 diễn đàn"). Only the list right after "Số"/"bao nhiêu" counts, and
    only while its items are short: in "Số đội hình … hỗ trợ hợp tác xã, người dân…" people
    are who is helped, not what is counted, so "12 người" still contradicts "đội"."""
    text = re.sub(r"\([^)]*\)", " ", fold(question))  # asides: "(giải thể, sáp nhập)"
    found = _COUNTED[0].search(text) or _COUNTED[1].search(text)
    if not found:
        return []
    out: list[str] = []
    for item in re.split(r"[,;:?]|\bva\b|\bhoac\b", found.group(1)):
        words = _WORD.findall(item)
        first = 2 if " ".join(words[:2]) in _COMPOUND_STARTS else 1
        out += [" ".join(words[:n]) for n in range(first, min(len(words), _LONGEST) + 1)]
        if len(words) > _SHORT_ITEM:
            break
    return out


def money_factor(unit: str) -> int | None:
    """Đồng per unit when `unit` counts money ('triệu đồng' → 10**6, 'VNĐ' → 1), else None."""
    if re.search(r"[0-9]", unit):
        return None
    factors: list[int] = []
    currency = False
    for word in (fold(w) for w in _WORD.findall(unit)):
        if word in _MAGNITUDE_AND_CURRENCY and not currency:
            factors.append(_MAGNITUDE_AND_CURRENCY[word])
            currency = True
        elif word in MAGNITUDES and not currency:
            factors.append(MAGNITUDES[word])
        elif word in CURRENCY:
            currency = True
        else:
            return None
    if not currency or any(a >= b for a, b in pairwise(factors)):
        return None
    return prod(factors)


def _symbol(raw: str) -> _K:
    if raw in _SYMBOLS:
        return _SYMBOLS[raw]
    if raw == _DONG_SIGN:
        return _K.CUR
    if raw in _PER_MILLE:
        return _K.PER_MILLE
    if unicodedata.category(raw) == "Sc":  # $ € £ ¥ ₩ …
        return _K.FOREIGN
    return _K.PUNCT


def _classify(text: str, unit: _Unit) -> list[_Item]:
    tokens = [(m.lastgroup, m.group(), m.span()) for m in _TOKEN.finditer(text)]
    items: list[_Item] = []
    i = 0
    while i < len(tokens):
        kind, raw, span = tokens[i]
        if kind == "num":
            items.append(_Item(_K.NUM, raw, span))
            i += 1
            continue
        if kind == "sym":
            found = _symbol(raw)
            items.append(_Item(_K.UNIT if found is _K.PCT and unit.percent else found, raw, span))
            i += 1
            continue
        words: list[str] = []
        while (i + len(words) < len(tokens) and tokens[i + len(words)][0] == "word"
               and len(words) < _LONGEST):
            words.append(fold(tokens[i + len(words)][1]))
        n, hit = 1, None
        for size in range(len(words), 0, -1):
            key = " ".join(words[:size])
            hit = _K.UNIT if key in unit.own else _PHRASES.get(key)
            if hit is not None:
                n = size
                break
        span = (tokens[i][2][0], tokens[i + n - 1][2][1])
        raw = text[span[0]:span[1]]
        key = " ".join(words[:n])
        if hit in (None, _K.FILL) and n == 1 and nfc(raw.lower()) == "đô":
            hit = _K.FOREIGN  # the dollar, not "đó"
        if hit is None and key in _MAGNITUDE_AND_CURRENCY:
            items += [_Item(_K.MAG, raw, span, _MAGNITUDE_AND_CURRENCY[key]),
                      _Item(_K.CUR, raw, span)]
        elif hit is _K.MAG:
            items.append(_Item(_K.MAG, raw, span, MAGNITUDES[key]))
        else:
            items.append(_Item(hit or _K.OTHER, raw, span))
        i += n
    return items


# --- amounts: a number and its magnitude words -------------------------------------------


@dataclass
class _Amount:
    start: int  # first item (the minus sign, if any)
    end: int  # one past the last item
    negative: bool
    parts: list[_Item]  # numbers, magnitude words and "rưỡi", in order: 2 tỷ 500 triệu
    currency: bool = False  # "… đồng"
    span: tuple[int, int] = (0, 0)  # where in the text

    @property
    def has_magnitude(self) -> bool:
        return any(p.kind is not _K.NUM for p in self.parts)


def _amounts(items: list[_Item]) -> list[_Amount]:
    """Each number with the magnitude words, "rưỡi" and numbers that continue it
    ("2 tỷ 500 triệu", "2tr5", "2 trăm rưỡi nghìn") and a money word after it."""
    out: list[_Amount] = []
    n, k = len(items), 0
    while k < n:
        if items[k].kind is not _K.NUM:
            k += 1
            continue
        # A minus right before the first number is a sign; between two numbers, a range.
        negative = not out and k > 0 and items[k - 1].kind is _K.SIGN
        amount = _Amount(k - 1 if negative else k, k, negative, [items[k]])
        k += 1
        while k < n:
            kind, last = items[k].kind, amount.parts[-1].kind
            if kind is _K.MAG or (kind is _K.HALF and last is _K.MAG) or (
                    kind is _K.NUM and last is _K.MAG):
                amount.parts.append(items[k])
                k += 1
            else:
                break
        while k < n and items[k].kind is _K.CUR:
            amount.currency = True
            k += 1
        amount.end = k
        amount.span = (items[amount.start].span[0], items[k - 1].span[1])
        out.append(amount)
    return out


def _read_token(raw: str) -> Decimal | tuple[Decimal, Decimal] | None:
    """'1.234' → 1234, '12,5' → 12.5, '12.5' → 12.5, '1.234,5' → 1234.5, '1,234,567' → 1234567,
    ',5' → 0.5; a pair (thousands, decimal) for '1,500'; None when malformed."""
    if len(raw) > 24:
        return None  # longer is beyond the limit or the decimals kept either way
    if raw[0] in ".,":
        return Decimal("0." + raw[1:]) if raw[1:].isdigit() else None
    dots, commas = raw.count("."), raw.count(",")
    if dots and commas:
        dec, th = (".", ",") if raw.rfind(".") > raw.rfind(",") else (",", ".")
        whole, frac = raw.rsplit(dec, 1)
        if th in frac or dec in whole or not _groups_ok(whole.split(th)):
            return None
        return Decimal(whole.replace(th, "") + "." + frac)
    sep = "." if dots else "," if commas else ""
    if not sep:
        return Decimal(raw)
    parts = raw.split(sep)
    if len(parts) > 2:  # several separators of one kind can only be thousands
        return Decimal("".join(parts)) if _groups_ok(parts) else None
    whole, frac = parts
    if len(frac) == 3 and _groups_ok(parts):
        if sep == ".":
            return Decimal(whole + frac)  # Vietnamese thousands: 1.234 = 1234
        return Decimal(whole + frac), Decimal(whole + "." + frac)  # 1,500: 1500 or 1,5?
    return Decimal(whole + "." + frac)


def _groups_ok(groups: list[str]) -> bool:
    return (1 <= len(groups[0]) <= 3 and groups[0] != "0"
            and all(len(g) == 3 for g in groups[1:]))


def show(value: Decimal) -> str:
    """A Decimal the Vietnamese way, every kept decimal shown: 2500 → '2.500', 0.5 → '0,5'."""
    whole = value == value.to_integral_value()
    return vnformat.number(int(value) if whole else float(value), MAX_DECIMALS)


# --- the reader ------------------------------------------------------------------------------


def read_number(text: str, kind: QuestionType, unit: str | None, question: str | None = None,
                maximum: float | None = None) -> Reading | str:
    """The one figure in `text` for a question of this type and unit, or why it is refused.
    `question` (its text) names what is counted: "3 diễn đàn" on "Số lớp tập huấn, hội nghị,
    diễn đàn…". `maximum`, the question's own when it sets one, replaces the plausibility
    ceiling of bare money figures."""
    plain = text.strip()
    if plain.isascii() and plain.isdigit() and len(plain) <= 12 and plain[0] != "0":
        # The everyday answer, "12": read at once (the full reader gives the same, slower).
        read: Reading | str = Reading(Decimal(plain), bare=True)
    else:
        if fold(text).strip(" .!") in ZERO_WORDS:
            return Reading(Decimal(0))  # "không có" is an answer: zero
        read = _read_all(text, kind, unit, question)
    if isinstance(read, Reading) and read.bare:
        info = _unit(kind, unit, question)
        if info.money is not None:
            return _implausible(read.value, info, maximum) or read
    return read


def _read_all(text: str, kind: QuestionType, unit: str | None, question: str | None
              ) -> Reading | str:
    info = _unit(kind, unit, question)
    with localcontext() as ctx:
        ctx.prec = 80  # exact for every token we accept (≤ 24 characters) times a magnitude
        return _read(text, _classify(text, info), info)


def _read(text: str, items: list[_Item], unit: _Unit) -> Reading | str:
    kinds = {it.kind for it in items}
    numbers = [k for k, it in enumerate(items) if it.kind is _K.NUM]
    vague = (_K.VAGUE in kinds or _K.CMP in kinds
             or any(k + 1 < len(items) and items[k + 1].kind is _K.PLUS for k in numbers))
    if not numbers:
        return M.no_number(text)
    amounts = _amounts(items)
    foreign = _foreign_money(items, amounts)
    if foreign is not None:
        return M.foreign_money(foreign, unit.label, unit.money is not None, unit.ask,
                               unit.example)
    if _K.PER_MILLE in kinds:
        return M.per_mille(unit.percent, unit.ask, unit.example)
    if vague:
        return _vague(unit)
    if len(amounts) > 1:
        between = items[amounts[0].end:amounts[-1].start]
        if any(it.kind in (_K.SIGN, _K.APPROX, _K.RANGE) for it in between):
            return _vague(unit)  # "10-15", "10 ~ 15", "10 đến 15", "10 hoặc 12"
        return M.several_numbers(text)
    if unit.money is None:
        refused = _no_money_words(unit, amounts)
        if refused:
            return refused
    amount = amounts[0]
    for num in (p for p in amount.parts if p.kind is _K.NUM):
        read = _read_token(num.raw)
        if read is None:
            return M.malformed_number(num.raw)
        if isinstance(read, tuple):
            return _ambiguous_comma(num.raw, read, unit)
    refused = _check_words(text, items, amount, unit)
    if refused:
        return refused
    return _value(text, amount, unit)


def _foreign_money(items: list[_Item], amounts: list[_Amount]) -> str | None:
    """Another country's money as typed: a symbol anywhere ("$12"), a word after a figure."""
    after = {a.end for a in amounts}
    for k, it in enumerate(items):
        if it.kind is _K.FOREIGN and (k in after or not _WORD.search(it.raw)):
            return it.raw
    return None


def _vague(unit: _Unit) -> str:
    return M.vague_number(unit.ask, unit.example)


def _no_money_words(unit: _Unit, amounts: list[_Amount]) -> str | None:
    """Magnitude and money words next to a figure (elsewhere "đồng" may be "động")."""
    if any(a.currency for a in amounts):
        if unit.label is None:
            return M.NOT_MONEY
        return M.not_money(unit.label, unit.ask, unit.example)
    if any(a.has_magnitude for a in amounts):
        return M.no_magnitude_words(unit.label, unit.ask, unit.percent)
    return None


def _ambiguous_comma(raw: str, read: tuple[Decimal, Decimal], unit: _Unit) -> str:
    thousands, decimal = read
    plain = f"{int(thousands)}"
    if unit.integer and unit.money is None:
        return M.comma_on_whole_number(show(thousands), plain)
    return M.ambiguous_comma(raw, show(thousands), show(decimal), plain)


def _check_words(text: str, items: list[_Item], amount: _Amount, unit: _Unit) -> str | None:
    """Words around the figure: harmless, the question's own unit, or something else."""
    unit_after: int | None = None  # words after the unit named after the figure describe it
    mentioned: list[int] = []  # money: magnitude words naming the unit before the figure
    for k, it in enumerate(items):
        if amount.start <= k < amount.end:
            continue
        before = k < amount.start
        kind = it.kind
        if kind in (_K.FILL, _K.PUNCT, _K.APPROX, _K.PLUS, _K.SIGN):
            continue
        if kind is _K.UNIT:
            if not before and unit_after is None:
                unit_after = k
            continue
        if before and (kind is _K.LEAD or (kind is _K.RANGE and fold(it.raw) == "toi")):
            continue  # "tôi", "xã em" before the figure: who is speaking
        if unit.money is not None and amount.currency and not before:
            continue  # "500 triệu đồng vốn vay": words after the money describe it
        if unit.money is not None and kind in (_K.MAG, _K.CUR):
            if not before:
                return M.unclear_money(text)
            mentioned.append(it.factor if kind is _K.MAG else 1)
            continue
        if kind is _K.PCT and not unit.percent:
            return M.not_percent(unit.ask, unit.example)
        if kind is _K.HALF:
            return M.unclear_half(bool(unit.money))
        if unit_after is not None and k > unit_after:
            continue
        if unit.label is None:
            continue  # no unit given: nothing to contradict
        return _contradiction(text, items, k, unit)
    if mentioned and prod(mentioned) != unit.money:
        return M.unclear_money(text)
    return None


_WORDISH = (_K.OTHER, _K.MAG, _K.CUR, _K.LEAD, _K.RANGE, _K.HALF, _K.FOREIGN)


def _contradiction(text: str, items: list[_Item], k: int, unit: _Unit) -> str:
    """Name the words that do not fit: "không phải HTX", or "Chưa hiểu “dự kiến”"."""
    j = k + 1
    while j < len(items) and items[j].kind in _WORDISH:
        j += 1
    words = text[items[k].span[0]:items[j - 1].span[1]]
    assert unit.label is not None  # checked by the caller: nothing contradicts no unit
    if fold(words) in _KNOWN_UNITS or fold(items[k].raw) in _KNOWN_UNITS:
        return M.wrong_unit(unit.label, words, unit.ask, unit.example)
    return M.words_not_understood(words, unit.label, unit.ask, unit.example)


@dataclass
class _Total:
    """An amount evaluated: its value and how to say it back."""

    value: Decimal
    simple: bool  # a number and big magnitude words only ("2,5 tỷ"), or a bare number
    first: tuple[int, ...] = ()  # the first group's big magnitude words: (1000, 10**9)


def _total(text: str, amount: _Amount) -> _Total | str:
    """The amount in đồng, read as Vietnamese counts: groups of tỷ, triệu, nghìn, each a number
    below a thousand that may use "trăm", "chục", "rưỡi" ("2 trăm 50 nghìn" = 250.000).
    Colloquial endings: "2 triệu 5" = 2,5 triệu and "2 triệu 500" = 2.500 nghìn; what could
    mean two amounts is refused ("2 triệu 50", "1 triệu 2 trăm": 1.200.000 or 1.000.200?)."""
    unclear = M.unclear_money(text)
    total = Decimal(0)
    current: Decimal | None = None  # the count being read
    small: int | None = None  # "trăm"/"chục" just applied to it: digits may follow
    bare = False  # current is one plain number so far
    group: Decimal | None = None  # the last big group's value (to stack "nghìn tỷ")
    big: int | None = None  # the last big group's magnitude
    first: list[int] = []
    groups = 0
    simple = True
    parts = amount.parts
    for i, part in enumerate(parts):
        previous = parts[i - 1].kind if i else None
        if part.kind is _K.NUM:
            value = _read_token(part.raw)
            assert isinstance(value, Decimal)  # checked by the caller
            if current is None:
                current, small, bare = value, None, True
                continue
            simple = False
            digits = part.raw if part.raw.isdigit() else ""
            if small == 100 and len(digits) in (1, 2):  # "2 trăm 5" = 250, "2 trăm 50" = 250
                current += int(digits) * (10 if len(digits) == 1 else 1)
            elif small == 10 and len(digits) == 1:  # "2 chục 5" = 25
                current += int(digits)
            else:
                return unclear
            small = None
        elif part.kind is _K.HALF:
            simple = False
            if previous is not _K.MAG:
                return unclear
            if small is not None and current is not None:  # "2 trăm rưỡi" = 250
                current += Decimal(small) / 2
                small = None
            elif current is None and big is not None and group is not None:
                if not _whole(group / big):  # "2,5 triệu rưỡi"
                    return unclear
                total += Decimal(big) / 2  # "2 triệu rưỡi"
                group = None
            else:
                return unclear
        elif part.factor < 1000:  # trăm, chục multiply the count
            simple = False
            if current is None or small is not None or not bare:
                return unclear  # "tỷ trăm", "trăm chục", "2 trăm 50 trăm"
            current *= part.factor
            small, bare = part.factor, False
        elif current is None:  # "nghìn tỷ": a bigger word right after multiplies the group
            if previous is not _K.MAG or big is None or group is None or part.factor <= big:
                return unclear  # "triệu nghìn"
            total += group * (part.factor - 1)
            group *= part.factor
            big *= part.factor
            if groups == 1:
                first.append(part.factor)
        else:
            factor = part.factor
            # A later group is smaller than the one before it and no more than a thousand-step
            # below it ("1 tỷ 500 nghìn" is refused: a likely slip).
            if big is not None and not (factor < big <= factor * 1000
                                        and current * factor < big):
                return unclear
            if big is not None and group is not None and not _whole(group / big):
                return unclear  # "2,5 tỷ 500 triệu"
            group = current * factor
            total += group
            groups += 1
            if groups == 1:
                first = [factor]
            else:
                simple = False
            big, current, small, bare = factor, None, None, False
    if current is not None:  # what follows the last big word, or the whole number
        if big is None:
            total = current
        elif bare:
            simple = False
            digits = parts[-1].raw if parts[-1].raw.isdigit() else ""
            if group is None or not _whole(group / big) or big not in _ONE_WORD:
                return unclear
            if len(digits) == 1:  # "2 triệu 5" = 2,5 triệu
                total += int(digits) * Decimal(big) / 10
            elif len(digits) == 3:  # "2 triệu 500" = 2 triệu 500 nghìn
                total += int(digits) * Decimal(big) / 1000
            else:
                return M.unclear_digits_after(text, show(group / big), big)
        elif big == 1000:  # "1 nghìn 2 trăm" = 1.200
            total += current
        else:
            return unclear  # "1 triệu 2 trăm": 1.200.000 to some, 1.000.200 to others
    return _Total(total, simple, tuple(first))


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _value(text: str, amount: _Amount, unit: _Unit) -> Reading | str:
    read = _total(text, amount)
    if isinstance(read, str):
        return read
    total = -read.value if amount.negative else read.value
    note = None
    value = total
    label = unit.label or ""  # a money question always names its unit
    if unit.money is not None and (amount.has_magnitude or amount.currency):
        value = total / unit.money
        if not (read.simple and prod(read.first or (1,)) == unit.money):
            if not read.simple:
                typed = M.quoted(text[amount.span[0]:amount.span[1]])  # how "2tr5" was read
            elif read.first:
                typed = M.money_in_words(show(total / prod(read.first)), read.first)
            else:
                typed = M.money_in_words(show(total))
            note = M.money_converted(typed, show(value), label)
            if value and abs(value) < _TINY:
                return M.converted_too_small(note, show(value), label, unit.example)
    if abs(value) > _LIMIT:
        return M.number_too_large(text)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        if note:
            return M.converted_too_fine(note, MAX_DECIMALS, label, unit.example)
        return M.too_many_decimals(text, MAX_DECIMALS)
    bare = not (amount.has_magnitude or amount.currency)
    return Reading(value + 0, note, bare)  # + 0: no negative zero


# A bare figure on a money question worth this many đồng or more is asked about. Commune-level
# reports (every shipped template) hold amounts from millions to a few tens of billions of đồng,
# while an amount typed in đồng on a question counted in triệu đồng is a million times too big
# ("2500000" comes to 2.500 tỷ). A slip that stays below the ceiling is an amount under
# 100.000 đồng, smaller than any shipped money question asks for.
PLAUSIBLE_DONG = Decimal(10) ** 11


def _implausible(value: Decimal, unit: _Unit, maximum: float | None) -> str | None:
    """Why a bare money figure this large is asked about, with what was likely meant."""
    money = unit.money
    assert money is not None and unit.label is not None
    size = abs(value)
    if size * money < PLAUSIBLE_DONG or maximum is not None:
        return None  # with a maximum of its own, the question's range decides
    likely: list[tuple[str, str]] = []  # (the smaller unit, the figure read in it)
    for factor, word in ((10**6, M.MONEY_IN_MILLIONS), (1, M.MONEY_IN_DONG)):
        meant = value * factor / money
        if (factor < money and abs(meant) >= _TINY and abs(meant) * money < PLAUSIBLE_DONG
                and _decimals(meant) <= MAX_DECIMALS):
            likely.append((word, show(meant)))
    billions = None if money == 10**9 else show(size * money / 10**9)
    return M.implausible_money(show(value), unit.label, billions, likely)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
