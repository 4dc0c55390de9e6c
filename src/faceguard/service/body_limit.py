"""A ceiling on every request body, whatever route reads it.

The image routes read their bodies with their own limits (``uploads``, ``liveness_wire``);
forms (login, kiosk, admin pages) are parsed by Starlette, which keeps each text field in
memory up to a megabyte and a thousand fields. This ASGI middleware refuses any body larger
than the largest limit a route has: at once (413) when ``Content-Length`` declares it, and as
soon as the bytes received pass it otherwise, so no request holds more in memory. A body
that stops arriving for ``idle`` seconds is answered 408 and its connection closed, so that
clients sending a byte now and then cannot hold connections (and a worker's stop) forever.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceguard.service.problems import ProblemError, problem, respond


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 problem, and bodies that pause
    for more than ``idle`` seconds with a 408."""

    def __init__(self, app: ASGIApp, limit: int, idle: float) -> None:
        self.app = app
        self.limit = limit
        self.idle = idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            request = Request(scope)
            body = problem("too-large", f"the body is {int(declared):,} bytes; no route "
                           f"accepts more than {self.limit:,}", request=request)
            await respond(request, body)(scope, receive, send)
            return
        received = 0
        refused = False
        complete = False

        async def refuse(kind: str, detail: str) -> NoReturn:
            nonlocal refused
            # answer now: whatever parses the body (FastAPI turns errors raised while
            # parsing a form into a 400) must not answer in our stead
            refused = True
            request = Request(scope)
            await respond(request, problem(kind, detail, request=request))(scope, receive, send)
            raise ProblemError(kind, f"{detail} (answered)")

        async def counted() -> Message:
            nonlocal received, complete
            if complete or refused:
                return await receive()  # e.g. waiting for a disconnect: no time limit
            try:
                message = await asyncio.wait_for(receive(), self.idle)
            except TimeoutError:
                await refuse("timeout", f"no bytes of the body for {self.idle:g} seconds")
            complete = message["type"] != "http.request" or not message.get("more_body")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    await refuse("too-large", f"the body exceeds {self.limit:,} bytes, the "
                                 "most any route accepts")
            return message

        async def guarded(message: Message) -> None:
            if not refused:  # the 413 or 408 was sent: what the app answers after it is dropped
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except ProblemError:
            if not refused:
                raise


def install(app: Any, limit: int, idle: float) -> None:
    """Add the ceiling and the idle limit (seconds) to ``app`` (outermost, so that they
    also cover forms and unknown routes)."""
    app.add_middleware(BodyLimit, limit=limit, idle=idle)
