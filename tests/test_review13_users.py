"""From the user-side review of issue 13: what supervisors, admins and importers did that broke.

Each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import SHIPPED_REPORTS
from tests.test_cli_admin import configure, errors

# --- the admin at setup time: a clock time with an offset --------------------------------------

LOCAL_ONLY = ('Value error, give a local time such as "07:30:00" (no time zone: the '
              "config's `timezone` applies)")


@pytest.mark.parametrize(("text", "key"), [
    ("[digests]\nsend_at = 730\n", "digests.send_at"),  # a bare number: seconds in UTC
    ('[digests]\nsend_at = "07:30:00+07:00"\n', "digests.send_at"),
    ("[reminders]\nsend_at = 800\n", "reminders.send_at"),
    ('[reminders]\nquiet_start = "21:00:00Z"\n', "reminders.quiet_start"),
])
def test_a_time_with_an_offset_is_one_line_naming_the_key(
    workdir: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    """Before: a traceback (an aware time compared with the naive quiet hours)."""
    configure(workdir, text)
    assert main(["check-config"]) == 2
    (line,) = errors(capsys)
    assert line == f"config.toml: {key}: {LOCAL_ONLY}"


def test_a_template_digest_time_with_an_offset_is_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workdir / "reports"
    folder.mkdir()
    template = (SHIPPED_REPORTS / "ocop_thanh_nien.toml").read_text(encoding="utf-8")
    (folder / "ocop.toml").write_text(template + '\n[digests]\nsend_at = "07:30:00Z"\n',
                                      encoding="utf-8")
    configure(workdir, '[reports]\ndir = "reports"\n')
    assert main(["check-config"]) == 2
    (line,) = errors(capsys)
    assert line.endswith(f"reports/ocop.toml: digests.send_at: {LOCAL_ONLY}")
