"""Configuration: one pydantic model loaded from TOML; unknown keys fail at start-up by path."""

from __future__ import annotations

import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.domain.templates import Problem, problems_from_validation

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_REPORTS = REPO_ROOT / "reports"
DEFAULT_CONFIG = Path("config.toml")
TOKEN_ENV = "BAOCAO_TELEGRAM_TOKEN"
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


class StorageConfig(_Section):
    path: Path = Path("data/baocao.db")


class ReportsConfig(_Section):
    dir: Path | None = None  # None: the shipped reports/ folder
    lock_days: int = Field(default=10, ge=0, le=366)

    @property
    def folder(self) -> Path:
        return self.dir if self.dir is not None else SHIPPED_REPORTS


class RemindersConfig(_Section):
    days_before: list[int] = [7, 3, 1]
    send_at: time = time(8, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    overdue_every_days: int = Field(default=3, ge=1, le=60)

    @field_validator("days_before")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 60 for d in v):
            raise ValueError("every offset must be between 1 and 60 days")
        return sorted(set(v), reverse=True)


class Config(_Section):
    timezone: str = "Asia/Ho_Chi_Minh"
    telegram: TelegramConfig = TelegramConfig()
    storage: StorageConfig = StorageConfig()
    reports: ReportsConfig = ReportsConfig()
    reminders: RemindersConfig = RemindersConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token(self) -> str | None:
        """The bot token: the environment wins over the file."""
        env = os.environ.get(TOKEN_ENV)
        if env:
            return env
        return self.telegram.token.get_secret_value() if self.telegram.token else None


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
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(problems_from_validation(name, e)) from e
