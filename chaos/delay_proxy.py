"""A TCP proxy that delays every chunk by a fixed time in each direction, in a background thread.

Why it exists (checked on this machine, see the README's chaos section): `tc netem` is the usual
tool, but this kernel has no `sch_netem` (`tc qdisc add … netem` → "Specified qdisc kind is
unknown") and loads no modules; toxiproxy is neither a Debian package nor on PyPI (only clients:
`toxiproxy-python`, `chaostoolkit-toxiproxy`), and the `fault` proxy of `chaostoolkit-fault` is a
binary no registry here ships. So the delay is ours; the redirection into it is real
(`iptables` NAT, see `chaos.providers.latency`).

Delays are pipelined, not serialised: each chunk is forwarded `delay_s` after it arrived, in
order, so a burst is late by `delay_s`, not by `delay_s` × chunks — as a slow link behaves.
Outbound connections carry `SO_MARK` so the redirect rule can exempt the proxy's own traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass

PROXY_MARK = 0x7A1  # fwmark on the proxy's upstream sockets (exempt from the redirect)
_CHUNK = 65536


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int


async def _open_marked(upstream: Upstream) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, PROXY_MARK)  # needs CAP_NET_ADMIN
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (upstream.host, upstream.port))
    return await asyncio.open_connection(sock=sock)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Forward chunks, each `delay_s` after it was read; order is kept by the queue."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while chunk := await reader.read(_CHUNK):
            queue.put_nowait((time.monotonic() + delay_s, chunk))
        queue.put_nowait((time.monotonic() + delay_s, b""))  # EOF, delayed like data

    async def write() -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not chunk:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    reading = asyncio.create_task(read())
    try:
        await write()
    finally:
        reading.cancel()


class DelayProxy:
    """Listens on 127.0.0.1:`port` (0 = any free port), forwards to `upstream` with delay."""

    def __init__(self, upstream: Upstream, delay_s: float, port: int = 0) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.port = port
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 5.0) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"delay proxy did not start: {self._error}")
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_r, server_w = await _open_marked(self.upstream)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                _pipe(client_r, server_w, self.delay_s), _pipe(server_r, client_w, self.delay_s)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away: close both
        finally:
            for writer in (client_w, server_w):
                writer.close()
