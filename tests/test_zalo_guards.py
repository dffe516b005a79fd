"""Guards from a mutation review of the Zalo channel (issue 11): each test here fails when one
deliberate break of the code survives every other test (the break is named in the test's
docstring). In process, against tests/fakezalo.py: real SQLite, real HTTP."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import ZALO_BOT_NAME_KEY, App, build_app
from bot.cli import main
from bot.config import (
    Config,
    StorageConfig,
    TelegramConfig,
    ZaloConfig,
    run_problems,
    token_problems,
)
from bot.domain import messages_vi as M
from bot.domain.dialogue import Reply
from bot.domain.roles import Role
from bot.scheduler import Scheduler
from bot.services.channels import Inbound
from bot.services.delivery import Refused, RetryLater
from bot.services.invites import create_invite
from handlers.lifecycle import start_zalo, stop_channels
from handlers.text_render import pressing_is_choosing, utf16_units
from handlers.zalo import channel as zalo_channel
from handlers.zalo import media as zalo_media
from handlers.zalo import runner
from handlers.zalo.channel import StartError, ZaloChannel
from handlers.zalo.client import ZaloClient, ZaloError, unwrap
from handlers.zalo.delivery import render, sorted_failure
from handlers.zalo.media import MediaStore
from handlers.zalo.quota import QuotaWatch
from handlers.zalo.updates import photo_url, sender, to_inbound
from storage.models import Changes, Outgoing
from storage.sqlite import SqliteStorage
from tests.fakezalo import FakeZalo
from tests.harness import Chat, Clock, join, make_app
from tests.phones import JPEG
from tests.test_delivery import first_number_question, outboxed

USER = "5e0c1d2a3b4f6071"
SECRET = "guard-webhook-secret"
ZALO_ENV = "BAOCAO_ZALO_TOKEN"


def private_update(text: str = "1", message_id: str | int = "m1", user: str = USER,
                   **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id, "date": 1_765_000_000_000, "text": text,
        "chat": {"id": user, "chat_type": "PRIVATE"},
        "from": {"id": user, "display_name": "Lò Thị Mai", "is_bot": False}, **message}
    return {"event_name": "message.text.received", "message": body}


def settings(fake: FakeZalo, **overrides: Any) -> ZaloConfig:
    return ZaloConfig.model_validate({
        "base_url": fake.base_url, "poll_timeout": 1, "max_per_second": 0,
        "max_per_chat_per_second": 0, **overrides})


def with_zalo(app: App, zalo: ZaloConfig) -> Config:
    return app.config.model_copy(update={
        "zalo": zalo, "storage": StorageConfig(path=app.config.storage.path)})


@asynccontextmanager
async def running(tmp_path: Path, fake: FakeZalo, start: bool = True, clock: Clock | None = None,
                  **overrides: Any) -> AsyncIterator[tuple[App, ZaloChannel]]:
    """An app with the Zalo channel (started unless `start` is false), stopped afterwards."""
    app = await make_app(tmp_path, clock or Clock(), with_test_template=False)
    channel = ZaloChannel(app, with_zalo(app, settings(fake, **overrides)), fake.token)
    try:
        if start:
            await channel.start()
        yield app, channel
    finally:
        try:
            await asyncio.wait_for(stop_channels(app, None, [channel]), 30)  # never hangs
        finally:
            await app.close()


async def wait_for(fake: FakeZalo, user: str, text: str, after: int = 0) -> dict[str, Any]:
    return await asyncio.to_thread(fake.wait_for_message, user, lambda m: text in m["text"],
                                   after=after)


async def stored_events(app: App) -> list[str]:
    """Every update id in the inbox (handled or not)."""
    return [r["event_id"] for r in await app.storage.db.fetchall(
        "SELECT event_id FROM inbox ORDER BY rowid")]


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with FakeZalo(max_poll=0.3) as server:
        yield server


# --- the client ------------------------------------------------------------------------------


async def test_an_http_408_is_an_idle_poll_whatever_code_its_body_carries() -> None:
    """Mutant: only `error_code == 408` counts as idle (an HTTP 408 whose envelope carries
    another code would count as a failure and back off)."""
    with FakeZalo(max_poll=0.1) as fake:
        fake.fail_next("getUpdates", status=408, error_code=-408, description="Request timeout")
        client = ZaloClient(fake.token, fake.base_url)
        try:
            assert await client.get_updates(1) == []
        finally:
            await client.close()


def test_a_body_that_is_no_envelope_is_a_refusal() -> None:
    """Mutant: any JSON object is taken for an envelope (a proxy's `{}` would read as a
    result)."""
    for response in (httpx.Response(200, json={"result": {"id": "1"}}),
                     httpx.Response(200, json=[]), httpx.Response(502, text="<html>")):
        with pytest.raises(ZaloError) as refused:
            unwrap("getMe", response)
        assert refused.value.status == response.status_code
        assert "without a Bot API answer" in refused.value.description  # what the admin reads
    assert unwrap("getMe", httpx.Response(200, json={"ok": True, "result": 7})) == 7


async def test_refusals_are_not_repeated_but_a_server_error_is() -> None:
    """Mutants: a 4xx refusal tried again (three calls, three seconds for nothing); no
    second attempt after a 5xx."""
    with FakeZalo(max_poll=0.1) as fake:
        client = ZaloClient(fake.token, fake.base_url)
        try:
            fake.fail_next("setWebhook", status=400, error_code=400, description="Bad request")
            with pytest.raises(ZaloError):
                await client.call_retrying("setWebhook", {"url": "https://x.vn/z"})
            assert len(fake.calls("setWebhook")) == 1
            fake.fail_next("getMe", status=502, error_code=502, description="Bad Gateway")
            assert (await client.call_retrying("getMe"))["id"] == fake.bot_id
            assert len(fake.calls("getMe")) == 2
        finally:
            await client.close()


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP; remembers each request's timeouts."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[tuple[str, dict[str, float]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append((request.url.path.rsplit("/", 1)[-1],
                              request.extensions["timeout"]))
        return await super().handle_async_request(request)


async def test_the_poll_is_read_for_longer_than_it_lasts() -> None:
    """Mutants: no grace (the read times out as Zalo answers, racing its 408); the ordinary
    20 s read for every poll (a 30 s poll would always time out)."""
    with FakeZalo(max_poll=0.1) as fake:
        transport = RecordingTransport()
        client = ZaloClient(fake.token, fake.base_url, transport=transport)
        try:
            assert await client.get_updates(30) == []
            await client.call("getMe")
        finally:
            await client.close()
    (_, poll), (_, me) = transport.timeouts
    assert poll["read"] is not None and poll["read"] >= 30 + 5  # the facts: +5..10 s
    assert me["read"] is not None and me["read"] < poll["read"]


# --- updates -----------------------------------------------------------------------------------


def test_senders_are_read_liberally_and_photo_urls_strictly() -> None:
    """Mutants: a message without a chat type refused; the user taken from `chat` only; a
    photo 'URL' of any scheme fetched (file:///…)."""
    untyped = private_update()
    untyped["message"]["chat"] = {"id": USER}
    assert sender(untyped) == (USER, "Lò Thị Mai")
    no_chat = private_update()
    del no_chat["message"]["chat"]
    assert sender(no_chat) == (USER, "Lò Thị Mai")
    event = to_inbound(no_chat)
    assert event is not None and event.text == "1"
    numbered = private_update(message_id=5)  # ids are strings; a number is read too
    assert to_inbound(numbered) is not None
    assert to_inbound(numbered).event_id == "message.text.received:5"  # type: ignore[union-attr]
    image: dict[str, Any] = {"event_name": "message.image.received",
             "message": {**private_update()["message"], "photo_url": "file:///etc/passwd"}}
    assert photo_url(image) is None
    image["message"]["photo_url"] = "https://zalo.example/p.jpg"
    assert photo_url(image) == "https://zalo.example/p.jpg"


# --- delivery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "\n".join(f"{i:04d}" + "x" * 35 for i in range(52)),  # 2,079 characters in lines of 39
    "y" * 2001,  # one line: cut
    "z" * 1995 + "🙏" * 5,  # 2,000 characters, 2,005 UTF-16 units
])
def test_every_piece_fits_zalos_2000_however_it_counts(text: str) -> None:
    """Mutants: TEXT_LIMIT 2001 or 4096; pieces measured with len() (an emoji is two units in
    JavaScript's count)."""
    parts = [c["p"]["text"] for c in render(None, USER, [Reply(text)])]
    assert len(parts) > 1
    assert all(0 < len(p) <= 2000 and utf16_units(p) <= 2000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_an_empty_reply_is_not_an_empty_message() -> None:
    """Mutant: `render_text(reply) or "…"` without the fallback (Zalo refuses an empty text,
    and the courier would drop the message)."""
    [call] = render(None, USER, [Reply("")])
    assert call["p"]["text"]


@pytest.mark.parametrize(("code", "status", "kind"), [
    (-32, 403, Refused), (-99, 401, ZaloError), (-5, 502, ZaloError), (-1, 429, RetryLater)])
def test_zalos_own_negative_codes_are_sorted_by_the_http_status(
        code: int, status: int, kind: type[Exception]) -> None:
    """Mutant: the error code alone decides (a negative code with HTTP 403 would be dropped
    as this message's fault instead of marking the person unreachable)."""
    assert isinstance(sorted_failure(ZaloError(code, "x", status)), kind)


def test_the_wait_is_the_last_number_of_a_429_and_never_absurd() -> None:
    """Mutants: the first number read (the 429 itself: seven minutes); no upper bound."""
    for description, wait in (("Error 429: too many requests, retry after 7", 7.0),
                              ("429 retry after 86400", 1.0), ("too many", 1.0)):
        failure = sorted_failure(ZaloError(429, description, 429))
        assert isinstance(failure, RetryLater) and failure.seconds == wait


# --- the channel: receiving --------------------------------------------------------------------


async def test_an_update_is_stored_before_it_is_handled(tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: dispatch, then store (a crash while handling would lose the update: Zalo has
    no offset to fetch it again). The first write fails, so handling would start first."""
    async with running(tmp_path, fake) as (app, _channel):
        real_apply, real_handle = app.storage.apply, app.reporting.handle
        failed: list[Changes] = []
        seen_at_handling: list[list[str]] = []

        async def apply_failing_once(changes: Changes) -> bool:
            if changes.inbox and not failed:
                failed.append(changes)
                raise RuntimeError("database is locked")
            return await real_apply(changes)

        async def handle(event: Inbound) -> list[Reply]:
            seen_at_handling.append(await stored_events(app))
            return await real_handle(event)

        app.storage.apply = apply_failing_once  # type: ignore[method-assign]
        app.reporting.handle = handle  # type: ignore[method-assign]
        update = await asyncio.to_thread(fake.send_text, USER, "xin chào")
        await wait_for(fake, USER, "Xin chào! Đây là trợ lý")
        wanted = f"message.text.received:{update['message']['message_id']}"
        assert failed and seen_at_handling == [[wanted]]


async def test_a_stop_waits_for_the_poll_in_flight_and_polls_no_more(tmp_path: Path) -> None:
    """Mutants: the poll cancelled at a stop (what Zalo hands to it is lost: no offsets);
    `_stopping` not set (polling goes on through the stop); a patience shorter than a poll."""
    with FakeZalo(max_poll=2.0) as fake:
        async with running(tmp_path, fake, poll_timeout=2) as (app, channel):
            polls = len(fake.calls("getUpdates"))
            while len(fake.calls("getUpdates")) == polls:  # a fresh poll is in flight
                await asyncio.sleep(0.02)
            in_flight = len(fake.calls("getUpdates"))
            stopping = asyncio.create_task(channel.stop_receiving())
            await asyncio.sleep(0.2)
            update = await asyncio.to_thread(fake.send_text, USER, "42")
            await stopping
            assert fake.pending_updates() == 0  # Zalo handed it over…
            wanted = f"message.text.received:{update['message']['message_id']}"
            assert await stored_events(app) == [wanted]  # …and baocao has it
            assert len(fake.calls("getUpdates")) == in_flight  # no poll after the stop


async def test_polling_pauses_grow_are_capped_and_start_again_after_success(
        tmp_path: Path) -> None:
    """Mutants: no pause after a failure (a busy loop); pauses never reset after a success;
    no cap (MAX_PAUSE); no pause after an idle answer that came back at once
    (MIN_IDLE_POLL 0). The pauses are recorded instead of slept."""
    with FakeZalo(max_poll=0.0) as fake:  # an idle poll answers 408 at once
        async with running(tmp_path, fake, start=False) as (_app, channel):
            fake.fail_next("getUpdates", 7, status=502, error_code=502, description="Bad Gateway")
            pauses: list[float] = []

            async def pause(seconds: float) -> None:
                pauses.append(seconds)
                if seconds == zalo_channel.MIN_IDLE_POLL:  # idle, after the failures
                    fake.fail_next("getUpdates", status=502, error_code=502, description="x")
                if len(pauses) >= 9:
                    channel._stopping = True
                await asyncio.sleep(0)

            channel._pause = pause  # type: ignore[method-assign]
            await asyncio.wait_for(channel._poll(), 10)
    assert pauses == [1, 2, 4, 8, 16, 30, 30, 0.5, 1]


async def test_updates_baocao_ignores_are_marked_handled(tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: an ignored update (a group's, a bot's) not marked handled: replayed at every
    start, forever."""
    group = private_update(message_id="g1")
    group["message"]["chat"] = {"id": "grp", "chat_type": "GROUP"}
    bot = private_update(message_id="b1")
    bot["message"]["from"]["is_bot"] = True
    async with running(tmp_path, fake) as (app, channel):
        for update in (group, bot):
            fake.redeliver(update)
        await asyncio.to_thread(fake.wait_until_consumed)
        while len(await stored_events(app)) < 2 or channel._handling:
            await asyncio.sleep(0.02)
        assert await app.storage.unhandled_inbox("zalo") == []
    assert fake.sent_messages() == []


async def test_an_error_while_handling_is_apologised_for(tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: no apology (the person waits for an answer that never comes)."""
    async with running(tmp_path, fake) as (app, _channel):
        async def broken(event: Inbound) -> list[Reply]:
            raise RuntimeError("a bug")

        app.reporting.handle = broken  # type: ignore[method-assign]
        fake.send_text(USER, "1")
        assert (await wait_for(fake, USER, "Xin lỗi"))["text"] == M.APOLOGY


async def test_a_persons_messages_are_handled_in_order_even_behind_a_slow_picture(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutants: no per-chat lock (a text overtakes the picture sent before it while the
    picture downloads); `_chats` and `_handling` never emptied (they grow with every
    person and update)."""
    url = fake.add_image("slow.jpg", JPEG)
    async with running(tmp_path, fake) as (app, channel):
        real_keep, real_handle = channel.media.keep, app.reporting.handle
        order: list[str] = []

        async def slow_keep(address: str) -> str | None:
            await asyncio.sleep(0.5)  # a picture over a slow network
            return await real_keep(address)

        async def handle(event: Inbound) -> list[Reply]:
            order.append("photo" if event.photo else event.text)
            return await real_handle(event)

        channel.media.keep = slow_keep  # type: ignore[method-assign, assignment]
        app.reporting.handle = handle  # type: ignore[method-assign]
        fake.send_image(USER, url)
        fake.send_text(USER, "sau ảnh")
        await asyncio.to_thread(fake.wait_until_consumed)
        while len(order) < 2 or channel._handling:
            await asyncio.sleep(0.02)
        assert order == ["photo", "sau ảnh"]
        assert channel._chats == {} and channel._handling == set()


async def test_what_a_stop_left_is_handled_and_delivered_at_the_next_start(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutants: the stored but unhandled updates not replayed at start; the replies left
    undelivered not sent."""
    async with running(tmp_path, fake, start=False) as (app, channel):
        update = private_update("chào", message_id="kept")
        left = {"m": "sendMessage", "p": {"chat_id": "z-left", "text": "còn lại từ lần trước"}}
        await app.storage.apply(Changes(
            actor=0, inbox=[("zalo", "message.text.received:kept", json.dumps(update))],
            outbox=[Outgoing("zalo", "z-left", json.dumps(left), None, None)]))
        await channel.start()
        await wait_for(fake, USER, "Xin chào! Đây là trợ lý")
        await wait_for(fake, "z-left", "còn lại từ lần trước")
        while channel._handling:
            await asyncio.sleep(0.02)
        assert await app.storage.unhandled_inbox("zalo") == []


async def test_polling_removes_a_webhook_left_by_an_earlier_run(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: no deleteWebhook before polling (Zalo refuses getUpdates while one is set)."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{fake.base_url}{fake.token}/setWebhook", json={
            "url": "https://old.example.vn/zalo", "secret_token": SECRET})
        assert answer.json()["ok"]
    async with running(tmp_path, fake):
        assert fake.webhook is None
        fake.send_text(USER, "chào")
        await wait_for(fake, USER, "Xin chào! Đây là trợ lý")


# --- the channel: the webhook -----------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_webhook_checks_the_secret_in_constant_time_and_stores_before_200(
        tmp_path: Path, fake: FakeZalo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutants: the secret compared with == (timing), a prefix of it or none accepted; the 200
    given before the update is stored; a body that is not JSON answered 200; the server left
    listening after the stop."""
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return bool(real_compare(a, b))

    monkeypatch.setattr(hmac, "compare_digest", compare)
    port = free_port()
    url = f"http://127.0.0.1:{port}/zalo/hook"
    async with running(tmp_path, fake, mode="webhook", webhook_url=url, webhook_secret=SECRET,
                       port=port) as (app, channel):
        assert fake.webhook == (url, SECRET)
        post = fake.post_webhook
        for n, secret in enumerate((None, "", SECRET[:-1], SECRET + "x", SECRET.upper())):
            assert await asyncio.to_thread(post, private_update(message_id=f"x{n}"), secret) == 403
        assert compared and all(b == SECRET.encode() for _, b in compared)
        async with httpx.AsyncClient() as http:
            bad = await http.post(url, content=b"{not json", headers={
                "X-Bot-Api-Secret-Token": SECRET})
            assert bad.status_code == 400
            check = await http.post(url, content=b"", headers={"X-Bot-Api-Secret-Token": SECRET})
            assert check.status_code == 200  # Zalo checks the URL with an empty call
        assert await stored_events(app) == []  # nothing forged or broken was stored
        real_apply = app.storage.apply

        async def slow_apply(changes: Changes) -> bool:
            if changes.inbox:
                await asyncio.sleep(0.3)  # a busy database
            return await real_apply(changes)

        app.storage.apply = slow_apply  # type: ignore[method-assign]
        assert await asyncio.to_thread(post, private_update(message_id="ok1"), SECRET) == 200
        assert await stored_events(app) == ["message.text.received:ok1"]  # before the 200
        await wait_for(fake, USER, "Xin chào! Đây là trợ lý")
        await channel.stop_receiving()
        assert await asyncio.to_thread(post, private_update(message_id="late"), SECRET) == 0


# --- the channel: stopping, the courier's callbacks ------------------------------------------


async def test_a_stop_finishes_the_updates_being_handled_and_delivers_their_replies(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutants: stop_receiving not waiting for the updates being handled; the couriers not
    drained, or drained before the receivers stop (the replies would wait for the next
    start); a delivered reply not settled in the outbox (sent again after a restart)."""
    app = await make_app(tmp_path, Clock(), with_test_template=False)
    channel = ZaloChannel(app, with_zalo(app, settings(fake)), fake.token)
    await channel.start()
    real_handle = app.reporting.handle
    handling = asyncio.Event()

    async def slow(event: Inbound) -> list[Reply]:
        handling.set()
        await asyncio.sleep(0.5)
        return await real_handle(event)

    app.reporting.handle = slow  # type: ignore[method-assign]
    try:
        fake.send_text(USER, "chào")
        await handling.wait()
    finally:
        await stop_channels(app, None, [channel])
    try:
        assert "Xin chào! Đây là trợ lý" in fake.sent_messages(USER)[0]["text"]
        assert await app.storage.pending_outbox("zalo") == []
    finally:
        await app.close()


async def test_a_person_who_cannot_be_written_to_is_marked_unreachable(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: the courier's `unreachable` callback does nothing (reminders go on being
    sent to someone Zalo refuses)."""
    async with running(tmp_path, fake) as (app, channel):
        invite = await create_invite(app.storage, "LC-BX-01", Role.OFFICER, 1, 7,
                                     app.reporting.clock())
        fake.send_text(USER, invite.code)
        await wait_for(fake, USER, "Bạn đã tham gia")
        await channel.courier.delivered_all(USER)
        person = await app.storage.find_person("zalo", USER)
        assert person is not None and person.reachable
        fake.fail_next("sendMessage", status=403, error_code=403, description="Forbidden")
        assert await app.channels.send(person, Reply("🔔 Nhắc báo cáo")) == "blocked"
        for _ in range(200):  # marked just after the outcome is told
            if await reachable(app, person.id) == 0:
                break
            await asyncio.sleep(0.01)
        assert await reachable(app, person.id) == 0


async def reachable(app: App, person_id: int) -> int:
    row = await app.storage.db.fetchone("SELECT reachable FROM people WHERE id=?", (person_id,))
    assert row is not None
    return int(row["reachable"])


async def test_a_first_look_at_who_is_unreachable_does_not_undo_a_mark(tmp_path: Path) -> None:
    """Bug (found writing the test above): the first `is_unreachable` loads the set from the
    database; a mark made while that load was under way was overwritten by its older
    snapshot. The person then counted as reachable in memory, so writing again did not
    clear the database's mark: no reminders until a restart."""
    app = await make_app(tmp_path, Clock(), with_test_template=False)
    try:
        await join(app, "u-blocks")
        person = await app.storage.find_person("test", "u-blocks")
        assert person is not None
        storage = SqliteStorage(app.storage.db)  # nothing loaded yet
        marking = asyncio.create_task(storage.set_reachable(person.id, False))
        await asyncio.sleep(0)  # its load goes first
        await storage.is_unreachable(person.id)  # a second load, under way meanwhile
        await marking
        assert await storage.is_unreachable(person.id)
    finally:
        await app.close()


async def test_start_records_the_bots_name_for_invites(tmp_path: Path, fake: FakeZalo) -> None:
    """Mutant: the name from getMe not stored (`invite create` could not name the bot)."""
    async with running(tmp_path, fake) as (app, channel):
        assert await app.storage.get_setting(ZALO_BOT_NAME_KEY) == "baocao_bot"
        assert channel.bot_name == "baocao_bot"


async def test_no_zalo_token_no_zalo_channel(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: start_zalo goes on without a token (every Telegram-only run would fail,
    asking the real Zalo for a bot with no token)."""
    monkeypatch.delenv(ZALO_ENV, raising=False)
    app = await make_app(tmp_path, Clock(), with_test_template=False)
    try:
        assert await start_zalo(app, app.config) is None
        assert app.channels.courier("zalo") is None
    finally:
        await app.close()


async def test_a_failed_start_closes_what_it_opened(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: start_zalo does not close the channel Zalo refused (two HTTP clients left
    open)."""
    closed: list[ZaloChannel] = []
    real_close = ZaloChannel.close

    async def close(self: ZaloChannel) -> None:
        closed.append(self)
        await real_close(self)

    monkeypatch.setattr(ZaloChannel, "close", close)
    app = await make_app(tmp_path, Clock(), with_test_template=False)
    try:
        with FakeZalo(max_poll=0.1) as fake:
            config = with_zalo(app, settings(fake, token=SecretStr("1:wrong-token")))
            monkeypatch.delenv(ZALO_ENV, raising=False)
            with pytest.raises(StartError, match="refused the token"):
                await start_zalo(app, config)
        assert len(closed) == 1 and closed[0].client._http.is_closed
    finally:
        await app.close()


async def test_a_stop_ends_a_reminder_sweep_after_the_message_it_is_sending(
        tmp_path: Path) -> None:
    """Mutant: the sweep not told to stop when the stop begins (it goes on sending through
    the wait for the poll in flight and the drain, up to 15 s with Zalo's defaults, and
    what it sends then may be cut off)."""
    clock = Clock(now=datetime(2026, 2, 26, 1, 0, tzinfo=UTC))  # 08:00 in Việt Nam
    app = await make_app(tmp_path, clock)
    communes = sorted(u.code for u in await app.storage.list_units() if u.level.value == "xa")
    for n, unit in enumerate(communes):
        await join(app, f"z-{n}", unit=unit)
    await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
    with FakeZalo(max_poll=2.0) as fake:
        zalo = settings(fake, poll_timeout=2, max_per_second=2)  # a reminder every 0.5 s
        channel = ZaloChannel(app, with_zalo(app, zalo), fake.token)
        await channel.start()
        scheduler = Scheduler(app.reminders, app.channels, every=3600)
        polls = len(fake.calls("getUpdates"))
        while len(fake.calls("getUpdates")) == polls:  # a fresh poll: the stop waits ~2 s
            await asyncio.sleep(0.02)
        sweeping = asyncio.create_task(scheduler.sweep())
        try:
            await asyncio.to_thread(fake.wait_for_message, "z-0")
        finally:
            await asyncio.wait_for(stop_channels(app, scheduler, [channel]), 30)
            await sweeping
    await app.close()
    assert len(communes) >= 6
    assert 1 <= len(fake.sent_messages()) <= 3  # the first, then at most the one under way


# --- pictures ------------------------------------------------------------------------------------


async def test_what_is_not_a_picture_is_not_kept(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutants: no size limit, no content-type check, an empty body kept as a picture."""
    monkeypatch.setattr(zalo_media, "MAX_BYTES", 1000)
    with FakeZalo(max_poll=0.1) as fake:
        store = MediaStore(tmp_path / "media", httpx.AsyncClient(), attempts=1)
        try:
            for name, content, kind in (("big.jpg", b"x" * 1001, "image/jpeg"),
                                        ("page.jpg", b"<html>login</html>", "text/html"),
                                        ("empty.jpg", b"", "image/jpeg")):
                url = fake.add_image(name, content, kind)
                assert await store.keep(url) is None, name  # no answer: sent again
            assert not (tmp_path / "media").exists() or not any((tmp_path / "media").iterdir())
        finally:
            await store.close()


class DropFirst(httpx.AsyncHTTPTransport):
    """Real HTTP, but the first request fails as a dropped connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests == 1:
            raise httpx.ConnectError("connection reset", request=request)
        return await super().handle_async_request(request)


class Pictures:
    """A picture host beside the fake (Zalo's CDN): each path answers what `routes` says,
    `(status, headers, body)`."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def pictures() -> Iterator[Pictures]:
    host = Pictures()
    thread = threading.Thread(target=host.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()


async def test_a_picture_is_fetched_again_after_a_failure_and_through_a_redirect(
        tmp_path: Path, pictures: Pictures) -> None:
    """Mutants: one attempt only (the default); redirects not followed; the HTTP status not
    checked (an expired link answering 404 with a placeholder image would be kept as the
    officer's evidence)."""
    pictures.routes["/p.jpg"] = (302, {"Location": pictures.url("/cdn/p.jpg")}, b"")
    pictures.routes["/cdn/p.jpg"] = (200, {"Content-Type": "image/jpeg"}, JPEG)
    pictures.routes["/gone.jpg"] = (404, {"Content-Type": "image/png"}, b"placeholder")
    transport = DropFirst()
    store = MediaStore(tmp_path / "media", httpx.AsyncClient(transport=transport))
    try:
        kept = await store.keep(pictures.url("/p.jpg"))
        assert kept is not None
        path = store.path_of(kept)
        assert path is not None and path.read_bytes() == JPEG
        assert transport.requests == 3  # dropped, then the redirect and the picture
    finally:
        await store.close()
    once = MediaStore(tmp_path / "media", httpx.AsyncClient(), attempts=1)
    try:
        gone = pictures.url("/gone.jpg")
        assert await once.keep(gone) is None  # gone: no picture, the officer sends it again
    finally:
        await once.close()


# --- the monthly count ----------------------------------------------------------------------------


async def test_the_month_is_vietnams_and_each_month_warns_again(tmp_path: Path,
                                                                 fake: FakeZalo) -> None:
    """Mutants: the month taken in UTC (the count of 1 April, 01:00 in Việt Nam filed under
    March); one warning key for every month (April's 80% never told); a quota of 0 (no
    limit) warning at every count."""
    clock = Clock(now=datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    async with running(tmp_path, fake, clock=clock, monthly_quota=10) as (app, channel):
        await join(app, "z-admin", unit="LC", role=Role.ADMIN)
        await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
        channel.transport.sent = 8
        await channel.quota.count()
        assert len(fake.sent_messages("z-admin")) == 1
        clock.now = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)  # 1 April, 01:00 in Việt Nam
        channel.transport.sent += 8
        await channel.quota.count()
        counts = await app.storage.message_counts()
        assert counts[0] == ("zalo", "2026-04", 9)  # with March's warning, sent meanwhile
        warnings = fake.sent_messages("z-admin")
        assert len(warnings) == 2 and "tháng 04/2026" in warnings[1]["text"]
        unlimited = QuotaWatch(app.storage, app.channels, channel="zalo", quota=0,
                               zone=app.config.zone, clock=clock, sent=lambda: 10_000)
        assert await unlimited.count() == 10_000 + 9
        assert len(fake.sent_messages("z-admin")) == 2


async def test_each_admin_is_warned_once_and_only_admins_who_can_be_reached(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Mutants: admins() without DISTINCT (an admin of two units told twice), or every
    member (officers told); an unreachable admin written to anyway."""
    async with running(tmp_path, fake, monthly_quota=10) as (app, channel):
        admin = await join(app, "z-admin", unit="LC", role=Role.ADMIN)
        invite = await create_invite(app.storage, "LC-BX", Role.ADMIN, 1, 7,
                                     app.reporting.clock())
        await admin.cmd("start", invite.code)  # an admin of a second unit
        await join(app, "z-officer", unit="LC-BX-01")
        await join(app, "z-blocked", unit="LC-BX-01", role=Role.ADMIN)
        await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
        blocked = await app.storage.find_person("zalo", "z-blocked")
        assert blocked is not None
        await app.storage.set_reachable(blocked.id, False)
        assert len(await app.storage.admins()) == 2
        channel.transport.sent = 8
        await channel.quota.count()
        assert [m["chat_id"] for m in fake.sent_messages()] == ["z-admin"]


async def test_a_stop_that_crosses_a_warning_threshold_does_not_hang(
        tmp_path: Path, fake: FakeZalo) -> None:
    """Bug: the last count, at close, warned admins through couriers already stopped and
    waited for ever for the outcome (and recorded the warning as told). Now the warning
    waits for the next start."""
    async with running(tmp_path, fake, monthly_quota=10) as (app, channel):
        await join(app, "z-admin", unit="LC", role=Role.ADMIN)
        await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
        channel.transport.sent = 9
        await asyncio.wait_for(stop_channels(app, None, [channel]), 10)
        assert (await app.storage.message_counts())[0][2] == 9
        assert fake.sent_messages("z-admin") == []
        again = ZaloChannel(app, with_zalo(app, settings(fake, monthly_quota=10)), fake.token)
        await again.start()
        try:
            again.transport.sent = 1  # the next message sent: the warning goes out then
            await again.quota.count()
            assert "hết hạn mức" in fake.sent_messages("z-admin")[-1]["text"]
        finally:
            await stop_channels(app, None, [again])


# --- `baocao run` with Zalo alone ----------------------------------------------------------------


async def test_a_zalo_only_run_releases_stranded_reminders_and_sweeps(
        tmp_path: Path, fake: FakeZalo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutants: the Zalo-only run starts no scheduler (no reminder ever goes out), or leaves
    the reminders a killed sweep was sending claimed for ever."""
    clock = Clock(now=datetime(2026, 2, 26, 1, 0, tzinfo=UTC))  # 08:00 in Việt Nam
    app = await make_app(tmp_path, clock)
    await join(app, "z-officer", unit="LC-BX-01")
    await app.storage.db.write(lambda c: c.execute("UPDATE people SET channel='zalo'"))
    await app.storage.claim_reminders(  # a sweep killed while sending
        [("LC-BX-02", "thu_nghiem", "2025-Q4", "overdue:1", "sending", "2026-01-06", 1)], "dead")
    config = with_zalo(app, settings(fake, token=SecretStr(fake.token)))
    await app.close()
    monkeypatch.delenv(ZALO_ENV, raising=False)
    monkeypatch.setattr(runner, "build_app", lambda c: build_app(c, clock=clock))
    serving = asyncio.create_task(runner._serve(config))
    try:
        await wait_for(fake, "z-officer", "Nhắc báo cáo")
        assert not serving.done()
    finally:
        serving.cancel()  # as SIGTERM would, without signalling the test process
        await asyncio.gather(serving, return_exceptions=True)
    storage = await SqliteStorage.open(config.storage.path)
    try:
        assert [r for r in await storage.reminder_rows() if r["period"] == "2025-Q4"] == []
    finally:
        await storage.close()


# --- the dialogue: what cannot be read ------------------------------------------------------------


async def test_a_sticker_asks_the_question_again_and_stores_nothing(tmp_path: Path) -> None:
    """Mutants: a sticker handled as empty text; the question not asked again; outside a
    report, no hint of what to type."""
    app = await make_app(tmp_path, Clock())
    try:
        chat: Chat = await join(app, "u-sticker")
        await chat._send(other="sticker")
        assert chat.text.startswith(M.cannot_read("sticker"))
        assert M.CONTINUE_HINT in chat.text
        await chat.cmd("baocao")
        await chat.say("1")
        assert "Câu 1/" in chat.text
        await chat._send(other="voice")
        assert chat.last[0].text == M.cannot_read("voice")
        assert chat.last[-1].text.startswith("Câu 1/11: Đoàn xã có fanpage chưa?")
        assert all(d.answers == {} for d in await app.storage.drafts_for_units(["LC-BX-01"]))
    finally:
        await app.close()


async def test_a_sticker_while_a_reply_is_undelivered_is_not_taken_for_typing(
        tmp_path: Path) -> None:
    """Mutant: a sticker counted as typed: while the last reply waits for the messenger it
    would be told “” was not saved, instead of what baocao cannot read."""
    app, phone, courier = await outboxed(tmp_path)
    try:
        chat = await join(app, "U1")
        await first_number_question(chat)
        phone.script = [RetryLater(0.3)]  # the next reply waits for the messenger
        chat.waits = False
        await chat.say("12")
        replies = await chat._send(other="sticker")
        assert replies[0].text == M.cannot_read("sticker")
    finally:
        await courier.stop()
        await app.close()


def test_pressing_becomes_choosing_only_before_a_quoted_name() -> None:
    """Mutants: the capitalised 'Bấm “' left; every 'bấm' replaced (a sentence about a
    button someone pressed is not an instruction)."""
    assert pressing_is_choosing("Bấm “Gửi báo cáo” để gửi.") == "Chọn “Gửi báo cáo” để gửi."
    assert pressing_is_choosing("rồi bấm “Xong”") == "rồi chọn “Xong”"
    assert pressing_is_choosing(M.SUMMARY_OUTDATED) == M.SUMMARY_OUTDATED


# --- configuration --------------------------------------------------------------------------------


def test_the_zalo_token_from_the_environment_wins_and_every_secret_is_redacted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutants: the file's token before the environment's; Zalo's token or webhook secret
    missing from the secrets the logs redact; Zalo missing from the channels to run."""
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN", raising=False)
    config = Config(zalo=ZaloConfig(token=SecretStr("1:from-file"),
                                    webhook_secret=SecretStr("zalo-hook-secret")))
    monkeypatch.setenv(ZALO_ENV, "2:from-env")
    assert config.zalo_token() == "2:from-env"
    assert {"2:from-env", "zalo-hook-secret"} <= set(config.secrets())
    assert config.channels() == ["zalo"]
    monkeypatch.delenv(ZALO_ENV)
    assert config.zalo_token() == "1:from-file"
    both = config.model_copy(update={"telegram": TelegramConfig(token=SecretStr("123:ABC"))})
    assert both.channels() == ["telegram", "zalo"]


def test_zalo_defaults() -> None:
    """Mutants: another default host (the older zapps.me), webhook by default."""
    zalo = ZaloConfig()
    assert zalo.base_url == "https://bot-api.zaloplatforms.com/bot"
    assert zalo.mode == "polling" and zalo.monthly_quota == 3000


HOOK = {"mode": "webhook", "webhook_url": "https://baocao.example.vn/zalo",
        "webhook_secret": "eight-ch"}


@pytest.mark.parametrize(("zalo", "expected"), [
    ({**HOOK}, []),
    ({**HOOK, "webhook_url": "http://baocao.example.vn/zalo"}, ["zalo.webhook_url"]),
    ({**HOOK, "webhook_url": "http://127.0.0.1:9000/zalo",
      "base_url": "http://127.0.0.1:9001/bot"}, []),  # a fake server calls plain http
    ({**HOOK, "webhook_secret": "seven-c"}, ["zalo.webhook_secret"]),
    ({**HOOK, "webhook_secret": None}, ["zalo.webhook_secret"]),
    ({**HOOK, "webhook_url": None}, ["zalo.webhook_url"]),
    ({**HOOK, "base_url": "bot-api.zaloplatforms.com/bot"}, ["zalo.base_url"]),
    ({"base_url": "ftp://x/bot"}, ["zalo.base_url"]),
])
def test_zalo_problems_are_found_whatever_telegram_does(
        zalo: dict[str, Any], expected: list[str]) -> None:
    """Mutants: http webhooks accepted by Zalo's own host; secrets under 8 characters; a
    webhook without URL or secret; a base URL that is none; [zalo] checked only when
    Telegram uses a webhook too."""
    config = Config(zalo=ZaloConfig.model_validate(zalo))  # Telegram polls
    assert [p.path for p in run_problems(config)] == expected


def test_two_webhooks_cannot_share_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: the port clash not found (the second server would fail to bind at start)."""
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN", raising=False)
    telegram = TelegramConfig(token=SecretStr("123:ABC"), mode="webhook", port=8443,
                              webhook_url="https://baocao.example.vn/telegram",
                              webhook_secret=SecretStr("telegram-secret"))
    config = Config(telegram=telegram, zalo=ZaloConfig.model_validate({**HOOK, "port": 8443}))
    assert [p.path for p in run_problems(config)] == ["zalo.port"]
    apart = config.model_copy(update={"zalo": ZaloConfig.model_validate({**HOOK, "port": 8444})})
    assert run_problems(apart) == []


def test_a_zalo_token_alone_is_enough_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutants: both tokens required; Zalo's token not checked; a bad token from the
    environment blamed on the file."""
    monkeypatch.delenv("BAOCAO_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv(ZALO_ENV, raising=False)
    assert token_problems(Config(zalo=ZaloConfig.model_validate(
        {"token": "1459232241454765289:Zk9x-Q2m.V"}))) == []
    [bad] = token_problems(Config(zalo=ZaloConfig(token=SecretStr("paste here"))))
    assert (bad.path, bad.message.startswith("not a bot token")) == ("zalo.token", True)
    monkeypatch.setenv(ZALO_ENV, "no-colon")
    [bad] = token_problems(Config())
    assert (bad.file, bad.path) == (ZALO_ENV, "")


# --- the CLI --------------------------------------------------------------------------------------


def configure(workdir: Path, extra: str = "") -> Path:
    db = workdir / "db.sqlite"
    (workdir / "config.toml").write_text(f'[storage]\npath = "{db}"\n{extra}', encoding="utf-8")
    return db


def test_run_on_zalo_alone_refuses_what_check_config_refuses(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: a Zalo-only run started without the checks (it would fail later, at
    setWebhook, with no file and key named)."""
    monkeypatch.setenv(ZALO_ENV, "1459232241454765289:abc")
    configure(workdir, '[zalo]\nmode = "webhook"\nbase_url = "http://127.0.0.1:9/bot"\n')
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert 'zalo.webhook_url: required when zalo.mode = "webhook"' in err


def test_a_zalo_only_run_refused_by_zalo_says_so_in_one_line(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: StartError not caught by the Zalo-only run (a traceback instead of one line
    naming what to fix; the token never shows)."""
    with FakeZalo(max_poll=0.1) as fake:
        monkeypatch.setenv(ZALO_ENV, "1459232241454765289:not-the-real-key")
        configure(workdir, f'[zalo]\nbase_url = "{fake.base_url}"\n')
        assert main(["run"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1 and "the Zalo Bot API refused the token" in err[0]
    assert "BAOCAO_ZALO_TOKEN" in err[0] and "not-the-real-key" not in err[0]


def test_check_config_checks_a_zalo_token_too(workdir: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: with only a Zalo token, check-config said OK to a token `run` refuses, and that
    `run` needs a Telegram token."""
    configure(workdir)
    monkeypatch.setenv(ZALO_ENV, "paste-the-token-here")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert f"{ZALO_ENV}: not a bot token" in err and "paste-the-token-here" not in err
    monkeypatch.setenv(ZALO_ENV, "1459232241454765289:abc")
    assert main(["check-config"]) == 0
    assert "needs the bot token" not in capsys.readouterr().out


async def counted(db: Path, rows: list[tuple[str, str, int]]) -> None:
    storage = await SqliteStorage.open(db)
    try:
        for channel, month, sent in rows:
            await storage.count_sent(channel, month, sent)
    finally:
        await storage.close()


def test_stats_show_the_recent_months_newest_first_and_zalos_quota(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: every month shown (or one too few); the quota shown for Telegram too; the
    count replaced instead of added to; months oldest first."""
    db = configure(workdir)
    asyncio.run(counted(db, [("zalo", "2026-01", 10), ("zalo", "2026-02", 100),
                             ("telegram", "2026-03", 5), ("zalo", "2026-03", 2000),
                             ("zalo", "2026-03", 400), ("zalo", "2026-04", 1)]))
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["messages"]
    assert [(r["channel"], r["month"], r["sent"], r["quota"]) for r in rows] == [
        ("zalo", "2026-04", 1, 3000), ("telegram", "2026-03", 5, None),
        ("zalo", "2026-03", 2400, 3000), ("zalo", "2026-02", 100, 3000)]
    assert main(["stats", "--months", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "zalo      2026-04  1 messages of 3,000 (0%)"]


def test_invite_create_says_how_to_join_on_zalo(workdir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Mutants: the Zalo line only with a token at hand (an admin creating invites on another
    machine, with the bot's link in the config, would get none); never printed; printed on
    stderr (what scripts read is stdout)."""
    configure(workdir, '[zalo]\nlink = "https://zalo.me/s/baocao"\n')
    (workdir / "u.csv").write_text("code,name,parent_code,level\nLC,Tỉnh đoàn,,tinh\n",
                                   encoding="utf-8")
    assert main(["units", "import", "u.csv"]) == 0
    capsys.readouterr()
    assert main(["invite", "create", "--unit", "LC", "--role", "admin"]) == 0
    code, zalo = capsys.readouterr().out.splitlines()
    assert zalo == f"Zalo: open https://zalo.me/s/baocao and send {code}"
    configure(workdir)  # no Zalo at all: no line
    assert main(["invite", "create", "--unit", "LC", "--role", "admin"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_storage_counts_add_up_and_list_newest_first(tmp_path: Path) -> None:
    """Mutants: count_sent replacing the month's count; message_counts oldest first."""
    async def run() -> None:
        storage = await SqliteStorage.open(tmp_path / "db.sqlite")
        try:
            assert await storage.count_sent("zalo", "2026-01", 3) == 3
            assert await storage.count_sent("zalo", "2026-01", 4) == 7
            await storage.count_sent("zalo", "2026-02", 1)
            assert await storage.message_counts() == [("zalo", "2026-02", 1),
                                                      ("zalo", "2026-01", 7)]
        finally:
            await storage.close()

    asyncio.run(run())

