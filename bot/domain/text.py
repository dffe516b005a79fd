"""Text helpers for Vietnamese input typed with or without diacritics."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and collapse white space: 'Chậm  NHẤT' → 'cham nhat'."""
    # Short strings (button keywords, typed answers) recur on every message: remember them.
    return _fold_short(text) if len(text) <= 64 else _fold(text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip()


_fold_short = lru_cache(maxsize=4096)(_fold)


def nfc(text: str) -> str:
    """Normalise to NFC so that visually equal Vietnamese strings compare equal."""
    return unicodedata.normalize("NFC", text)
