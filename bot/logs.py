"""Logging for every command, and the rule that no secret is ever written.

Levels: baocao's own loggers (`bot.*`, `handlers.*`, `storage.*`) at INFO, libraries (httpx,
httpcore, telegram, apscheduler, aiosqlite, tornado…) at WARNING. `-v`: baocao at DEBUG and
libraries at INFO (one line per Bot API request, job runs); `-vv`: everything at DEBUG. The
terminal demo is quiet (WARNING) unless `-v`.

Redaction happens in the one handler's formatter, on the finished text (message, arguments,
traceback and stack alike): every configured secret, and any `bot<digits>:<secret>` in a Bot
API URL, is replaced. Library loggers never get a handler of their own, so nothing bypasses it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO
from urllib.parse import quote

OWN_LOGGERS = ("bot", "handlers", "storage")
REDACTED = "<redacted>"
HANDLER_NAME = "baocao"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The token in a Bot API URL (…/bot123456:AAE…/getUpdates), with ':' as is or percent-encoded.
_BOT_URL_TOKEN = re.compile(r"bot\d+(?::|%3[Aa])[A-Za-z0-9_-]+")
_log = logging.getLogger("bot")


class Redactor:
    """Replaces known secrets (and the Bot API URL form of any token) in text."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if not secret:
                continue
            for form in (secret, quote(secret, safe="")):
                if form not in self._secrets:
                    self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # a secret inside another: longest first

    def __call__(self, text: str) -> str:
        text = _BOT_URL_TOKEN.sub("bot" + REDACTED, text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (tests swap it between calls)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always sys.stderr


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (traceback included) goes through a `Redactor`."""

    def __init__(self, redactor: Redactor, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


REDACTOR = Redactor()


def levels(verbosity: int, quiet: bool = False) -> tuple[int, int]:
    """(baocao's level, libraries' level) for a number of -v flags."""
    if verbosity >= 2:
        return logging.DEBUG, logging.DEBUG
    if verbosity == 1:
        return logging.DEBUG, logging.INFO
    return (logging.WARNING if quiet else logging.INFO), logging.WARNING


class OneLine(logging.Filter):
    """A library's error record with its traceback, as one line naming the error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def configure(verbosity: int, *, quiet: bool = False,
              secrets: Iterable[str | None] = ()) -> None:
    """One stderr handler on the root logger, redacting; levels as described above."""
    REDACTOR.add(*secrets)
    own, libraries = levels(verbosity, quiet)
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(RedactingFormatter(REDACTOR))
    root = logging.getLogger()
    for old in root.handlers[:]:
        if old.get_name() == HANDLER_NAME:  # configured before (tests call main() often)
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(libraries)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own)
    if verbosity < 1:  # a failed getUpdates is retried: one line, the traceback with -v
        updater = logging.getLogger("telegram.ext.Updater")
        if not any(isinstance(f, OneLine) for f in updater.filters):
            updater.addFilter(OneLine())
    logging.captureWarnings(True)  # warnings are written through the same handler
    # Uncaught exceptions too: their tracebacks may hold a request URL.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def add_secrets(*secrets: str | None) -> None:
    """Secrets learnt after start-up (from the config file) are redacted from then on."""
    REDACTOR.add(*secrets)


def _log_uncaught(kind: type[BaseException], value: BaseException,
                  tb: TracebackType | None) -> None:
    _log.critical("uncaught exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log.critical("uncaught exception in thread %s", getattr(args.thread, "name", "?"),
                      exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
