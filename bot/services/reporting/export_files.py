"""The digest's "📊 Excel" and "📄 Báo cáo (Word)" buttons: the file of a report × period over
a unit's subtree, made now and sent as a document (Telegram), checked against the presser's
units like every digest button."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain import messages_vi as M
from bot.domain.buttons import ExportFile, OpenDigest
from bot.domain.dialogue import Attachment, Button, Reply
from bot.services.reporting.context import Ctx, Deps
from bot.services.reporting.watching import pressed_digest

log = logging.getLogger(__name__)
KINDS = ("xlsx", "docx")
# A second press of the same file button this soon (a double tap, a slow phone) is not made
# again: a province's workbook takes seconds and megabytes, and the first is on its way.
AGAIN_AFTER = timedelta(seconds=60)


async def send_file(deps: Deps, ctx: Ctx, data: ExportFile) -> list[Reply]:
    if data.kind not in KINDS:
        return [Reply(M.STALE)]
    pressed = await pressed_digest(deps, ctx, data.unit, data.template, data.period)
    if isinstance(pressed, Reply):
        return [pressed]
    tree, t, period = pressed.tree, pressed.template, pressed.period
    back = [[Button.of(M.BACK_TO_DIGEST, OpenDigest(data.unit, t.id, period.id))]]
    if deps.today(ctx.now) < period.start:
        return [Reply(M.digest_not_started(period.start), back)]
    if not deps.pictures(ctx.person):  # a channel that cannot send files (Zalo)
        return [Reply(M.FILES_NEED_TELEGRAM, back)]
    files = [Button.of(M.BUTTON_EXCEL, ExportFile(data.unit, t.id, period.id, "xlsx")),
             Button.of(M.BUTTON_WORD, ExportFile(data.unit, t.id, period.id, "docx"))]
    key = (ctx.person.id, data.unit, t.id, period.id, data.kind)
    made_at = deps.files_made.get(key)
    if made_at is not None and timedelta(0) <= ctx.now - made_at < AGAIN_AFTER:
        return [Reply(M.FILE_JUST_SENT, [files, *back], numbered=True)]
    # imported here: the writers' libraries load only when a file is asked for
    from bot.exports.names import export_name
    try:
        if data.kind == "xlsx":
            from bot.exports.workbook import xlsx_file
            made = await xlsx_file(deps.storage, t, period, data.unit, ctx.now, deps.zone,
                                   deps.lock_days, tree.units)
        else:
            from bot.exports.docx_report import docx_file
            made = await docx_file(deps.storage, t, period, data.unit, ctx.now, deps.zone,
                                   deps.lock_days, tree.units, deps.organization)
    except Exception:  # a file that cannot be made must not cost the person their answer
        log.exception("%s of %s %s over %s failed", data.kind, t.id, period.id, data.unit)
        return [Reply(M.FILE_FAILED, back)]
    for old in [k for k, at in deps.files_made.items() if ctx.now - at >= AGAIN_AFTER]:
        del deps.files_made[old]  # kept small: only the last minute's files
    deps.files_made[key] = ctx.now
    unit = tree.units[data.unit]
    caption = M.file_caption(data.kind, t.title, period.label_vi(), unit.name,
                             deps.local(ctx.now))
    # The pressed digest loses its buttons (marked with the choice): the file comes with the
    # other file's button and the way back, so the next press needs no new /tonghop.
    return [Reply(caption, [files, *back], numbered=True,
                  document=Attachment(export_name(t, period, unit, data.kind), made))]
