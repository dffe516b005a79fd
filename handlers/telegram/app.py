"""The Telegram channel (python-telegram-bot): updates → `Inbound` events → replies.

Every handler is thin: it turns an update into an `Inbound`, asks the reporting service, and
renders the replies. Updates of one chat are processed in order (`PerChatProcessor`); different
chats run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Bot, BotCommand, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot.app import BOT_USERNAME_KEY, App
from bot.domain.dialogue import Reply
from bot.domain.messages_vi import APOLOGY
from bot.services.channels import Inbound, Pressed, parse_command
from bot.services.commands import COMMANDS
from handlers.telegram.inbox import StoringQueue, StoringRequest
from handlers.telegram.render import Markup, button_label, chunks, fit, keyboard
from storage.models import Changes

log = logging.getLogger(__name__)
CHANNEL = "telegram"
POOL_SIZE = 16  # connections for Bot API calls other than getUpdates
POOL_WAIT = 30.0  # seconds a call may wait for a free connection
APP_KEY = "baocao_app"
INBOX_KEY = "baocao_inbox"


class PerChatProcessor(BaseUpdateProcessor):
    """Run updates concurrently, except that one chat's updates run one at a time, in order."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object,
                                coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if self._users[chat.id] == 0:  # forget idle chats: memory stays small
                del self._users[chat.id]
                del self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def to_inbound(update: Update, bot_username: str | None = None) -> Inbound | None:
    """An update as a channel-neutral event; None for updates baocao ignores (from bots, in
    groups, or a command addressed to another bot)."""
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    base: dict[str, Any] = {"channel": CHANNEL, "user_id": str(user.id),
                            "display_name": user.full_name, "event_id": str(update.update_id)}
    if update.effective_chat is not None:
        base["chat_id"] = str(update.effective_chat.id)
    query = update.callback_query
    if query is not None:
        pressed = query.message if isinstance(query.message, Message) else None
        return Inbound(button=query.data or "", pressed=None if pressed is None else Pressed(
            str(pressed.message_id), pressed.text or "",
            button_label(pressed.reply_markup, query.data or "")), **base)
    message = update.effective_message
    if message is None or update.effective_chat is None or update.effective_chat.type != "private":
        return None
    base["message_id"] = message.message_id
    if message.photo:
        return Inbound(photo=message.photo[-1].file_id, caption=message.caption or "", **base)
    if message.document is not None:
        return Inbound(document=(message.document.file_id,
                                 message.document.file_name or "tep"),
                       caption=message.caption or "", **base)
    text = message.text or message.caption or ""
    if not text:  # a sticker, a voice message, a file…: nothing baocao can read
        kind = ("sticker" if message.sticker else
                "voice" if message.voice or message.audio or message.video_note else "other")
        return Inbound(other=kind, **base)
    command = parse_command(text)
    if command is not None:
        if not command.for_bot(bot_username):
            return None
        return Inbound(command=command.name, argument=command.argument, **base)
    return Inbound(text=text, **base)


async def send_replies(update: Update, replies: list[Reply]) -> None:
    """Render replies; a button press first marks its message with the choice (and drops the
    keyboard, so the same button cannot be pressed twice)."""
    query = update.callback_query
    chat = update.effective_chat
    if chat is None:
        return
    pressed = query.message if query is not None and isinstance(query.message, Message) else None
    for i, reply in enumerate(replies):
        if i == 0 and pressed is not None and reply.replace:
            await _edit(pressed, reply.text, keyboard(reply))
            continue
        if i == 0 and pressed is not None:
            label = button_label(pressed.reply_markup, query.data or "") if query else None
            marked = f"{pressed.text}\n\n→ {label}" if label and pressed.text else pressed.text
            await _edit(pressed, marked or "…", None)
        parts = chunks(reply)
        for j, part in enumerate(parts):
            await post_message(chat.get_bot(), chat.id, part,
                               keyboard(reply) if j == len(parts) - 1 else None)


# python-telegram-bot turns every Bot API result into objects. The Message a reply returns is
# never used here, and building it is about 40% of the cost of sending (measured with
# bench/dialogue_throughput.py), so replies go through Bot.do_api_request, which returns the
# raw result; PTB's rate limiter and error handling (Forbidden, RetryAfter) still apply.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.(send_message|edit_message_text)'",
                        category=PTBUserWarning)


async def post_message(bot: Bot, chat_id: int, text: str, markup: Markup | None) -> None:
    """sendMessage without turning the answer into a Message object."""
    kwargs: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if markup is not None:
        kwargs["reply_markup"] = markup
    await bot.do_api_request("send_message", api_kwargs=kwargs)


async def _edit(message: Message, text: str, markup: Markup | None) -> None:
    """editMessageText, likewise without building the edited Message."""
    kwargs: dict[str, Any] = {"chat_id": message.chat_id, "message_id": message.message_id,
                              "text": fit(text)}
    if markup is not None:
        kwargs["reply_markup"] = markup
    try:
        await message.get_bot().do_api_request("edit_message_text", api_kwargs=kwargs)
    except BadRequest as e:  # "message is not modified" or too old to edit: harmless
        log.debug("edit skipped: %s", e)


async def on_event(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every message, command, photo and button press goes through here."""
    inbound = to_inbound(update, _username(context.bot))
    if inbound is None:
        await _ignored(update, context)
        return
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except BadRequest as e:  # "query is too old" after downtime: handle the press anyway
            log.debug("callback answer skipped: %s", e)
    app: App = context.application.bot_data[APP_KEY]
    replies = await app.reporting.handle(inbound)
    if app.channels.courier(CHANNEL) is None:  # no outbox running (tests of the handlers)
        await send_replies(update, replies)


async def _ignored(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An update baocao ignores (a group's, another bot's command, a bot's) is marked handled:
    left unhandled in the inbox, it would be handled again at every start."""
    app: App | None = context.application.bot_data.get(APP_KEY)
    if app is not None and app.channels.courier(CHANNEL) is not None:  # the inbox is in use
        await app.storage.apply(Changes(actor=0, event=(CHANNEL, str(update.update_id))))


def _username(bot: Bot) -> str | None:
    try:
        return bot.username
    except RuntimeError:  # not initialised (getMe not called): accept every command
        return None


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context; tell the user something short, never a stack trace."""
    if update is None and isinstance(context.error, NetworkError):
        # getUpdates failed (python-telegram-bot retries it): one line, not a traceback
        log.warning("polling for updates failed, retrying: %s", context.error)
        return
    who = None
    if isinstance(update, Update):
        who = (update.update_id, update.effective_user.id if update.effective_user else None)
    log.error("error handling update %s: %r", who, context.error, exc_info=context.error)
    if isinstance(context.error, Forbidden) or not isinstance(update, Update):
        return
    if update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(APOLOGY)
        except TelegramError:
            log.warning("could not send the apology to chat %s", update.effective_chat.id)


def command_names() -> list[str]:
    return [c.name for c in COMMANDS]


def add_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Commands from the one registry, then everything else, then button presses."""
    for name in command_names():
        application.add_handler(CommandHandler(name, on_event))
    application.add_handler(MessageHandler(filters.ALL, on_event))  # text, photos, unknown /x
    application.add_handler(CallbackQueryHandler(on_event))
    application.add_error_handler(on_error)


async def announce(application: Application[Any, Any, Any, Any, Any, Any], app: App) -> None:
    """After connecting: remember the bot's @username (for invite links), publish commands."""
    username = application.bot.username
    if username:
        await app.storage.set_setting(BOT_USERNAME_KEY, username)
    try:
        await application.bot.set_my_commands(
            [BotCommand(c.name, c.description[:256]) for c in COMMANDS])
    except TelegramError as e:
        log.warning("could not set the command list: %s", e)


AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Hook = Callable[[AnyApplication], Coroutine[Any, Any, None]]


def build_application(token: str, base_url: str, app: App | None = None, *,
                      request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None,
                      post_init: Hook | None = None, post_stop: Hook | None = None,
                      post_shutdown: Hook | None = None,
                      ) -> AnyApplication:
    """All wiring in one place; `app` may be attached now or by `post_init`."""
    builder = (ApplicationBuilder().token(token).base_url(base_url)
               .concurrent_updates(PerChatProcessor()))
    if request is not None:
        builder = builder.request(request)
    else:
        # httpcore looks through every pooled connection on each request: with the default
        # 256, a backlog grew the pool and made every request slower, so the backlog grew
        # (bench/soak.py: p99 17 s; with 16, 0.1-0.25 s). Waiting for a free connection is
        # normal under load, not a failure: the default 1 s wait raised TimedOut.
        builder = builder.connection_pool_size(POOL_SIZE).pool_timeout(POOL_WAIT)
    # Fetched updates are stored before the next getUpdates confirms them (inbox.py); in
    # webhook mode, before the webhook answers.
    inbox = StoringRequest(get_updates_request or HTTPXRequest(connection_pool_size=1))
    builder = builder.get_updates_request(inbox).update_queue(StoringQueue())
    if post_init is not None:
        builder = builder.post_init(post_init)
    if post_stop is not None:
        builder = builder.post_stop(post_stop)
    if post_shutdown is not None:
        builder = builder.post_shutdown(post_shutdown)
    application = builder.build()
    application.bot_data[INBOX_KEY] = inbox
    if app is not None:
        application.bot_data[APP_KEY] = app
    add_handlers(application)
    return application
