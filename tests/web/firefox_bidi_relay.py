#!/usr/bin/python3
"""A protocol shim for what Debian's Firefox ESR 153 lacks in WebDriver BiDi, so that Playwright can drive it;
not a browser mock: every page, request, click and screenshot is Firefox's own.

Playwright is given this file as the browser (`executable_path`). It starts /usr/bin/firefox-esr with
Playwright's arguments, passes Firefox's output through except the "WebDriver BiDi listening on ws://..."
line, which it rewrites to name a loopback port of its own, and relays that WebSocket unchanged, except for
exactly two messages:

- `emulation.setMediaFeaturesOverride` (Playwright to Firefox): Playwright sends it with every new context
  and page, to emulate `prefers-color-scheme`; Firefox 153 ESR answers "unknown command", and
  `new_context()` fails. The relay answers it with success itself and does not forward it, so colour-scheme
  emulation does nothing here (the tests do not use it).
- `browsingContext.downloadWillBegin` / `downloadEnd` (Firefox to Playwright): for a download of a blob: URL
  (how the console saves scripts and backups) Firefox sends `navigation: null` and no `download` id, and
  Playwright ignores events with neither, so `expect_download()` times out. The relay adds a `download` id,
  the same for the begin and the end of one (context, URL).

It can be removed when Debian's firefox-esr passes tests/web/test_console_firefox.py with
`executable_path="/usr/bin/firefox-esr"`: Firefox then knows the command and gives blob downloads an id.
Stdlib only. It asks for no WebSocket extension (no compression), so it can read every frame; a message
split over several frames would pass unread (Playwright's and Firefox's are not split)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import re
import struct
import sys

FIREFOX = "/usr/bin/firefox-esr"
LISTENING = re.compile(r"WebDriver BiDi listening on ws://([^:/\s]+):(\d+)")
ANSWERED_HERE = "emulation.setMediaFeaturesOverride"
DOWNLOAD_EVENTS = ("browsingContext.downloadWillBegin", "browsingContext.downloadEnd")


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One WebSocket frame: its bytes as they came, and its text if it is a whole text frame (else b"")."""
    head = await reader.readexactly(2)
    length, extended = head[1] & 0x7F, b""
    if length in (126, 127):
        extended = await reader.readexactly(2 if length == 126 else 8)
        length = int.from_bytes(extended, "big")
    mask = await reader.readexactly(4) if head[1] & 0x80 else b""
    payload = await reader.readexactly(length)
    if head[0] != 0x81:  # not FIN + text: pass it on unread
        return head + extended + mask + payload, b""
    text = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload)) if mask else payload
    return head + extended + mask + payload, text


def text_frame(message: dict) -> bytes:
    """A server's (unmasked) text frame, as Firefox would send it to Playwright."""
    data = json.dumps(message).encode()
    if len(data) < 126:
        return bytes([0x81, len(data)]) + data
    if len(data) < 65536:
        return bytes([0x81, 126]) + struct.pack("!H", len(data)) + data
    return bytes([0x81, 127]) + struct.pack("!Q", len(data)) + data


class DownloadIds:
    """A `download` id for Firefox's download events that have neither it nor a navigation id."""

    def __init__(self) -> None:
        self.begun: dict[tuple[str, str], str] = {}
        self.numbers = itertools.count(1)

    def add_missing(self, event: dict) -> bool:
        params = event.get("params", {})
        if event.get("method") not in DOWNLOAD_EVENTS or params.get("navigation") or params.get("download"):
            return False
        key = (params.get("context", ""), params.get("url", ""))
        if event["method"] == "browsingContext.downloadWillBegin":
            params["download"] = self.begun[key] = f"firefox-bidi-relay-download-{next(self.numbers)}"
        else:
            params["download"] = self.begun.pop(key, "firefox-bidi-relay-download-unknown")
        return True


async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, host: str, port: int) -> None:
    firefox_r, firefox_w = await asyncio.open_connection(host, port)
    request = await client_r.readuntil(b"\r\n\r\n")
    request = re.sub(rb"(?im)^host:[^\r\n]*", f"Host: {host}:{port}".encode(), request)
    firefox_w.write(re.sub(rb"(?im)^sec-websocket-extensions:[^\r\n]*\r\n", b"", request))
    client_w.write(await firefox_r.readuntil(b"\r\n\r\n"))
    downloads = DownloadIds()

    async def to_playwright() -> None:
        while True:
            raw, text = await read_frame(firefox_r)
            if b'"browsingContext.download' in text and downloads.add_missing(message := json.loads(text)):
                raw = text_frame(message)
            client_w.write(raw)
            await client_w.drain()

    async def to_firefox() -> None:
        while True:
            raw, text = await read_frame(client_r)
            if ANSWERED_HERE.encode() in text and (message := json.loads(text)).get("method") == ANSWERED_HERE:
                client_w.write(text_frame({"type": "success", "id": message["id"], "result": {}}))
                await client_w.drain()
                continue
            firefox_w.write(raw)
            await firefox_w.drain()

    try:
        await asyncio.gather(to_playwright(), to_firefox())
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # one side closed: the session is over
    finally:
        client_w.close()
        firefox_w.close()


async def main(arguments: list[str]) -> int:
    firefox = await asyncio.create_subprocess_exec(FIREFOX, *arguments, stderr=asyncio.subprocess.PIPE)
    assert firefox.stderr is not None
    server = None
    while line := await firefox.stderr.readline():
        text = line.decode(errors="replace")
        found = LISTENING.search(text)
        if found and server is None:
            to_firefox = functools.partial(relay, host=found.group(1), port=int(found.group(2)))
            server = await asyncio.start_server(to_firefox, "127.0.0.1", 0)
            text = f"WebDriver BiDi listening on ws://127.0.0.1:{server.sockets[0].getsockname()[1]}\n"
        sys.stderr.write(text)
        sys.stderr.flush()
    return await firefox.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
