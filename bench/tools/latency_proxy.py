"""A TCP proxy that makes a loopback S3 remote look far away (bench only; loopback only).

Usage: latency_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [STREAM_MIBPS [COUNT_FILE]]
- Every HTTP request pays DELAY_MS once: a request is client bytes arriving after the server has answered
  (HTTP/1.1 keep-alive without pipelining, which is what S3 clients do).
- With STREAM_MIBPS > 0, each connection's response bytes are paced to that rate, like the per-stream throughput of
  a real object store (a single TCP stream to S3 rarely exceeds ~100 MB/s), so parallel streams matter as they do
  against a real remote.
- With COUNT_FILE, the response bytes and requests that passed through so far are written to it ("BYTES REQUESTS")
  every 100 ms, so a benchmark can count what the remote served.
Prints "listening PORT" when ready.
"""
import asyncio
import os
import sys
import time

BUFFER = 256 * 1024
COUNTS = {"bytes": 0, "requests": 0}


async def pump(reader, writer, state, delay, rate, is_request_direction):
    try:
        while True:
            data = await reader.read(BUFFER)
            if not data:
                break
            if is_request_direction:
                if state["answered"]:
                    state["answered"] = False
                    COUNTS["requests"] += 1
                    await asyncio.sleep(delay)
                    state["started"] = time.monotonic()
                    state["sent"] = 0
            else:
                state["answered"] = True
                COUNTS["bytes"] += len(data)
                if rate > 0:
                    state["sent"] += len(data)
                    ahead = state["sent"] / rate - (time.monotonic() - state["started"])
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


async def write_counts(path):
    while True:
        with open(path + ".tmp", "w") as f:
            f.write(f"{COUNTS['bytes']} {COUNTS['requests']}\n")
        os.replace(path + ".tmp", path)
        await asyncio.sleep(0.1)


async def main():
    listen_port, target_host, target_port, delay_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    rate = float(sys.argv[5]) * 1024 * 1024 if len(sys.argv) > 5 else 0.0
    delay = delay_ms / 1000.0

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        # The first request on a connection pays the delay too.
        state = {"answered": True, "started": time.monotonic(), "sent": 0}
        await asyncio.gather(
            pump(client_reader, server_writer, state, delay, rate, True),
            pump(server_reader, client_writer, state, delay, rate, False),
        )

    if len(sys.argv) > 6:
        asyncio.get_running_loop().create_task(write_counts(sys.argv[6]))
    server = await asyncio.start_server(handle, "127.0.0.1", int(listen_port))
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
