"""The `baocao` command line: `baocao --help` lists the subcommands."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import logs
from bot.config import (
    CONFIG_ENV,
    TOKEN_ENV,
    ZALO_TOKEN_ENV,
    Config,
    ConfigError,
    database_problem,
    load_config,
    load_configured_templates,
    run_problems,
    token_problems,
)
from bot.domain.deadlines import DeadlineError, parse_deadline
from bot.domain.periods import Period, PeriodError
from bot.domain.targets import TARGETS_FOLDER, basis_of, unknown_codes
from bot.domain.templates import Level, Problem, Template, errors_only
from bot.domain.units import (
    Unit,
    UnitConflict,
    applies_in,
    check_import,
    check_merge,
    check_retire,
    clean_code,
    not_in_file,
    render_tree,
    shown,
)
from bot.unit_files import UnitFileError, read_unit_rows
from storage.database import StorageError

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


class CommandError(Exception):
    """The command cannot go on: one line on stderr (`error: …`), exit status 1."""


def display_path(path: Path) -> Path:
    """A path relative to the working directory when it is inside it (for short messages)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def load(args: argparse.Namespace) -> Config:
    """The configuration; its secrets are redacted from every log line from now on."""
    config = load_config(args.config)
    logs.add_secrets(*config.secrets())
    return config


def load_everything(args: argparse.Namespace) -> tuple[Config, dict[str, Template], list[Problem]]:
    config = load(args)
    folder = config.reports.folder
    templates, problems = load_configured_templates(config, warnings=True)
    shown = display_path(folder)
    for p in problems:  # show template (and targets/) files relative to where the admin is
        if Path(p.file).is_relative_to(folder):
            p.file = str(shown / Path(p.file).relative_to(folder))
    return config, templates, problems


def cmd_check_config(args: argparse.Namespace) -> int:
    """Check the configuration and every report template."""
    try:
        config, templates, problems = load_everything(args)
    except ConfigError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return EXIT_CONFIG
    # What `run` would refuse is a problem here too (the same function decides), except a
    # missing token: the other commands do not need one.
    problems = [*run_problems(config), *problems]
    if config.channels():
        problems += token_problems(config)
    # Errors alone first (a dozen warnings would bury them); warnings ("warning: …") once
    # nothing else is wrong: they never fail the check.
    errors = errors_only(problems)
    for p in errors or problems:
        print(p, file=sys.stderr)
    if errors:
        return EXIT_CONFIG
    questions = sum(len(t.questions) for t in templates.values())
    print(f"OK: {len(templates)} templates, {questions} questions, timezone {config.timezone}, "
          f"database {config.storage.path}")
    print(f"templates: {display_path(config.reports.folder)}")
    for t in sorted(templates.values(), key=lambda t: t.id):
        schedules = "; ".join(s.describe() for s in t.every_schedule)
        life = ""
        if t.valid_from or t.valid_until:
            life = (f"; valid {t.valid_from or '…'} to {t.valid_until or '…'}")
            if t.valid_until and t.valid_until < datetime.now(config.zone).date():
                life += " (ended: no period opens any more)"
        print(f"  {t.id}: {len(t.questions)} questions, {schedules}{life}")
    if args.details:
        print_template_details(templates)
    for line in allocation_warnings(config, templates):
        print(line, file=sys.stderr)
    if config.channels():
        print(f"channels: {', '.join(config.channels())}")
    else:
        print(f"note: `baocao run` needs a bot token: set {TOKEN_ENV} (Telegram) or "
              f"{ZALO_TOKEN_ENV} (Zalo)")
    return EXIT_OK


_DIRECTIONS = {"at_least": "at least", "at_most": "at most", "more_than": "more than",
               "less_than": "less than"}


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def describe_target(t: Template, index: int) -> str:
    """'targets[0] Số HTX mới (htx_moi): at least 100, total, year 2025, from 2021; plan:
    "…"' (check-config --verbose)."""
    tg = t.targets[index]
    name = f"{tg.label} ({tg.question})" if tg.label else tg.question
    if tg.scope == "allocated":
        goal = f"{_DIRECTIONS[tg.direction]} each unit's allocation ({len(t.allocations)} " \
               f"units in targets/{t.id}.csv)"
    else:
        goal = f"{_DIRECTIONS[tg.direction]} {_plain(tg.value or 0)}"
    where = {"total": "total", "each_unit": "each unit", "allocated": "allocated",
             "level": f"each unit of level {tg.level.value if tg.level else '?'}"}[tg.scope]
    parts = [goal, where]
    if tg.year is not None:
        parts.append(f"year {tg.year}")
    if tg.baseline_year is not None:
        parts.append(f"cumulative from {tg.baseline_year}")
    basis = basis_of(tg)
    said = f'plan: "{tg.quote}"' if basis == "plan" and tg.quote else basis
    return f"targets[{index}] {name}: {', '.join(parts)}; {said}"


def print_template_details(templates: dict[str, Template]) -> None:
    """check-config --verbose: where each template's figures come from (the plan's own words,
    or assumed), so admins see which numbers the plan states."""
    for t in sorted(templates.values(), key=lambda t: t.id):
        print(f"{t.id}: {t.title}")
        for s in t.every_schedule:
            print(f"  schedule: {s.describe()}; deadline basis: {t.basis}")
        print(f"  lifetime: {t.valid_from or 'always'} to {t.valid_until or 'no end'}")
        print(f"  applies to: {describe_scope(t)}")
        if not t.targets:
            print("  targets: none")
        for i in range(len(t.targets)):
            print(f"  {describe_target(t, i)}")


def describe_scope(t: Template) -> str:
    scope = [f"{key} {', '.join(str(v) for v in values)}" for key, values in
             (("orgs", t.applies_to.orgs), ("levels", t.applies_to.levels),
              ("subtrees", t.applies_to.subtrees)) if values]
    return "; ".join(scope) or "every unit"


def allocation_warnings(config: Config, templates: dict[str, Template]) -> list[str]:
    """What the templates name that the unit tree does not have: allocated unit codes and
    subtrees it does not know, and templates that apply to none of its units (a typo, or
    units imported without an org while the template names orgs). Only when the database
    exists: a check never creates it."""
    path = config.storage.path
    if str(path) == ":memory:" or not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            known = {row[0] for row in conn.execute("SELECT code FROM units")}
            try:
                units = {u.code: u for u in (
                    Unit(r[0], r[1], r[2], Level(r[3]), r[4]) for r in conn.execute(
                        "SELECT code, name, parent_code, level, org FROM units"))}
            except sqlite3.Error:  # not migrated yet (no org column): codes only
                units = {}
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # no units table yet, or not a database (check-config says so above)
    folder = display_path(config.reports.folder) / TARGETS_FOLDER
    out = [f"warning: {folder / (tid + '.csv')}: unit {code!r} is not in the database "
           f"({path}): import it with `baocao units import`, or correct the code"
           for tid, code in unknown_codes(templates, known)]
    for t in sorted(templates.values(), key=lambda t: t.id):
        out += [f"warning: template {t.id}: applies_to.subtrees: unit {code!r} is not in the "
                f"database ({path})" for code in t.applies_to.subtrees if code not in known]
        if units and not any(applies_in(t.applies_to, code, units) for code in units):
            out.append(f"warning: template {t.id}: applies to no unit of the database "
                       f"({describe_scope(t)}): no officer will be asked for it (units "
                       "without an org? add an org column to the unit file and import it "
                       "again)")
    return out


def cmd_deadline(args: argparse.Namespace) -> int:
    """Print the due instant of a deadline phrase for a period."""
    try:
        config = load(args)
        rule = parse_deadline(args.phrase)
        period = Period.parse(args.period)
        due = rule.due(period, config.zone)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_CONFIG
    except (DeadlineError, PeriodError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps({
            "phrase": args.phrase,
            "period": period.id,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "due": due.isoformat(),
            "last_on_time_day": rule.last_on_time_day(period).isoformat(),
        }, ensure_ascii=False))
    else:
        print(f"{period.id} ({period.label_vi()}): due {due.isoformat()}; "
              f"last on-time day {rule.last_on_time_day(period).isoformat()}")
    return EXIT_OK


def usable_database(path: Path, named_by: str) -> Path:
    """`path`, checked before SQLite is asked: a folder, a file that is not a database or a
    folder that cannot be created is one line naming the setting, not a traceback."""
    why = database_problem(path)
    if why is not None:
        raise CommandError(f"cannot open database {path} ({named_by}): {why}")
    return path


def configured_database(config: Config) -> Path:
    return usable_database(config.storage.path, f"storage.path in {config.source}")


async def _open_storage(config: Config) -> Any:
    from storage.sqlite import SqliteStorage

    return await SqliteStorage.open(configured_database(config))


def cmd_units_import(args: argparse.Namespace) -> int:
    """Import or update units from a CSV/XLSX file."""
    config = load(args)
    path = Path(args.file)
    try:
        rows = read_unit_rows(path)
    except UnitFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            existing = {u.code: u for u in await storage.list_units()}
            units, errors = check_import(rows, existing)
            if errors:
                for err in errors:
                    print(f"{path}: {err}", file=sys.stderr)
                print(f"nothing imported ({len(errors)} problem(s))", file=sys.stderr)
                return EXIT_ERROR
            added, updated = await storage.upsert_units(units)
            print(f"OK: {len(rows)} rows, {added} added, {updated} updated, "
                  f"{len(rows) - added - updated} unchanged")
            still_retired = [existing[u.code] for u in units
                             if u.code in existing and existing[u.code].retired_on is not None]
            for u in still_retired:
                print(f"note: {shown(u.code)} is in the file but stays retired (since "
                      f"{u.retired_on}); to make it report again: "
                      f"baocao units retire --undo {u.code}", file=sys.stderr)
            gone = not_in_file((u.code for u in units), existing)
            if gone:
                print(f"note: {len(gone)} unit(s) no longer in the file are kept and still "
                      f"expected to report: {', '.join(shown(u.code) for u in gone)}",
                      file=sys.stderr)
                print("to retire them: baocao units retire "
                      f"{' '.join(u.code for u in gone)} [--on YYYY-MM-DD]", file=sys.stderr)
            return EXIT_OK
        finally:
            await storage.close()

    return asyncio.run(run())


def cmd_units_list(args: argparse.Namespace) -> int:
    """Print the unit tree."""
    config = load(args)

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            units = await storage.list_units()
        finally:
            await storage.close()
        if not units:
            print("no units yet: import them with `baocao units import FILE`", file=sys.stderr)
            return EXIT_OK
        print("\n".join(render_tree(units)))
        return EXIT_OK

    return asyncio.run(run())


def _today(config: Config) -> date:
    from bot.app import system_clock

    return system_clock().astimezone(config.zone).date()


def _codes(raw: list[str]) -> list[str]:
    return list(dict.fromkeys(clean_code(c) for c in raw))  # cleaned, once each, in order


def cmd_units_retire(args: argparse.Namespace) -> int:
    """Retire units (or undo a retirement): they owe no report of a period starting after
    their last day; their history stays."""
    config = load(args)
    codes = _codes(args.codes)
    on = args.on or _today(config)

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            units = {u.code: u for u in await storage.list_units()}
            if args.undo:
                unknown = [c for c in codes if c not in units]
                if unknown:
                    raise CommandError(f"unknown unit {shown(unknown[0])} "
                                       "(see `baocao units list`)")
                active = [c for c in codes if units[c].retired_on is None]
                if active:
                    raise CommandError(f"unit {shown(active[0])} is not retired")
                changed = await storage.unretire_units(codes)
                print(f"OK: {changed} unit(s) report again: {' '.join(codes)}")
                return EXIT_OK
            errors = check_retire(codes, units, on)
            if errors:
                for err in errors:
                    print(f"error: {err}", file=sys.stderr)
                print("nothing retired", file=sys.stderr)
                return EXIT_ERROR
            changed = await storage.retire_units(codes, on)
            print(f"OK: {changed} unit(s) retired on {on}: {' '.join(codes)} (they owe the "
                  "reports of periods that started by then, none after)")
            return EXIT_OK
        finally:
            await storage.close()

    return asyncio.run(run())


def cmd_units_merge(args: argparse.Namespace) -> int:
    """Merge units into another: they retire, and their figures carry to NEW."""
    config = load(args)
    old, new = _codes(args.codes), clean_code(args.into)
    on = args.on or _today(config)

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            units = {u.code: u for u in await storage.list_units()}
            errors = check_merge(old, new, units, on)
            if not errors:
                try:
                    changed = await storage.retire_units(old, on, merged_into=new)
                except UnitConflict as e:  # another admin retired NEW meanwhile
                    errors = [str(e)]
            if errors:
                for err in errors:
                    print(f"error: {err}", file=sys.stderr)
                print("nothing merged", file=sys.stderr)
                return EXIT_ERROR
            print(f"OK: {changed} unit(s) merged into {new} ({units[new].name}) on {on}: "
                  f"{' '.join(old)}")
            return EXIT_OK
        finally:
            await storage.close()

    return asyncio.run(run())


def cmd_submissions_import(args: argparse.Namespace) -> int:
    """Import reports from a CSV/XLSX file (one row per unit): all or nothing."""
    from bot.app import build_app, system_clock
    from bot.domain.imports import check_header, check_rows
    from bot.report_files import read_report_table
    from bot.table_files import TableFileError
    from storage.interface import ReceivedBeforeLatest, SubmissionExists
    from storage.models import ImportedReport

    config = load(args)
    path = Path(args.file)
    name = path.name
    configured_database(config)
    try:
        period = Period.parse(args.period)
    except PeriodError as e:
        raise CommandError(f"--period {args.period}: {e}") from e

    def refuse(errors: list[str]) -> int:
        for err in errors:
            print(err, file=sys.stderr)
        print(f"nothing imported ({len(errors)} problem(s))", file=sys.stderr)
        return EXIT_ERROR

    async def run() -> int:
        app = await build_app(config)
        try:
            deps = app.reporting.deps
            template = deps.templates.get(args.template)
            if template is None:
                raise CommandError(f"unknown template {args.template!r} (known: "
                                   f"{', '.join(sorted(deps.templates)) or 'none'})")
            if not template.asks_for(period):
                raise CommandError(f"template {template.id} asks for no report on {period.id} "
                                   "(its schedules and lifetime: baocao check-config --verbose)")
            now = system_clock()
            if period.start > deps.today(now):
                raise CommandError(f"period {period.id} has not started yet")
            due = deps.window(template, period).due
            received = now
            if args.received is not None:
                received = _received_at(args.received, deps.zone, due)
                if received > now:
                    raise CommandError(f"--received {args.received[0]}: in the future")
                if received.astimezone(deps.zone).date() < period.start:
                    raise CommandError(f"--received {args.received[0]}: before period "
                                       f"{period.id} started ({period.start})")
            try:
                table = read_report_table(path, template)
            except TableFileError as e:
                return refuse([str(e)])
            errors = check_header(table.header, template, name)
            if errors:
                return refuse(errors)
            tree = await deps.units.tree()
            read, errors = check_rows(table.header, table.rows, template, period, tree.units,
                                      tree.applicable.get(template.id, frozenset()), name,
                                      deps.today(now))
            sent = {s.unit_code: s for s in await app.storage.latest_submissions(
                [r.unit_code for r in read], with_answers=False)
                if s.template_id == template.id and s.period == period.id}
            if not args.replace:
                errors += [f"{name}: row {r.line}, column unit: unit {r.unit_code} already "
                           f"has a report for {period.id} (version {sent[r.unit_code].version});"
                           " to correct it with this file's values, add --replace"
                           for r in read if r.unit_code in sent]
            if args.received is not None:  # a correction dated before what it corrects
                errors += [f"{name}: row {r.line}, column unit: unit {r.unit_code}: --received "
                           f"{args.received[0]} is before its version "
                           f"{sent[r.unit_code].version}, received "
                           f"{sent[r.unit_code].submitted_at.astimezone(deps.zone):%Y-%m-%d %H:%M}"
                           for r in read if r.unit_code in sent
                           and received < sent[r.unit_code].submitted_at]
            if errors:
                return refuse(sorted(errors, key=_row_order))
            if not read:
                return refuse([f"{name}: no rows to import"])
            corrections = sum(1 for r in read if r.unit_code in sent)
            if args.dry_run:
                for r in read:
                    what = "correction" if r.unit_code in sent else "new report"
                    print(f"row {r.line}: {r.unit_code} {what}, {len(r.answers)} answer(s)")
                print(f"dry run: would import {len(read) - corrections} report(s) and "
                      f"{corrections} correction(s) for {template.id} {period.id}; nothing "
                      "written")
                return EXIT_OK
            version = deps.versions[template.id]
            try:
                new, corrected, rebased = await app.storage.import_submissions(
                    [ImportedReport(r.unit_code, template.id, version, period.id, r.answers,
                                    due, r.line) for r in read],
                    received, replace=args.replace, file=name)
            except SubmissionExists as e:  # an officer sent one meanwhile
                return refuse([f"{name}: row {e.line}, column unit: unit {e.unit_code} already"
                               f" has a report for {period.id}; to correct it, add --replace"])
            except ReceivedBeforeLatest as e:  # an officer sent a version meanwhile
                return refuse([f"{name}: row {e.line}, column unit: unit {e.unit_code}: "
                               f"received {received.astimezone(deps.zone):%Y-%m-%d %H:%M}, "
                               "before its latest version, "
                               f"received {e.latest.astimezone(deps.zone):%Y-%m-%d %H:%M}"])
            print(f"OK: {new} report(s) imported, {corrected} correction(s) for {template.id} "
                  f"{period.id} from {name}")
            if rebased:
                print(f"{rebased} unit(s) had a draft in progress: each is now a correction of "
                      "the imported report (its officer's own answers kept, shown the changes "
                      "before sending)")
            return EXIT_OK
        finally:
            await app.close()

    return asyncio.run(run())


def _received_at(given: tuple[date, time | None], zone: ZoneInfo, due: datetime
                 ) -> datetime:
    """`--received` as an instant: a day alone is taken at noon, unless the due instant falls
    on that day (then noon could be either side of it: the time must be given)."""
    day, at = given
    if at is None:
        if due.astimezone(zone).date() == day and due.astimezone(zone).time() != time(0):
            raise CommandError(f"--received {day}: the report was due at "
                               f"{due.astimezone(zone):%H:%M} that day; give the time too "
                               f"(e.g. '{day} 09:30')")
        at = time(12, 0)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _row_order(error: str) -> tuple[int, str]:
    """Errors in file line order (those naming no row first)."""
    _, found, rest = error.partition(": row ")
    digits = rest.split(",", 1)[0].split(":", 1)[0]
    return (int(digits) if found and digits.isdigit() else 0, error)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the officer dialogue in the terminal on a throw-away database."""
    from handlers.console import DEMO_UNIT, DemoError, main_demo

    config = load(args)
    try:
        return main_demo(config, usable_database(Path(args.db), "--db") if args.db else None,
                         args.date, clean_code(args.unit) if args.unit else DEMO_UNIT)
    except DemoError as e:
        raise CommandError(str(e)) from e


def cmd_invite_create(args: argparse.Namespace) -> int:
    """Create an invite code for a unit and role."""
    from bot.app import BOT_USERNAME_KEY, ZALO_BOT_NAME_KEY, system_clock
    from bot.domain.roles import Role
    from bot.services.invites import InviteError, create_invite, invite_link, zalo_invite

    config = load(args)

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            unit = clean_code(args.unit)  # as codes are stored (units import cleans them)
            invite = await create_invite(storage, unit, Role(args.role), args.uses,
                                         args.expires_days, system_clock())
            username = config.telegram.username or await storage.get_setting(BOT_USERNAME_KEY)
            zalo_name = await storage.get_setting(ZALO_BOT_NAME_KEY)
        except InviteError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_ERROR
        finally:
            await storage.close()
        print(invite.code)
        link = invite_link(username, invite.code)
        if link:
            print(link)
        zalo = zalo_invite(config.zalo.link, zalo_name, invite.code,
                           bool(config.zalo_token() or config.zalo.link or zalo_name))
        if zalo:
            print(zalo)
        expiry = invite.expires_at.date().isoformat() if invite.expires_at else "never"
        print(f"unit {invite.unit_code}, role {invite.role.value}, uses {invite.max_uses}, "
              f"expires {expiry}", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(run())


def _received(text: str) -> tuple[date, time | None]:
    """`--received`: a day, or a day and a local time ('2026-03-04 16:30')."""
    day, _, clock = text.strip().partition(" ")
    at = None
    if clock.strip():
        try:
            at = time.fromisoformat(clock.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a time: {clock.strip()!r} (use 2026-03-04 16:30)") from None
    return _day(day), at


def _day(text: str) -> date:
    """A CLI date: 2026-03-05 or 05/03/2026."""
    from bot.domain.answers import parse_date

    try:
        return date.fromisoformat(text)
    except ValueError:
        found = parse_date(text)
        if isinstance(found, date):
            return found
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use 2026-03-05)") from None


def _demo_day(text: str) -> date:
    """`demo --date`: a day of the years periods exist in (1900–9998), so the demo's clock,
    its invite's expiry and every window it lists stay inside the calendar."""
    day = _day(text)
    if not date(1900, 1, 1) <= day <= date(9998, 12, 31):
        raise argparse.ArgumentTypeError(f"{day.isoformat()} is outside 1900-01-01 to "
                                         "9998-12-31")
    return day


def cmd_reminders_preview(args: argparse.Namespace) -> int:
    """List the reminders that would go out in a window; sends nothing."""
    from bot.app import build_app

    config = load(args)
    if args.to < args.start:
        print("error: --to is before --from", file=sys.stderr)
        return EXIT_ERROR
    configured_database(config)
    problems = load_configured_templates(config)[1]  # as check-config: reminder times too
    if problems:
        raise ConfigError(problems)

    async def run() -> int:
        app = await build_app(config)
        try:
            planned = await app.reminders.preview(args.start, args.to)
        finally:
            await app.close()
        for p in planned:
            at = p.slot.at.astimezone(config.zone)
            if args.json:
                print(json.dumps({"at": at.isoformat(), "unit": p.unit.code,
                                  "template": p.window.template.id, "period": p.window.period.id,
                                  "kind": p.slot.kind, "recipients": len(p.recipients)},
                                 ensure_ascii=False))
            else:
                print(f"{at:%Y-%m-%d %H:%M}  {p.unit.code}  {p.window.template.id}  "
                      f"{p.window.period.id}  {p.slot.kind}  {len(p.recipients)} recipient(s)")
        if not args.json:
            print(f"{len(planned)} reminder(s) from {args.start} to {args.to}", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(run())


def cmd_digests_preview(args: argparse.Namespace) -> int:
    """List the supervisors' scheduled digests that would go out in a window; sends nothing."""
    from bot.app import build_app

    config = load(args)
    if args.to < args.start:
        print("error: --to is before --from", file=sys.stderr)
        return EXIT_ERROR
    configured_database(config)
    problems = load_configured_templates(config)[1]
    if problems:
        raise ConfigError(problems)

    async def run() -> int:
        app = await build_app(config)
        try:
            planned = await app.digests.preview(args.start, args.to)
        finally:
            await app.close()
        for p in planned:
            at = p.slot.at.astimezone(config.zone)
            who = f"{p.person.display_name} ({p.person.channel}:{p.person.external_id})"
            if args.json:
                print(json.dumps({"at": at.isoformat(), "person": p.person.id,
                                  "name": p.person.display_name, "unit": p.root,
                                  "template": p.window.template.id,
                                  "period": p.window.period.id, "kind": p.slot.kind},
                                 ensure_ascii=False))
            else:
                print(f"{at:%Y-%m-%d %H:%M}  {who}  {p.root}  {p.window.template.id}  "
                      f"{p.window.period.id}  {p.slot.kind}")
        if not args.json:
            print(f"{len(planned)} digest(s) from {args.start} to {args.to}", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(run())


def cmd_calendar(args: argparse.Namespace) -> int:
    """Every report window due in a range of days (of the templates that apply to a unit)."""
    from bot.domain.reports import windows_due_between
    from bot.domain.units import applies_in, expected

    config = load(args)
    if args.to < args.start:
        print("error: --to is before --from", file=sys.stderr)
        return EXIT_ERROR
    templates, problems = load_configured_templates(config)
    if problems:
        raise ConfigError(problems)
    chosen = sorted(templates.values(), key=lambda t: t.id)
    if args.unit is not None:
        code = clean_code(args.unit)
        if not config.storage.path.exists():  # a look at the calendar creates no database
            raise CommandError(f"no database at {config.storage.path} (storage.path in "
                               f"{config.source}) yet: import units first with "
                               "`baocao units import FILE`")

        async def read_units() -> dict[str, Any]:
            storage = await _open_storage(config)
            try:
                return {u.code: u for u in await storage.list_units()}
            finally:
                await storage.close()

        units = asyncio.run(read_units())
        if code not in units:
            raise CommandError(f"unknown unit {shown(code)} (see `baocao units list`)")
        chosen = [t for t in chosen if applies_in(t.applies_to, code, units)]
        unit = units[code]
    windows = sorted((w for t in chosen for w in windows_due_between(
        t, args.start, args.to, config.zone, config.reports.lock_days)
        if args.unit is None or expected(unit, w.period)),
        key=lambda w: (w.due, w.template.id, w.period.id))
    for w in windows:
        opens, due, locks = w.period.start, w.due.astimezone(config.zone), w.lock.astimezone(
            config.zone)
        if args.json:
            print(json.dumps({"template": w.template.id, "title": w.template.title,
                              "period": w.period.id, "opens": opens.isoformat(),
                              "due": due.isoformat(), "locks": locks.isoformat(),
                              "basis": w.template.basis}, ensure_ascii=False))
        else:
            print(f"due {due:%Y-%m-%d %H:%M}  {w.template.id}  {w.period.id} "
                  f"({w.period.label_vi()})  opens {opens}  locks {locks:%Y-%m-%d %H:%M}  "
                  f"{w.template.basis}  {w.template.title}")
    if not args.json:
        print(f"{len(windows)} window(s) due from {args.start} to {args.to}", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """Messages each channel sent by month (Zalo against its monthly quota)."""
    config = load(args)

    async def run() -> int:
        storage = await _open_storage(config)
        try:
            counts = await storage.message_counts()
        finally:
            await storage.close()
        quota = config.zalo.monthly_quota
        recent = sorted({month for _, month, _ in counts}, reverse=True)[:max(1, args.months)]
        rows = [{"channel": channel, "month": month, "sent": sent,
                 "quota": quota if channel == "zalo" and quota else None}
                for channel, month, sent in counts if month in recent]
        if args.json:
            print(json.dumps({"messages": rows}, ensure_ascii=False))
            return EXIT_OK
        if not rows:
            print("no messages counted yet (Zalo messages are counted once `baocao run` sends)")
        for r in rows:
            share = f" of {r['quota']:,} ({r['sent'] / r['quota']:.0%})" if r["quota"] else ""
            print(f"{r['channel']:<9} {r['month']}  {r['sent']:,} messages{share}")
        return EXIT_OK

    return asyncio.run(run())


def _report_request(args: argparse.Namespace) -> tuple[Config, Template, Period, str]:
    """`--template`, `--period`, `--unit` of `digest` and `export`, checked: an unknown
    template or period, a period not started, no database are CommandErrors."""
    config = load(args)
    templates, problems = load_configured_templates(config)
    if problems:
        raise ConfigError(problems)
    t = templates.get(args.template)
    if t is None:
        raise CommandError(f"unknown template {args.template!r} (known: "
                           f"{', '.join(sorted(templates)) or 'none'})")
    try:
        period = Period.parse(args.period)
    except PeriodError as e:
        raise CommandError(str(e)) from e
    if period.start > datetime.now(config.zone).date():  # nothing owed yet, none missing
        raise CommandError(f"period {period.id} has not started yet (it starts "
                           f"{period.start})")
    code = clean_code(args.unit)
    if not config.storage.path.exists():  # a digest creates no database
        raise CommandError(f"no database at {config.storage.path} (storage.path in "
                           f"{config.source})")
    return config, t, period, code


def _root(units: dict[str, Unit], code: str) -> str:
    """The unit named by `--unit` (its case need not match when only one unit fits)."""
    same = [c for c in units if c.casefold() == code.casefold()]
    root = code if code in units else same[0] if len(same) == 1 else None
    if root is None:
        raise CommandError(f"unknown unit {shown(code)} (see `baocao units list`)")
    return root


def cmd_digest(args: argparse.Namespace) -> int:
    """The supervisor's digest of one template × period × subtree (text or one JSON object)."""
    from bot.domain.digest import DigestError
    from bot.services.digests import digest

    config, t, period, code = _report_request(args)

    async def run() -> Any:
        storage = await _open_storage(config)
        try:
            units = {u.code: u for u in await storage.list_units()}
            root = _root(units, code)
            return await digest(storage, t, period, root, datetime.now(config.zone),
                                config.zone, config.reports.lock_days, units)
        finally:
            await storage.close()

    # One run over a province's 20,000 reports allocates ~700,000 answers and objects, none
    # of them cyclic garbage: the collector's sweeps over them were ~15% of the command. And
    # the process ends next: its last collections at exit need not sweep what is left (the
    # modules, the validators), ~80 ms of a cold digest (at exit only: a test run goes on).
    atexit.register(gc.freeze)
    collecting = gc.isenabled()
    gc.disable()
    try:
        d = asyncio.run(run())
    except DigestError as e:
        raise CommandError(str(e)) from e
    finally:
        if collecting:
            gc.enable()
    if args.json:
        print(json.dumps(d.to_json(), ensure_ascii=False))
    else:
        print("\n".join(digest_lines(d)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """One report × period × subtree as a file: the Excel workbook, the long CSV or the
    draft official report (.docx), written atomically."""
    from bot.domain.digest import DigestError
    from bot.exports.names import export_name
    from bot.exports.save import write_atomically

    maker: Callable[..., Any]
    extra: tuple[Any, ...] = ()
    config, t, period, code = _report_request(args)
    if args.format == "docx":
        from bot.exports.docx_report import docx_file
        maker = docx_file
        extra = (config.organization,)
    elif args.format == "csv":
        from bot.exports.workbook import csv_file
        maker = csv_file
    else:
        from bot.exports.workbook import xlsx_file
        maker = xlsx_file

    async def run() -> tuple[bytes, Path]:
        storage = await _open_storage(config)
        try:
            units = {u.code: u for u in await storage.list_units()}
            root = _root(units, code)
            out = args.out if args.out is not None else Path(
                export_name(t, period, units[root], args.format))
            if out.is_dir():
                raise CommandError(f"{out} is a folder: give a file name with --out")
            if not out.parent.is_dir():
                raise CommandError(f"no folder {out.parent} for {out.name}")
            data = await maker(storage, t, period, root, datetime.now(config.zone),
                               config.zone, config.reports.lock_days, units, *extra)
            return data, out
        finally:
            await storage.close()

    collecting = gc.isenabled()
    gc.disable()  # as for `digest`: nothing made is cyclic garbage
    try:
        data, out = asyncio.run(run())
    except DigestError as e:
        raise CommandError(str(e)) from e
    finally:
        if collecting:
            gc.enable()
    try:
        write_atomically(out, data)
    except OSError as e:
        raise CommandError(f"cannot write {out}: {e.strerror or e}") from e
    print(f"wrote {out} ({len(data):,} bytes)")
    return EXIT_OK


def _rate(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0%}"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _figure(value: Any) -> str:
    from bot.domain.rollup import shown as shown_figure

    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
    return shown_figure(value)


def digest_lines(d: Any) -> list[str]:
    """`baocao digest` as text: the completeness, every missing and late unit, the figures
    beside the previous period's, the targets, one line per child unit."""
    c = d.completeness
    out = [f"{d.title} ({d.template}) — {d.period.id} ({d.period.label_vi()}) — "
           f"{d.name} ({d.unit})",
           f"sent {c.actual}/{c.expected} ({_rate(c.completeness)}), on time {c.on_time} "
           f"({_rate(c.timeliness)})"]
    if c.missing:
        out.append(f"missing ({len(c.missing_units)}): " + ", ".join(
            m.unit + (f" {m.period}" if len(d.periods) > 1 else "")
            + (" returned" if m.returned else "")
            + (f" ({_days(m.overdue_days)} overdue)" if m.overdue_days else "")
            for m in c.missing))
    if c.late:
        out.append(f"late ({len(c.late_units)}): " + ", ".join(
            f"{x.unit} ({_days(x.days_late)} late)" for x in c.late))
    if c.in_progress:
        out.append("in progress: " + ", ".join(f"{p.unit} {p.answered}/{p.total}"
                                                for p in c.in_progress))
    if c.no_officer:
        out.append("no officer: " + ", ".join(c.no_officer))
    if c.unreachable:
        out.append("officers unreachable: " + ", ".join(c.unreachable))
    before = f" (previous: {d.previous.id})" if d.previous else ""
    out.append(f"figures{before}:")
    for f in d.figures:
        unit = f" {f.unit}" if f.unit and f.distribution is None else ""
        pct = "%" if f.aggregation.value == "ratio" else ""
        out.append(f"  {f.question}: {_figure(f.shown_value())}{pct * (f.value is not None)}"
                   f"{unit} [{f.aggregation.value}, {f.units} units]"
                   + (f" previous {_figure(f.shown_previous())}{pct * (f.previous is not None)}"
                      if d.previous else ""))
    if d.targets:
        out.append("targets:")
    for tl in d.targets:
        mark = {True: "met", False: "NOT met", None: "not known yet"}[tl.met]
        progress = f", {_rate(tl.progress / 100)}" if tl.progress is not None else ""
        failing = f"; not met by {', '.join(tl.failing)}" if tl.failing else ""
        out.append(f"  {tl.label}: {_figure(tl.value)} / {_figure(tl.goal)} ({tl.scope}) "
                   f"{mark}{progress}{failing}")
    if d.children:
        out.append("children:")
    for child in d.children:
        cc = child.completeness
        out.append(f"  {child.unit} {child.name}: sent {cc.actual}/{cc.expected} "
                   f"({_rate(cc.completeness)}), on time {cc.on_time}, missing "
                   f"{len(cc.missing_units)}")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot on every channel that has a token (Telegram, Zalo or both)."""
    config = load(args)
    if config.token() or not config.zalo_token():
        from handlers.telegram.runner import run_bot

        return run_bot(config)  # with Zalo beside it when Zalo has a token too
    problems = [*token_problems(config), *run_problems(config),
                *load_configured_templates(config)[1]]
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return EXIT_CONFIG
    from handlers.zalo.runner import run_zalo_only

    return run_zalo_only(config)


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baocao",
        description="baocao: chatbot for periodic field reporting (Telegram, Zalo, terminal demo).",
    )
    parser.add_argument("--config", type=Path, default=None,
                        help=f"config file (default: ${CONFIG_ENV} or ./config.toml; "
                             "built-in defaults when absent)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more: -v baocao's debug messages and libraries' info (one "
                             "line per Bot API request, token redacted); -vv everything")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("check-config", help="check the config file and all report templates")
    p.add_argument("--verbose", dest="details", action="store_true",
                   help="list each template's schedules, lifetime, scope and targets, and "
                        "whether each figure is the plan's own (plan: \"quote\") or assumed")
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser("deadline", help="print the due instant of a Vietnamese deadline phrase")
    p.add_argument("phrase", help="e.g. 'trước ngày 05 tháng cuối quý'")
    p.add_argument("--period", required=True, help="period id: 2026-W10, 2026-03, 2026-Q1, "
                   "2026-H1, 2026-9M (January–September) or 2026")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_deadline)

    units = sub.add_parser("units", help="manage the unit tree")
    usub = units.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    p = usub.add_parser("import", help="import units from CSV/XLSX (code,name,parent_code,"
                        "level[,org]); never deletes a unit")
    p.add_argument("file", help="a .csv (UTF-8) or .xlsx file")
    p.set_defaults(handler=cmd_units_import)
    p = usub.add_parser("list", help="print the unit tree (retired units marked)")
    p.set_defaults(handler=cmd_units_list)
    p = usub.add_parser("retire", help="retire units: no report is expected of them for "
                        "periods starting after --on; their history stays")
    p.add_argument("codes", nargs="+", metavar="CODE", help="unit code(s)")
    p.add_argument("--on", type=_day, default=None, help="their last day (default: today)")
    p.add_argument("--undo", action="store_true", help="make retired units report again")
    p.set_defaults(handler=cmd_units_retire)
    p = usub.add_parser("merge", help="merge units into another: they retire and their "
                        "figures carry to it")
    p.add_argument("codes", nargs="+", metavar="OLD", help="code(s) of the units merged")
    p.add_argument("--into", required=True, metavar="NEW", help="the unit that takes them over")
    p.add_argument("--on", type=_day, default=None, help="their last day (default: today)")
    p.set_defaults(handler=cmd_units_merge)

    submissions = sub.add_parser("submissions", help="reports entered for units")
    ssub = submissions.add_subparsers(dest="submissions_command", metavar="ACTION",
                                      required=True)
    p = ssub.add_parser("import", help="import reports from CSV/XLSX: a 'unit' column, then one "
                        "column per question id, one row per unit (all or nothing)")
    p.add_argument("file", help="a .csv (UTF-8) or .xlsx file")
    p.add_argument("--template", required=True, help="template id")
    p.add_argument("--period", required=True, help="period id: 2026-03, 2026-Q1, 2026-H1, 2026")
    p.add_argument("--replace", action="store_true", help="units that already sent a report "
                   "for the period get a correction (a new version) instead of an error")
    p.add_argument("--dry-run", action="store_true", help="check the file and print what "
                   "would be imported; write nothing")
    p.add_argument("--received", type=_received, default=None, metavar="WHEN",
                   help="when the reports reached you (phone, paper), local time: "
                   "'2026-03-04 16:30', or a day alone (noon); timeliness is judged by it "
                   "(default: now)")
    p.set_defaults(handler=cmd_submissions_import)

    p = sub.add_parser("demo", help="try the officer dialogue in the terminal (no token needed)")
    p.add_argument("--db", help="keep the demo database in this file (default: temporary); "
                   "a second run continues where the first stopped")
    p.add_argument("--date", type=_demo_day, default=None, help="play as if today were this day, "
                   "2025-10-01 (to try a template whose plan has ended)")
    p.add_argument("--unit", default=None, help="play the officer of this unit of the sample "
                   "tree (default LCH-TAMDUONG), e.g. LC-BATXAT")
    p.set_defaults(handler=cmd_demo, quiet_logs=True)

    invite = sub.add_parser("invite", help="manage invite codes")
    isub = invite.add_subparsers(dest="invite_command", metavar="ACTION", required=True)
    p = isub.add_parser("create", help="create an invite code (printed alone on the first line)")
    p.add_argument("--unit", required=True, help="unit code (see `baocao units list`)")
    p.add_argument("--role", required=True, choices=["officer", "supervisor", "admin"])
    p.add_argument("--uses", type=int, default=1, help="how many people may join with it "
                   "(default 1)")
    p.add_argument("--expires-days", type=int, default=14,
                   help="days until the code expires (default 14)")
    p.set_defaults(handler=cmd_invite_create)
    from bot.cli_roster import register  # invite list|revoke, people list|remove|role

    register(sub, isub)

    reminders = sub.add_parser("reminders", help="reminders and overdue notices")
    rsub = reminders.add_subparsers(dest="reminders_command", metavar="ACTION", required=True)
    p = rsub.add_parser("preview", help="list what would be sent in a window (sends nothing)")
    p.add_argument("--from", dest="start", type=_day, required=True, help="first day, 2026-03-01")
    p.add_argument("--to", type=_day, required=True, help="last day (inclusive), 2026-03-31")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_reminders_preview)

    digests = sub.add_parser("digests", help="supervisors' scheduled digests")
    dsub = digests.add_subparsers(dest="digests_command", metavar="ACTION", required=True)
    p = dsub.add_parser("preview", help="list who would get which digest when (sends nothing)")
    p.add_argument("--from", dest="start", type=_day, required=True, help="first day, 2026-03-01")
    p.add_argument("--to", type=_day, required=True, help="last day (inclusive), 2026-03-31")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_digests_preview)

    p = sub.add_parser("calendar", help="every report window due in a range of days (to check "
                       "templates before officers see them)")
    p.add_argument("--from", dest="start", type=_day, required=True, help="first day, 2025-01-01")
    p.add_argument("--to", type=_day, required=True, help="last day (inclusive), 2025-12-31")
    p.add_argument("--unit", help="only the templates that apply to this unit (reads the "
                   "database's unit tree)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_calendar)

    p = sub.add_parser("stats", help="messages sent by channel and month (Zalo: against its "
                       "monthly quota)")
    p.add_argument("--months", type=int, default=3, help="how many recent months (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("digest", help="a supervisor's digest: completeness, figures rolled up "
                       "and targets of one report, period and subtree")
    p.add_argument("--template", required=True, help="template id (see `baocao check-config`)")
    p.add_argument("--period", required=True, help="period id, e.g. 2026-03, 2026-Q1 (a "
                   "quarter of a monthly report combines its months) or 2026")
    p.add_argument("--unit", required=True, help="the subtree's root unit code")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_digest)

    p = sub.add_parser("export", help="one report, period and subtree as a file: Excel "
                       "workbook, long CSV or draft official report (.docx)")
    p.add_argument("--template", required=True, help="template id (see `baocao check-config`)")
    p.add_argument("--period", required=True, help="period id, e.g. 2026-03, 2026-Q1")
    p.add_argument("--unit", required=True, help="the subtree's root unit code")
    p.add_argument("--format", choices=["xlsx", "csv", "docx"], default="xlsx",
                   help="xlsx (default), csv (long: unit, question, value, period, version) "
                   "or docx")
    p.add_argument("--out", type=Path, help="the file to write (default: a name such as "
                   "bao-cao-ocop-2026-Q1-tinh-lao-cai.xlsx in the current folder)")
    p.set_defaults(handler=cmd_export)

    from bot.cli_broadcasts import add_parser as add_broadcast_parser

    add_broadcast_parser(sub)

    p = sub.add_parser("run", help="run the bot on every configured channel (Telegram, Zalo; "
                       "long polling or webhook, per config)")
    p.set_defaults(handler=cmd_run)
    return parser


def _not_utf8(argv: Sequence[str]) -> str | None:
    """The flag whose value the terminal could not decode (a TCVN3 or VNI shell): Python
    keeps such bytes as surrogates, which SQLite and every file refuse later mid-command."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            flag = next((a for a in reversed(argv[:i]) if a.startswith("-")), "an argument")
            return (f"{flag} is not UTF-8 text: set the terminal to UTF-8 (or save the text "
                    "as UTF-8 and give the file)")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    problem = _not_utf8(list(sys.argv[1:] if argv is None else argv))
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.verbose, quiet=getattr(args, "quiet_logs", False),
                   secrets=[os.environ.get(TOKEN_ENV)])
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return EXIT_CONFIG
    except (CommandError, StorageError) as e:  # StorageError says "cannot open database …"
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
        # another process held the write lock past the busy timeout: its transaction was
        # rolled back whole, so saying so is enough (not a traceback)
        print("error: the database is busy (another program is writing to it): try again",
              file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
