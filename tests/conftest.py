"""Shared fixtures: real SQLite files in a temporary folder, the shipped templates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import SHIPPED_REPORTS
from bot.domain.templates import Template, load_templates
from storage.database import Database
from storage.sqlite import SqliteStorage

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
async def close_databases_left_open(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A test that fails before closing its database would leave aiosqlite's (non-daemon)
    threads running, and the whole run would hang at exit instead of reporting the failure."""
    opened: list[Database] = []
    real_open = Database.open.__func__  # type: ignore[attr-defined]

    async def recording_open(cls: type[Database], /, *args: object, **kwargs: object
                             ) -> Database:
        db: Database = await real_open(cls, *args, **kwargs)
        opened.append(db)
        return db

    monkeypatch.setattr(Database, "open", classmethod(recording_open))
    yield
    for db in opened:
        await db.close()  # closing twice does nothing


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A command-line test's working folder, with no config or token from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("BAOCAO_CONFIG", "BAOCAO_TELEGRAM_TOKEN", "BAOCAO_ZALO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "baocao.db"


@pytest.fixture
async def storage(db_path: Path) -> AsyncIterator[SqliteStorage]:
    s = await SqliteStorage.open(db_path)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(scope="session")
def shipped_templates() -> dict[str, Template]:
    templates, problems = load_templates(SHIPPED_REPORTS)
    assert not problems, [str(p) for p in problems]
    return templates


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: end-to-end runs of a minute or more (deselect with -m 'not slow')")
