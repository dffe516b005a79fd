"""No fetched update is lost: updates are stored before Telegram is told they arrived.

python-telegram-bot confirms the updates of one getUpdates call with the offset of the next
call, before they are handled; killed in between, they were never delivered again. Here the
getUpdates request itself stores what it fetched (one transaction per batch) before returning
it, so the next call, which confirms them, is only made once they are safe. At start the
stored updates not yet handled are handled first, in the order received.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.web
from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import Application
from telegram.ext._utils import webhookhandler
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)
Store = Callable[[list[tuple[str, str]]], Awaitable[object]]  # (update id, JSON) rows


class StoringRequest(BaseRequest):
    """Wraps the getUpdates request; `store` is set once the database is open."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner
        self.store: Store | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = DEFAULT_NONE,
                         write_timeout: ODVInput[float] = DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = DEFAULT_NONE) -> tuple[int, bytes]:
        code, body = await self.inner.do_request(
            url, method, request_data, read_timeout=read_timeout, write_timeout=write_timeout,
            connect_timeout=connect_timeout, pool_timeout=pool_timeout)
        if code == 200 and url.endswith("/getUpdates"):
            updates = _updates(body)
            if updates:
                if self.store is None:  # cannot happen once `baocao run` has started
                    raise RuntimeError("updates fetched before the inbox was ready")
                # Raising here (database locked for longer than its timeout) makes
                # python-telegram-bot call getUpdates again with the old offset: the same
                # updates come again, nothing is confirmed.
                await self.store([(str(u["update_id"]), json.dumps(u, ensure_ascii=False))
                                  for u in updates])
        return code, body


def _updates(body: bytes) -> list[dict[str, Any]]:
    try:
        result = json.loads(body).get("result")
    except (ValueError, AttributeError):
        return []
    return [u for u in result if isinstance(u, dict) and "update_id" in u] \
        if isinstance(result, list) else []


class StoringQueue(asyncio.Queue[object]):
    """The update queue of webhook mode: an update is stored before python-telegram-bot's
    webhook answers 200, so Telegram delivers again what a crash interrupted."""

    store: Store | None = None

    async def put(self, item: object) -> None:
        if self.store is not None and isinstance(item, Update):
            await self.store([(str(item.update_id), item.to_json())])
        await super().put(item)


class _JsonOnlyHandler(webhookhandler.TelegramHandler):
    """python-telegram-bot's webhook handler answers 500 to a body that is not JSON; it is the
    sender's mistake, so 400 (after the secret check: a forged call still gets 403)."""

    async def post(self) -> None:
        self._validate_post()
        try:
            json.loads(self.request.body.decode())
        except (UnicodeDecodeError, ValueError):
            log.warning("webhook call whose body is not JSON refused")
            raise tornado.web.HTTPError(400, reason="body is not JSON") from None
        await super().post()


def refuse_bodies_that_are_not_json() -> None:
    """Install the handler above (python-telegram-bot looks it up when the webhook starts)."""
    webhookhandler.TelegramHandler = _JsonOnlyHandler  # type: ignore[misc]


async def replay(application: Application[Any, Any, Any, Any, Any, Any],
                 stored: list[tuple[str, str]]) -> int:
    """Queue the stored-but-unhandled updates ahead of anything fetched from now on."""
    for _, payload in stored:
        update = Update.de_json(json.loads(payload), application.bot)
        await application.update_queue.put(update)
    if stored:
        log.info("%d updates received before a stop and not handled: handled now", len(stored))
    return len(stored)
