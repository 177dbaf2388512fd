"""A TCP proxy on 127.0.0.1 that tests put between a client and the API server to break the path.

Three faults, each undone by :meth:`TcpProxy.heal`:

- :meth:`~TcpProxy.cut`: every open connection is reset and new ones are refused (a crashed
  peer, a closed firewall);
- :meth:`~TcpProxy.stall`: connections stay open but nothing gets through, in either direction,
  and new ones hang (packets silently dropped: the client learns only from its own timeouts);
- :attr:`~TcpProxy.latency`: every chunk is delivered that many seconds late, in both
  directions, without limiting throughput (a slow or distant API server).
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, latency: float = 0.0):
        self.target_host = target_host
        self.target_port = target_port
        self.latency = latency
        self.port = 0
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._stalled = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def cut(self) -> None:
        """Resets every open connection and refuses new ones until :meth:`heal`."""
        self._cut = True
        self._drop_open()

    def stall(self) -> None:
        """Forwards nothing (what is sent is lost) until :meth:`heal`; connections stay open."""
        self._stalled = True

    def heal(self) -> None:
        """Lets traffic through again. Connections that lost data while stalled are reset, as
        TLS would fail on them anyway; the client reconnects."""
        if self._stalled:
            self._drop_open()
        self._cut = self._stalled = False

    def _drop_open(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            client_writer.transport.abort()
            return
        self.connections_accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            for writer in (client_writer, upstream_writer):
                self._open.discard(writer)
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copies ``reader`` to ``writer``, each chunk :attr:`latency` late (a queue between a
        reading and a writing task, so a delay never limits throughput)."""
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await chunks.get()
                if not data:
                    return
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        delivery = asyncio.create_task(deliver())
        try:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    if not self._stalled:
                        chunks.put_nowait((time.monotonic() + self.latency, data))
                    if delivery.done():
                        break
            chunks.put_nowait((time.monotonic() + self.latency, b""))
            with contextlib.suppress(ConnectionError, OSError):
                await delivery
        finally:
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await delivery
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()
