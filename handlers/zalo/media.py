"""Pictures officers send on Zalo, kept by baocao: Zalo's photo URLs expire, a report's
evidence must not.

The picture is fetched when the message arrives and stored under the database's folder
(`media/`), named by its SHA-256 (the same picture sent twice is kept once). The answer
stores `media:<name>`; if the server cannot answer now (the network, a 5xx), the answer
stores the URL itself (still usable until Zalo lets it expire) and the log says so. What the
URL gives is no picture at all (gone, a page, too large, empty): nothing is stored, and the
officer is asked to send it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import httpx

log = logging.getLogger(__name__)
MAX_BYTES = 10 * 1024 * 1024  # Zalo's own limit for a picture is lower
PREFIX = "media:"
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
              "image/gif": ".gif", "image/heic": ".heic"}


class NoPicture(ValueError):
    """What the URL gives is no picture to keep; trying again would not change that."""


class MediaStore:
    """A folder of fetched pictures; `keep(url)` → the value an answer stores, or None."""

    def __init__(self, folder: Path, http: httpx.AsyncClient, attempts: int = 2) -> None:
        self.folder = folder
        self._http = http
        self._attempts = attempts

    async def close(self) -> None:
        await self._http.aclose()

    def path_of(self, value: str) -> Path | None:
        """The file of a stored value (`media:…`), None for a URL or anything else."""
        if not value.startswith(PREFIX):
            return None
        name = Path(value[len(PREFIX):]).name  # never a path outside the folder
        return self.folder / name

    async def keep(self, url: str) -> str | None:
        """`media:<name>`; the URL when it could not be fetched now; None when what it gives
        is no picture (nothing to store: the officer must send it again)."""
        for attempt in range(1, self._attempts + 1):
            try:
                return PREFIX + await self._fetch(url)
            except NoPicture as e:
                log.warning("a Zalo picture cannot be kept: %s", e)
                return None
            except (httpx.HTTPError, OSError) as e:
                log.warning("could not fetch a Zalo picture (try %d of %d): %s", attempt,
                            self._attempts, e)
                if attempt < self._attempts:
                    await asyncio.sleep(1.0)
        return url

    async def _fetch(self, url: str) -> str:
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        size = 0
        async with self._http.stream("GET", url, follow_redirects=True) as response:
            status = response.status_code
            if status >= 400:
                failure = f"HTTP {status} for {url}"
                if status < 500 and status not in (408, 429):
                    raise NoPicture(failure)  # gone (Zalo's URLs expire), or never was
                raise httpx.HTTPStatusError(failure, request=response.request,
                                            response=response)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and not kind.startswith("image/"):
                raise NoPicture(f"not a picture: {kind}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise NoPicture(f"picture larger than {MAX_BYTES // 1024 // 1024} MB")
                digest.update(chunk)
                chunks.append(chunk)
        if size == 0:
            raise NoPicture("empty picture")
        name = digest.hexdigest()[:32] + EXTENSIONS.get(kind, ".jpg")
        await asyncio.to_thread(self._write, name, b"".join(chunks))
        return name

    def _write(self, name: str, content: bytes) -> None:
        target = self.folder / name
        if target.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)  # whole or not at all
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
