"""The Zalo channel: updates in (long polling or a webhook), replies out through the outbox.

Zalo's getUpdates gives one update per call and has no offsets: an update is gone from Zalo
once fetched. So each one is stored in the inbox before anything else (a crash after that
handles it at the next start), and handled once: the event id `(event_name, message_id)` is
recorded in the transaction that stores the answer, and a second delivery of the same
message changes nothing. A person's messages are handled one at a time, in arrival order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any

import httpx
import tornado.httpserver
import tornado.web

from bot.app import ZALO_BOT_ID_KEY, ZALO_BOT_NAME_KEY, App
from bot.config import Config
from bot.domain.dialogue import Reply
from bot.domain.messages_vi import APOLOGY
from bot.services.delivery import Courier, Limits, Parcel
from handlers.zalo.client import POLL_GRACE, ZaloClient, ZaloError, unwrap_updates
from handlers.zalo.delivery import PICTURES, ZaloTransport, render
from handlers.zalo.media import MediaStore
from handlers.zalo.quota import QuotaWatch
from handlers.zalo.updates import CHANNEL, IMAGE, event_id, photo_url, to_inbound
from storage.models import Changes, Outgoing

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_PAUSE = 30.0  # seconds between polls after repeated failures
MIN_IDLE_POLL = 0.5  # an idle answer quicker than this is not a long poll: pause (no busy loop)
STOP_PATIENCE = 5.0  # seconds to finish the updates being handled at a stop
MAX_BODY = 1024 * 1024  # bytes of one webhook call
COUNT_EVERY = 30.0  # seconds between adding the messages sent to the month's count


class StartError(Exception):
    """Zalo refused to start the bot (the token, the webhook): one line for the admin."""


class ZaloChannel:
    def __init__(self, app: App, config: Config, token: str, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.app = app
        self.settings = config.zalo
        self.client = ZaloClient(token, self.settings.base_url, transport=transport)
        self.media = MediaStore(config.storage.path.resolve().parent / "media",
                                httpx.AsyncClient(timeout=20.0, transport=transport))
        self.transport = ZaloTransport(self.client)
        self.courier = Courier(CHANNEL, self.transport, render, record=self._record,
                               unreachable=self._unreachable,
                               limits=Limits(self.settings.max_per_second,
                                             self.settings.max_per_chat_per_second,
                                             self.settings.chat_burst),
                               pictures=PICTURES, buttons=False)
        self.quota = QuotaWatch(app.storage, app.channels, channel=CHANNEL,
                                quota=self.settings.monthly_quota, zone=config.zone,
                                clock=app.reporting.clock, sent=lambda: self.transport.sent)
        self._chats: dict[str, tuple[asyncio.Lock, int]] = {}
        self._handling: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._counter: asyncio.Task[None] | None = None
        self._stopping = False
        self._server: tornado.httpserver.HTTPServer | None = None
        self.bot_name = ""

    # --- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Ask Zalo who the bot is, start delivering (what a stop left undelivered first),
        handle what was stored but not handled, then receive."""
        try:
            me = await self.client.get_me()
        except ZaloError as e:
            raise StartError(f"the Zalo Bot API refused the token ({e}): check "
                             "BAOCAO_ZALO_TOKEN or zalo.token") from e
        except httpx.HTTPError as e:
            raise StartError(f"cannot reach the Zalo Bot API ({type(e).__name__}: {e}): "
                             "check the network and zalo.base_url") from e
        self.bot_name = str(me.get("account_name") or me.get("display_name") or "")
        storage = self.app.storage
        await storage.set_setting(ZALO_BOT_ID_KEY, str(me.get("id") or ""))
        await storage.set_setting(ZALO_BOT_NAME_KEY, self.bot_name)
        self.app.channels.register_courier(self.courier)
        self.courier.start()
        self.courier.enqueue(self.courier.stored(await storage.pending_outbox(CHANNEL)))
        stored = await storage.unhandled_inbox(CHANNEL)
        if stored:
            log.info("%d Zalo updates received before a stop and not handled: handled now",
                     len(stored))
        for _, payload in stored:
            self._dispatch(json.loads(payload))
        self._counter = asyncio.create_task(self._count_forever(), name="zalo-count")
        if self.settings.mode == "webhook":
            await self._start_webhook()
        else:
            await self._forget_webhook()
            self._poller = asyncio.create_task(self._poll(), name="zalo-poll")
        log.info("Zalo bot %s started (%s)", self.bot_name or "?", self.settings.mode)

    async def stop_receiving(self) -> None:
        """No more updates; those being handled get a few seconds to finish.

        A getUpdates in flight is waited for, not cancelled: Zalo would still hand the next
        message to it (there is no offset to fetch it again), and it would be lost. What it
        brings is stored, so the next start handles it."""
        if self._poller is not None:
            self._stopping = True
            patience = self.settings.poll_timeout + POLL_GRACE
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), patience)
            except (TimeoutError, asyncio.CancelledError):
                self._poller.cancel()
            except Exception:  # the loop never raises; a bug there must not stop the stop
                log.exception("Zalo polling ended with an error")
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._handling:
            await asyncio.wait(self._handling, timeout=STOP_PATIENCE)

    async def close(self) -> None:
        """After the courier stopped: count the last messages sent, close the clients. No
        warning now: it would wait for ever on the stopped couriers."""
        if self._counter is not None:
            self._counter.cancel()
            await asyncio.gather(self._counter, return_exceptions=True)
        try:
            await self.quota.count(warn=False)
        except Exception:
            log.exception("could not count the Zalo messages sent")
        await self.client.close()
        await self.media.close()

    async def _count_forever(self) -> None:
        while True:
            await asyncio.sleep(COUNT_EVERY)
            try:
                await self.quota.count()
            except Exception:  # the database busy: counted next time
                log.exception("could not count the Zalo messages sent")

    # --- receiving ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Long polling: one update per call; on errors, pauses that grow to MAX_PAUSE."""
        failures = 0
        timeout = self.settings.poll_timeout
        while not self._stopping:
            started = time.monotonic()
            try:
                updates = await self.client.get_updates(timeout)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the network, Zalo's 5xx, a refused token: wait, retry
                failures += 1
                pause = min(MAX_PAUSE, 2.0 ** (failures - 1))
                log.warning("Zalo getUpdates failed (%s), trying again in %.0f s",
                            _short(e), pause)
                await self._pause(pause)
                continue
            failures = 0
            if updates:
                await self._receive(updates)
            elif time.monotonic() - started < MIN_IDLE_POLL:
                await self._pause(MIN_IDLE_POLL)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past a stop."""
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))

    async def _receive(self, updates: list[dict[str, Any]]) -> None:
        """Store, then handle (in the background, each person's in order)."""
        rows = [(event_id(u), json.dumps(u, ensure_ascii=False)) for u in updates]
        for attempt in range(1, 4):
            try:
                await self.app.storage.apply(
                    Changes(actor=0, inbox=[(CHANNEL, i, p) for i, p in rows]))
                break
            except Exception as e:  # the database busy beyond its timeout: Zalo will not
                log.warning("could not store a Zalo update (try %d): %s", attempt, e)  # resend
                await asyncio.sleep(attempt)
        for update in updates:
            self._dispatch(update)

    def _dispatch(self, update: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(update))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, update: dict[str, Any]) -> None:
        """One update, after the earlier ones of the same chat (tasks start in creation order,
        and the lock serves waiters first come, first served)."""
        chat = _chat_of(update)
        lock, users = self._chats.get(chat) or (asyncio.Lock(), 0)
        self._chats[chat] = (lock, users + 1)
        try:
            async with lock:
                await self._handle_now(update)
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]
            else:
                self._chats[chat] = (lock, users - 1)

    async def _handle_now(self, update: dict[str, Any]) -> None:
        try:
            photo = None
            if update.get("event_name") == IMAGE and (url := photo_url(update)):
                await self._typing(_chat_of(update))  # fetching a picture takes a moment
                photo = await self.media.keep(url) or ""  # "": it gave no picture
            inbound = to_inbound(update, photo)
            if inbound is None:  # a bot's, a group's, no message: handled, never replayed
                await self.app.storage.apply(Changes(actor=0, event=(CHANNEL, event_id(update))))
                return
            await self.app.reporting.handle(inbound)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("error handling Zalo update %s", event_id(update))
            chat = _chat_of(update)
            if chat:
                self.courier.enqueue([Parcel(Outgoing(CHANNEL, chat, "", None, None), p)
                                      for p in render(None, chat, [Reply(APOLOGY)])])

    async def _typing(self, chat: str) -> None:
        try:
            await self.client.send_chat_action(chat)
        except (ZaloError, httpx.HTTPError) as e:  # a nicety: never in the way
            log.debug("sendChatAction: %s", _short(e))

    # --- webhook ------------------------------------------------------------------------------

    async def _start_webhook(self) -> None:
        settings = self.settings
        assert settings.webhook_url and settings.webhook_secret
        secret = settings.webhook_secret.get_secret_value()
        path = "/" + (httpx.URL(settings.webhook_url).path.strip("/") or "zalo")
        application = tornado.web.Application(
            [(path, WebhookHandler, {"secret": secret, "receive": self._receive})])
        # An update is a few kilobytes: a larger body is refused before it is read whole.
        self._server = tornado.httpserver.HTTPServer(application, max_body_size=MAX_BODY)
        try:
            self._server.listen(settings.port, settings.listen)
        except OSError as e:  # the port taken, the address not this machine's
            self._server = None
            raise StartError(f"cannot listen on {settings.listen}:{settings.port} for the Zalo "
                             f"webhook ({e.strerror or e}): check zalo.listen and zalo.port"
                             ) from e
        try:
            await self.client.set_webhook(settings.webhook_url, secret)
            info = await self.client.get_webhook_info()
            if info is None or info.get("url") != settings.webhook_url:
                raise ZaloError(0, f"getWebhookInfo shows {info!r} after setWebhook", 200)
        except (ZaloError, httpx.HTTPError) as e:
            self._server.stop()
            self._server = None
            raise StartError(f"the Zalo Bot API refused the webhook {settings.webhook_url} "
                             f"({e})") from e

    async def _forget_webhook(self) -> None:
        """getUpdates is refused while a webhook is set (left from an earlier webhook run)."""
        try:
            if await self.client.get_webhook_info() is not None:
                await self.client.delete_webhook()
                log.info("the webhook of an earlier run was deleted (polling now)")
        except (ZaloError, httpx.HTTPError) as e:
            log.info("deleteWebhook: %s", _short(e))

    # --- the courier's callbacks -----------------------------------------------------------

    async def _record(self, settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await self.app.storage.apply(Changes(actor=0, settled=settled))

    async def _unreachable(self, person_id: int) -> None:
        await self.app.storage.set_reachable(person_id, False)


class WebhookHandler(tornado.web.RequestHandler):
    """Zalo's POSTs: the secret header checked in constant time (403 otherwise, nothing
    handled); the update stored before answering 200, handled after."""

    def initialize(self, secret: str, receive: Any) -> None:
        self.secret = secret.encode()
        self.receive = receive

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("Zalo webhook call without the right secret refused (from %s)",
                        self.request.remote_ip)
            raise tornado.web.HTTPError(403)
        body = self.request.body.strip()
        if not body:  # Zalo checks the URL with an empty call
            self.write({"ok": True})
            return
        try:
            updates = unwrap_updates(json.loads(body))
        except (UnicodeDecodeError, ValueError):
            raise tornado.web.HTTPError(400, reason="body is not JSON") from None
        if updates:
            await self.receive(updates)
        else:  # answered 200 all the same: Zalo would only send it again
            log.warning("Zalo webhook call without an update ignored: %.200s", body)
        self.write({"ok": True})

    def check_xsrf_cookie(self) -> None:
        """Not a browser form."""


def _chat_of(update: dict[str, Any]) -> str:
    message = update.get("message")
    if not isinstance(message, dict):
        return ""
    for part in ("chat", "from"):
        found = message.get(part)
        if isinstance(found, dict) and found.get("id") is not None:
            return str(found["id"])
    return ""


def _short(e: Exception) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
