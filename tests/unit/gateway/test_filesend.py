"""Sending a file as a response: exact bytes for every part of it, the file closed when the client
goes away, and the path handed to the server (``http.response.pathsend``) only when the server
offers it and the whole file is wanted."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.params import FromQuery

from gateway.filesend import PATHSEND, file_chunks, file_response

DATA = os.urandom(100_003)


@pytest.fixture
def installer(tmp_path: Path) -> Path:
    path = tmp_path / "setup.exe"
    path.write_bytes(DATA)
    return path


async def _read(path: Path, start: int, end: int, chunk: int) -> list[bytes]:
    return [part async for part in file_chunks(str(path), start, end, chunk)]


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, len(DATA)), (0, 1), (1000, len(DATA)), (7, 14), (13, 1000), (len(DATA) - 1, len(DATA))],
)
@pytest.mark.parametrize("chunk", [7, 4096, 1 << 20])
async def test_every_part_of_the_file_is_exact(
    installer: Path, start: int, end: int, chunk: int
) -> None:
    parts = await _read(installer, start, end, chunk)
    assert b"".join(parts) == DATA[start:end]
    assert all(len(part) <= chunk for part in parts)


async def test_a_file_that_became_shorter_ends_the_stream(installer: Path) -> None:
    assert b"".join(await _read(installer, 100, len(DATA) + 5000, 4096)) == DATA[100:]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_the_file_is_closed_when_the_client_goes_away(installer: Path) -> None:
    before = _open_fds()
    stream = file_chunks(str(installer), 0, len(DATA), 1024)
    first = await anext(stream)
    assert first == DATA[:1024]
    assert _open_fds() == before + 1
    await stream.aclose()  # what the server does on a disconnect: a read was in flight
    assert _open_fds() == before


async def test_the_file_is_closed_when_the_download_is_cancelled(installer: Path) -> None:
    before = _open_fds()
    sending = asyncio.Event()

    async def download() -> None:
        async for _ in file_chunks(str(installer), 0, len(DATA), 1024):
            sending.set()
            await asyncio.sleep(30)  # a slow client; the next chunk is being read meanwhile

    task = asyncio.create_task(download())
    await sending.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the read in flight finishes in its thread, then the file is closed
        if _open_fds() == before:
            break
        await asyncio.sleep(0.01)
    assert _open_fds() == before


@get("/file", sync_to_thread=False)
def _download(
    request: Request[Any, Any, Any],
    path: FromQuery[str],
    start: FromQuery[int],
    end: FromQuery[int],
) -> Any:
    status = 200 if (start, end) == (0, len(DATA)) else 206
    return file_response(
        request.scope,
        path,
        start,
        end,
        len(DATA),
        status_code=status,
        headers={"Content-Length": str(end - start)},
        media_type="application/octet-stream",
    )


async def _call(path: Path, start: int, end: int, extensions: dict[str, Any] | None) -> list[Any]:
    """One GET through the app as an ASGI server would make it; the messages the app sent."""
    app = Litestar([_download])
    sent: list[Any] = []
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == PATHSEND or (
            message["type"] == "http.response.body" and not message.get("more_body")
        ):
            done.set()

    query = f"path={path}&start={start}&end={end}".encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/file",
        "raw_path": b"/file",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    if extensions is not None:
        scope["extensions"] = extensions
    await asyncio.wait_for(app(scope, receive, send), 10)  # type: ignore[arg-type]
    return sent


def _body(messages: list[Any]) -> bytes:
    assert all(m["type"] != PATHSEND for m in messages)
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


async def test_the_whole_file_goes_by_path_when_the_server_offers_it(installer: Path) -> None:
    messages = await _call(installer, 0, len(DATA), {PATHSEND: {}})
    start, pathsend = messages
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    assert (b"content-length", str(len(DATA)).encode()) in start["headers"]
    assert pathsend == {"type": PATHSEND, "path": str(installer)}


async def test_a_part_is_streamed_exactly_even_when_the_server_offers_pathsend(
    installer: Path,
) -> None:
    messages = await _call(installer, 10, 50_020, {PATHSEND: {}})
    assert messages[0]["status"] == 206
    assert _body(messages) == DATA[10:50_020]


@pytest.mark.parametrize("extensions", [None, {}, {"http.response.trailers": {}}])
async def test_without_the_extension_the_file_is_streamed(
    installer: Path, extensions: dict[str, Any] | None
) -> None:
    messages = await _call(installer, 0, len(DATA), extensions)
    assert messages[0]["status"] == 200
    assert _body(messages) == DATA
