"""Splitting long replies: every piece fits the channel's limit as the channel counts it, and
nothing is lost or doubled."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.text_render import cut, split_message, utf16_units

TEXTS = st.text(alphabet=st.sampled_from(["a", "ệ", "🙏", "\n", " ", "𝔸", "\u0301"]),
                max_size=400)


@given(TEXTS, st.integers(min_value=2, max_value=40))
def test_pieces_fit_in_utf16_units_and_join_back(text: str, limit: int) -> None:
    pieces = split_message(text, limit, utf16_units)
    assert all(utf16_units(p) <= limit for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


@given(TEXTS, st.integers(min_value=0, max_value=40))
def test_cut_never_splits_a_character(text: str, limit: int) -> None:
    head = cut(text, limit, utf16_units)
    assert text.startswith(head) and utf16_units(head) <= limit
    if head != text:
        assert utf16_units(text[:len(head) + 1]) > limit  # the longest that fits


def test_an_emoji_counts_twice_for_telegram() -> None:
    pieces = split_message("🙏" * 3000, 4096, utf16_units)
    assert [utf16_units(p) for p in pieces] == [4096, 1904]
