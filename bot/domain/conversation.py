"""Where a person is in the chat dialogue: a typed state, stored as a small JSON object.

The JSON keys are the ones earlier versions stored (`mode`, `r`, `q`, `sum`, `sel`, `back`,
`btn`, `kw`; `seen` is newer and may be missing), so conversations already in a database load
unchanged; anything unreadable in them loads as "nowhere" rather than failing the person's
next message.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.domain.reports import ReportKey


class Mode(StrEnum):
    IDLE = ""  # nothing on screen that a typed answer would belong to
    LIST = "list"  # the report list
    QUESTION = "question"  # a question waits for its answer
    SUMMARY = "summary"  # the draft's summary, with "Gửi báo cáo"
    VIEW = "view"  # a sent report, with "Sửa báo cáo"
    EDIT = "edit"  # the "which question to change" picker
    CONFIRM_CANCEL = "confirm_cancel"  # "abandon this draft?"
    CONFIRM_SEND = "confirm_send"  # "send this correction?"
    RETURN_REASON = "return_reason"  # a supervisor types why `report` (`version`) is returned
    BROADCAST = "broadcast"  # /thongbao: an announcement being composed (`broadcast`)


@dataclass
class Conversation:
    mode: Mode = Mode.IDLE
    report: ReportKey | None = None
    question: str | None = None
    to_summary: bool = False  # the question was opened from the summary: return there after
    selected: list[str] | None = None  # options ticked so far on a multi-choice question
    back: Conversation | None = None  # where "Không, làm tiếp" returns from a confirmation
    numbered: list[str] = field(default_factory=list)  # typing N presses the N-th button
    keywords: dict[str, str] = field(default_factory=dict)  # typed word → button data
    # The draft's answers the summary (or the correction's confirmation) on screen showed: a
    # send compares them with the draft, and names what changed since.
    shown: dict[str, Any] | None = None
    # [question, value]: the value typed here that repeats an answer just given to an earlier
    # question; typed again, it is stored (see questions._repeats_earlier)
    doubted: list[Any] | None = None
    version: int | None = None  # RETURN_REASON: the submission version being returned
    # A supervisor entering a report for this unit ("nhập hộ"): they act as its officer until
    # the report is sent or cancelled (kept across screens, dropped by `clear`).
    for_unit: str | None = None
    # BROADCAST: the announcement being composed (step, audience, text, options; JSON-ready,
    # see bot/services/reporting/broadcast_chat.py), dropped by any other screen
    broadcast: dict[str, Any] | None = None

    def show(self, mode: Mode, report: ReportKey | None = None, *,
             question: str | None = None, to_summary: bool = False,
             selected: list[str] | None = None, back: Conversation | None = None,
             version: int | None = None) -> None:
        """Move to a new screen; nothing of the previous one is kept."""
        self.mode, self.report, self.question = mode, report, question
        self.to_summary, self.selected, self.back = to_summary, selected, back
        self.numbered, self.keywords, self.shown, self.doubted = [], {}, None, None
        self.version = version
        self.broadcast = None

    def clear(self) -> None:
        self.show(Mode.IDLE)
        self.for_unit = None

    def copy(self) -> Conversation:
        """A copy to change while the stored one stays as it was (`back` is never changed in
        place, only replaced, so it is shared)."""
        return Conversation(self.mode, self.report, self.question, self.to_summary,
                            None if self.selected is None else list(self.selected), self.back,
                            list(self.numbered), dict(self.keywords),
                            None if self.shown is None else dict(self.shown),
                            None if self.doubted is None else list(self.doubted),
                            self.version, self.for_unit,
                            None if self.broadcast is None else copy.deepcopy(self.broadcast))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.mode is not Mode.IDLE:
            out["mode"] = self.mode.value
        if self.report is not None:
            out["r"] = list(self.report)
        if self.question is not None:
            out["q"] = self.question
        if self.to_summary:
            out["sum"] = True
        if self.selected is not None:
            out["sel"] = list(self.selected)
        if self.back is not None:
            out["back"] = self.back.to_json()
        if self.numbered:
            out["btn"] = list(self.numbered)
        if self.keywords:
            out["kw"] = dict(self.keywords)
        if self.shown is not None:
            out["seen"] = dict(self.shown)
        if self.doubted is not None:
            out["dbt"] = list(self.doubted)
        if self.version is not None:
            out["v"] = self.version
        if self.for_unit is not None:
            out["for"] = self.for_unit
        if self.broadcast is not None:
            out["bc"] = copy.deepcopy(self.broadcast)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Conversation:
        """Read a stored state; a malformed one (hand-edited, or from a bug) reads as idle."""
        if not isinstance(raw, dict):
            return cls()
        try:
            mode = Mode(raw.get("mode") or "")
        except ValueError:
            return cls()
        ref = raw.get("r")
        report = (ReportKey(*ref) if isinstance(ref, list) and len(ref) == 3
                  and all(isinstance(x, str) for x in ref) else None)
        question = raw.get("q") if isinstance(raw.get("q"), str) else None
        sel = raw.get("sel")
        selected = [s for s in sel if isinstance(s, str)] if isinstance(sel, list) else None
        back = cls.from_json(raw["back"]) if isinstance(raw.get("back"), dict) else None
        btn = raw.get("btn")
        numbered = [b for b in btn if isinstance(b, str)] if isinstance(btn, list) else []
        kw = raw.get("kw")
        keywords = ({k: v for k, v in kw.items() if isinstance(k, str) and isinstance(v, str)}
                    if isinstance(kw, dict) else {})
        seen = raw.get("seen")
        shown = ({k: v for k, v in seen.items() if isinstance(k, str)}
                 if isinstance(seen, dict) else None)
        doubted = raw.get("dbt") if isinstance(raw.get("dbt"), list) else None
        v = raw.get("v")
        version = v if isinstance(v, int) and not isinstance(v, bool) else None
        for_unit = raw.get("for") if isinstance(raw.get("for"), str) else None
        bc = raw.get("bc")
        broadcast = dict(bc) if isinstance(bc, dict) else None
        return cls(mode, report, question, bool(raw.get("sum")), selected, back, numbered,
                   keywords, shown, doubted, version, for_unit, broadcast)
