"""Configuration: one pydantic model loaded from TOML; unknown keys fail at start-up by path."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sqlite3
import tempfile
import tomllib
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.templates import (
    LocalTime,
    Problem,
    QuietHours,
    Template,
    load_templates,
    problems_from_validation,
    send_at_problem,
)

# The shipped templates are package data (bot/reports/*.toml): found beside this module in a
# checkout, an editable install, a wheel or a pipx install alike.
SHIPPED_REPORTS = Path(__file__).resolve().parent / "reports"
DEFAULT_CONFIG = Path("config.toml")
TOKEN_ENV = "BAOCAO_TELEGRAM_TOKEN"
ZALO_TOKEN_ENV = "BAOCAO_ZALO_TOKEN"
CONFIG_ENV = "BAOCAO_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramConfig(_Section):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    username: str | None = None  # the bot's @username, for invite links
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    # Telegram's limits for everything the bot sends (0 = no limit: benchmarks only).
    max_per_second: float = Field(default=30.0, ge=0, le=1000)
    max_per_chat_per_second: float = Field(default=1.0, ge=0, le=100)
    chat_burst: int = Field(default=3, ge=1, le=100)


class ZaloConfig(_Section):
    token: SecretStr | None = None
    base_url: str = "https://bot-api.zaloplatforms.com/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen: str = "127.0.0.1"
    port: int = Field(default=8444, ge=1, le=65535)
    # The bot's Zalo link (shown by Zalo Bot Manager), printed with invite codes.
    link: str | None = None
    # Outbound messages a month on the bot's plan (free: 3,000); admins are warned before.
    monthly_quota: int = Field(default=3000, ge=0, le=10_000_000)
    # Seconds one getUpdates call waits for a message (the HTTP read waits longer). A stop
    # waits for the call in flight (Zalo would hand the next message to it), so at most this.
    poll_timeout: int = Field(default=10, ge=1, le=60)
    max_per_second: float = Field(default=30.0, ge=0, le=1000)
    max_per_chat_per_second: float = Field(default=1.0, ge=0, le=100)
    chat_burst: int = Field(default=3, ge=1, le=100)


class StorageConfig(_Section):
    path: Path = Path("data/baocao.db")


class ReportsConfig(_Section):
    dir: Path | None = None  # None: the shipped templates (bot/reports/ in the package)
    lock_days: int = Field(default=10, ge=0, le=366)

    @property
    def folder(self) -> Path:
        return self.dir if self.dir is not None else SHIPPED_REPORTS


class RemindersConfig(_Section):
    days_before: list[int] = [7, 3, 1]
    # The quiet hours come before send_at, which is checked against them (validators see the
    # fields declared above their own).
    quiet_start: LocalTime = time(21, 0)
    quiet_end: LocalTime = time(7, 0)
    send_at: LocalTime = Field(default=time(8, 0), validate_default=True)
    overdue_every_days: int = Field(default=3, ge=1, le=60)

    @property
    def quiet(self) -> QuietHours:
        return self.quiet_start, self.quiet_end

    @field_validator("send_at")
    @classmethod
    def _outside_quiet_hours(cls, v: time, info: ValidationInfo) -> time:
        start, end = info.data.get("quiet_start"), info.data.get("quiet_end")
        why = send_at_problem(v, (start, end)) if start is not None and end is not None else None
        if why:
            raise ValueError(why)
        return v

    @field_validator("days_before")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 60 for d in v):
            raise ValueError("every offset must be between 1 and 60 days")
        return sorted(set(v), reverse=True)


DigestKind = Literal["last_day", "after_due", "weekly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class DigestsConfig(_Section):
    """Digests pushed to supervisors (a template's own [digests] overrides these keys).

    last_day: the morning of the last on-time day (who is still missing); after_due: the
    morning after the due instant (final completeness and figures); weekly: on `weekly_on`
    while a window is open. All at `send_at`, local time, never in the quiet hours of
    [reminders]."""

    send: list[DigestKind] = ["last_day", "after_due", "weekly"]
    send_at: LocalTime = time(7, 30)
    weekly_on: Weekday = "monday"
    # A unit this many days past the due instant is named as overdue ("quá hạn") in digests.
    escalate_after_days: int = Field(default=3, ge=1, le=60)
    # "Nhắc các đơn vị chưa gửi": a unit is reminded by hand at most once in this many hours.
    nudge_every_hours: int = Field(default=24, ge=1, le=24 * 14)


OrgKind = Literal["state", "doan", "dang", "hoi"]


class OrganizationConfig(_Section):
    """The body that issues the draft official report (.docx): its header follows `kind`
    (state: Nghị định 30/2020/NĐ-CP; doan: the Youth Union; dang: the Party; hoi: a mass
    association, headed as a state body). The defaults give a draft with "…" to fill."""

    kind: OrgKind = "doan"
    name: str = Field(default="BCH ĐOÀN …", min_length=1, max_length=200)  # the issuing body
    parent: str = Field(default="", max_length=200)  # the line above it ("" for none)
    place: str = Field(default="…", min_length=1, max_length=100)  # "Lào Cai, ngày …"
    # after the number: "-BC/TĐTN-VP" (doan, dang), "/BC-UBND" (state); "" = by kind
    number_suffix: str = Field(default="", max_length=100)
    signer_title: str = Field(default="", max_length=200)  # "" = by kind (T/M BAN THƯỜNG VỤ…)
    signer_name: str = Field(default="", max_length=100)
    recipients: list[str] = ["Như trên;", "Lưu VP."]
    # The unit code whose body `name`, `parent`, the number and the signer are (e.g. "LC"): a
    # report over another unit (a district's) is headed with that unit's own name and its
    # parent's, the number and signer left to fill. "" = every report is headed with `name`.
    unit: str = Field(default="", max_length=64)


class BroadcastsConfig(_Section):
    """Announcements: admins send them within their subtrees; supervisors too when allowed."""

    supervisors: bool = False


class Config(_Section):
    timezone: str = "Asia/Ho_Chi_Minh"
    telegram: TelegramConfig = TelegramConfig()
    zalo: ZaloConfig = ZaloConfig()
    storage: StorageConfig = StorageConfig()
    reports: ReportsConfig = ReportsConfig()
    reminders: RemindersConfig = RemindersConfig()
    digests: DigestsConfig = DigestsConfig()
    organization: OrganizationConfig = OrganizationConfig()
    broadcasts: BroadcastsConfig = BroadcastsConfig()
    _source: str = PrivateAttr(default="(no config file)")  # the file, for messages

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @model_validator(mode="after")
    def _digests_outside_quiet_hours(self) -> Config:
        why = send_at_problem(self.digests.send_at, self.reminders.quiet)
        if why:
            raise ValueError(f"[digests] send_at: {why}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token(self) -> str | None:
        """The bot token: the environment wins over the file."""
        env = os.environ.get(TOKEN_ENV)
        if env:
            return env
        return self.telegram.token.get_secret_value() if self.telegram.token else None

    def zalo_token(self) -> str | None:
        """The Zalo bot token: the environment wins over the file."""
        env = os.environ.get(ZALO_TOKEN_ENV)
        if env:
            return env
        return self.zalo.token.get_secret_value() if self.zalo.token else None

    def channels(self) -> list[str]:
        """The channels `baocao run` starts: those with a token."""
        return [name for name, token in (("telegram", self.token()),
                                         ("zalo", self.zalo_token())) if token]

    @property
    def source(self) -> str:
        """The file this configuration was read from, as messages name it."""
        return self._source

    def secrets(self) -> list[str]:
        """Every configured secret, for log redaction."""
        hooks = [c.webhook_secret for c in (self.telegram, self.zalo)]
        found = [self.token(), self.zalo_token(),
                 *(h.get_secret_value() for h in hooks if h is not None)]
        return [s for s in found if s]


class ConfigError(Exception):
    """The configuration cannot be used; `problems` name the file and key of each."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_config(path: Path | None = None) -> Config:
    """Load `path` (or $BAOCAO_CONFIG, or ./config.toml); a missing default file means defaults."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    chosen = path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    name = str(chosen)
    if not chosen.exists():
        if explicit:
            raise ConfigError([Problem(file=name, path="", message="config file not found")])
        return Config()
    try:
        raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(file=name, path="", message=f"cannot read: {e}")]) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([Problem(file=name, path="", message=f"TOML syntax error: {e}")]) from e
    try:
        config = Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(problems_from_validation(name, e)) from e
    config._source = name
    return config


def load_configured_templates(config: Config, *, warnings: bool = False
                              ) -> tuple[dict[str, Template], list[Problem]]:
    """The report templates of `reports.dir` (or the shipped ones), checked against this
    configuration too: a template's own reminder time must be outside the quiet hours.
    Warnings (which load anyway) are among the problems only if asked for."""
    return load_templates(config.reports.folder, quiet=config.reminders.quiet,
                          warnings=warnings)


# --- what `baocao run` refuses --------------------------------------------------------------
# One function decides, for `run` (before it starts) and `check-config` alike, so they cannot
# drift: a database path SQLite cannot use, and Telegram's own refusals of setWebhook (plus a
# listen address that does not exist), checked before Telegram is asked.
OFFICIAL_API_HOST = "api.telegram.org"
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram calls a webhook on
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Bot API setWebhook: secret_token
BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")  # what @BotFather issues
ZALO_TOKEN = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_.~+/=-]+")  # "{bot id}:{access token}"


def run_problems(config: Config) -> list[Problem]:
    """Every reason `baocao run` would refuse this configuration, except a missing token (the
    other commands do not need one): see `token_problems`."""
    tg, name = config.telegram, config.source
    out: list[Problem] = storage_problems(config)

    def bad(key: str, message: str) -> None:
        out.append(Problem(file=name, path=f"telegram.{key}", message=message))

    api = urlsplit(tg.base_url)
    if api.scheme not in ("http", "https") or not api.hostname:
        bad("base_url", "must be an http(s) URL, e.g. https://api.telegram.org/bot")
    official = api.hostname == OFFICIAL_API_HOST
    out += zalo_problems(config)
    if tg.mode != "webhook":
        return out
    needed = 'required when telegram.mode = "webhook"'
    if not tg.webhook_url:
        bad("webhook_url", needed)
    else:
        out.extend(_webhook_url_problems(tg.webhook_url, official, name))
    if tg.webhook_secret is None:
        bad("webhook_secret", needed)
    elif not WEBHOOK_SECRET.fullmatch(tg.webhook_secret.get_secret_value()):
        bad("webhook_secret", "must be 1-256 characters, only A-Z a-z 0-9 _ - "
                              "(Telegram refuses any other)")
    if not listen_address_ok(tg.listen):
        bad("listen", f"{tg.listen!r} is not an IP address or a host name this machine can "
                      "resolve (127.0.0.1 behind a reverse proxy, 0.0.0.0 for every interface)")
    return out


ZALO_API_HOSTS = ("bot-api.zaloplatforms.com", "bot-api.zapps.me")
ZALO_SECRET = re.compile(r"\S{8,256}")  # setWebhook: secret_token of 8-256 characters


def zalo_problems(config: Config) -> list[Problem]:
    """What `baocao run` would refuse in [zalo] (checked whether or not it has a token)."""
    zl, name = config.zalo, config.source
    out: list[Problem] = []

    def bad(key: str, message: str) -> None:
        out.append(Problem(file=name, path=f"zalo.{key}", message=message))

    api = urlsplit(zl.base_url)
    if api.scheme not in ("http", "https") or not api.hostname:
        bad("base_url", "must be an http(s) URL, e.g. https://bot-api.zaloplatforms.com/bot")
    if zl.mode != "webhook":
        return out
    needed = 'required when zalo.mode = "webhook"'
    if not zl.webhook_url:
        bad("webhook_url", needed)
    else:
        hook = urlsplit(zl.webhook_url)
        if hook.scheme not in ("http", "https") or not hook.hostname:
            bad("webhook_url", "must be a URL such as https://baocao.example.vn/zalo")
        elif hook.scheme != "https" and api.hostname in ZALO_API_HOSTS:
            bad("webhook_url", "must start with https:// (Zalo calls webhooks over HTTPS)")
    if zl.webhook_secret is None:
        bad("webhook_secret", needed)
    elif not ZALO_SECRET.fullmatch(zl.webhook_secret.get_secret_value()):
        bad("webhook_secret", "must be 8-256 characters without spaces (Zalo refuses others)")
    if not listen_address_ok(zl.listen):
        bad("listen", f"{zl.listen!r} is not an IP address or a host name this machine can "
                      "resolve")
    if (config.telegram.mode == "webhook" and config.token() and zl.listen == config.telegram.listen
            and zl.port == config.telegram.port):
        bad("port", f"{zl.port} is telegram.port too: each webhook needs its own port")
    return out


def listen_address_ok(listen: str) -> bool:
    """An IP address, or a host name that resolves here (what the web server binds to)."""
    try:
        ipaddress.ip_address(listen)
        return True
    except ValueError:
        pass
    try:
        return bool(listen) and bool(socket.getaddrinfo(listen, None))
    except (OSError, UnicodeError):  # socket.gaierror; a label the idna codec refuses
        return False


def storage_problems(config: Config) -> list[Problem]:
    """`storage.path` cannot be the database: every command that opens it would fail."""
    why = database_problem(config.storage.path)
    if why is None:
        return []
    return [Problem(file=config.source, path="storage.path",
                    message=f"cannot open database {config.storage.path}: {why}")]


def database_problem(path: Path) -> str | None:
    """Why SQLite cannot keep its database at `path` (None: it can), without leaving anything
    behind. The database's folder must be writable (SQLite puts its -wal and -shm files beside
    it) or creatable (it is created on first start); an existing file must be a database."""
    if str(path) == ":memory:":
        return None
    if path.is_dir():
        return f"it is a folder, not a file (name a file in it, e.g. {path / 'baocao.db'})"
    if path.exists():
        try:  # read-only: a check changes nothing, even in a database in use
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                conn.execute("PRAGMA schema_version").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as e:
            return str(e)  # "file is not a database", "unable to open database file"
    folder = path.resolve().parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # "/" at the latest
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:  # writable, or a sub-folder can be made in it: try it, as SQLite would
        with tempfile.TemporaryDirectory(dir=existing, prefix=".baocao-check-"):
            pass
    except OSError as e:
        return f"cannot {'write in' if existing == folder else 'create'} {folder}: {e.strerror}"
    return None


def _webhook_url_problems(url: str, official: bool, name: str) -> list[Problem]:
    def bad(message: str) -> list[Problem]:
        return [Problem(file=name, path="telegram.webhook_url", message=message)]

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return bad("must be a URL such as https://baocao.example.vn/telegram")
    try:
        port = parts.port
    except ValueError:
        return bad("has an invalid port")
    if not official:
        # A self-hosted Bot API server (--local) calls http:// URLs on any port.
        return []
    if parts.scheme != "https":
        return bad("must start with https:// (Telegram calls webhooks over HTTPS only; "
                   "http:// works only with a self-hosted Bot API server in telegram.base_url)")
    if port is not None and port not in WEBHOOK_PORTS:
        return bad(f"port {port} is not one Telegram calls: use 443, 80, 88 or 8443")
    return []


def token_problems(config: Config) -> list[Problem]:
    """The tokens `run` needs: at least one channel's, each in its issuer's form (never shown
    in messages)."""
    out: list[Problem] = []
    if not config.token() and not config.zalo_token():
        return [Problem(file=config.source, path="telegram.token",
                        message=f"no bot token: set {TOKEN_ENV} (Telegram) or {ZALO_TOKEN_ENV} "
                                "(Zalo), or telegram.token / zalo.token")]
    for env, key, token, form, expected in (
            (TOKEN_ENV, "telegram.token", config.token(), BOT_TOKEN,
             "digits:letters, as @BotFather gives it"),
            (ZALO_TOKEN_ENV, "zalo.token", config.zalo_token(), ZALO_TOKEN,
             "bot id:key, as Zalo Bot Manager gives it")):
        if not token or form.fullmatch(token):
            continue
        message = f"not a bot token (expected {expected})"
        if os.environ.get(env):
            out.append(Problem(file=env, path="", message=message))
        else:
            out.append(Problem(file=config.source, path=key, message=message))
    return out
