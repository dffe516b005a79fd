"""A stand-in Bot API server for the benchmarks, in a process of its own, that also drives the
load and times it.

The bot under test talks to it exactly as to Telegram: python-telegram-bot's own HTTP client
(HTTPXRequest), long polling (`getUpdates`), replies by `sendMessage`. The server runs in a
separate process so that it does not share the bot's GIL, and does as little as it can per
request (a hand-written HTTP/1.1 keep-alive loop on asyncio, answers assembled from strings:
tens of microseconds each, against the bot's milliseconds), so that the bot, not the server,
is what gets measured; every run reports the server's own CPU time.

It is also where the simulated officers live: each run says which officers type which steps
(`/baocao`, a button press, an answer…), either as a Poisson stream at a given rate (each
update from an officer who is not waiting for a reply) or as a number of officers typing as
fast as replies come back. An update's latency runs from the moment it is offered to the bot
(its arrival) to the moment the bot's reply to it (the last `sendMessage` to that chat: every
step of the dialogue ends with one) reaches the server. Reminders the bot pushes are counted
apart and never taken for a reply.

    with StandIn() as server:                       # starts the process
        application = ...base_url(server.base_url)...
        result = await server.run(Script(users, steps), rate=300.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

TOKEN = "1:BENCH"
BOT_USER = ('{"id":777000,"is_bot":true,"first_name":"Báo cáo","username":"baocao_bench_bot",'
            '"can_join_groups":false,"can_read_all_group_messages":false,'
            '"supports_inline_queries":false}')
REMINDER_HEADS = ("🔔", "⏰")  # how a reminder's text starts (bot/domain/reminders.py)
LOST_AFTER = 30.0  # seconds without a reply: the update counts as lost, the officer moves on
Step = tuple[str, str]  # ("text", "/baocao") or ("button", "o|0|bench|2026-Q1")


@dataclass(frozen=True)
class Script:
    """Officers (Telegram user ids) and the steps each of them takes, in order."""

    users: list[int]
    steps: list[Step]


@dataclass
class Result:
    """One run as the server saw it."""

    latencies: list[float]  # seconds, one per answered update, in completion order
    done_at: list[float]  # seconds since the run began, when each was answered
    elapsed: float  # first arrival to last reply
    offered: int  # updates offered
    lost: int  # updates that got no reply within LOST_AFTER
    reminders: int  # reminder messages received meanwhile
    requests: int  # Bot API requests served
    server_cpu: float  # the server process's CPU seconds during the run
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


# --- the bench side ----------------------------------------------------------------------------


class StandIn:
    """Start the server process; `run()` one measurement at a time; `close()` stops it."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        # A fresh interpreter (not fork: the bench may already run threads), talking to us
        # over a socket pair that it inherits.
        ours, theirs = socket.socketpair()
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.standin", str(theirs.fileno())], cwd=root, env=env,
            pass_fds=[theirs.fileno()])
        theirs.close()
        self._conn = Connection(ours.detach())
        if not self._conn.poll(60):
            self.close()
            raise RuntimeError("the stand-in Bot API server did not start")
        self.port = int(self._conn.recv())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def run(self, script: Script, *, rate: float | None = None,
                  concurrency: int | None = None, seconds: float | None = None,
                  seed: int = 2026) -> Result:
        """Drive one run: a Poisson stream at `rate` updates/s, or `concurrency` officers
        typing at once; until every step is taken, or for `seconds` (then the updates in
        flight are waited for)."""
        assert self._conn is not None, "start() first"
        assert (rate is None) != (concurrency is None), "a rate or a concurrency"
        self._conn.send({"cmd": "run", "users": script.users, "steps": script.steps,
                         "rate": rate, "concurrency": concurrency, "seconds": seconds,
                         "seed": seed})
        answer: dict[str, Any] = await asyncio.to_thread(self._conn.recv)
        return Result(**answer)

    def flood(self, *, per_second: float = 30.0, burst: float = 30.0,
              per_chat_per_second: float = 1.0, chat_burst: float = 3.0,
              blocked: list[int] | None = None) -> None:
        """Enforce Telegram's flood limits on sendMessage from now on (429 with retry_after
        over them, nothing sent), answer 403 "blocked" for `blocked` chats, and count every
        message per chat (counters start again at zero)."""
        assert self._conn is not None, "start() first"
        self._conn.send({"cmd": "flood", "limits": [per_second, burst, per_chat_per_second,
                                                    chat_burst], "blocked": blocked or []})
        self._conn.recv()

    def flood_stats(self) -> dict[str, Any]:
        """{"counts": {chat: messages}, "calls", "too_many", "forbidden", "first", "last"
        (seconds, server's clock, of the first and last message accepted)}."""
        assert self._conn is not None, "start() first"
        self._conn.send({"cmd": "flood_stats"})
        answer: dict[str, Any] = self._conn.recv()
        return answer

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send({"cmd": "stop"})
            self._conn.close()
            self._conn = None
        if self._process is not None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover - stuck: do not leave it
                self._process.kill()
                self._process.wait(5)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# --- the server process ------------------------------------------------------------------------


def _serve(fd: int) -> None:
    asyncio.run(_Server(Connection(fd)).main())


class _Server:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.updates: deque[tuple[int, bytes]] = deque()
        self.next_update = 1
        self.new_update = asyncio.Event()
        self.message_ids: dict[int, int] = {}
        self.last: dict[int, bytes] = {}  # chat → the last dialogue message, as JSON
        self.requests = self.polls = self.empty_polls = 0
        self.run: _Run | None = None
        self.stopped = asyncio.Event()
        self.flood: _Flood | None = None

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(self), "127.0.0.1", 0)
        self.conn.send(server.sockets[0].getsockname()[1])
        loop.add_reader(self.conn.fileno(), self._control)
        async with server:
            await self.stopped.wait()
        loop.remove_reader(self.conn.fileno())

    def _control(self) -> None:
        try:
            command = self.conn.recv()
        except EOFError:  # the bench is gone
            self.stopped.set()
            return
        if command["cmd"] == "stop":
            self.stopped.set()
        elif command["cmd"] == "flood":
            rate, burst, per_chat, chat_burst = command["limits"]
            self.flood = _Flood(rate, burst, per_chat, chat_burst, set(command["blocked"]))
            self.conn.send(True)
        elif command["cmd"] == "flood_stats":
            flood = self.flood
            self.conn.send({} if flood is None else {
                "counts": flood.counts, "calls": flood.calls, "too_many": flood.too_many,
                "forbidden": flood.forbidden, "first": flood.first, "last": flood.last})
        elif command["cmd"] == "run":
            asyncio.get_running_loop().create_task(self._drive(command))

    async def _drive(self, command: dict[str, Any]) -> None:
        run = self.run = _Run(self, command)
        result = await run.drive()
        self.run = None
        self.conn.send(result)

    # --- the Bot API -------------------------------------------------------------------------

    def offer(self, user: int, step: Step) -> None:
        """Queue one update from `user` and wake the long poll."""
        update_id = self.next_update
        self.next_update += 1
        kind, value = step
        person = (f'{{"id":{user},"is_bot":false,"first_name":"Cán bộ","last_name":"Xã"}}')
        if kind == "text":
            entities = ""
            if value.startswith("/"):
                entities = (',"entities":[{"type":"bot_command","offset":0,"length":'
                            f'{len(value.split(" ", 1)[0])}}}]')
            body = (f'{{"update_id":{update_id},"message":{{"message_id":{update_id},'
                    f'"date":{int(time.time())},"chat":{{"id":{user},"type":"private",'
                    f'"first_name":"Cán bộ"}},"from":{person},'
                    f'"text":{json.dumps(value, ensure_ascii=False)}{entities}}}}}')
        else:
            message = self.last.get(user) or self._message(user, 0, "…", None)
            body = (f'{{"update_id":{update_id},"callback_query":{{"id":"{update_id}",'
                    f'"from":{person},"chat_instance":"ci",'
                    f'"data":{json.dumps(value, ensure_ascii=False)},'
                    f'"message":{message.decode()}}}}}')
        self.updates.append((update_id, body.encode()))
        self.new_update.set()

    def _message(self, chat: int, message_id: int, text: str, markup: str | None) -> bytes:
        keyboard = f',"reply_markup":{markup}' if markup else ""
        return (f'{{"message_id":{message_id},"date":{int(time.time())},"chat":{{"id":{chat},'
                f'"type":"private","first_name":"Cán bộ"}},"from":{BOT_USER},'
                f'"text":{json.dumps(text, ensure_ascii=False)}{keyboard}}}').encode()

    def answer(self, method: str, params: dict[str, str]) -> tuple[int, bytes]:
        """Every method but getUpdates, answered at once: (HTTP status, body)."""
        self.requests += 1
        if method == "sendmessage" and self.flood is not None:
            refused = self.flood.refuse(int(params["chat_id"]))
            if refused is not None:
                return refused
        return 200, self._answer(method, params)

    def _answer(self, method: str, params: dict[str, str]) -> bytes:
        if method == "sendmessage":
            chat = int(params["chat_id"])
            text = params.get("text", "")
            message_id = self.message_ids.get(chat, 0) + 1
            self.message_ids[chat] = message_id
            message = self._message(chat, message_id, text, params.get("reply_markup"))
            if text.startswith(REMINDER_HEADS):
                if self.run is not None:
                    self.run.reminders += 1
            else:
                self.last[chat] = message
                if self.run is not None:
                    self.run.replied(chat)
            return b'{"ok":true,"result":' + message + b"}"
        if method == "editmessagetext":
            chat = int(params["chat_id"])
            message = self._message(chat, int(params["message_id"]), params.get("text", ""),
                                    params.get("reply_markup"))
            return b'{"ok":true,"result":' + message + b"}"
        if method == "getme":
            return b'{"ok":true,"result":' + BOT_USER.encode() + b"}"
        return b'{"ok":true,"result":true}'  # deleteWebhook, setMyCommands, answerCallbackQuery…

    async def get_updates(self, params: dict[str, str]) -> bytes:
        offset = int(params.get("offset", "0") or 0)
        while self.updates and self.updates[0][0] < offset:  # confirmed by the offset
            self.updates.popleft()
        if not self.updates:
            self.new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.new_update.wait(),
                                       float(params.get("timeout", "0") or 0))
        limit = int(params.get("limit", "100") or 100)
        batch = [body for _, body in list(self.updates)[:limit]]
        self.polls += 1
        self.empty_polls += not batch
        return b'{"ok":true,"result":[' + b",".join(batch) + b"]}"


class _Run:
    """The simulated officers of one run, and what the server saw of them."""

    def __init__(self, server: _Server, command: dict[str, Any]) -> None:
        self.server = server
        self.users: list[int] = command["users"]
        self.steps: list[Step] = [tuple(s) for s in command["steps"]]
        self.rate: float | None = command["rate"]
        self.concurrency: int | None = command["concurrency"]
        self.seconds: float | None = command["seconds"]
        self.rng = random.Random(command["seed"])
        self.next_step = dict.fromkeys(self.users, 0)
        self.waiting: dict[int, float] = {}  # user → arrival of their unanswered update
        self.latencies: list[float] = []
        self.done_at: list[float] = []
        self.reminders = self.lost = self.offered = self.finished = 0
        self.started = time.perf_counter()
        self.last_reply = self.started
        self.answered = asyncio.Event()
        self.idle: list[int] = list(self.users)  # officers with steps left, not waiting

    def replied(self, chat: int) -> None:
        arrival = self.waiting.pop(chat, None)
        if arrival is None:
            return  # an apology after a reply, or a chat of another run
        now = time.perf_counter()
        self.latencies.append(now - arrival)
        self.done_at.append(now - self.started)
        self.last_reply = now
        self._free(chat)

    def _free(self, user: int) -> None:
        if self.next_step[user] < len(self.steps):
            self.idle.append(user)
        else:
            self.finished += 1
        self.answered.set()

    def _offer(self, user: int, arrival: float) -> None:
        step = self.steps[self.next_step[user]]
        self.next_step[user] += 1
        self.waiting[user] = arrival
        self.offered += 1
        self.server.offer(user, step)

    def _over(self) -> bool:
        return self.seconds is not None and time.perf_counter() - self.started >= self.seconds

    async def drive(self) -> dict[str, Any]:
        cpu = os.times()
        server = self.server
        served = (server.requests, server.polls, server.empty_polls)  # counted for this run
        self.started = time.perf_counter()
        reaper = asyncio.get_running_loop().create_task(self._reap())
        try:
            if self.rate is not None:
                await self._steady(self.rate)
            else:
                assert self.concurrency is not None
                await self._closed_loop(self.concurrency)
            while self.waiting:  # the last replies
                self.answered.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.answered.wait(), 1.0)
        finally:
            reaper.cancel()
        spent = os.times()
        return {"latencies": self.latencies, "done_at": self.done_at,
                "elapsed": self.last_reply - self.started, "offered": self.offered,
                "lost": self.lost, "reminders": self.reminders,
                "requests": server.requests - served[0],
                "extra": {"polls": server.polls - served[1],
                          "empty_polls": server.empty_polls - served[2]},
                "server_cpu": (spent.user - cpu.user) + (spent.system - cpu.system)}

    async def _steady(self, rate: float) -> None:
        arrival = time.perf_counter()
        while not self._over():
            arrival += self.rng.expovariate(rate)  # a Poisson stream of updates
            delay = arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            while not self.idle:  # every officer is waiting for a reply: the bot fell behind
                if not self.waiting:
                    return  # every step taken
                self.answered.clear()
                await self.answered.wait()
            self._offer(self.idle.pop(self.rng.randrange(len(self.idle))), arrival)

    async def _closed_loop(self, concurrency: int) -> None:
        queue = deque(self.users)
        self.idle = []
        started = 0
        while not self._over():
            while started - self.finished < concurrency and queue:
                self._offer(queue.popleft(), time.perf_counter())
                started += 1
            ready, self.idle = self.idle, []
            for user in ready:  # answered: the officer types the next step at once
                self._offer(user, time.perf_counter())
            if not queue and started == self.finished:
                return
            if not ready:
                self.answered.clear()
                await self.answered.wait()

    async def _reap(self) -> None:
        """An update without a reply for LOST_AFTER seconds is lost; its officer moves on."""
        while True:
            await asyncio.sleep(1.0)
            now = time.perf_counter()
            for user, arrival in list(self.waiting.items()):
                if now - arrival > LOST_AFTER:
                    del self.waiting[user]
                    self.lost += 1
                    self._free(user)


STATUS_LINES = {200: b"HTTP/1.1 200 OK", 403: b"HTTP/1.1 403 Forbidden",
                429: b"HTTP/1.1 429 Too Many Requests"}


class _Bucket:
    """A token bucket: `rate` a second, at most `burst` saved up (full at first)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _Flood:
    """Telegram's flood limits on sendMessage, blocked chats, and messages counted per chat
    (bench/broadcast.py)."""

    def __init__(self, per_second: float, burst: float, per_chat: float, chat_burst: float,
                 blocked: set[int]) -> None:
        self.limits = (per_second, burst, per_chat, chat_burst)
        self.blocked = blocked
        self.overall: _Bucket | None = None
        self.chats: dict[int, _Bucket] = {}
        self.counts: dict[int, int] = {}
        self.calls = self.too_many = self.forbidden = 0
        self.first = self.last = 0.0

    def refuse(self, chat: int) -> tuple[int, bytes] | None:
        """The error answer for this call, or None (then it is sent and counted)."""
        now = time.perf_counter()
        self.calls += 1
        per_second, burst, per_chat, chat_burst = self.limits
        if self.overall is None:
            self.overall = _Bucket(per_second, burst, now)
        if chat in self.blocked:  # Telegram answers this before looking at the limits
            self.forbidden += 1
            return 403, (b'{"ok":false,"error_code":403,'
                         b'"description":"Forbidden: bot was blocked by the user"}')
        bucket = self.chats.get(chat)
        if bucket is None:
            bucket = self.chats[chat] = _Bucket(per_chat, chat_burst, now)
        wait = max(self.overall.wait(now), bucket.wait(now))
        if wait > 0:
            self.too_many += 1
            seconds = max(1, int(wait + 0.999))
            return 429, (b'{"ok":false,"error_code":429,"description":"Too Many Requests:'
                         b' retry after %d","parameters":{"retry_after":%d}}' % (seconds, seconds))
        self.overall.tokens -= 1
        bucket.tokens -= 1
        self.counts[chat] = self.counts.get(chat, 0) + 1
        self.first = self.first or now
        self.last = now
        return None


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time per connection (as httpx sends)."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4:end + 4 + length]
        self.buffer = self.buffer[end + 4 + length:]
        path = head.split(" ", 2)[1]
        method = path.rsplit("/", 1)[-1]
        params = dict(parse_qsl(body.decode())) if body and not body.startswith(b"{") else (
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()}
            if body else {})
        method = method.lower()
        if method != "getupdates":
            self._respond(*self.server.answer(method, params))
            return
        self.busy = True  # a long poll: answered when updates come, or at its timeout
        self.server.requests += 1
        task = asyncio.get_running_loop().create_task(self.server.get_updates(params))
        task.add_done_callback(
            lambda t: None if t.cancelled() else self._respond(200, t.result()))

    def _respond(self, status: int, payload: bytes) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        line = STATUS_LINES[status]
        self.transport.write(line + b"\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n"
                             + payload)
        if self.buffer:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


if __name__ == "__main__":
    if os.environ.get("STANDIN_PROFILE"):
        import cProfile
        cProfile.run("_serve(int(sys.argv[1]))", os.environ["STANDIN_PROFILE"])
    else:
        _serve(int(sys.argv[1]))
