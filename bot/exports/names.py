"""File names of exports: ASCII, lower case, words joined by '-', safe on every OS."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.periods import Period
from bot.domain.templates import Template
from bot.domain.units import Unit

LONGEST_PART = 60  # characters of a slug: names stay far under every OS's limit


def slug(text: str) -> str:
    """'Tỉnh Lào Cai' → 'tinh-lao-cai' (đ → d; every other mark dropped)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", bare.lower())
    return "-".join(words)[:LONGEST_PART].strip("-")


def export_name(t: Template, period: Period, unit: Unit, ext: str) -> str:
    """'bao-cao-ocop-2026-Q1-tinh-lao-cai.xlsx' (a unit name with no Latin letters: its code)."""
    report = slug(t.id) or "report"
    if not report.startswith("bao-cao"):
        report = f"bao-cao-{report}"
    where = slug(unit.name) or slug(unit.code) or "unit"
    return f"{report}-{period.id}-{where}.{slug(ext) or 'bin'}"
