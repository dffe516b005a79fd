"""The dialogue's protocol: typed button data, the stored conversation state, slash commands,
and the layout rules that keep the domain pure and the services off SQLite."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.buttons import (
    MAX_BYTES,
    ButtonData,
    ButtonDataError,
    Choose,
    OpenReport,
    ReportNow,
    SendReport,
    Skip,
    ToSummary,
    unpack,
)
from bot.domain.conversation import Conversation, Mode
from bot.domain.reports import ReportKey
from bot.services.channels import parse_command

REPO = Path(__file__).resolve().parents[1]


def example(kind: type[ButtonData]) -> ButtonData:
    values = {"int": 3, "str": "abc_1"}
    return kind(*(values[str(f.type)] for f in dataclasses.fields(kind)))


@pytest.mark.parametrize("prefix", sorted(ButtonData._kinds))
def test_every_kind_packs_and_unpacks_to_itself(prefix: str) -> None:
    data = example(ButtonData._kinds[prefix])
    assert unpack(data.pack()) == data


def test_the_wire_format_of_buttons_already_in_chats_still_reads() -> None:
    assert unpack("o|0|thu_nghiem|2026-Q1") == OpenReport(0, "thu_nghiem", "2026-Q1")
    assert unpack("send|1|x|2026-03") == SendReport(1, "x", "2026-03")
    assert unpack("n|LC-BX-01|x|2026") == ReportNow("LC-BX-01", "x", "2026")
    assert unpack("a|co_fanpage|1") == Choose("co_fanpage", 1)
    assert unpack("s|q") == Skip("q") and unpack("sum") == ToSummary()


@pytest.mark.parametrize("raw", ["", "zzz", "o", "o|0|t", "o|x|t|p", "o|-1|t|p", "a|q|1|2",
                                 "a|q|", "o||t|p", "a|q|²", "a|q|1234567", "s", "sum|x",
                                 "o|0|" + "t" * 70 + "|p", "o|0||2026-Q1", "s|", "n|X||p"])
def test_malformed_or_forged_data_reads_as_nothing(raw: str) -> None:
    assert unpack(raw) is None


def test_the_64_byte_limit_and_the_separator_are_checked_when_packing() -> None:
    with pytest.raises(ButtonDataError):
        ReportNow("X" * 40, "t" * 20, "2026-Q1").pack()
    with pytest.raises(ButtonDataError):
        Skip("a|b").pack()
    assert len(OpenReport(99, "t" * 40, "2026-W53").pack().encode()) <= MAX_BYTES


def test_the_limit_counts_bytes_not_characters() -> None:
    """Unit codes may carry diacritics: 30 "Đ" are 42 characters but 72 bytes, more than
    Telegram takes (it refuses the whole message, so the reminder would not go out)."""
    with pytest.raises(ButtonDataError):
        ReportNow("Đ" * 30, "t", "2026-Q1").pack()
    assert len(ReportNow("X" * 58, "t", "p").pack().encode()) == MAX_BYTES  # exactly 64: fine
    with pytest.raises(ButtonDataError):
        ReportNow("X" * 59, "t", "p").pack()  # 65 bytes


def test_a_prefix_cannot_be_used_twice() -> None:
    kinds = dict(ButtonData._kinds)
    try:
        with pytest.raises(TypeError):
            @dataclasses.dataclass(frozen=True)
            class Again(ButtonData, prefix="s"):  # Skip's
                question: str
    finally:
        ButtonData._kinds.clear()
        ButtonData._kinds.update(kinds)
    assert unpack("s|q") == Skip("q")


@given(st.text(max_size=80))
def test_unpack_never_raises(raw: str) -> None:
    data = unpack(raw)
    assert data is None or unpack(data.pack()) == data


def test_a_state_stored_by_earlier_versions_loads() -> None:
    stored = {"mode": "confirm_cancel", "r": ["LC-BX-01", "thu_nghiem", "2026-Q1"],
              "back": {"mode": "question", "r": ["LC-BX-01", "thu_nghiem", "2026-Q1"],
                       "q": "kenh", "sel": ["zalo"], "sum": True},
              "btn": ["cy|0|thu_nghiem|2026-Q1", "cn|0|thu_nghiem|2026-Q1"],
              "kw": {"co": "cy|0|thu_nghiem|2026-Q1"}}
    c = Conversation.from_json(stored)
    assert c.mode is Mode.CONFIRM_CANCEL
    assert c.report == ReportKey("LC-BX-01", "thu_nghiem", "2026-Q1")
    assert c.back is not None and c.back.question == "kenh" and c.back.selected == ["zalo"]
    assert c.back.to_summary and c.numbered[0].startswith("cy|") and "co" in c.keywords
    assert c.to_json() == stored  # written back the same way


@pytest.mark.parametrize("raw", [None, [], "x", {"mode": "nope"}, {"r": "LC"},
                                 {"r": [1, 2, 3]}, {"mode": "question", "q": 5, "sel": "x",
                                                    "btn": {"a": 1}, "kw": [1]},
                                 {"r": ["LC-BX-01", "thu_nghiem"]},
                                 {"mode": "nope", "r": ["LC-BX-01", "thu_nghiem", "2026-Q1"],
                                  "q": "von"},
                                 {"btn": [1, None], "kw": {"có": 5, "1": None}}])
def test_a_damaged_state_loads_as_something_safe(raw: object) -> None:
    c = Conversation.from_json(raw)
    assert c.report is None and c.question is None
    assert isinstance(c.numbered, list) and isinstance(c.keywords, dict)
    # typed text is looked up in these: anything but strings would fail the next message
    assert all(isinstance(b, str) for b in c.numbered)
    assert all(isinstance(v, str) for v in c.keywords.values())


@pytest.mark.parametrize(("text", "expected"), [
    ("/start AB12CD34", ("start", "AB12CD34", None)),
    ("/BaoCao", ("baocao", "", None)),
    ("  /huy@baocao_bot  ", ("huy", "", "baocao_bot")),
    ("/start@baocao_bot CODE", ("start", "CODE", "baocao_bot")),
    ("/Hủy", ("huy", "", None)),  # typed with diacritics
    ("/giúp", ("giup", "", None)),
])
def test_commands_are_read_alike_on_every_channel(text: str,
                                                  expected: tuple[str, str, str | None]) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.argument, command.addressee) == expected


@pytest.mark.parametrize("text", ["12", "/", "/ huy", "hello /huy", "", "/@bot"])
def test_text_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_a_command_for_another_bot_is_not_for_us() -> None:
    command = parse_command("/huy@otherbot")
    assert command is not None
    assert not command.for_bot("baocao_bot") and command.for_bot("OtherBot")
    assert command.for_bot(None)  # our name unknown yet: accept


def imports_of(folder: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        out[str(path.relative_to(REPO))] = names
    return out


def test_services_type_against_the_storage_interface_only() -> None:
    for path, names in imports_of(REPO / "bot" / "services").items():
        assert not any(n.startswith(("storage.sqlite", "storage.database", "sqlite3",
                                     "aiosqlite", "telegram")) for n in names), path


def test_the_domain_is_pure() -> None:
    for path, names in imports_of(REPO / "bot" / "domain").items():
        bad = [n for n in names if n.startswith((
            "telegram", "aiosqlite", "sqlite3", "storage", "bot.services", "handlers",
            "httpx", "asyncio", "bot.config"))]
        assert not bad, (path, bad)
