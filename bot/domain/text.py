"""Text helpers for Vietnamese input typed with or without diacritics."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=4096)  # button keywords and answers repeat: folding is on every message
def fold(text: str) -> str:
    """Lower-case, strip diacritics (đ → d) and collapse white space: 'Chậm  NHẤT' → 'cham nhat'."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip()


def nfc(text: str) -> str:
    """Normalise to NFC so that visually equal Vietnamese strings compare equal."""
    return unicodedata.normalize("NFC", text)
