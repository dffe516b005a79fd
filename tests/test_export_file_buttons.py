"""The digest's "📊 Excel" / "📄 Báo cáo (Word)" buttons through the harness: each check of a
pressed file button (kind, the presser's units, the period, a channel without files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.domain import messages_vi as M
from bot.domain.buttons import ExportFile
from bot.domain.roles import Role
from tests.harness import join
from tests.test_tonghop import FEB, setup


async def test_each_check_of_a_file_button(tmp_path: Path) -> None:
    app, boss, _ = await setup(tmp_path)
    try:
        await boss.press(ExportFile("LC", "thang", FEB.id, "xlsx").pack())
        assert boss.text.startswith(M.FILES_NEED_TELEGRAM[:20])  # the harness is no Telegram
        assert all(r.document is None for r in boss.last)
        app.reporting.deps.pictures = lambda person: True
        await boss.press(ExportFile("LC", "thang", FEB.id, "xlsx").pack())
        [doc] = [r.document for r in boss.last if r.document is not None]
        assert doc.name.endswith(".xlsx") and doc.data.startswith(b"PK")
        await boss.press(ExportFile("LC", "thang", FEB.id, "docx").pack())
        [doc] = [r.document for r in boss.last if r.document is not None]
        assert doc.name.endswith(".docx") and b"word/document.xml" in doc.data
        for stale in (ExportFile("LC", "thang", FEB.id, "pdf"),
                      ExportFile("LC", "thang", "2026-Q1", "xlsx"),
                      ExportFile("LC", "thang", "2026-13", "xlsx"),
                      ExportFile("LC", "nope", FEB.id, "xlsx"),
                      ExportFile("XX", "thang", FEB.id, "xlsx")):
            await boss.press(stale.pack())
            assert boss.text == M.STALE, stale
            assert all(r.document is None for r in boss.last)
        await boss.press(ExportFile("LC", "thang", "2026-05", "xlsx").pack())
        assert boss.text == M.digest_not_started(date(2026, 5, 1))
        assert all(r.document is None for r in boss.last)
        district = await join(app, "district", "LC-SP", Role.SUPERVISOR)
        await district.press(ExportFile("LC-BX", "thang", FEB.id, "xlsx").pack())
        assert district.text == M.DIGEST_NOT_YOURS
        assert all(r.document is None for r in district.last)
    finally:
        await app.close()
