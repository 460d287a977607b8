"""A connection must send its request's head in time: uvicorn's HTTP/1.1 protocol (h11) waits for it without a
bound, so 64 connections that each sent half a head held every slot of limit_concurrency, and the API answered
503 to everyone, without a token, for as long as they stayed open. Here a connection whose head has not come
HEAD_SECONDS after it opened (or after its previous answer) is closed; a request being answered is never cut."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_SECONDS = 10.0  # a request line and headers, at most 8 KiB or so: any client sends them at once


class HeadDeadline(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self.loop.call_later(HEAD_SECONDS, self._late, self.cycle)

    def _late(self, cycle_then: object) -> None:
        """Closed when no request began since the timer was armed and none is being answered."""
        waiting = self.cycle is cycle_then and (self.cycle is None or self.cycle.response_complete)
        if waiting and not self.transport.is_closing():
            self.transport.abort()  # at once: close() would wait up to 30 s for the TLS close_notify of a peer that sends nothing
