"""What a pressed button means, as small typed values (the pattern of aiogram's CallbackData).

Each kind is a frozen dataclass with a short prefix: `pack()` gives the string a channel
carries (Telegram's `callback_data`, at most 64 bytes, checked here and nowhere else) and
`unpack()` reads it back, or returns None for anything malformed or forged. The wire format is
the one earlier versions sent, so buttons of messages already in officers' chats keep working.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

MAX_BYTES = 64  # Telegram's limit for callback_data
_SEP = "|"


class ButtonDataError(ValueError):
    """Button data that cannot be packed: too long, or a value containing the separator."""


@dataclass(frozen=True)
class ButtonData:
    """Base of every kind; a subclass names its prefix: `class Skip(ButtonData, prefix="s")`."""

    prefix: ClassVar[str] = ""
    _kinds: ClassVar[dict[str, type[ButtonData]]] = {}

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix:
            if prefix in ButtonData._kinds:
                raise TypeError(f"button prefix {prefix!r} is used twice")
            cls.prefix = prefix
            ButtonData._kinds[prefix] = cls

    def pack(self) -> str:
        values = [str(v) for v in vars(self).values()]  # the fields, in order (every reply
        #                                                  packs several: kept cheap)
        if values and not values[-1]:
            values.pop()  # an optional last field left empty: the wire format without it
        if any(_SEP in v for v in values):
            raise ButtonDataError(f"{_SEP!r} inside button data {values!r}")
        data = _SEP.join([self.prefix, *values])
        if len(data.encode()) > MAX_BYTES:
            raise ButtonDataError(f"button data longer than {MAX_BYTES} bytes: {data!r}")
        return data


def unpack(data: str) -> ButtonData | None:
    """The button a channel sent back, or None if it is not one of ours."""
    head, *values = data.split(_SEP)
    kind = ButtonData._kinds.get(head)
    if kind is None or len(data.encode()) > MAX_BYTES:
        return None
    fields = dataclasses.fields(kind)
    if len(values) > len(fields) or any(
            f.default is dataclasses.MISSING for f in fields[len(values):]):
        return None  # too many values, or a field without a default left out
    parsed: list[Any] = []
    for f, raw in zip(fields, values, strict=False):
        if f.type == "int":
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
                return None
            parsed.append(int(raw))
        elif not raw:
            return None
        else:
            parsed.append(raw)
    return kind(*parsed)


# --- a report of the person's units: `slot` is the unit's place in their sorted unit list ---


@dataclass(frozen=True)
class ReportButton(ButtonData):
    slot: int
    template: str
    period: str


@dataclass(frozen=True)
class OpenReport(ReportButton, prefix="o"):
    """Start, continue or view a report."""


@dataclass(frozen=True)
class CorrectReport(ReportButton, prefix="r"):
    """Reopen a sent report to correct it."""


@dataclass(frozen=True)
class SendReport(ReportButton, prefix="send"):
    """Send the draft shown on the summary. `version` is the fingerprint of the answers that
    summary showed (bot.domain.dialogue.answers_version): only that version is sent. Buttons
    sent before it existed unpack with `version` "" (unknown: the summary is shown again)."""

    version: str = ""


@dataclass(frozen=True)
class ConfirmSend(ReportButton, prefix="cs"):
    """Yes, send this correction (asked when "send" was typed rather than pressed); `version`
    as on SendReport."""

    version: str = ""


@dataclass(frozen=True)
class PickQuestion(ReportButton, prefix="edit"):
    """Show the 'which question to change' picker."""


@dataclass(frozen=True)
class AskCancel(ReportButton, prefix="cancel"):
    """Ask whether to abandon the draft."""


@dataclass(frozen=True)
class ConfirmCancel(ReportButton, prefix="cy"):
    """Yes, abandon the draft."""


@dataclass(frozen=True)
class KeepDraft(ReportButton, prefix="cn"):
    """No, go back to where I was."""


@dataclass(frozen=True)
class ReportNow(ButtonData, prefix="n"):
    """'Báo cáo ngay' on a reminder: the unit by code, so it stays right if the person joins
    another unit before pressing it."""

    unit: str
    template: str
    period: str


@dataclass(frozen=True)
class OnBehalf(ButtonData, prefix="nh"):
    """A supervisor enters this unit's report for it ("Nhập hộ"): the unit by code."""

    unit: str
    template: str
    period: str


# --- the question on screen ----------------------------------------------------------------


@dataclass(frozen=True)
class QuestionButton(ButtonData):
    question: str


@dataclass(frozen=True)
class Choose(QuestionButton, prefix="a"):
    """An option of a choice question (for yes/no: 1 = yes, 0 = no)."""

    index: int


@dataclass(frozen=True)
class Toggle(QuestionButton, prefix="t"):
    """Tick or untick an option of a multi-choice question."""

    index: int


@dataclass(frozen=True)
class DoneChoosing(QuestionButton, prefix="d"):
    """The ticked options are the answer."""


@dataclass(frozen=True)
class Skip(QuestionButton, prefix="s"):
    """Move on without answering (an answer given earlier stays)."""


@dataclass(frozen=True)
class Back(QuestionButton, prefix="b"):
    """The previous question."""


@dataclass(frozen=True)
class Keep(QuestionButton, prefix="k"):
    """Keep the answer given earlier and move on."""


@dataclass(frozen=True)
class ClearAnswer(QuestionButton, prefix="x"):
    """Remove the answer given earlier (optional questions only)."""


@dataclass(frozen=True)
class SaveRepeat(QuestionButton, prefix="rp"):
    """Yes, the figure that repeats the previous answer is this question's too."""


@dataclass(frozen=True)
class UsePrevious(QuestionButton, prefix="pv"):
    """Answer with the unit's answer of the previous period (prefill = "previous")."""


@dataclass(frozen=True)
class Explain(QuestionButton, prefix="def"):
    """Show the question's definition, then the question again."""


@dataclass(frozen=True)
class EditQuestion(QuestionButton, prefix="e"):
    """Change this question's answer (from the picker)."""


@dataclass(frozen=True)
class ToSummary(ButtonData, prefix="sum"):
    """Back to the summary."""


# --- supervisors: a unit's submitted report, by unit code (not a slot: not their own unit) ---


@dataclass(frozen=True)
class ViewSubmission(ButtonData, prefix="vw"):
    """Open the latest submitted version of a unit's report (its answers, who sent it, when)."""

    unit: str
    template: str
    period: str


@dataclass(frozen=True)
class ReviewButton(ButtonData):
    """Approve or return `version` of a unit's report: only that version (a stale button
    from before a resubmission is refused)."""

    unit: str
    template: str
    period: str
    version: int


@dataclass(frozen=True)
class Approve(ReviewButton, prefix="ap"):
    """Duyệt."""


@dataclass(frozen=True)
class ReturnReport(ReviewButton, prefix="rt"):
    """Trả lại: the reason is asked next."""


@dataclass(frozen=True)
class OpenDigest(ButtonData, prefix="dg"):
    """/tonghop: the digest of `template` × `period` over `unit`'s subtree (a unit without
    children: its submitted report), at `page` of its unit lists. By unit code, checked
    against the presser's subtrees when pressed."""

    unit: str
    template: str
    period: str
    page: int = 0


@dataclass(frozen=True)
class NudgeMissing(ButtonData, prefix="ng"):
    """"Nhắc các đơn vị chưa gửi" on a digest: remind the officers of every unit of `unit`'s
    subtree that has not sent `template` × `period` (checked again when pressed)."""

    unit: str
    template: str
    period: str


@dataclass(frozen=True)
class PickPeriod(ButtonData, prefix="dk"):
    """"Chọn kỳ" on a digest: the template's recent periods, `page` 0 the newest."""

    unit: str
    template: str
    page: int = 0


@dataclass(frozen=True)
class ExportFile(ButtonData, prefix="xf"):
    """"📊 Excel" / "📄 Báo cáo (Word)" on a digest: the file of `template` × `period` over
    `unit`'s subtree; `kind` "xlsx" or "docx" (checked again when pressed)."""

    unit: str
    template: str
    period: str
    kind: str


@dataclass(frozen=True)
class OnBehalfPage(ButtonData, prefix="nhp"):
    """/nhapho's list of units, at `page`."""

    page: int = 0


# --- broadcasts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AckBroadcast(ButtonData, prefix="ack"):
    """"✅ Đã nhận" under a broadcast asking for confirmation (counted once, only from one of
    its recipients: bot.services.broadcasts.Broadcasts.acknowledge)."""

    broadcast_id: int


# --- announcements (/thongbao): bot/services/reporting/broadcast_chat.py ----------------------


@dataclass(frozen=True)
class Compose(ButtonData, prefix="tb"):
    """A step of composing an announcement: `action` on the draft in the conversation
    (`value`: a unit code, a level, a role, a template…; "-" for none), valid only while
    that draft is on screen."""

    action: str
    value: str = "-"
    page: int = 0


@dataclass(frozen=True)
class BroadcastAction(ButtonData, prefix="tbx"):
    """The sender's actions on an announcement already created: `action` "open" (status),
    "who" (who has not confirmed, at `page`), "again" (follow-up), "cancel" (while
    scheduled), "list" (their recent announcements); checked against the sender when pressed."""

    action: str
    broadcast: int = 0
    page: int = 0
