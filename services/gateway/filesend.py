"""Sending a file from disk as an HTTP response body, as fast as the server allows.

* When the ASGI server offers the ``http.response.pathsend`` extension (granian does; it is in
  ``scope["extensions"]``) and the whole file is wanted, the server is handed the path and sends
  the file itself, without a byte passing through Python.
* Otherwise (uvicorn, a part of the file) the bytes are read with ``os.pread`` in chunks of
  ``CHUNK``, each in a worker thread (the event loop never waits on the disk), the next chunk read
  while the server sends the current one: at most two chunks of a download are in memory. The
  disk is asked ``AHEAD`` bytes past each chunk (``POSIX_FADV_WILLNEED``) so that a file not in
  the page cache is read at the disk's pace rather than in turns with the socket.

``python -m bench.downloads`` compares the download with reading the file from disk, and (from
the page cache, where loopback TCP is the limit) with a plain socket that ``os.sendfile``s it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from litestar.enums import ASGIExtension
from litestar.response import Stream
from litestar.response.streaming import ASGIStreamingResponse
from litestar.utils.helpers import get_enum_string_value

if TYPE_CHECKING:
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures import Cookie
    from litestar.enums import MediaType
    from litestar.response.base import ASGIResponse
    from litestar.types import Receive, Send, TypeEncodersMap

CHUNK = 2 * 1024 * 1024
# How far past the chunk being read the disk is asked to read already (8 MiB: 2 MiB measured
# 70-82% of a plain read from disk, 8 MiB 70-86%).
AHEAD = 4 * CHUNK
PATHSEND = ASGIExtension.PATH_SEND.value


def offers_pathsend(scope: Mapping[str, Any]) -> bool:
    """Whether the server that made ``scope`` accepts ``http.response.pathsend``."""
    return PATHSEND in (scope.get("extensions") or {})


# Reads run here rather than in the loop's default executor so that a read still running when
# its download is abandoned can close the file once it is done (its future is at hand).
_READS = ThreadPoolExecutor(thread_name_prefix="file-read")


def _open_sequential(path: str, start: int, end: int) -> int:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_SEQUENTIAL)  # a larger read-ahead
    return fd


def _close_when_done(opening_or_reading: Future[Any], fd: int | None) -> None:
    """Close ``fd`` (or the descriptor an ``os.open`` future yields) once the future is done."""

    def close(done: Future[Any]) -> None:
        if fd is not None:
            os.close(fd)
        elif not done.cancelled() and done.exception() is None:
            os.close(done.result())

    opening_or_reading.add_done_callback(close)


async def file_chunks(
    path: str, start: int, end: int, chunk: int = CHUNK
) -> AsyncGenerator[bytes, None]:
    """Bytes ``start``..``end`` (exclusive) of ``path``; the next read runs while the caller sends
    the chunk it was given. Stops early if the file became shorter. However the stream ends
    (finished, abandoned, cancelled), the file is closed, after a read in flight is done."""
    opening = _READS.submit(_open_sequential, path, start, end)
    try:
        fd: int = await asyncio.wrap_future(opening)
    except BaseException:
        _close_when_done(opening, None)
        raise
    offset = start
    reading: Future[bytes] | None = None

    def read_next() -> Future[bytes] | None:
        nonlocal offset
        if offset >= end:
            return None
        size = min(chunk, end - offset)
        future = _READS.submit(_read_ahead, fd, size, offset, min(AHEAD, end - offset - size))
        offset += size
        return future

    try:
        reading = read_next()
        while reading is not None:
            data = await asyncio.wrap_future(reading)
            reading = read_next() if data else None
            if not data:
                return
            yield data
    finally:
        if reading is not None:
            reading.cancel()  # not started yet: never runs; running: closes when done
            _close_when_done(reading, fd)
        else:
            os.close(fd)


def _read_ahead(fd: int, size: int, offset: int, following: int) -> bytes:
    """``size`` bytes at ``offset``; the disk is asked for the ``following`` bytes after them
    first, so that they are on their way while these are sent (a cold file is then read at the
    disk's pace rather than in turns with the socket)."""
    if following > 0:
        os.posix_fadvise(fd, offset + size, following, os.POSIX_FADV_WILLNEED)
    return os.pread(fd, size, offset)


class _ASGIFileResponse(ASGIStreamingResponse):
    __slots__ = ("path",)

    def __init__(self, *, path: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    async def send_body(self, send: Send, receive: Receive) -> None:
        if self.path is None:
            await super().send_body(send, receive)
            return
        await send({"type": PATHSEND, "path": self.path})  # type: ignore[arg-type]


class FileStream(Stream):
    """A file's bytes ``start``..``end``: handed to the server by path when ``path_send`` is set
    (the caller checked :func:`offers_pathsend` and wants the whole file), streamed otherwise."""

    __slots__ = ("path_send",)

    def __init__(
        self, path: str, start: int, end: int, *, path_send: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(file_chunks(path, start, end) if not path_send else (), **kwargs)
        self.path_send = path if path_send else None

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        merged = {**headers, **self.headers} if headers is not None else self.headers
        return _ASGIFileResponse(
            path=self.path_send,
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else [*self.cookies, *cookies],
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers=merged,
            is_head_response=is_head_response,
            iterator=self.iterator,
            media_type=get_enum_string_value(
                media_type or self.media_type or "application/octet-stream"
            ),
            status_code=self.status_code or status_code,
        )


def file_response(
    scope: Mapping[str, Any], path: str, start: int, end: int, size: int, **kwargs: Any
) -> FileStream:
    """Bytes ``start``..``end`` of the file at ``path`` (``size`` bytes long): by path when the
    server offers ``http.response.pathsend`` and the whole file is wanted, streamed otherwise.
    ``kwargs`` are the response's (status, headers, media type)."""
    whole = start == 0 and end == size
    return FileStream(path, start, end, path_send=whole and offers_pathsend(scope), **kwargs)
