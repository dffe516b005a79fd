"""`baocao run`: start the Telegram bot with long polling or a webhook, as configured."""

from __future__ import annotations

import asyncio
import logging
import sys
from urllib.parse import urlparse

from bot.app import App, build_app, tune_runtime
from bot.config import Config, run_problems, token_problems
from bot.scheduler import Scheduler
from handlers.telegram.app import APP_KEY, CHANNEL, AnyApplication, announce, build_application
from handlers.telegram.sender import TelegramSender

log = logging.getLogger(__name__)
UPDATES = ["message", "callback_query"]


def run_bot(config: Config) -> int:
    # The same checks as `baocao check-config` (one function decides), plus the token.
    problems = [*token_problems(config), *run_problems(config)]
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 2
    token = config.token()
    assert token is not None
    tg = config.telegram

    scheduler: Scheduler | None = None

    async def post_init(application: AnyApplication) -> None:
        nonlocal scheduler
        app = await build_app(config)
        application.bot_data[APP_KEY] = app
        people = await app.reporting.warm()
        await announce(application, app)
        app.channels.register(CHANNEL, TelegramSender(application.bot))
        scheduler = Scheduler(app.reminders, app.channels)
        scheduler.start()
        tune_runtime()
        log.info("baocao bot @%s started (%s, %d templates, %d people)",
                 application.bot.username, tg.mode, len(app.templates), people)

    async def post_shutdown(application: AnyApplication) -> None:
        if scheduler is not None:
            scheduler.shutdown()
        app: App | None = application.bot_data.get(APP_KEY)
        if app is not None:
            await app.close()

    application = build_application(token, tg.base_url, post_init=post_init,
                                    post_shutdown=post_shutdown)
    asyncio.set_event_loop(asyncio.new_event_loop())
    if tg.mode == "webhook":
        assert tg.webhook_url and tg.webhook_secret
        # Telegram sends the secret in X-Telegram-Bot-Api-Secret-Token; PTB rejects others.
        application.run_webhook(
            listen=tg.listen, port=tg.port,
            url_path=urlparse(tg.webhook_url).path.lstrip("/") or "telegram",
            webhook_url=tg.webhook_url, secret_token=tg.webhook_secret.get_secret_value(),
            allowed_updates=UPDATES)
    else:
        application.run_polling(allowed_updates=UPDATES)
    return 0
