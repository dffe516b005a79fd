"""Make tests/data/db_before_issue12.sqlite: a database written by baocao as it was before the
unit changes of issue 12 (schema up to migration 0008), for tests/test_migration_issue12.py.

It ran on commit 61eec37 ("Templates: the keys of the report model …"), in a detached
worktree of that commit, with the real application through that commit's tests/harness.py:

    git -C /work/main worktree add --detach /work/wt/oldmain 61eec37
    cd /work/wt/oldmain && PYTHONPATH=$PWD /work/main/.venv/bin/python \\
        /work/wt/units/tests/data/make_db_before_issue12.py /work/wt/units/tests/data

What it holds (the test checks each survives): the old sample tree (LC → LC-BX → LC-BX-01…),
an officer of LC-BX-01 who sent the 2026-Q1 test report and then corrected question 3
(versions 1 and 2), an officer of LC-BX-02 with a draft of three answers, and a supervisor
of LC-BX.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tests.harness import Chat, Clock, join, make_app

from bot.domain.buttons import OpenReport
from bot.domain.roles import Role

REPORT = OpenReport(0, "thu_nghiem", "2026-Q1").pack()
# The whole test report with no fanpage (so_tin hidden): 10 questions.
ANSWERS = ("khong", "11", "2", "90", "12", "1", "1", "xong", "bo qua", "bo qua", "bo qua")


async def make(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock(datetime(2026, 2, 20, 3, 0, tzinfo=UTC))
        app = await make_app(Path(tmp), clock)
        try:
            sender: Chat = await join(app, "1001", "LC-BX-01")
            await sender.press(REPORT)
            for text in ANSWERS:
                await sender.say(text)
            await sender.press_label("Gửi báo cáo")
            assert "Đã gửi" in sender.text, sender.text
            clock.now = datetime(2026, 2, 21, 3, 0, tzinfo=UTC)
            await sender.cmd("trangthai")
            await sender.press_label("Sửa:")
            await sender.press_label("Sửa câu")
            await sender.press_label("Câu 3")
            await sender.say("5")
            await sender.press_label("Gửi bản sửa")
            assert "Đã gửi bản sửa (1 câu thay đổi)" in sender.text, sender.text

            drafter = await join(app, "1002", "LC-BX-02")
            await drafter.press(REPORT)
            for text in ("co", "7", "20"):
                await drafter.say(text)
            assert "Câu 4/11" in drafter.text, drafter.text
            await join(app, "1003", "LC-BX", Role.SUPERVISOR)
        finally:
            await app.close()
        shutil.copy(Path(tmp) / "baocao.db", out / "db_before_issue12.sqlite")


if __name__ == "__main__":
    asyncio.run(make(Path(sys.argv[1])))
