#!/usr/bin/env python3
"""A loopback TCP proxy that cuts every connection after a number of bytes from the client.

The demo's rural link: whatever a client sends past CUT_BYTES on one connection never arrives,
the connection is closed both ways, and the client has to reconnect and resume. Answers from the
server pass whole. Prints one line per cut, and the totals when stopped (SIGTERM or SIGINT).

Usage: Scripts/cut-proxy.py LISTEN_PORT UPSTREAM_PORT CUT_BYTES
"""
import asyncio
import signal
import sys

listen_port, upstream_port, cut_bytes = (int(arg) for arg in sys.argv[1:4])
totals = {"connections": 0, "cut": 0, "bytes": 0}


async def pipe(reader, writer, limit=None):
    sent = 0
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            if limit is not None and sent + len(data) >= limit:
                writer.write(data[: limit - sent])
                totals["bytes"] += limit - sent
                return True
            writer.write(data)
            await writer.drain()
            sent += len(data)
            if limit is not None:
                totals["bytes"] += len(data)
    except (ConnectionError, asyncio.CancelledError):
        pass
    return False


async def handle(client_reader, client_writer):
    totals["connections"] += 1
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_writer.close()
        return
    down = asyncio.create_task(pipe(upstream_reader, client_writer))
    was_cut = await pipe(client_reader, upstream_writer, cut_bytes)
    if was_cut:
        totals["cut"] += 1
        print(f"cut-proxy: connection {totals['connections']} cut after {cut_bytes} bytes from the client", flush=True)
        down.cancel()
        for writer in (upstream_writer, client_writer):
            writer.close()
        return
    await down
    for writer in (upstream_writer, client_writer):
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"cut-proxy: 127.0.0.1:{listen_port} -> 127.0.0.1:{upstream_port}, cutting after {cut_bytes} bytes", flush=True)
    async with server:
        await stop.wait()
    print(f"cut-proxy: {totals['connections']} connections, {totals['cut']} cut, {totals['bytes']} bytes from the client", flush=True)


asyncio.run(main())
