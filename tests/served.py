"""The real web app served for browser and HTTP tests: a SQLite call store in a folder, ``create_app`` over the
context a test builds on it, uvicorn on a free port in a thread with its own event loop; stopped afterwards."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import uvicorn

from voicebot.store.repo import SqlCallStore
from voicebot.web.app import create_app
from voicebot.web.context import WebContext

T = TypeVar("T")
Build = Callable[[SqlCallStore, str], Awaitable[tuple[WebContext, T]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_web_app(folder: Path, build: Build[T]) -> Iterator[T]:
    """Serve ``create_app(context)`` where ``build(store, url)`` gives the context (and what the test gets back)
    over a store at ``folder/voicebot.db``; a failure while building or serving fails the test that waits."""
    url = f"http://127.0.0.1:{free_port()}"
    ready, failed, built, servers = threading.Event(), [], [], []

    async def serve() -> None:
        store = await SqlCallStore.open(f"sqlite+aiosqlite:///{folder / 'voicebot.db'}", folder / "spool")
        try:
            ctx, value = await build(store, url)
            built.append(value)
            port = int(url.rsplit(":", 1)[1])
            server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port,
                                                   log_level="warning", lifespan="on"))
            servers.append(server)
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():
                await asyncio.sleep(0.05)
            ready.set()
            await task
        except BaseException as error:  # reported to the test thread
            failed.append(error)
            raise
        finally:
            ready.set()
            await store.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60) and not failed and built, failed
    try:
        yield built[0]
    finally:
        servers[0].should_exit = True
        thread.join(15)
