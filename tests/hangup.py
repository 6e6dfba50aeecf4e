"""A caller that dies mid-request, over a raw socket: headers promise more body than is sent."""

from __future__ import annotations

import asyncio
import logging

import pytest


async def hang_up_mid_body(port: int, path: str, partial_body: bytes) -> None:
    """POST `path` with Content-Length beyond `partial_body`, send that much, and close."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(partial_body) + 500}\r\n\r\n"
    writer.write(head.encode() + partial_body)
    await writer.drain()
    writer.close()


async def assert_logged_without_error(
    caplog: pytest.LogCaptureFixture, text: str, within_s: float = 2.0
) -> None:
    """`text` appears in the log within `within_s` (the server sees the hang-up a little
    later), and nothing was logged at ERROR or above."""
    for _ in range(int(within_s / 0.02)):
        if text in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert text in caplog.text, caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
