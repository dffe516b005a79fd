"""Every command shown in README.md works as shown.

Commands are taken from the README itself: lines of code blocks, and inline code, that start
with `baocao`, `.venv/bin/`, `printf`, `python3`, `cp` or `export`, and `$ …` lines with the
output shown under them. Each is run literally by bash, in README order, in a temporary folder
laid out like a checkout (`config.example.toml`, a `units.csv`, `.venv` → this environment),
with no token and no config but what the commands themselves create. A command with optional
parts (`[--json]`) is run without them and with them. A synopsis (placeholders such as FILE,
PHRASE, N) cannot be run: its subcommand and options are checked against `--help` instead.
What needs a token, a server or minutes, or would change the real environment, is listed in
SKIPPED with the reason; a command that is neither run nor listed fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from handlers.console import sample_units_path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PREFIXES = ("baocao ", ".venv/bin/", "printf ", "python3 ", "cp ", "export ")

SKIPPED = {
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/baocao demo":
        "creates a venv and installs into it: .ci/run does exactly this; the demo runs below",
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m "
    "pytest -q": "the test suite itself (.ci/run)",
    "export BAOCAO_TELEGRAM_TOKEN=...": "needs a real bot token",
    "baocao run": "needs a token and the Bot API (tests/test_e2e_telegram.py runs it against "
                  "the fake Bot API server)",
    ".venv/bin/python -m bench.dialogue_throughput":
        "takes minutes (tests/test_bench.py runs a small one)",
    ".venv/bin/python -m bench.reminder_sweep": "takes minutes at full size",
    ".venv/bin/python -m bench.soak": "takes 10 minutes (tests/test_bench.py runs a small one)",
    ".venv/bin/python -m bench.memory": "takes minutes at full size (tests/test_bench.py runs "
                                        "a small one)",
    ".venv/bin/python -m bench.digest": "takes a minute at full size "
                                        "(tests/test_bench_digest.py runs a small one)",
    ".venv/bin/python -m bench.export_docx": "takes a minute at full size "
                                             "(tests/test_bench_export_docx.py runs a small "
                                             "one)",
    ".venv/bin/python -m bench.digest_sweep": "takes a minute at full size "
                                              "(tests/test_bench_digest_sweep.py runs a small "
                                              "one)",
    ".venv/bin/python -m bench.export": "takes a minute at full size "
                                        "(tests/test_bench_export.py runs a small one)",
    ".venv/bin/python -m bench.broadcast": "takes 12 minutes at full size "
                                           "(tests/test_bench_broadcast.py runs a small one)",
}


@dataclass(frozen=True)
class Shown:
    command: str
    line: int
    output: str | None = None  # what the README shows under a `$ command`


def _spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _uncomment(line: str) -> str:
    return re.sub(r"\s{2,}#.*$", "", line).strip()


def shown_commands(text: str) -> list[Shown]:
    """The commands of README.md in order, with their line numbers."""
    found: list[Shown] = []
    lines = text.splitlines()
    prose: list[str] = []  # the README without its code blocks, for inline code
    i = 0
    while i < len(lines):
        line = lines[i]
        fenced = line.startswith("```")
        indented = line.startswith("    ") and (i == 0 or not lines[i - 1].strip())
        if not (fenced or indented):
            prose.append(line)
            i += 1
            continue
        block, start = [], i + 1
        if fenced:
            shell = line[3:].strip() in ("", "sh", "bash", "console", "shell")  # not ```toml
            start = i + 2
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            i += 1
            prose.extend("" for _ in range(len(block) + 2))
            if not shell:
                continue
        else:
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            prose.extend("" for _ in block)
        found.extend(_from_block(block, start))
    for m in re.finditer(r"`([^`]+)`", "\n".join(prose)):
        command = _spaces(m.group(1))
        if command.startswith(PREFIXES):
            line_no = "\n".join(prose)[:m.start()].count("\n") + 1
            found.append(Shown(command, line_no))
    found.sort(key=lambda s: s.line)
    return found


def _from_block(block: list[str], start: int) -> list[Shown]:
    out: list[Shown] = []
    synopsis = False
    for j, raw in enumerate(block):
        line = _uncomment(raw)
        if raw.startswith("$ "):
            output = []
            for later in block[j + 1:]:
                if later.startswith("$ ") or not later.strip():
                    break
                output.append(later)
            out.append(Shown(_spaces(line[2:]), start + j, "\n".join(output)))
        elif synopsis and raw.startswith(" ") and line:
            # The lines under `baocao … COMMAND`: its subcommands, `a | b` for alternatives
            # (checked first: a subcommand may be named like a prefix, `export`).
            out.extend(Shown("baocao " + _spaces(part), start + j) for part in line.split(" | "))
        elif line.startswith(PREFIXES):
            out.append(Shown(_spaces(line), start + j))
            synopsis = line.endswith(" COMMAND")
    return out


def is_synopsis(command: str) -> bool:
    return any(re.fullmatch(r"[A-Z]+", word.strip("[]\"'")) for word in command.split())


def variants(command: str) -> list[str]:
    """Without the optional parts, and with all of them."""
    if "[" not in command:
        return [command]
    return [_spaces(re.sub(r"\[[^\]]*\]", "", command)), _spaces(re.sub(r"[\[\]]", "", command))]


def check_synopsis(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    words = command.split()[1:]
    path = []
    for word in words:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        path.append(word)
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0, command
    usage = capsys.readouterr().out
    for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", command):
        assert re.search(rf"(?<![\w-]){re.escape(option)}\b", usage), (command, option, usage)
    for choice in re.findall(r"\b[a-z]+(?:\|[a-z]+)+\b", command):  # officer|supervisor|admin
        assert "{" + choice.replace("|", ",") + "}" in usage, (command, choice)


def check_demo(command: str, out: str) -> None:
    """A piped demo really answers: the first line opens a report, each next one is saved."""
    typed = re.search(r"printf '([^']*)'", command)
    assert typed is not None, command
    answers = typed.group(1).split("\\n")[1:]
    answers = [a for a in answers if a]
    assert "Câu 1/" in out, out
    assert out.count("✓ Đã lưu") == len(answers), out
    assert "⚠" not in out, out


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder laid out like the README assumes, and an environment without token or
    config."""
    shutil.copy(REPO / "config.example.toml", tmp_path)
    shutil.copy(sample_units_path(), tmp_path / "units.csv")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("BAOCAO_CONFIG", "BAOCAO_TELEGRAM_TOKEN", "PYTHONPATH")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    assert (Path(sys.executable).parent / "baocao").exists(), "install baocao (pip install -e .)"
    return tmp_path, env


def test_readme_commands_work_as_shown(checkout: tuple[Path, dict[str, str]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder, env = checkout
    shown = shown_commands(README.read_text(encoding="utf-8"))
    assert len(shown) > 10, "the extraction broke"
    ran, skipped, synopses = [], set(), []
    for item in shown:
        if item.command in SKIPPED:
            skipped.add(item.command)
            continue
        if is_synopsis(item.command):
            check_synopsis(item.command, capsys)
            synopses.append(item.command)
            continue
        for command in variants(item.command):
            result = subprocess.run(["bash", "-c", command], cwd=folder, env=env, text=True,
                                    capture_output=True, timeout=120)
            where = f"README.md line {item.line}: {command}"
            assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
            if item.output is not None:
                assert json.loads(item.output) == json.loads(result.stdout), where
            if "baocao demo" in command and command.startswith("printf "):
                check_demo(command, result.stdout)
            ran.append(command)
    assert skipped == set(SKIPPED), f"listed as skipped but not in the README: " \
                                    f"{set(SKIPPED) - skipped}"
    # The ones that matter most are among those run, the way the README shows them.
    assert any(c.startswith("printf ") and c.endswith("baocao demo") for c in ran)
    assert any(c.startswith("baocao deadline") for c in ran)
    assert "baocao check-config" in ran and "baocao units import units.csv" in ran
    assert any(c.startswith("baocao invite create") for c in ran)
    assert any(s.startswith("baocao [--config PATH] [-v] COMMAND") for s in synopses)


def test_extraction_finds_blocks_inline_code_and_shown_output() -> None:
    text = "\n".join([
        "Try `baocao units list` or `python -m bot` (not a command here).",
        "",
        "    $ baocao deadline \"x\" --period 2026 --json",
        "    {\"a\": 1,",
        "     \"b\": 2}",
        "",
        "    baocao [--config PATH] COMMAND   # comment",
        "      check-config                   # check",
        "      units import FILE | units list",
        "",
        "- `baocao invite create --unit A",
        "  [--uses 3]`",
        "```toml",
        "baocao = 1",
        "```",
        "```sh",
        "baocao units list --json",
        "```",
    ])
    shown = shown_commands(text)
    assert [(s.command, s.line) for s in shown] == [
        ("baocao units list", 1), ('baocao deadline "x" --period 2026 --json', 3),
        ("baocao [--config PATH] COMMAND", 7), ("baocao check-config", 8),
        ("baocao units import FILE", 9), ("baocao units list", 9),
        ("baocao invite create --unit A [--uses 3]", 11), ("baocao units list --json", 17),
    ]
    assert shown[1].output == '{"a": 1,\n "b": 2}'
    assert variants("baocao x [--json] [-v]") == ["baocao x", "baocao x --json -v"]
    assert is_synopsis("baocao units import FILE") and not is_synopsis("baocao units list")
