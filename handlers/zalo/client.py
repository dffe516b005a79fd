"""The Zalo Bot API over httpx: the handful of calls baocao makes (../shared/docs/zalo-bot-api.md).

Every call is POST JSON to `{base_url}{token}/{method}` and answers the envelope
`{ok, result}` or `{ok: false, error_code, description}`; `ok` decides, not the HTTP status
(an idle getUpdates is HTTP 408, or sometimes a 200 carrying the same 408 envelope).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 20.0  # seconds, for every call but getUpdates
POLL_GRACE = 10.0  # getUpdates: the HTTP read waits this much longer than the poll itself
IDLE = 408  # getUpdates found nothing to deliver in its timeout


class ZaloError(Exception):
    """The Bot API refused a call (`ok` false): its error code and description. `answered`
    is false when what came back was no Bot API answer at all (a proxy's page, a gateway's
    error): then nothing says the call was refused."""

    def __init__(self, code: int, description: str, status: int, *,
                 answered: bool = True) -> None:
        super().__init__(f"{code} {description}")
        self.code, self.description, self.status = code, description, status
        self.answered = answered


class ZaloClient:
    """One bot's API; `call` raises ZaloError for a refusal and httpx errors for the rest."""

    def __init__(self, token: str, base_url: str, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = f"{base_url}{token}/"
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   read_timeout: float = READ_TIMEOUT) -> Any:
        """One call; its `result`."""
        response = await self._http.post(
            self._url + method, json=params or {},
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT))
        return unwrap(method, response)

    async def call_retrying(self, method: str, params: dict[str, Any] | None = None, *,
                            attempts: int = 3) -> Any:
        """A call that is safe to repeat (getMe, setWebhook…): network failures and 5xx are
        tried again after 1, 2… seconds."""
        for attempt in range(1, attempts + 1):
            try:
                return await self.call(method, params)
            except (httpx.TransportError, ZaloError) as e:
                if attempt == attempts or (isinstance(e, ZaloError) and e.status < 500):
                    raise
                log.warning("zalo %s failed (%s), trying again", method, e)
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")

    # --- the calls baocao makes, by name ----------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        me = await self.call_retrying("getMe")
        return me if isinstance(me, dict) else {}

    async def send_message(self, chat_id: str, text: str) -> Any:
        return await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> Any:
        """Zalo takes a picture by URL only (no upload)."""
        params = {"chat_id": chat_id, "photo": photo_url}
        return await self.call("sendPhoto", params | ({"caption": caption} if caption else {}))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call_retrying("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call_retrying("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any] | None:
        """The webhook as Zalo has it; None when none is set (Zalo answers 404)."""
        try:
            info = await self.call_retrying("getWebhookInfo")
        except ZaloError as e:
            if e.status == 404 or e.code == 404:
                return None
            raise
        return info if isinstance(info, dict) and info.get("url") else None

    async def get_updates(self, timeout: int) -> list[dict[str, Any]]:
        """The next update (Zalo gives one per call), or none within `timeout` seconds."""
        try:
            result = await self.call("getUpdates", {"timeout": timeout},
                                     read_timeout=timeout + POLL_GRACE)
        except ZaloError as e:
            if e.code == IDLE or e.status == IDLE:
                return []
            raise
        return unwrap_updates(result)


def unwrap(method: str, response: httpx.Response) -> Any:
    """The `result` of an envelope; ZaloError when `ok` is false or the body is no envelope."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "ok" not in body:
        raise ZaloError(response.status_code, f"{method}: HTTP {response.status_code} without "
                        "a Bot API answer", response.status_code, answered=False)
    if not body.get("ok"):
        code = body.get("error_code")
        raise ZaloError(code if isinstance(code, int) else response.status_code,
                        str(body.get("description") or ""), response.status_code)
    return body.get("result")


def unwrap_updates(body: Any) -> list[dict[str, Any]]:
    """The updates in what getUpdates or the webhook gives: one bare `{event_name, message}`,
    or wrapped `{ok, result: {...}}` (older documentation), or (liberal) a list of them."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    found = body if isinstance(body, list) else [body]
    return [u for u in found if isinstance(u, dict) and isinstance(u.get("event_name"), str)
            and isinstance(u.get("message"), dict)]
