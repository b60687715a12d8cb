#!/usr/bin/env python3
"""User-space instructions per cached hit (or, with --miss, per forwarded miss), counted by
callgrind: a deterministic A/B measure for hit- and miss-path changes (this VM's req/s drifts by
10-20 % between runs; instruction counts do not).

Usage (normally via bench/instructions.sh): instructions.py BUILD_DIR [REQUESTS] [--top N] [--miss] [--sdk-headers]
Runs the mock natively and the gateway under callgrind, warms one ended execution's Context,
zeroes the counters, sends REQUESTS keep-alive GETs over one connection (identical ones: hits;
with --miss, each for a different execution: misses forwarded to the mock), and prints
instructions and heap allocations (malloc calls) per request, overall and for the heaviest
functions (inclusive). --sdk-headers sends what the twilio SDKs send besides Authorization
(User-Agent, Accept, Accept-Encoding: gzip, Connection: keep-alive), so the gzip answer is measured.
Loopback only; bounded by REQUESTS and a 120 s timeout.
"""
import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def send_requests(port, request, count, deadline):
    """Sends `request` (bytes, or a function of the request's index) `count` times, one at a time."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        buffer = b""
        for index in range(count):
            if time.time() > deadline:
                raise RuntimeError("instructions: out of time")
            client.sendall(request(index) if callable(request) else request)
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    length = int(re.search(rb"Content-Length: (\d+)", buffer[:end]).group(1))
                    if len(buffer) >= end + 4 + length:
                        if not buffer.startswith(b"HTTP/1.1 200"):
                            raise RuntimeError(f"instructions: not a 200: {buffer[:80]!r}")
                        buffer = buffer[end + 4 + length:]
                        break
                buffer += client.recv(65536)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("requests", type=int, nargs="?", default=5000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--miss", action="store_true", help="each request names another execution (forwarded misses)")
    parser.add_argument("--sdk-headers", action="store_true", help="the header fields an SDK client sends")
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="studiogate-callgrind-")
    mock_port, gw_port = bench.free_port(), bench.free_port()
    mock = bench.Proc([f"{args.build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"])
    gateway = None
    try:
        bench.wait_listening(mock_port)
        bench.mock_call(mock_port, "POST", "/__mock/seed", b'{"count": 1, "context_bytes": 1024, "status": "ended"}')
        gateway = bench.Proc(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p",
                              f"{args.build}/studiogate", "--listen", f"127.0.0.1:{gw_port}", "--upstream",
                              f"http://127.0.0.1:{mock_port}", "--threads", "1", "--log-level", "warn"])
        bench.wait_listening(gw_port, timeout=60)
        execution = f"/v2/Flows/{bench.FLOW}/Executions/{bench.seeded(0)}"
        for target in (execution, execution + "/Context"):
            bench.fetch(gw_port, "GET", target, headers={"Authorization": bench.AUTH})
        extra = ("User-Agent: twilio-python/9.3.0 (Linux x86_64) Python/3.11.7\r\nAccept: application/json\r\n"
                 "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n") if args.sdk_headers else ""
        request = (f"GET {execution}/Context HTTP/1.1\r\nHost: 127.0.0.1:{gw_port}\r\n"
                   f"Authorization: {bench.AUTH}\r\n{extra}\r\n").encode()
        if args.miss:
            # The mock answers one seeded execution per SID, active (cached for the TTL, never hit again).
            # Warm-up and measured requests never repeat a SID, so none of them is a hit.
            bench.mock_call(mock_port, "POST", "/__mock/seed", f'{{"count": {args.requests + 201}, "context_bytes": 256, "status": "active"}}'.encode())
            sids = iter(range(1, args.requests + 201))
            request = lambda _: (f"GET /v2/Flows/{bench.FLOW}/Executions/{bench.seeded(next(sids))} HTTP/1.1\r\n"
                                 f"Host: 127.0.0.1:{gw_port}\r\nAuthorization: {bench.AUTH}\r\n\r\n").encode()
        deadline = time.time() + 120
        send_requests(gw_port, request, 200, deadline)
        subprocess.run(["callgrind_control", "--zero", str(gateway.p.pid)], check=True, capture_output=True)
        send_requests(gw_port, request, args.requests, deadline)
        subprocess.run(["callgrind_control", "--dump", str(gateway.p.pid)], check=True, capture_output=True)
    finally:
        if gateway:
            gateway.stop()
        mock.stop()
    dump = sorted(glob.glob(f"{out}/callgrind.*.*"))[-1]
    total = int(re.search(r"^(?:summary|totals): (\d+)", open(dump).read(), re.M).group(1))
    kind = "miss" if args.miss else "hit"
    print(f"{total / args.requests:,.0f} instructions per {kind} ({args.requests} {kind}es, one keep-alive connection)".replace("hites", "hits"))
    print(f"{malloc_calls(dump) / args.requests:.2f} heap allocations (malloc calls) per {kind}")
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                               capture_output=True, text=True).stdout
    rows = [(int(m.group(1).replace(",", "")), m.group(2)) for m in re.finditer(r"^\s*([\d,]+) \([\s\d.]+%\)\s+\S*?:?(\S+) \[(?:.*studiogate|.*libcurl.*|.*libz.*|.*libc[.-].*|.*libssl.*|.*libcrypto.*|.*Foundation.*|.*libswiftCore.*)\]$", annotated, re.M)]
    rows = rows[: args.top]
    try:  # readable names when the toolchain's demangler is on PATH
        names = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(s for _, s in rows),
                               capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        names = [s for _, s in rows]
    for (count, _), name in zip(rows, names):
        print(f"{count / args.requests:>9,.0f}  {name[:140]}")


def malloc_calls(dump):
    """Calls to malloc recorded in a callgrind dump (its `cfn=` call lines), from any caller."""
    names, callee, calls = {}, None, 0
    for line in open(dump):
        if line.startswith("cfn="):
            match = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if match.group(2):
                names[match.group(1)] = match.group(2)
            callee = names.get(match.group(1), "")
        elif line.startswith("calls=") and callee is not None:
            if callee == "malloc":
                calls += int(line[6:].split()[0])
            callee = None
        elif line.startswith("fn="):
            match = re.match(r"fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if match and match.group(2):
                names[match.group(1)] = match.group(2)
    return calls


if __name__ == "__main__":
    main()
