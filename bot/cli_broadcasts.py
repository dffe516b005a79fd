"""`baocao broadcast …`: announcements from the command line. The command only writes (the
broadcast, and its outbox rows when it is due); the running `baocao run` delivers them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bot.cli import EXIT_OK, CommandError, configured_database, load
from bot.config import Config
from bot.domain.broadcasts import TEXT_MAX, is_picture
from bot.domain.reminders import in_quiet_hours, out_of_quiet_hours
from bot.domain.units import clean_code, parse_level, parse_org

T = TypeVar("T")
PHOTO_MAX = 10 * 1024 * 1024  # Telegram's sendPhoto upload limit
DOCUMENT_MAX = 50 * 1024 * 1024  # sendDocument's
ROLES = ("officer", "supervisor", "admin")


def _at(text: str) -> str:
    """`--at "YYYY-MM-DD HH:MM"` (local time), checked for form here, made aware later."""
    try:
        datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a local time: {text!r} (use \"2026-06-01 08:00\")") from None
    return text.strip()


def _level(text: str) -> str:
    level = parse_level(text)
    if level is None:
        raise argparse.ArgumentTypeError(f"unknown level {text!r} (use tinh, huyen, xa or "
                                         "truc_thuoc)")
    return level.value


def _org(text: str) -> str:
    org = parse_org(text)
    if not org:
        raise argparse.ArgumentTypeError(f"unknown organisation {text!r} (an id such as doan, "
                                         "hoi_nong_dan)")
    return org


def _missing(text: str) -> tuple[str, str]:
    template, sep, period = (part.strip() for part in text.strip().partition(":"))
    if not sep or not template or not period:
        raise argparse.ArgumentTypeError(f"not TEMPLATE:PERIOD: {text!r} (e.g. "
                                         "thanh_nien_giam_ngheo:2026-Q1)")
    return template, period


def _read(path: Path, flag: str, limit: int | None = None) -> bytes:
    """The file's bytes; its size is checked before reading (a wrong 5 GB file is refused,
    not loaded)."""
    try:
        if limit is not None and path.stat().st_size > limit:
            raise CommandError(f"{flag}: {path} is larger than {limit // (1024 * 1024)} MB "
                               "(Telegram's limit)")
        data = path.read_bytes()
    except OSError as e:
        raise CommandError(f"{flag}: cannot read {path}: {e.strerror or e}") from e
    if limit is not None and len(data) > limit:  # grew meanwhile
        raise CommandError(f"{flag}: {path} is larger than {limit // (1024 * 1024)} MB "
                           "(Telegram's limit)")
    return data


def _too_long(flag: str) -> CommandError:
    return CommandError(f"{flag} is longer than {TEXT_MAX} characters: shorten it, or put a "
                        "link to the full text in it")


def _text(args: argparse.Namespace) -> str:
    if args.text_file is not None:
        try:  # a wrong file (a log, a backup) is refused before it is read
            if args.text_file.stat().st_size > 4 * TEXT_MAX + 3:  # UTF-8 and its BOM
                raise _too_long("--text-file")
        except OSError:
            pass  # _read names what is wrong
        data = _read(args.text_file, "--text-file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CommandError(f"--text-file: {args.text_file} is not UTF-8 text") from e
    else:
        text = args.text
    flag = "--text-file" if args.text_file is not None else "--text"
    if not text.strip():
        raise CommandError(f"{flag} is empty")
    if len(text.strip()) > TEXT_MAX:
        raise _too_long(flag)
    return str(text)


def _with_app(config: Config, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(app)` on the configured database (the BroadcastRefused of the service are
    one-line errors naming what is wrong)."""
    from bot.app import build_app
    from bot.domain.broadcasts import BroadcastRefused

    configured_database(config)

    async def run() -> T:
        app = await build_app(config)
        try:
            return await work(app)
        except BroadcastRefused as e:
            raise CommandError(e.reason) from e
        finally:
            await app.close()

    return asyncio.run(run())


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CommandError("not confirmed: add --yes to send without being asked")
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes", "c", "co", "có")


def _preview_lines(p: Any) -> list[str]:
    channels = ", ".join(f"{n} on {c}" for c, n in p.by_channel.items()) or "none"
    return [f"people: {p.people} in {p.units} unit(s)",
            f"unreachable: {p.unreachable} (blocked the bot: counted, not sent)",
            f"by channel: {channels}"]


def cmd_broadcast_create(args: argparse.Namespace) -> int:
    from bot.domain.broadcasts import Attachment, Audience, BroadcastDraft
    from bot.domain.roles import Role
    from bot.domain.templates import Level

    config = load(args)
    text = _text(args)
    attachment = None
    if args.photo is not None:
        attachment = Attachment("photo", args.photo.name, _read(args.photo, "--photo",
                                                                  PHOTO_MAX))
        if not is_picture(attachment.data):
            raise CommandError(f"--photo: {args.photo} is not a picture (JPEG, PNG, GIF or "
                               "WebP): send it with --document")
    elif args.document is not None:
        attachment = Attachment("document", args.document.name,
                                _read(args.document, "--document", DOCUMENT_MAX))
        if not attachment.data:  # Telegram refuses an empty file for every recipient
            raise CommandError(f"--document: {args.document} is empty")
    send_at = None
    if args.at is not None:
        send_at = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=config.zone)
        if send_at <= datetime.now(config.zone):
            raise CommandError(f"--at: {args.at} is in the past (local time, "
                               f"{config.timezone})")
    audience = Audience(units=tuple(dict.fromkeys(clean_code(c) for c in args.unit)),
                        levels=tuple(Level(v) for v in dict.fromkeys(args.level)),
                        orgs=tuple(dict.fromkeys(args.org)),
                        roles=tuple(Role(r) for r in dict.fromkeys(args.role)),
                        missing=args.missing)
    draft = BroadcastDraft(audience, text, attachment, ack=args.ack, urgent=args.urgent,
                           send_at=send_at)

    async def work(app: Any) -> int:
        nonlocal audience, draft
        units = (await app.broadcasts.units.tree()).units
        same = {c: [u for u in units if u.casefold() == c.casefold()] for c in audience.units}
        audience = audience.model_copy(update={"units": tuple(dict.fromkeys(  # as `digest
            c if c in units or len(same[c]) != 1 else same[c][0]  # --unit` reads it
            for c in audience.units))})
        if audience.missing is not None and audience.missing[0] not in app.broadcasts.templates:
            template = audience.missing[0].casefold()  # "THU_NGHIEM:2026-q1" as typed
            ids = [t for t in app.broadcasts.templates if t.casefold() == template]
            if len(ids) == 1:
                audience = audience.model_copy(update={"missing": (ids[0], audience.missing[1])})
        draft = replace(draft, audience=audience)
        preview = await app.broadcasts.preview(audience, None, send_at)
        print("\n".join(_preview_lines(preview)), file=sys.stderr)
        if preview.people == 0:
            raise CommandError("nobody matches this audience: nothing created")
        if not args.yes and not _confirm(f"send to {preview.people} people?"):
            raise CommandError("not confirmed: nothing created")
        bid: int = await app.broadcasts.create(draft, None)
        status = await app.broadcasts.status(bid)
        print(bid)
        if status.state == "scheduled":
            at = status.send_at.astimezone(config.zone)
            quiet = app.broadcasts.quiet
            if not args.urgent and in_quiet_hours(at.time(), quiet):  # moved when due
                at = out_of_quiet_hours(at, quiet)
                print("--at is in the quiet hours: it starts at their end (--urgent sends "
                      "in them)", file=sys.stderr)
            print(f"scheduled for {at:%Y-%m-%d %H:%M} (local time); `baocao run` starts and "
                  f"delivers it; cancel with `baocao broadcast cancel {bid}`", file=sys.stderr)
        else:
            print(f"queued for {status.recipients} people; `baocao run` delivers it "
                  f"(see `baocao broadcast status {bid}`)", file=sys.stderr)
        return EXIT_OK

    return _with_app(config, work)


def _status_line(s: Any, zone: Any) -> str:
    at = s.send_at.astimezone(zone)
    first = s.text.splitlines()[0] if s.text else ""
    text = first if len(first) <= 40 else first[:39] + "…"
    return (f"#{s.id}  {s.state:<9}  {at:%Y-%m-%d %H:%M}  {s.recipients} recipients, "
            f"{s.delivered} delivered, {s.unreachable} unreachable, {s.failed} failed, "
            f"{s.pending} pending" + (f", {s.acknowledged} confirmed" if s.ack else "")
            + (f", follows #{s.follows}" if s.follows else "") + f"  {text}")


def cmd_broadcast_status(args: argparse.Namespace) -> int:
    config = load(args)

    async def work(app: Any) -> int:
        s = await app.broadcasts.status(args.id)
        print(json.dumps(s.as_json()) if args.json else _status_line(s, config.zone))
        return EXIT_OK

    return _with_app(config, work)


def cmd_broadcast_list(args: argparse.Namespace) -> int:
    config = load(args)
    if not 1 <= args.limit <= 10_000:
        raise CommandError(f"--limit must be from 1 to 10000, not {args.limit}")

    async def work(app: Any) -> int:
        found = await app.broadcasts.list(None, args.limit)
        for s in found:
            print(json.dumps(s.as_json()) if args.json else _status_line(s, config.zone))
        if not found and not args.json:
            print("no broadcasts yet", file=sys.stderr)
        return EXIT_OK

    return _with_app(config, work)


def cmd_broadcast_cancel(args: argparse.Namespace) -> int:
    config = load(args)

    async def work(app: Any) -> int:
        if not await app.broadcasts.cancel(args.id, None):
            state = (await app.broadcasts.status(args.id)).state
            raise CommandError(f"broadcast {args.id} cannot be cancelled: it is {state} "
                               "(only a scheduled broadcast can)")
        print(f"broadcast {args.id} cancelled", file=sys.stderr)
        return EXIT_OK

    return _with_app(config, work)


def cmd_broadcast_unconfirmed(args: argparse.Namespace) -> int:
    config = load(args)

    async def work(app: Any) -> int:
        row = await app.broadcasts.get(args.id)
        if row is None:
            raise CommandError(f"no broadcast {args.id}")
        if not row.ack:  # else everyone would be listed as "not confirmed"
            raise CommandError(f"broadcast {args.id} asks for no confirmation (made without "
                               "--ack)")
        people = await app.broadcasts.unconfirmed(args.id)
        for person, unit in people:
            print(f"{unit}\t{person.display_name}\t{person.channel}:{person.external_id}")
        print(f"{len(people)} recipient(s) have not confirmed", file=sys.stderr)
        return EXIT_OK

    return _with_app(config, work)


def cmd_broadcast_follow_up(args: argparse.Namespace) -> int:
    config = load(args)
    text = _text(args)

    async def work(app: Any) -> int:
        if await app.broadcasts.get(args.id) is None:
            raise CommandError(f"no broadcast {args.id}")
        waiting = len(await app.broadcasts.unconfirmed(args.id))
        print(f"people: {waiting} who have not confirmed broadcast {args.id}", file=sys.stderr)
        if waiting and not args.yes and not _confirm(f"send to {waiting} people?"):
            raise CommandError("not confirmed: nothing created")
        print(await app.broadcasts.follow_up(args.id, text, None))
        return EXIT_OK

    return _with_app(config, work)


def _content(p: argparse.ArgumentParser) -> None:
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the announcement (plain text; long text is split at "
                      "each channel's limit)")
    text.add_argument("--text-file", type=Path, help="read the announcement from a UTF-8 file")
    p.add_argument("--yes", action="store_true", help="send without asking for confirmation "
                   "(needed when not run in a terminal)")


def add_parser(sub: Any) -> None:
    """`baocao broadcast …` in the command line's parser."""
    broadcast = sub.add_parser("broadcast", help="announcements to people of the unit tree "
                               "(delivered by `baocao run`)")
    bsub = broadcast.add_subparsers(dest="broadcast_command", metavar="ACTION", required=True)
    p = bsub.add_parser("create", help="create an announcement: prints the preview, asks, then "
                        "prints its id")
    p.add_argument("--unit", nargs="+", action="extend", default=[], metavar="CODE",
                   help="subtrees to reach (default: the whole tree)")
    p.add_argument("--level", nargs="+", action="extend", default=[], type=_level,
                   metavar="LEVEL", help="only units of these levels: tinh, huyen, xa, "
                   "truc_thuoc")
    p.add_argument("--org", nargs="+", action="extend", default=[], type=_org, metavar="ORG",
                   help="only units of these organisations (inherited from the parent)")
    p.add_argument("--role", nargs="+", action="extend", default=[], choices=ROLES,
                   help="only people with these roles (default: every role)")
    p.add_argument("--missing", type=_missing, metavar="TEMPLATE:PERIOD",
                   help="only units that owe this report and have not sent it when the "
                   "announcement starts")
    _content(p)
    attach = p.add_mutually_exclusive_group()
    attach.add_argument("--photo", type=Path, help="a picture sent with it (Telegram)")
    attach.add_argument("--document", type=Path, help="a file sent with it (Telegram; Zalo "
                        "recipients are told it was sent by other means)")
    p.add_argument("--at", type=_at, help="start at this local time, \"2026-06-01 08:00\" "
                   "(default now; quiet hours move it to their end unless --urgent)")
    p.add_argument("--urgent", action="store_true", help="send in the quiet hours too")
    p.add_argument("--ack", action="store_true", help="ask recipients to confirm "
                   "(\"✅ Đã nhận\"; on Zalo by typing ĐÃ NHẬN)")
    p.set_defaults(handler=cmd_broadcast_create)

    p = bsub.add_parser("status", help="recipients, delivered, unreachable, failed, pending, "
                        "confirmed")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_broadcast_status)

    p = bsub.add_parser("list", help="the newest announcements")
    p.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_broadcast_list)

    p = bsub.add_parser("cancel", help="cancel an announcement that has not started")
    p.add_argument("id", type=int)
    p.set_defaults(handler=cmd_broadcast_cancel)

    p = bsub.add_parser("unconfirmed", help="recipients who have not confirmed (unit, name, "
                        "chat)")
    p.add_argument("id", type=int)
    p.set_defaults(handler=cmd_broadcast_unconfirmed)

    p = bsub.add_parser("follow-up", help="send again to those who have not confirmed")
    p.add_argument("id", type=int)
    _content(p)
    p.set_defaults(handler=cmd_broadcast_follow_up)

