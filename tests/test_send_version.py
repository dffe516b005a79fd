"""The version a summary's send button carries: it fits Telegram's 64 bytes, buttons and
conversations stored before it existed still read, and it names the answers, not their order
or how they were stored."""

from __future__ import annotations

import json

from bot.domain.buttons import MAX_BYTES, ConfirmSend, SendReport, unpack
from bot.domain.conversation import Conversation, Mode
from bot.domain.dialogue import answers_version
from bot.domain.reports import ReportKey


def test_the_longest_send_button_fits_with_its_version() -> None:
    longest_id = "t" + "x" * 39  # template ids are at most 40 characters
    version = answers_version({"q": 1})
    for kind in (SendReport, ConfirmSend):
        data = kind(99, longest_id, "2026-W53", version).pack()
        assert len(data.encode()) <= MAX_BYTES
        assert unpack(data) == kind(99, longest_id, "2026-W53", version)


def test_a_send_button_without_a_version_reads_as_unknown() -> None:
    assert unpack("send|1|x|2026-03") == SendReport(1, "x", "2026-03", "")
    assert unpack("cs|0|x|2026-Q1") == ConfirmSend(0, "x", "2026-Q1", "")
    assert SendReport(1, "x", "2026-03").pack() == "send|1|x|2026-03"
    assert unpack("send|1|x|2026-03|abc|extra") is None


def test_the_version_is_of_the_answers_not_their_order_or_storage() -> None:
    answers = {"a": True, "b": 12, "c": 2.5, "d": ["zalo", "hop"], "e": None, "f": "Bản Vược"}
    stored = json.loads(json.dumps(answers, ensure_ascii=False))  # as read back from SQLite
    assert answers_version(dict(reversed(answers.items()))) == answers_version(stored)
    assert len(answers_version(answers)) == 6
    assert answers_version({**answers, "b": 13}) != answers_version(answers)
    assert answers_version({**answers, "e": 0}) != answers_version(answers)


def test_a_conversation_stored_before_keeps_loading_and_the_answers_shown_round_trip() -> None:
    old = {"mode": "summary", "r": ["LC-BX-01", "t", "2026-Q1"], "kw": {"gui": "send|0|t|q"}}
    state = Conversation.from_json(old)
    assert state.mode is Mode.SUMMARY and state.shown is None
    state.shown = {"htx_tong": 11}
    again = Conversation.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state and again.report == ReportKey("LC-BX-01", "t", "2026-Q1")
    assert Conversation.from_json({**old, "seen": "junk"}).shown is None
    again.show(Mode.QUESTION, again.report, question="q")
    assert again.shown is None  # another screen: nothing shown to send any more
