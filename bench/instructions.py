#!/usr/bin/env python3
"""User-space instructions per cached hit (or, with --miss, per forwarded miss), counted by
callgrind: a deterministic A/B measure for hit- and miss-path changes (this VM's req/s drifts by
10-20 % between runs; instruction counts do not).

Usage (normally via bench/instructions.sh): instructions.py BUILD_DIR [REQUESTS] [--top N] [--miss] [--sdk-headers]
                                               [--fleet l2|store [--no-data-key]]
Runs the mock natively and the gateway under callgrind, warms one ended execution's Context,
zeroes the counters, sends REQUESTS keep-alive GETs over one connection (identical ones: hits;
with --miss, each for a different execution: misses forwarded to the mock), and prints
instructions and heap allocations (malloc calls) per request, overall and for the heaviest
functions (inclusive). --sdk-headers sends what the twilio SDKs send besides Authorization
(User-Agent, Accept, Accept-Encoding: gzip, Connection: keep-alive), so the gzip answer is measured.
--fleet runs a local redis-server and the gateway with --redis (and --data-key, unless --no-data-key):
`l2` measures second-level hits (another gateway, run natively, stored each ended execution's Context
first; each measured request asks the gateway under callgrind for a Context it has not seen), `store`
forwarded misses that are stored in Redis (each an ended execution not asked before). The difference
with and without the key is what sealing (and the keyed account name) costs per hit or per store.
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
    """Sends `request` (bytes, or a function of the request's index) `count` times, one at a time.
    Returns how many answers were second-level hits."""
    second_level = 0
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
                        second_level += b"\r\nX-Cache-Level: L2\r\n" in buffer[:end + 2]
                        buffer = buffer[end + 4 + length:]
                        break
                buffer += client.recv(65536)
    return second_level


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("requests", type=int, nargs="?", default=5000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--miss", action="store_true", help="each request names another execution (forwarded misses)")
    parser.add_argument("--sdk-headers", action="store_true", help="the header fields an SDK client sends")
    parser.add_argument("--fleet", choices=["l2", "store"], help="second-level hits, or misses stored in Redis")
    parser.add_argument("--no-data-key", action="store_true", help="--fleet without --data-key")
    args = parser.parse_args()
    if args.fleet:
        return fleet(args)
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


def fleet(args):
    """--fleet: a redis-server, a mock and the gateway under callgrind with --redis (see the top)."""
    out = tempfile.mkdtemp(prefix="studiogate-callgrind-")
    mock_port, gw_port, redis_port, other_port = (bench.free_port() for _ in range(4))
    env = None if args.no_data_key else {"STUDIOGATE_DATA_KEY": bench.DATA_KEY}
    redis_args = ["--redis", f"redis://127.0.0.1:{redis_port}/0"]
    procs, gateway = [], None
    count = args.requests + 201
    try:
        procs.append(bench.Proc(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]))
        procs.append(bench.Proc([f"{args.build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"]))
        bench.wait_listening(redis_port)
        bench.wait_listening(mock_port)
        bench.mock_call(mock_port, "POST", "/__mock/seed", f'{{"count": {count}, "context_bytes": 1024, "status": "ended"}}'.encode())
        deadline = time.time() + 300
        get = lambda port, path: (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {bench.AUTH}\r\n\r\n").encode()
        execution = lambda index: f"/v2/Flows/{bench.FLOW}/Executions/{bench.seeded(index)}"
        if args.fleet == "l2":
            procs.append(bench.Proc([f"{args.build}/studiogate", "--listen", f"127.0.0.1:{other_port}", "--upstream",
                                     f"http://127.0.0.1:{mock_port}", "--threads", "1", "--log-level", "warn", *redis_args], env=env))
            bench.wait_listening(other_port)
            # The other pod learns each execution ended, then stores its Context (and its proof) in Redis.
            send_requests(other_port, lambda i: get(other_port, execution(i // 2) + ("/Context" if i % 2 else "")), 2 * count, deadline)
            time.sleep(1)  # its stores land after its answers
        gateway = bench.Proc(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p", f"{args.build}/studiogate",
                              "--listen", f"127.0.0.1:{gw_port}", "--upstream", f"http://127.0.0.1:{mock_port}", "--threads", "1",
                              "--log-level", "warn", *redis_args], env=env)
        bench.wait_listening(gw_port, timeout=60)
        if args.fleet == "l2":
            request = lambda i: get(gw_port, execution(next(sids)) + "/Context")
        else:
            request = lambda i: get(gw_port, execution(next(sids)))
        sids = iter(range(count))
        send_requests(gw_port, get(gw_port, execution(count - 1)), 1, deadline)  # proves the credential here (or via Redis)
        send_requests(gw_port, request, 200, deadline)
        subprocess.run(["callgrind_control", "--zero", str(gateway.p.pid)], check=True, capture_output=True)
        second_level = send_requests(gw_port, request, args.requests, deadline)
        time.sleep(0.5)  # the last stores
        subprocess.run(["callgrind_control", "--dump", str(gateway.p.pid)], check=True, capture_output=True)
    finally:
        if gateway:
            gateway.stop()
        for proc in reversed(procs):
            proc.stop()
    dump = sorted(glob.glob(f"{out}/callgrind.*.*"))[-1]
    total = int(re.search(r"^(?:summary|totals): (\d+)", open(dump).read(), re.M).group(1))
    kind = "second-level hit" if args.fleet == "l2" else "stored miss"
    key = "without --data-key" if args.no_data_key else "with --data-key"
    print(f"{total / args.requests:,.0f} instructions per {kind} {key} ({args.requests} requests, {second_level} second-level hits)")
    print(f"{malloc_calls(dump) / args.requests:.2f} heap allocations (malloc calls) per request")
    # Under callgrind a Redis command can pass the pods' 5 ms budget (a miss, then Twilio), so the
    # per-request figure mixes kinds: the sealing functions' own inclusive cost per call does not.
    for label, pattern in (("Sealer.seal", r"7Sealing6SealerV4seal"), ("Sealer.open", r"7Sealing6SealerV4open"),
                           ("DataKey.name (keyed names)", r"7Sealing7DataKeyV4name")):
        calls, cost = callee_cost(dump, pattern)
        if calls:
            print(f"{cost / calls:>9,.0f} instructions per call of {label} ({calls} calls, {cost / args.requests:,.0f} per request)")


def callee_cost(dump, pattern):
    """Calls to functions whose (mangled) name matches `pattern`, and their inclusive instructions,
    summed over every caller in a callgrind dump (a `calls=` line is followed by the call's cost)."""
    names, matched, calls, cost, expect_cost = {}, False, 0, 0, False
    for line in open(dump):
        if expect_cost:
            parts = line.split()
            if len(parts) >= 2:
                cost += int(parts[1])
            expect_cost = False
        elif line.startswith("cfn="):
            match = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if match.group(2):
                names[match.group(1)] = match.group(2)
            matched = re.search(pattern, names.get(match.group(1), "")) is not None
        elif line.startswith("calls="):
            if matched:
                calls += int(line[6:].split()[0])
                expect_cost = True
            matched = False
        elif line.startswith("fn="):
            match = re.match(r"fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if match and match.group(2):
                names[match.group(1)] = match.group(2)
    return calls, cost


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
