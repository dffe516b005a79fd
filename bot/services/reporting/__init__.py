"""The reporting dialogue: `ReportingService.handle` takes one chat event and returns replies.

    service.py    the transaction boundary: per-person order, one commit per event
    routes.py     which command, button or typed text goes where, and on which screen
    joining.py    invite codes          catalogue.py   greeting, report list, status
    lifecycle.py  open, correct, send, cancel          questions.py   the question on screen
    screens.py    putting a question or a summary on screen
    lookup.py     the report a button or the conversation means, checked
    context.py    Deps (shared reads), Ctx (one event), Report   drafts.py   the draft cache
"""

from bot.services.reporting.service import Clock, ReportingService

__all__ = ["Clock", "ReportingService"]
