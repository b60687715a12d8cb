#!/usr/bin/env python3
"""Concurrency soak: mixed traffic from many connections for a bounded time against a mock with
injected faults. Checks: no crash, no cross-account answer (every account_sid matches the caller),
RSS flat after warm-up. Usage: soak.py --build .build/release [--seconds 60] [--connections 200]"""
import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import FLOW, Stack, fetch, mock_call, rss_kib, seeded, upstream_count  # noqa: E402

ACCOUNTS = {
    "AC000000000000000000000000000000a1": ("token-a-0123456789abcdef", FLOW, "FN000000000000000000000000000000a5"),
    "AC000000000000000000000000000000b2": ("token-b-0123456789abcdef", "FW000000000000000000000000000000b4", "FN000000000000000000000000000000b5"),
}


def auth(account):
    return "Basic " + base64.b64encode(f"{account}:{ACCOUNTS[account][0]}".encode()).decode()


async def client(port, stop, stats):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.time() < stop:
        account = random.choice(list(ACCOUNTS))
        _, flow, execution = ACCOUNTS[account]
        kind = random.random()
        method, body = "GET", b""
        if kind < 0.5:
            path = f"/v2/Flows/{flow}/Executions/{execution}/Context"
        elif kind < 0.7:
            path = f"/v2/Flows/{FLOW}/Executions/{seeded(random.randrange(50))}"  # account B gets 404s here
        elif kind < 0.8:
            path = f"/v2/Flows/{flow}/Executions?PageSize={random.randint(1, 20)}"
        elif kind < 0.85:
            method, path, body = "POST", f"/v2/Flows/{flow}/Executions", b"To=%2B1555&From=%2B1666"
        elif kind < 0.9:
            method, path, body = "POST", f"/v2/Flows/{FLOW}/Executions/{seeded(random.randrange(50))}", b"Status=ended"
        elif kind < 0.95:
            path = "/v2/Flows/FWnot-a-sid/Executions"  # refused locally
        else:
            path = f"/v2/Flows/{flow}/Executions/{execution}/Steps"
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth(account)}\r\n"
        if body:
            head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + body)
        try:
            status_line = await asyncio.wait_for(reader.readline(), 30)
            headers = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            payload = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
            stats["connection_errors"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        status = int(status_line.split()[1])
        stats["requests"] += 1
        stats["status"][status] = stats["status"].get(status, 0) + 1
        if status == 200 and payload.startswith(b"{"):
            try:
                seen = json.loads(payload).get("account_sid")
            except ValueError:
                seen = None
            if seen is not None and seen != account:
                stats["cross_account"] += 1
        if headers.get("connection") == "close":
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


def held_kib(port):
    """What the cache and the inflated hot set hold by design (from /metrics), in KiB."""
    metrics = fetch(port, "GET", "/metrics")[1].decode()
    return sum(int(re.search(rf"^{name} (\d+)", metrics, re.M).group(1)) for name in ("studiogate_cache_bytes", "studiogate_inflated_bytes")) // 1024


async def soak(port, seconds, connections, stats):
    stop = time.time() + seconds
    await asyncio.gather(*[client(port, stop, stats) for _ in range(connections)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    stack = Stack(args.build, gateway_args=["--active-ttl", "1"], threads=2, seed={"count": 50, "context_bytes": 512, "status": "active"})
    try:
        # 5% of upstream calls fail: 429s, 500s and resets.
        for fault in ({"status": 429, "code": 20429}, {"status": 500}, {"reset": True}):
            mock_call(stack.mock_port, "POST", "/__mock/faults", json.dumps(dict(fault, path_prefix="/v2/", probability=0.017)).encode())
        stats = {"requests": 0, "status": {}, "cross_account": 0, "connection_errors": 0}
        samples = []
        warmup = max(5, args.seconds // 6)

        async def run():
            task = asyncio.create_task(soak(stack.gw_port, args.seconds, args.connections, stats))
            started = time.time()
            while not task.done():
                await asyncio.sleep(1)
                samples.append((round(time.time() - started), rss_kib(stack.gateway.p.pid), held_kib(stack.gw_port)))
            await task

        asyncio.run(run())
        alive = stack.gateway.p.poll() is None
        after_warmup = [rss for t, rss, _ in samples if t >= warmup]
        report = {"seconds": args.seconds, "connections": args.connections, "requests": stats["requests"], "statuses": stats["status"],
                  "cross_account_answers": stats["cross_account"], "connection_errors": stats["connection_errors"], "gateway_alive": alive,
                  "rss_kib_after_warmup_min": min(after_warmup) if after_warmup else None,
                  "rss_kib_after_warmup_max": max(after_warmup) if after_warmup else None,
                  "rss_kib_every_10s": [rss for t, rss, _ in samples if t % 10 == 0],
                  "cache_plus_inflated_kib_every_10s": [held for t, _, held in samples if t % 10 == 0],
                  "upstream_calls": upstream_count(stack.mock_port)}
        print(json.dumps(report, indent=1))
        assert alive, "the gateway died"
        assert stats["cross_account"] == 0, "an answer carried another account's data"
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
