"""`baocao run` with Telegram: the bot with long polling or a webhook, as configured, and
the Zalo channel beside it when Zalo has a token too (one process, one scheduler)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse, urlsplit

from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

from bot import logs
from bot.app import App, build_app, system_clock, tune_runtime
from bot.config import (
    TOKEN_ENV,
    Config,
    load_configured_templates,
    run_problems,
    token_problems,
)
from bot.scheduler import SWEEP_EVERY, Scheduler
from bot.services.delivery import Courier, Limits
from bot.services.reporting import Clock
from handlers.lifecycle import start_broadcasts, start_zalo, stop_channels
from handlers.telegram.app import (
    APP_KEY,
    CHANNEL,
    INBOX_KEY,
    AnyApplication,
    announce,
    build_application,
)
from handlers.telegram.delivery import PICTURES, TelegramTransport, render
from handlers.telegram.inbox import (
    StoringQueue,
    StoringRequest,
    refuse_bodies_that_are_not_json,
    replay,
)
from handlers.zalo.channel import StartError
from storage.models import Changes

log = logging.getLogger(__name__)
UPDATES = ["message", "callback_query"]
SCHEDULER_KEY = "baocao_scheduler"
RECEIVERS_KEY = "baocao_receivers"  # the other channels started with this bot (Zalo)
# python-telegram-bot's retry loop logs here, with a traceback, the start-up failure it then
# raises (a refused token, an unreachable server); run_bot says it in one line instead, so
# records of Bot API errors are dropped here until the bot is up.
PTB_RETRY_LOG = logging.getLogger("telegram.ext")


class _ReportedByRunBot(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        return not isinstance(failure, TelegramError)


async def start_services(application: AnyApplication, config: Config, *,
                         clock: Clock = system_clock,
                         prepare: Callable[[App], Awaitable[object]] | None = None,
                         sweep_every: float | None = SWEEP_EVERY) -> App:
    """What `baocao run` does once connected to the Bot API: open the database, warm the
    caches, announce the bot, register the Telegram sender, start the minute sweep, tune the
    runtime. (bench/live.py runs exactly this; `prepare` seeds its data before the warm-up.)"""
    app = await build_app(config, clock=clock)
    if prepare is not None:
        await prepare(app)
    application.bot_data[APP_KEY] = app
    people = await app.reporting.warm()
    await announce(application, app)
    courier = start_delivery(application, app, config)
    stranded = await app.storage.release_stranded_reminders()
    if stranded:
        log.info("%d reminders interrupted by a stop go back to the planner", stranded)
    await replay(application, await app.storage.unhandled_inbox(CHANNEL))
    courier.last_reply.update(await app.storage.reply_marks(CHANNEL))
    courier.enqueue(courier.stored(await app.storage.pending_outbox(CHANNEL)))
    zalo = await start_zalo(app, config)
    if zalo is not None:
        application.bot_data[RECEIVERS_KEY] = [zalo]
    await start_broadcasts(app, clock)
    if sweep_every is not None:
        scheduler = Scheduler(app.reminders, app.channels, every=sweep_every,
                              digests=app.digests)
        scheduler.start()
        application.bot_data[SCHEDULER_KEY] = scheduler
    tune_runtime()
    log.info("baocao bot @%s started (%s, %d templates, %d people)",
             application.bot.username, config.telegram.mode, len(app.templates), people)
    return app


def start_delivery(application: AnyApplication, app: App, config: Config) -> Courier:
    """The outbox's courier for Telegram, and the inbox: from here on, what is fetched is
    stored before it is confirmed, and what is replied is delivered until Telegram has it."""
    tg = config.telegram
    storage = app.storage

    async def store(rows: list[tuple[str, str]]) -> None:
        await storage.apply(Changes(actor=0, inbox=[(CHANNEL, i, p) for i, p in rows]))

    async def record(settled: list[tuple[int, str]], marks: dict[str, int]) -> None:
        await storage.apply(Changes(actor=0, settled=settled, reply_marks=[
            (CHANNEL, chat, message_id) for chat, message_id in marks.items()]))

    async def unreachable(person_id: int) -> None:
        await storage.set_reachable(person_id, False)

    courier = Courier(CHANNEL, TelegramTransport(application.bot), render, record=record,
                      unreachable=unreachable,
                      limits=Limits(tg.max_per_second, tg.max_per_chat_per_second,
                                    tg.chat_burst), pictures=PICTURES)
    app.channels.register_courier(courier)
    request = application.bot_data.get(INBOX_KEY)
    if isinstance(request, StoringRequest):
        request.store = store
    if isinstance(application.update_queue, StoringQueue) and tg.mode == "webhook":
        application.update_queue.store = store
    courier.start()
    return courier


async def stop_sweeps(application: AnyApplication) -> None:
    """Once no more updates come (python-telegram-bot's post_stop), while the Bot API client is
    still open: see handlers/lifecycle.py."""
    await stop_channels(application.bot_data.get(APP_KEY),
                        application.bot_data.pop(SCHEDULER_KEY, None),
                        application.bot_data.pop(RECEIVERS_KEY, []))


async def stop_services(application: AnyApplication) -> None:
    """Last (post_shutdown): close the database."""
    await stop_sweeps(application)
    app: App | None = application.bot_data.pop(APP_KEY, None)
    if app is not None:
        await app.close()


def run_bot(config: Config) -> int:
    # The same checks as `baocao check-config` (the same functions decide), plus the token;
    # before Telegram is asked anything.
    problems = [*token_problems(config), *run_problems(config),
                *load_configured_templates(config)[1]]
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 2
    token = config.token()
    assert token is not None
    tg = config.telegram

    startup = _ReportedByRunBot()  # until the bot is up: later failures are logged as usual

    async def post_init(application: AnyApplication) -> None:
        PTB_RETRY_LOG.removeFilter(startup)
        await start_services(application, config)

    application = build_application(token, tg.base_url, post_init=post_init,
                                    post_stop=stop_sweeps, post_shutdown=stop_services)
    asyncio.set_event_loop(asyncio.new_event_loop())
    # Start-up failures an admin fixes in the config are one line, not a library traceback:
    # python-telegram-bot calls getMe first and raises these before anything else runs.
    PTB_RETRY_LOG.addFilter(startup)
    try:
        _run(application, config)
    except StartError as e:  # Zalo, started beside Telegram, refused
        _fail(str(e))
        return 1
    except InvalidToken as e:  # getMe answered 401 (or 404: no such bot)
        where = TOKEN_ENV if os.environ.get(TOKEN_ENV) else f"telegram.token in {config.source}"
        _fail(f"the Bot API refused the token ({e.__cause__ or e}): check {where}")
        return 1
    except TelegramError as e:  # nothing else leaves run_*: later errors are handled inside
        host = urlsplit(tg.base_url).netloc
        if isinstance(e, NetworkError) and not isinstance(e, BadRequest):  # no answer at all
            _fail(f"cannot reach the Bot API at {host} ({e}): check the network and "
                  "telegram.base_url")
        else:  # e.g. setWebhook refused
            _fail(f"the Bot API at {host} refused to start the bot ({e})")
        return 1
    finally:
        PTB_RETRY_LOG.removeFilter(startup)
    return 0


def _fail(message: str) -> None:
    print(logs.REDACTOR(f"error: {message}"), file=sys.stderr)  # the token never shows


def _run(application: AnyApplication, config: Config) -> None:
    tg = config.telegram
    if tg.mode == "webhook":
        assert tg.webhook_url and tg.webhook_secret
        refuse_bodies_that_are_not_json()
        # Telegram sends the secret in X-Telegram-Bot-Api-Secret-Token; PTB rejects others.
        application.run_webhook(
            listen=tg.listen, port=tg.port,
            url_path=urlparse(tg.webhook_url).path.lstrip("/") or "telegram",
            webhook_url=tg.webhook_url, secret_token=tg.webhook_secret.get_secret_value(),
            allowed_updates=UPDATES)
    else:
        application.run_polling(allowed_updates=UPDATES)
