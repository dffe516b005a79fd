"""Officers with phones, a bot that gets SIGKILLed, and what the database says afterwards.

Building blocks for the end-to-end delivery tests (tests/test_e2e_delivery.py) and for a
bench: a bot installation in a folder (`Site`: config, a report template of integer
questions, one commune per officer, invites made with the `baocao` CLI), the bot as a
subprocess that can be killed and restarted (`BotProcess`), simulated officers driven by one
loop (`Officer`, `Crowd`), a killer that SIGKILLs the bot at seeded random moments of the
traffic (`Killer`), and the checks of the stored answers against what the officers saw
(`check_delivery`).

Officer ``i`` answers question ``k`` with ``value(i, k) = i*100 + k``, so every stored value
says which officer and which question it belongs to: a value under another question is a
misfiled answer, whichever way it got there.

An officer acts like a person: types only after reading the chat (and only if nothing new
arrived meanwhile, see `FakeBotAPI.send_text_if_quiet`), answers the question on screen, and,
when nothing new arrives for a few seconds, types the same text again.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from tests.fakebotapi import FakeBotAPI

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_ID = "thu_tai"
ACK_RE = re.compile(r"✓ Đã lưu: ([\d.]+)")  # bot.domain.messages_vi.saved, a Vietnamese integer
QUESTION_RE = re.compile(r"Câu (\d+)/(\d+): ")  # bot.domain.messages_vi.question_heading
SUMMARY = "📋 Tóm tắt"
JOINED = "Bạn đã tham gia"


def value(officer: int, question: int) -> int:
    """What officer ``officer`` answers to question ``question`` (both from 1)."""
    return officer * 100 + question


def template_toml(questions: int) -> str:
    """A monthly report of ``questions`` integer questions q1..qN with a large maximum."""
    head = (f'id = "{TEMPLATE_ID}"\ntitle = "Báo cáo thử tải"\nperiod = "month"\n'
            'deadline = "chậm nhất ngày 20 hằng tháng"\napplies_to = { levels = ["xa"] }\n')
    body = "".join(f'\n[[questions]]\nid = "q{k}"\ntext = "Số liệu thứ {k}"\ntype = "integer"\n'
                   "max = 1000000\n" for k in range(1, questions + 1))
    return head + body


def unit_code(officer: int) -> str:
    return f"TT-{officer:03d}"


def chat_id(officer: int) -> int:
    return 7_000_000 + officer


@dataclass
class Site:
    """A bot installation in a folder: config, database path, reports, units, invites."""

    root: Path
    db: Path
    env: dict[str, str]
    questions: int

    @classmethod
    def create(cls, root: Path, fake: FakeBotAPI, officers: int, questions: int = 8) -> Site:
        reports = root / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        (reports / f"{TEMPLATE_ID}.toml").write_text(template_toml(questions), encoding="utf-8")
        db = root / "data" / "baocao.db"
        config = root / "config.toml"
        config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\n'
                          f'[storage]\npath = "{db}"\n[reports]\ndir = "{reports}"\n',
                          encoding="utf-8")
        env = {**os.environ, "BAOCAO_CONFIG": str(config), "BAOCAO_TELEGRAM_TOKEN": fake.token,
               "PYTHONPATH": str(REPO)}
        site = cls(root, db, env, questions)
        units = root / "units.csv"
        units.write_text("code,name,parent_code,level\nTT,Huyện đoàn Thử Tải,,huyen\n" + "".join(
            f"{unit_code(i)},Đoàn xã Thử {i},TT,xa\n" for i in range(1, officers + 1)),
            encoding="utf-8")
        site.cli("units", "import", str(units))
        return site

    def cli(self, *args: str) -> str:
        """Run `baocao ARGS` (as `python -m bot`); its stdout."""
        done = subprocess.run([sys.executable, "-m", "bot", *args], env=self.env, cwd=self.root,
                              text=True, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"baocao {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def invites(self, officers: int) -> dict[int, str]:
        """One officer invite per commune, made with `baocao invite create`: the CLI's entry
        point called once per unit in one process (fifty processes take 25 s on two cores)."""
        script = ("import sys\nfrom bot.cli import main\nfor unit in sys.argv[1:]:\n"
                  "    code = main(['invite', 'create', '--unit', unit, '--role', 'officer'])\n"
                  "    sys.stdout.flush()\n    if code:\n        sys.exit(code)\n")
        units = [unit_code(i) for i in range(1, officers + 1)]
        done = subprocess.run([sys.executable, "-c", script, *units], env=self.env,
                              cwd=self.root, text=True, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"baocao invite create failed: {done.stderr}")
        codes = done.stdout.split()  # each call prints the code on a line of its own
        assert len(codes) == officers, done.stdout
        return dict(zip(range(1, officers + 1), codes, strict=True))

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db, timeout=30)


class BotProcess:
    """`baocao run` as a subprocess: started, SIGKILLed, restarted; its log in ``root/bot.log``."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0
        self.kills = 0
        self.exits = 0  # stopped on its own (e.g. could not start), restarted by `supervise`
        self.log = site.root / "bot.log"

    def start(self) -> None:
        with open(self.log, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.site.env,
                                         cwd=self.site.root, stdout=subprocess.DEVNULL,
                                         stderr=log, text=True)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a power cut or the OOM killer."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.kills += 1

    def supervise(self) -> None:
        """Like a service manager: a bot that exited is started again."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exits += 1
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tracebacks(self) -> int:
        return self.log.read_text(encoding="utf-8", errors="replace").count("Traceback") \
            if self.log.exists() else 0


class Phase(Enum):
    JOIN = "join"  # sent /start CODE
    LIST = "list"  # sent /baocao, waiting for the list of reports
    OPEN = "open"  # pressed the report's button, waiting for question 1
    ANSWER = "answer"  # answering questions
    DONE = "done"  # saw the summary


@dataclass(frozen=True)
class Typed:
    question: int  # the question on screen when typing
    text: str
    update_id: int
    retype: bool  # typed again because nothing new arrived


@dataclass(frozen=True)
class Seen:
    message_id: int
    text: str


@dataclass
class Officer:
    """One person with a phone: reads the chat, types, retypes when nothing happens."""

    fake: FakeBotAPI
    number: int
    code: str
    rng: random.Random
    questions: int
    retype_after: float = 4.0  # seconds without a new message before typing the same again
    think: tuple[float, float] = (0.2, 1.0)  # seconds to read a question and type
    phase: Phase = Phase.JOIN
    seen: int = 0  # bot messages read so far
    quiet_since: float = 0.0
    last_text: str | None = None
    plan: tuple[str, float] | None = None  # what to type, and when
    shown: int | None = None  # the question number last on screen
    reacted: str = ""  # the text of the message last reacted to
    answered: int | None = None  # the question last answered (typed for)
    typed: list[Typed] = field(default_factory=list)
    start_updates: list[int] = field(default_factory=list)  # /start: joins are not recorded
    updates: list[int] = field(default_factory=list)  # every other update this officer made
    messages: list[Seen] = field(default_factory=list)

    @property
    def chat(self) -> int:
        return chat_id(self.number)

    @property
    def name(self) -> str:
        return f"Cán bộ {self.number}"

    def begin(self, now: float) -> None:
        self._type(f"/start {self.code}", now, quiet=False)

    def step(self, now: float, answering: bool) -> None:
        """Read what arrived, then type what is due. ``answering``: the burst has begun
        (before it, an officer at question 1 waits)."""
        count = self.fake.message_count(self.chat)
        if count > self.seen:
            new = self.fake.sent_messages(self.chat)[self.seen:count]
            self.seen = count
            self.quiet_since = now
            self.plan = None
            for m in new:
                self.messages.append(Seen(int(m["message_id"]), str(m.get("text", ""))))
            self._react(new[-1], now)
        if self.phase is Phase.DONE:
            return
        if self.phase is Phase.ANSWER and not answering:
            self.quiet_since = now
            return
        if self.plan is not None and now >= self.plan[1]:
            text = self.plan[0]
            self.plan = None
            self._type(text, now, quiet=True)
        elif self.plan is None and now - self.quiet_since >= self.retype_after:
            if self.phase is Phase.OPEN:  # the question did not come: ask where we are
                self.phase = Phase.LIST
                self._type("/baocao", now, quiet=True)
            elif self.last_text is not None:
                self._type(self.last_text, now, quiet=True, retype=True)

    def _react(self, latest: dict[str, Any], now: float) -> None:
        text = str(latest.get("text", ""))
        question = QUESTION_RE.search(text)
        repeat = text == self.reacted
        self.reacted = text
        if repeat and question is not None and self.answered == int(question.group(1)):
            return  # the same message again (a re-delivery): already answered, nothing to do
        if SUMMARY in text and self.phase in (Phase.ANSWER, Phase.OPEN, Phase.LIST):
            self.phase = Phase.DONE
        elif question is not None:
            self.phase = Phase.ANSWER
            self.shown = int(question.group(1))
            self._plan(str(value(self.number, self.shown)), now)
        elif self.phase is Phase.JOIN and JOINED in text:
            self.phase = Phase.LIST
            self._plan("/baocao", now)
        elif self.phase is Phase.LIST:
            data = self._report_button(latest)
            if data is not None:
                self.phase = Phase.OPEN
                self.updates.append(self.fake.press_button(self.chat, latest["message_id"], data))
                self.quiet_since = now

    def _plan(self, text: str, now: float) -> None:
        self.plan = (text, now + self.rng.uniform(*self.think))

    @staticmethod
    def _report_button(message: dict[str, Any]) -> str | None:
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                if TEMPLATE_ID in data:
                    return data
        return None

    def _type(self, text: str, now: float, *, quiet: bool, retype: bool = False) -> None:
        if quiet:
            update_id = self.fake.send_text_if_quiet(self.chat, text, self.seen, self.name)
            if update_id is None:  # something new arrived while typing: read it first
                return
        else:
            update_id = self.fake.send_text(self.chat, text, self.name)
        self.last_text = text
        self.quiet_since = now
        if text.startswith("/start "):
            self.start_updates.append(update_id)
            return
        self.updates.append(update_id)
        if self.phase is Phase.ANSWER and self.shown is not None:
            self.answered = self.shown
            self.typed.append(Typed(self.shown, text, update_id, retype))

    def read_rest(self) -> None:
        """Read what arrived after the officer stopped looking (late or repeated replies)."""
        for m in self.fake.sent_messages(self.chat)[self.seen:]:
            self.messages.append(Seen(int(m["message_id"]), str(m.get("text", ""))))
        self.seen = len(self.messages)

    def shown_after(self, message: Seen) -> str:
        """What a message shows next: its question heading or summary, or else (a reply
        split in two) the next message's."""
        at = self.messages.index(message)
        for m in self.messages[at:at + 2]:
            question = QUESTION_RE.search(m.text)
            if question is not None:
                return f"Câu {question.group(1)}"
            if SUMMARY in m.text:
                return SUMMARY
        return "nothing"

    def acks(self) -> list[tuple[int, Seen]]:
        """Every "✓ Đã lưu: V" this officer saw, with the message it came in."""
        found = []
        for m in self.messages:
            match = ACK_RE.search(m.text)
            if match:
                found.append((int(match.group(1).replace(".", "")), m))
        return found


@dataclass
class Killer:
    """SIGKILLs the bot at seeded random points of the traffic (a random delay of up to
    ``jitter`` seconds after the n-th answer typed in the burst, for ``kills`` values of n), at
    least ``gap`` seconds apart, and starts it again at once."""

    bot: BotProcess
    rng: random.Random
    kills: int
    window: tuple[int, int]  # answers typed: the range the kill points are drawn from
    gap: float = 1.0
    jitter: float = 1.5
    points: list[int] = field(default_factory=list)
    last: float = 0.0
    due: float | None = None

    def __post_init__(self) -> None:
        self.points = sorted(self.rng.sample(range(*self.window), self.kills))

    def step(self, now: float, typed: int) -> None:
        if self.due is None and self.points and typed >= self.points[0]:
            self.points.pop(0)
            self.due = max(now + self.rng.uniform(0, self.jitter), self.last + self.gap)
        if self.due is not None and now >= self.due:
            self.due = None
            self.bot.kill()
            self.bot.start()
            self.last = now


def run_crowd(officers: list[Officer], bot: BotProcess, *, deadline: float,
              answering: bool, until: str, killer: Killer | None = None,
              tick: float = 0.05) -> bool:
    """Drive every officer (and the killer, and the supervisor) until ``until`` holds for all
    ("answer": at a question or beyond; "done": saw the summary) or ``deadline``
    (time.monotonic()); True if reached."""
    wanted = {"answer": (Phase.ANSWER, Phase.DONE), "done": (Phase.DONE,)}[until]
    while True:
        now = time.monotonic()
        for o in officers:
            o.step(now, answering)
        if killer is not None:
            killer.step(now, sum(len(o.typed) for o in officers))
        bot.supervise()
        if all(o.phase in wanted for o in officers):
            return True
        if now >= deadline:
            return False
        time.sleep(tick)


def stored_answers(site: Site, officer: int) -> dict[int, Any]:
    """question number -> stored value, of the officer's commune (open draft or submission)."""
    con = site.connect()
    try:
        rows = con.execute(
            "SELECT da.question_id, da.value FROM draft_answers da JOIN drafts d"
            " ON d.id = da.draft_id WHERE d.unit_code = ? AND d.template_id = ?"
            " UNION ALL SELECT sa.question_id, sa.value FROM submission_answers sa"
            " JOIN submissions s ON s.id = sa.submission_id"
            " WHERE s.unit_code = ? AND s.template_id = ?",
            (unit_code(officer), TEMPLATE_ID, unit_code(officer), TEMPLATE_ID)).fetchall()
    finally:
        con.close()
    return {int(qid[1:]): json.loads(v) if v is not None else None for qid, v in rows}


def processed_events(site: Site) -> set[int]:
    con = site.connect()
    try:
        rows = con.execute("SELECT event_id FROM processed_events WHERE channel = 'telegram'")
        return {int(r[0]) for r in rows if str(r[0]).isdigit()}
    finally:
        con.close()


@dataclass
class Delivery:
    """The findings of `check_delivery`: counts, and examples of each kind of problem."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, kind: str, example: str) -> None:
        self.problems.setdefault(kind, []).append(example)

    def summary(self) -> str:
        lines = [f"{kind}: {len(examples)} (e.g. {'; '.join(examples[:3])})"
                 for kind, examples in sorted(self.problems.items())]
        return "\n".join(lines)


def check_delivery(site: Site, fake: FakeBotAPI, officers: list[Officer]) -> Delivery:
    """Compare the database with what each officer typed and saw.

    Problems (each counted):
    - misfiled: a stored value that is not value(officer, question) for its question;
    - acknowledged, not stored: "✓ Đã lưu: V" seen, V not stored under its question;
    - ack before the wrong question: "✓ Đã lưu: V" (V for question k) not followed (in its
      message, or the next one) by question k+1 (or by the summary after the last);
    - stored, never acknowledged: the officer was never told it was saved;
    - conflicting acknowledgements: the same V acknowledged in messages that differ (an
      identical repeat is a re-delivery and only counted, as ``duplicate acks``);
    - lost updates: delivered by getUpdates, confirmed (no longer pending), never handled
      (not in processed_events). /start updates are left out: joining records no event;
    - not finished: officers who never saw the summary.
    """
    result = Delivery()
    handled = processed_events(site)
    pending = set(fake.pending_update_ids())
    delivered = set(fake.delivered_update_ids)
    for o in officers:
        o.read_rest()
        i = o.number
        stored = {q: v for q, v in stored_answers(site, i).items() if v is not None}
        acks = o.acks()
        acked_values = {v for v, _ in acks}
        result.counts["answers stored"] += len(stored)
        result.counts["answers typed"] += sum(not t.retype for t in o.typed)
        result.counts["retypes"] += sum(t.retype for t in o.typed)
        result.counts["acks"] += len(acks)
        for q, v in sorted(stored.items()):
            if v != value(i, q):
                result.problem("misfiled", f"officer {i} q{q} = {v}")
            if v not in acked_values:
                result.problem("stored, never acknowledged", f"officer {i} q{q} = {v}")
        by_value: dict[int, list[Seen]] = {}
        for v, m in acks:
            by_value.setdefault(v, []).append(m)
        for v, messages in sorted(by_value.items()):
            k = v - i * 100
            if stored.get(k) != v:
                result.problem("acknowledged, not stored",
                               f"officer {i} saw ✓ {v}, q{k} holds {stored.get(k)}")
            expected = SUMMARY if k == site.questions else f"Câu {k + 1}"
            for m in messages:
                shown = o.shown_after(m)
                if shown != expected:
                    result.problem("ack before the wrong question",
                                   f"officer {i} ✓ {v} then {shown}")
            if len(messages) > 1:
                if len({m.text for m in messages}) == 1:
                    result.counts["duplicate acks"] += len(messages) - 1
                else:
                    result.problem("conflicting acknowledgements",
                                   f"officer {i} ✓ {v} in {len(messages)} different messages")
        for update_id in o.updates:
            if update_id in delivered and update_id not in pending and update_id not in handled:
                result.problem("lost updates", f"officer {i} update {update_id}")
        if o.phase is not Phase.DONE:
            result.problem("not finished",
                           f"officer {i} at {o.phase.value}, question {o.shown}")
        result.counts["updates"] += len(o.updates) + len(o.start_updates)
    result.counts["officers"] = len(officers)
    result.counts["officers finished"] = sum(o.phase is Phase.DONE for o in officers)
    for kind, examples in result.problems.items():
        result.counts[kind] = len(examples)
    return result
