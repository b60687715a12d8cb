#!/usr/bin/env python3
"""StudioGate benchmarks, side by side with nginx proxy_cache and the direct upstream, in one run.

Loopback only; every load is bounded in time and count. Usage (normally via bench/run.sh):
  bench.py --build .build/release --out docs [--smoke]
Writes the figures behind docs/BENCHMARKS.md's tables to OUT/bench-results.json and a plot to OUT/bench-hit-path.svg.
"""
import argparse
import asyncio
import base64
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

ACCOUNT = "AC000000000000000000000000000000a1"
TOKEN = "token-a-0123456789abcdef"
FLOW = "FW000000000000000000000000000000a4"
AUTH = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
HERE = os.path.dirname(os.path.abspath(__file__))
CORES = os.cpu_count() or 1
SERVER_CORES = "0"
LOAD_CORES = "1" if CORES > 1 else "0"


def seeded(index):
    return "FN" + format(0x100000 + index, "032x")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port}")


class Proc:
    def __init__(self, args, cores=None, env=None):
        command = (["taskset", "-c", cores] if cores else []) + args
        # BENCH_LOGS=DIR keeps each process's output (DIR/<name>-<bench pid>-<n>.log) for a post-mortem.
        logs = os.environ.get("BENCH_LOGS")
        output = open(os.path.join(logs, f"{os.path.basename(args[0])}-{os.getpid()}-{len(os.listdir(logs))}.log"), "wb") if logs else subprocess.DEVNULL
        self.p = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if logs else subprocess.DEVNULL,
                                  env={**os.environ, **env} if env else None)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


def fetch(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def mock_call(port, method, path, body=b""):
    status, data = fetch(port, method, path, body=body)
    return json.loads(data or b"{}")


def upstream_count(mock_port):
    return mock_call(mock_port, "GET", "/__mock/requests")["count"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Stack:
    """A mock, a gateway and (optionally) nginx, each pinned to the server cores."""

    def __init__(self, build, gateway_args=(), threads=1, nginx=False, seed=None):
        self.mock_port, self.gw_port = free_port(), free_port()
        self.procs = []
        # The mock is the shared upstream: it runs on the load cores so it does not steal the contenders'.
        self.mock = Proc([f"{build}/mock-studio", "--listen", f"127.0.0.1:{self.mock_port}", "--threads", "1"], LOAD_CORES)
        self.procs.append(self.mock)
        wait_listening(self.mock_port)
        if seed:
            mock_call(self.mock_port, "POST", "/__mock/seed", json.dumps(seed).encode())
        server_cores = SERVER_CORES if threads == 1 else f"0-{CORES - 1}"
        self.gateway = Proc([f"{build}/studiogate", "--listen", f"127.0.0.1:{self.gw_port}", "--upstream", f"http://127.0.0.1:{self.mock_port}",
                             "--threads", str(threads), "--log-level", "warn", *gateway_args], server_cores)
        self.procs.append(self.gateway)
        wait_listening(self.gw_port)
        self.nginx_port = None
        if nginx:
            self.nginx_port = free_port()
            self.nginx_dir = tempfile.mkdtemp(prefix="studiogate-nginx-")
            os.chmod(self.nginx_dir, 0o777)  # nginx workers run as an unprivileged user and write the cache here
            conf = open(os.path.join(HERE, "nginx.conf")).read()
            conf = conf.replace("__PORT__", str(self.nginx_port)).replace("__UPSTREAM__", f"127.0.0.1:{self.mock_port}").replace("__DIR__", self.nginx_dir)
            conf = conf.replace("worker_processes 1;", f"worker_processes {threads};")
            path = os.path.join(self.nginx_dir, "nginx.conf")
            open(path, "w").write(conf)
            self.procs.append(Proc(["nginx", "-c", path, "-p", self.nginx_dir], server_cores))
            wait_listening(self.nginx_port)

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        if self.nginx_port:
            shutil.rmtree(self.nginx_dir, ignore_errors=True)


def wrk(port, path, connections, seconds, extra=()):
    script = [] if "-s" in extra else ["-s", os.path.join(HERE, "wrk-report.lua")]
    command = ["taskset", "-c", LOAD_CORES, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: {AUTH}",
               *extra, *script, f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    match = re.search(r"RESULT rps=([\d.]+) p50=([\d.]+) p99=([\d.]+) p999=([\d.]+) errors=(\d+) requests=(\d+)", output)
    if not match:
        raise RuntimeError(f"wrk produced no result: {output}")
    rps, p50, p99, p999, errors, requests = match.groups()
    return {"rps": float(rps), "p50": float(p50), "p99": float(p99), "p999": float(p999), "errors": int(errors), "requests": int(requests)}


def side_by_side(ports, path, connections, seconds, rounds, extra=()):
    """Alternates the contenders for `rounds` rounds (this VM's speed drifts over minutes, so
    back-to-back runs compare like with like) and reports per contender the median of each figure,
    plus the median and range of the per-round req/s ratios."""
    runs = {name: [] for name in ports}
    for _ in range(rounds):
        for name, port in ports.items():
            runs[name].append(wrk(port, path, connections, seconds, extra))
    result = {name: {key: statistics.median(r[key] for r in results) for key in ("rps", "p50", "p99", "p999")}
              | {"errors": sum(r["errors"] for r in results), "requests": sum(r["requests"] for r in results),
                 "rounds_rps_p99": [(r["rps"], r["p99"]) for r in results]}  # medians hide a noisy round
              for name, results in runs.items()}
    for name in runs:
        if name == "studiogate":
            continue
        ratios = [g["rps"] / n["rps"] for g, n in zip(runs["studiogate"], runs[name])]
        key = "ratio" if name == "nginx" else f"ratio_vs_{name}"
        result[key] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "rounds": rounds}
    return result


def hit_path(build, seconds, smoke):
    """Cached ended-execution contexts (~1 KiB and ~16 KiB): studiogate vs nginx proxy_cache."""
    rows, sweep = [], []
    rounds = 1 if smoke else 3
    for size in ([1024] if smoke else [1024, 16384]):
        for threads in ([1] if smoke else [1, 2]):
            stack = Stack(build, threads=threads, nginx=True, seed={"count": 4, "context_bytes": size, "status": "ended"})
            try:
                execution = f"/v2/Flows/{FLOW}/Executions/{seeded(0)}"
                path = execution + "/Context"
                ports = {"studiogate": stack.gw_port, "nginx": stack.nginx_port}
                for port in ports.values():
                    for target in (execution, path, path):
                        fetch(port, "GET", target, headers={"Authorization": AUTH})
                rows.append((size, threads, side_by_side(ports, path, 64, seconds, rounds)))
                if size == 1024 and threads == 1 and not smoke:
                    for connections in (1, 16, 64, 256):
                        sweep.append((connections, side_by_side(ports, path, connections, max(2, seconds * 3 // 5), 2)))
                if size == 1024 and threads == 1:
                    closing = side_by_side(ports, path, 16, max(2, seconds * 3 // 5), 1 if smoke else 2, ["-H", "Connection: close"])
            finally:
                stack.stop()
    return rows, sweep, closing


class FloorContenders:
    """Issue 16's four contenders on the server core, each answering a cached ended execution's
    1 KiB Context: studiogate (--threads 1), nginx proxy_cache as in bench/nginx.conf, nginx
    proxy_cache tuned (cache on tmpfs, sendfile, open_file_cache, keepalive_requests 1000000) and
    nginx serving the same bytes as a static file (no cache lookup, no auth), the practical floor
    for answering from memory."""

    def __init__(self, build):
        self.stack = Stack(build, threads=1, nginx=True, seed={"count": 4, "context_bytes": 1024, "status": "ended"})
        self.tmp = tempfile.mkdtemp(prefix="studiogate-floor-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        stack, tmp = self.stack, self.tmp
        os.chmod(tmp, 0o777)
        execution = f"/v2/Flows/{FLOW}/Executions/{seeded(0)}"
        self.path = execution + "/Context"
        for target in (execution, self.path):
            fetch(stack.gw_port, "GET", target, headers={"Authorization": AUTH})
        status, body = fetch(stack.gw_port, "GET", self.path, headers={"Authorization": AUTH})
        assert status == 200, status
        open(os.path.join(tmp, "context.json"), "wb").write(body)
        os.chmod(os.path.join(tmp, "context.json"), 0o644)
        tuned_port, static_port = free_port(), free_port()
        common = (f"worker_processes 1; daemon off; error_log {tmp}/error.log warn; events {{ worker_connections 4096; }}"
                  " http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;"
                  " open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; ")
        tuned = common.replace("worker_processes 1;", f"worker_processes 1; pid {tmp}/tuned.pid;") + f"""
  proxy_cache_path {tmp}/cache levels=1:2 keys_zone=studio:64m max_size=1g inactive=1d use_temp_path=off;
  upstream studio {{ server 127.0.0.1:{stack.mock_port}; keepalive 32; }}
  server {{ listen 127.0.0.1:{tuned_port} reuseport backlog=4096;
    location / {{ proxy_pass http://studio; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache studio; proxy_cache_key "$http_authorization$request_uri"; proxy_cache_valid 200 1d;
      proxy_cache_lock on; add_header X-Cache $upstream_cache_status; }} }} }}"""
        static = common.replace("worker_processes 1;", f"worker_processes 1; pid {tmp}/static.pid;") + f"""
  server {{ listen 127.0.0.1:{static_port} reuseport backlog=4096; root {tmp};
    location / {{ default_type application/json; try_files /context.json =404; }} }} }}"""
        for name, conf in (("tuned", tuned), ("static", static)):
            conf_path = os.path.join(tmp, f"{name}.conf")
            open(conf_path, "w").write(conf)
            stack.procs.append(Proc(["nginx", "-c", conf_path, "-p", tmp], SERVER_CORES))
        for port in (tuned_port, static_port):
            wait_listening(port)
        self.ports = {"studiogate": stack.gw_port, "nginx": stack.nginx_port, "nginx_tuned": tuned_port,
                      "nginx_static": static_port}
        for port in self.ports.values():
            for _ in range(2):
                fetch(port, "GET", self.path, headers={"Authorization": AUTH})

    def stop(self):
        self.stack.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def hit_floor(build, seconds, smoke, rounds=None, connection_counts=None):
    """Issue 16's table: the four contenders at their saturation (wrk, a closed loop), alternating
    rounds, medians."""
    contenders = FloorContenders(build)
    try:
        rounds = rounds or (1 if smoke else 3)
        counts = connection_counts or ((64,) if smoke else (1, 64, 256))
        return [(connections, side_by_side(contenders.ports, contenders.path, connections, seconds, rounds))
                for connections in counts]
    finally:
        contenders.stop()


def build_open_loop(directory):
    """bench/open-loop.c compiled into `directory`; returns the binary's path."""
    binary = os.path.join(directory, "open-loop")
    subprocess.run(["gcc", "-O2", "-o", binary, os.path.join(HERE, "open-loop.c")], check=True)
    return binary


def fixed_load(build, seconds, smoke, rounds=None, rates=None, connections=64):
    """The same four contenders at the same offered load (bench/open-loop.c: an open loop, as wrk2
    measures, latency counted from each request's planned send time). wrk's p99 at saturation is
    mostly its own queue, and on two cores its own saturated core; this compares tails like with
    like. A rate above a contender's capacity shows as latency in hundreds of ms."""
    binary = build_open_loop(tempfile.mkdtemp(prefix="studiogate-open-loop-"))
    contenders = FloorContenders(build)
    try:
        rows = []
        for rate in rates or ((20_000,) if smoke else (10_000, 40_000, 70_000)):
            runs = {name: [] for name in contenders.ports}
            for _ in range(rounds or (1 if smoke else 5)):
                for name, port in contenders.ports.items():
                    output = subprocess.run(
                        ["taskset", "-c", LOAD_CORES, binary, str(port), contenders.path, AUTH, str(connections), str(rate),
                         str(seconds)], capture_output=True, text=True, timeout=seconds + 30)
                    if output.returncode != 0:
                        raise RuntimeError(f"open-loop failed against {name}: {output.stderr}")
                    runs[name].append(json.loads(output.stdout))
            row = {name: {key: statistics.median(r[key] for r in results) for key in ("rps", "p50", "p90", "p99", "p999")}
                   | {"errors": sum(r["errors"] for r in results), "rounds_p99": [r["p99"] for r in results]}
                   for name, results in runs.items()}
            rows.append((rate, row))
        return rows
    finally:
        contenders.stop()
        shutil.rmtree(os.path.dirname(binary), ignore_errors=True)


def miss_path(build, seconds):
    """A cold call through the gateway vs the mock directly, one connection."""
    stack = Stack(build, gateway_args=["--active-ttl", "0"], seed={"count": 1, "context_bytes": 1024, "status": "active"})
    try:
        path = f"/v2/Flows/{FLOW}/Executions/{seeded(0)}/Context"
        return {"gateway": wrk(stack.gw_port, path, 1, seconds), "direct": wrk(stack.mock_port, path, 1, seconds)}
    finally:
        stack.stop()


FORWARD_BODY = json.dumps({
    "sid": "FN" + "0" * 31 + "1", "account_sid": ACCOUNT, "flow_sid": FLOW, "contact_sid": "FC" + "0" * 31 + "2",
    "contact_channel_address": "+15551230000", "status": "active", "context": {"flow": {"first_name": "Ada", "phone": "+15557650000",
    "widgets": {"greeting": {"outcome": "sent", "body": "Hello Ada, thanks for calling. " * 8}}}},
    "date_created": "2026-11-30T12:00:00Z", "date_updated": "2026-11-30T12:00:05Z",
    "url": f"https://studio.twilio.com/v2/Flows/{FLOW}/Executions/FN" + "0" * 31 + "1",
    "links": {"steps": f"https://studio.twilio.com/v2/Flows/{FLOW}/Executions/FN" + "0" * 31 + "1/Steps",
              "execution_context": f"https://studio.twilio.com/v2/Flows/{FLOW}/Executions/FN" + "0" * 31 + "1/Context"}})


class ForwardStack:
    """The forward workload: a static nginx upstream answering one JSON body for every path (on the
    load core, with wrk), and two forwarders pinned to the server core, each with keep-alive to it:
    studiogate (--threads 1) and nginx proxy_pass (upstream keepalive)."""

    def __init__(self, build):
        self.dir = tempfile.mkdtemp(prefix="studiogate-forward-")
        os.chmod(self.dir, 0o777)
        self.static_port, self.nginx_port, self.gw_port = free_port(), free_port(), free_port()
        body = FORWARD_BODY.replace("\\", "\\\\").replace("'", "\\'")
        common = f"daemon off; pid {{pid}}; error_log {self.dir}/error.log warn; events {{ worker_connections 4096; }}"
        static = common.replace("{pid}", f"{self.dir}/static.pid") + f"""
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{self.static_port} reuseport backlog=4096;
    location / {{ default_type application/json; return 200 '{body}'; }} }} }}"""
        proxy = common.replace("{pid}", f"{self.dir}/proxy.pid") + f"""
http {{ access_log off; keepalive_requests 1000000;
  upstream studio {{ server 127.0.0.1:{self.static_port}; keepalive 64; keepalive_requests 1000000; }}
  server {{ listen 127.0.0.1:{self.nginx_port} reuseport backlog=4096;
    location / {{ proxy_pass http://studio; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}"""
        self.procs = []
        for name, conf, cores in (("static", static, LOAD_CORES), ("proxy", proxy, SERVER_CORES)):
            path = os.path.join(self.dir, f"{name}.conf")
            open(path, "w").write("worker_processes 1;\n" + conf)
            self.procs.append(Proc(["nginx", "-c", path, "-p", self.dir], cores))
        self.procs.append(Proc([f"{build}/studiogate", "--listen", f"127.0.0.1:{self.gw_port}", "--upstream", f"http://127.0.0.1:{self.static_port}",
                                "--threads", "1", "--log-level", "warn", "--upstream-concurrency", "256"], SERVER_CORES))
        for port in (self.static_port, self.nginx_port, self.gw_port):
            wait_listening(port)

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def distinct_executions_script(directory):
    """A wrk script asking for a new execution SID on every request. A different start per
    process, so rounds never repeat an execution SID."""
    script = os.path.join(directory, "distinct.lua")
    open(script, "w").write(f"""
counter = {random.randrange(1 << 40)}
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("/v2/Flows/{FLOW}/Executions/FN%032x", counter))
end
""" + open(os.path.join(HERE, "wrk-report.lua")).read())
    return script


def forward_path(build, seconds, smoke):
    """Every request names a different execution (nothing cached or coalesced): studiogate's
    miss path against nginx proxy_pass, both forwarding to the same fast static upstream."""
    stack = ForwardStack(build)
    try:
        script = distinct_executions_script(stack.dir)
        ports = {"studiogate": stack.gw_port, "nginx": stack.nginx_port}
        for port in ports.values():
            status, _ = fetch(port, "GET", f"/v2/Flows/{FLOW}/Executions/FN{'a' * 32}", headers={"Authorization": AUTH})
            assert status == 200, f"forwarder on {port} answered {status}"
        rounds = 1 if smoke else 3
        return [(connections, side_by_side(ports, "/", connections, seconds, rounds, ["-s", script]))
                for connections in ((1, 64) if smoke else (1, 16, 64, 256))]
    finally:
        stack.stop()


def curl_ceiling(build, seconds, smoke):
    """What the card's upstream engine can reach at best on the forward workload: libcurl alone as
    a keep-alive client (bench/curl-ceiling.c, no server side, no cache) and nginx serving the body
    itself (the server side alone), each on the server core, alternated with nginx proxy_pass.
    A forwarder does both halves, so 1 / (1/curl + 1/server) bounds any libcurl-based forwarder."""
    stack = ForwardStack(build)
    try:
        binary = os.path.join(stack.dir, "curl-ceiling")
        subprocess.run(["gcc", "-O2", "-o", binary, os.path.join(HERE, "curl-ceiling.c"), "-lcurl"], check=True)
        script = distinct_executions_script(stack.dir)
        server_port = write_static_server(stack)
        stack.procs.append(Proc(["nginx", "-c", os.path.join(stack.dir, "static-server.conf"), "-p", stack.dir], SERVER_CORES))
        wait_listening(server_port)
        rows = []
        for connections in ((64,) if smoke else (1, 64)):
            runs = {"nginx_proxy_pass": [], "curl_client_alone": [], "nginx_server_alone": []}
            for _ in range(1 if smoke else 3):
                runs["nginx_proxy_pass"].append(wrk(stack.nginx_port, "/", connections, seconds, ["-s", script])["rps"])
                output = subprocess.run(["taskset", "-c", SERVER_CORES, binary, str(stack.static_port), str(connections), str(seconds)],
                                        capture_output=True, text=True, timeout=seconds + 30).stdout
                runs["curl_client_alone"].append(float(re.search(r"([\d.]+) transfers/s", output).group(1)))
                runs["nginx_server_alone"].append(wrk(server_port, "/", connections, seconds, ["-s", script])["rps"])
            row = {name: statistics.median(values) for name, values in runs.items()}
            bound = 1 / (1 / row["curl_client_alone"] + 1 / row["nginx_server_alone"])
            row |= {"libcurl_forwarder_bound": bound, "bound_over_nginx_proxy_pass": bound / row["nginx_proxy_pass"],
                    "curl_alone_over_nginx_proxy_pass": row["curl_client_alone"] / row["nginx_proxy_pass"]}
            rows.append((connections, row))
        return rows
    finally:
        stack.stop()


def write_static_server(stack):
    """nginx on the server core answering the forward body itself: a forwarder's server half alone.
    Returns its port."""
    port = free_port()
    body = FORWARD_BODY.replace("\\", "\\\\").replace("'", "\\'")
    open(os.path.join(stack.dir, "static-server.conf"), "w").write(
        f"worker_processes 1; daemon off; pid {stack.dir}/server.pid; error_log {stack.dir}/error.log warn;"
        f" events {{ worker_connections 4096; }} http {{ access_log off; keepalive_requests 1000000;"
        f" server {{ listen 127.0.0.1:{port} reuseport backlog=4096;"
        f" location / {{ default_type application/json; return 200 '{body}'; }} }} }}")
    return port


def poll_executions(port, executions, interval, stop, results):
    """One polling service (its own process, so N of them keep their pace without sharing a GIL):
    fetches every execution each `interval` until `stop`; reports its request count and when it
    first saw each execution ended."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    requests, seen_at = 0, {}
    while time.time() < stop:
        started = time.time()
        for index in range(executions):
            sid = seeded(index)
            conn.request("GET", f"/v2/Flows/{FLOW}/Executions/{sid}", headers={"Authorization": AUTH})
            body = conn.getresponse().read()
            requests += 1
            if b'"status": "ended"' in body and sid not in seen_at:
                seen_at[sid] = time.time()
        time.sleep(max(0, interval - (time.time() - started)))
    results.put((requests, seen_at))


def polling(build, seconds, services=4, executions=200, interval=0.25):
    """Services polling executions; half end during the run. Through the gateway vs directly."""
    results = {}
    for mode in ("gateway", "direct"):
        stack = Stack(build, seed={"count": executions, "context_bytes": 256, "status": "active"})
        port = stack.gw_port if mode == "gateway" else stack.mock_port
        before = upstream_count(stack.mock_port)
        stop = time.time() + seconds
        queue = multiprocessing.Queue()
        pollers = [multiprocessing.Process(target=poll_executions, args=(port, executions, interval, stop, queue)) for _ in range(services)]
        for poller in pollers:
            poller.start()
        ended_at = {}
        for index in random.sample(range(executions), executions // 2):
            time.sleep(random.uniform(0, seconds * 0.7 / (executions // 2)))
            sid = seeded(index)
            mock_call(stack.mock_port, "POST", f"/__mock/executions/{sid}/end")
            ended_at[sid] = time.time()
        reports = [queue.get(timeout=seconds + 60) for _ in pollers]
        for poller in pollers:
            poller.join(10)
        # Staleness: from the end to the first poller that saw it.
        seen_at = {}
        for _, seen in reports:
            for sid, at in seen.items():
                seen_at[sid] = min(at, seen_at.get(sid, at))
        staleness = [seen_at[s] - ended_at[s] for s in ended_at if s in seen_at]
        requests = sum(count for count, _ in reports)
        results[mode] = {"requests": requests, "planned_requests": services * executions * round(seconds / interval),
                         "upstream_calls": upstream_count(stack.mock_port) - before,
                         "max_staleness": max(staleness) if staleness else None, "unseen": len(ended_at) - len(staleness)}
        stack.stop()
    return results


FLEET_VARIANTS = ("plain", "tls", "cluster")
DATA_KEY = "5a" * 32  # a throwaway data key: the benchmark's fleets seal what they write to Redis


class RedisSetup:
    """The second level a fleet benchmark runs against, on the server cores: `plain` (one
    redis-server), `tls` (one redis-server speaking TLS only, with a throwaway CA and server
    certificate made by the openssl CLI) or `cluster` (three masters made with `redis-cli --cluster
    create`). `urls[i]` is what pod i's `--redis` names (cluster pods are seeded with different
    nodes); `extra` the gateway arguments it needs besides."""

    def __init__(self, variant):
        self.variant, self.procs, self.extra = variant, [], []
        # Beside the pods (mostly idle at this load), not on the load cores: there the four pollers
        # starve Redis past the pods' 5 ms command budget and the fleet measures the scheduler
        # (2.1-2.9x fewer calls, 20k failed commands in a run). BENCH_REDIS_CORES=1 puts it back.
        cores = os.environ.get("BENCH_REDIS_CORES", SERVER_CORES)
        self.dir = tempfile.mkdtemp(prefix="studiogate-bench-redis-")
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir]
        if variant == "plain":
            port = self._server(["--port"], base, cores)
            self.urls = [f"redis://127.0.0.1:{port}/0"]
        elif variant == "tls":
            ca, cert, key = self._certificates()
            port = free_port()
            self.procs.append(Proc(["redis-server", "--port", "0", "--tls-port", str(port), "--tls-cert-file", cert, "--tls-key-file", key,
                                    "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", *base], cores))
            wait_listening(port)
            self.urls = [f"rediss://127.0.0.1:{port}/0"]
            self.extra = ["--redis-ca-file", ca]
        elif variant == "cluster":
            ports = []
            while len(ports) < 3:
                port = free_port()
                if port < 55_536 and port not in ports and self._free(port + 10_000):
                    ports.append(port)
            for port in ports:
                self.procs.append(Proc(["redis-server", "--port", str(port), "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                                        "--cluster-node-timeout", "2000", *base], cores))
            for port in ports:
                wait_listening(port)
            created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
                                     capture_output=True, text=True, timeout=60).stdout
            if "[OK] All 16384 slots covered" not in created:
                raise RuntimeError(f"cluster create failed: {created}")
            deadline = time.time() + 30
            while not all("cluster_state:ok" in subprocess.run(["redis-cli", "-p", str(p), "CLUSTER", "INFO"], capture_output=True, text=True).stdout for p in ports):
                if time.time() > deadline:
                    raise RuntimeError("cluster_state never ok")
                time.sleep(0.1)
            self.urls = [f"redis://127.0.0.1:{p}/0" for p in ports]
            self.ports = ports
        else:
            raise ValueError(variant)

    def _server(self, port_flag, base, cores):
        port = free_port()
        self.procs.append(Proc(["redis-server", *port_flag, str(port), *base], cores))
        wait_listening(port)
        return port

    @staticmethod
    def _free(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    def _certificates(self):
        """A CA and a server certificate for 127.0.0.1 it signed (P-256, valid 2 days)."""
        d = self.dir
        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)
        run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA")
        run("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        open(os.path.join(d, "server.cnf"), "w").write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.cnf")
        # redis-server runs as this user here, but keep the key readable to it whoever that is.
        os.chmod(os.path.join(d, "server.key"), 0o644)
        return tuple(os.path.join(d, f) for f in ("ca.crt", "server.crt", "server.key"))

    def gateway_args(self, pod, data_key=True):
        return ["--redis", self.urls[pod % len(self.urls)], *self.extra]

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def fleet(build, seconds, pods=4, executions=200, interval=0.25, variants=("plain",)):
    """The polling workload on a fleet: `pods` gateways, one polling service each, all in front of
    one mock; first independent caches, then, per variant (plain / tls / cluster, see RedisSetup),
    the same pods sharing Redis with the data key on. Half the executions end during each run.
    Then, with Redis: a second-level hit's latency against a first-level hit's."""
    results = {}
    for mode in ("independent", *variants):
        mock_port = free_port()
        procs = [Proc([f"{build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"], LOAD_CORES)]
        redis = None
        try:
            wait_listening(mock_port)
            mock_call(mock_port, "POST", "/__mock/seed", json.dumps({"count": executions, "context_bytes": 256, "status": "active"}).encode())
            if mode != "independent":
                redis = RedisSetup(mode)
            ports = [free_port() for _ in range(pods)]
            for pod, port in enumerate(ports):
                extra = redis.gateway_args(pod) if redis else []
                procs.append(Proc([f"{build}/studiogate", "--listen", f"127.0.0.1:{port}", "--upstream", f"http://127.0.0.1:{mock_port}",
                                   "--threads", "1", "--log-level", "warn", *extra], SERVER_CORES,
                                  env={"STUDIOGATE_DATA_KEY": DATA_KEY} if redis else None))
            for port in ports:
                wait_listening(port)
            before = upstream_count(mock_port)
            stop = time.time() + seconds
            queue = multiprocessing.Queue()
            pollers = [multiprocessing.Process(target=poll_executions, args=(port, executions, interval, stop, queue)) for port in ports]
            for poller in pollers:
                poller.start()
            ended_at = {}
            for index in random.sample(range(executions), executions // 2):
                time.sleep(random.uniform(0, seconds * 0.7 / (executions // 2)))
                sid = seeded(index)
                mock_call(mock_port, "POST", f"/__mock/executions/{sid}/end")
                ended_at[sid] = time.time()
            reports = [queue.get(timeout=seconds + 60) for _ in pollers]
            for poller in pollers:
                poller.join(10)
            # Staleness: from the end to the moment each pod's poller saw it; the worst pod counts.
            staleness = [seen[sid] - ended_at[sid] for _, seen in reports for sid in ended_at if sid in seen]
            results[mode] = {"requests": sum(count for count, _ in reports), "upstream_calls": upstream_count(mock_port) - before,
                             "max_staleness": max(staleness) if staleness else None}
            if redis:
                # What the pods' second level did (summed): hits, misses, and failed commands (timeouts past
                # the 5 ms budget read as misses, and a miss asks Twilio).
                totals = {}
                for port in ports:
                    text = fetch(port, "GET", "/metrics")[1].decode()
                    for name, pattern in (("l2_hits", r'studiogate_second_level_requests_total\{result="hit"\} (\d+)'),
                                          ("l2_misses", r'studiogate_second_level_requests_total\{result="miss"\} (\d+)'),
                                          ("l2_errors", r"studiogate_second_level_errors_total (\d+)")):
                        match = re.search(pattern, text)
                        totals[name] = totals.get(name, 0) + (int(match.group(1)) if match else 0)
                results[mode]["second_level"] = totals
                results[mode]["latency_ms"] = level_latency(ports[0], ports[1], mock_port)
                results[mode]["fewer_upstream_calls"] = results["independent"]["upstream_calls"] / max(1, results[mode]["upstream_calls"])
        finally:
            for proc in reversed(procs):
                proc.stop()
            if redis:
                redis.stop()
    return results


def sealing_cost(build, rounds=5, count=600):
    """What --data-key costs a second-level hit, in time: the L2 hit p50 (level_latency) of two
    pods over one plain redis-server with the key and without it, alternating `rounds` times (a
    fresh mock, Redis and pods each round). The difference is within this VM's noise unless it is
    large; bench/instructions.sh --fleet counts the instructions instead."""
    runs = {"data_key": [], "no_key": []}
    for _ in range(rounds):
        for name in runs:
            mock_port = free_port()
            procs = [Proc([f"{build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"], LOAD_CORES)]
            redis = None
            try:
                wait_listening(mock_port)
                redis = RedisSetup("plain")
                ports = [free_port() for _ in range(2)]
                for pod, port in enumerate(ports):
                    procs.append(Proc([f"{build}/studiogate", "--listen", f"127.0.0.1:{port}", "--upstream", f"http://127.0.0.1:{mock_port}",
                                       "--threads", "1", "--log-level", "warn", *redis.gateway_args(pod)], SERVER_CORES,
                                      env={"STUDIOGATE_DATA_KEY": DATA_KEY} if name == "data_key" else None))
                for port in ports:
                    wait_listening(port)
                runs[name].append(level_latency(ports[0], ports[1], mock_port, count=count))
            finally:
                for proc in reversed(procs):
                    proc.stop()
                if redis:
                    redis.stop()
    summary = {name: {"l2_p50_median": statistics.median(r["l2_p50"] for r in results if r["l2_p50"] is not None),
                      "l1_p50_median": statistics.median(r["l1_p50"] for r in results),
                      "second_level_hits": sum(r["second_level_hits"] for r in results),
                      "rounds_l2_p50": [r["l2_p50"] for r in results]} for name, results in runs.items()}
    summary["sealing_us_per_l2_hit"] = (summary["data_key"]["l2_p50_median"] - summary["no_key"]["l2_p50_median"]) * 1000
    return summary


def level_latency(first, second, mock_port, count=300):
    """p50 of a second-level hit (an entry pod `first` fetched, asked of pod `second` for the first
    time) against a first-level hit (the same request again), over one keep-alive connection each."""
    mock_call(mock_port, "POST", "/__mock/seed", json.dumps({"count": count, "context_bytes": 1024, "status": "ended"}).encode())
    a = http.client.HTTPConnection("127.0.0.1", first, timeout=10)
    b = http.client.HTTPConnection("127.0.0.1", second, timeout=10)
    def timed(conn, path):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": AUTH})
        response = conn.getresponse()
        response.read()
        return (time.perf_counter() - started) * 1000, response.getheader("X-Cache-Level")
    timed(b, f"/v2/Flows/{FLOW}/Executions/{seeded(0)}")  # proves the credential on the second pod
    l2, l1 = [], []
    for index in range(1, count):
        path = f"/v2/Flows/{FLOW}/Executions/{seeded(index)}/Context"
        timed(a, f"/v2/Flows/{FLOW}/Executions/{seeded(index)}")  # learns it ended
        timed(a, path)
        ms, level = timed(b, path)
        if level == "L2":
            l2.append(ms)
        l1.append(timed(b, path)[0])
    return {"second_level_hits": len(l2), "l2_p50": statistics.median(l2) if l2 else None, "l1_p50": statistics.median(l1),
            "l2_over_l1_p50": (statistics.median(l2) - statistics.median(l1)) if l2 else None}


def herd(build, clients):
    """N concurrent identical misses with a slow upstream (300 ms)."""
    stack = Stack(build, seed={"count": 1, "context_bytes": 1024, "status": "ended"})
    try:
        path = f"/v2/Flows/{FLOW}/Executions/{seeded(0)}/Steps"
        mock_call(stack.mock_port, "POST", "/__mock/faults", json.dumps({"path_prefix": path, "delay_ms": 300}).encode())

        async def one():
            reader, writer = await asyncio.open_connection("127.0.0.1", stack.gw_port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            return data.split(b" ", 2)[1]

        async def all_of_them():
            return await asyncio.gather(*[one() for _ in range(clients)])

        statuses = asyncio.run(all_of_them())
        calls = mock_call(stack.mock_port, "GET", "/__mock/requests?path=" + urllib.request.quote(path, safe=""))["count"]
        return {"clients": clients, "ok": sum(1 for s in statuses if s == b"200"), "upstream_calls": calls}
    finally:
        stack.stop()


def memory(build, entries):
    """Issue 16's memory goal: per cached ended-execution Context (~1 KiB of JSON), the RSS it
    costs beyond its stored gzip body, and the cache's own accounting against RSS. Two kinds of
    context, each in a fresh gateway: padding (gzips to almost nothing) and realistic (names,
    phone numbers, SIDs, widget outputs: gzips to about half)."""
    return {kind: memory_kind(build, entries, kind) for kind in ("padding", "realistic")}


def fetch_contexts(port, indices, deadline, results, passes=2):
    """One client of memory_kind: each Context of `indices` twice (a miss, then a hit), as a gzip
    client over one keep-alive connection, until `deadline`. Reports (requests, non-200 answers)."""
    os.sched_setaffinity(0, {int(core) for core in LOAD_CORES.split(",")})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    requests, failed = 0, 0
    for index in [*indices] * passes:
        if time.time() > deadline:
            break
        conn.request("GET", f"/v2/Flows/{FLOW}/Executions/{seeded(index)}/Context", headers={"Authorization": AUTH, "Accept-Encoding": "gzip"})
        response = conn.getresponse()
        response.read()
        requests += 1
        failed += response.status != 200
    conn.close()
    results.put((requests, failed))


def memory_kind(build, entries, kind, sample=200):
    """Seeds `entries` ended executions, has the gateway learn they ended (execution list pages:
    with --active-ttl 0 the pages themselves are not cached), then caches every Context once
    (permanent entries, stored gzip) and asks for each again (hits). RSS is read after the
    gateway's 5 s heap trim. Gzip body bytes: Content-Length of `sample` of the Contexts asked
    with Accept-Encoding: gzip (a permanent entry is served as stored)."""
    seed = {"count": entries, "context_bytes": 1024, "status": "ended"} | ({"realistic": True} if kind == "realistic" else {})
    stack = Stack(build, gateway_args=["--active-ttl", "0", "--cache-size", "1G"], seed=seed)
    pid = stack.gateway.p.pid
    trim = 5.5  # the gateway returns freed heap pages every 5 s (Lifecycle.start)
    def counters():
        metrics = fetch(stack.gw_port, "GET", "/metrics")[1].decode()
        return (int(re.search(r"^studiogate_cache_entries (\d+)", metrics, re.M).group(1)),
                int(re.search(r"^studiogate_cache_bytes (\d+)", metrics, re.M).group(1)))
    try:
        time.sleep(trim)
        start = rss_kib(pid)
        # Learn which executions ended, 1,000 a page; bounded by the page count and by time.
        conn = http.client.HTTPConnection("127.0.0.1", stack.gw_port, timeout=60)
        learned, deadline = 0, time.time() + 600
        for page in range(entries // 1000 + 2):
            conn.request("GET", f"/v2/Flows/{FLOW}/Executions?PageSize=1000&Page={page}", headers={"Authorization": AUTH})
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, response.status
            learned += sum(1 for item in body["executions"] if item["status"] == "ended")
            if not body["meta"]["next_page_url"] or time.time() > deadline:
                break
        conn.close()
        assert counters()[0] == 0, "execution list pages were cached"
        time.sleep(trim)
        after_learning = rss_kib(pid)
        # Every Context once (misses: stored), then once more (hits), as gzip clients over 4
        # keep-alive connections (one process each, on the load cores); bounded by count and time.
        queue = multiprocessing.Queue()
        clients = [multiprocessing.Process(target=fetch_contexts, args=(stack.gw_port, range(k, entries, 4), time.time() + 600, queue))
                   for k in range(4)]
        for client in clients:
            client.start()
        reports = [queue.get(timeout=660) for _ in clients]
        for client in clients:
            client.join(10)
        requests, non2xx = sum(r[0] for r in reports), sum(r[1] for r in reports)
        time.sleep(trim)
        after = rss_kib(pid)
        stored, cache_bytes = counters()
        # The stored gzip bodies: a sample spread over the keys, each a hit served as stored.
        conn = http.client.HTTPConnection("127.0.0.1", stack.gw_port, timeout=30)
        gzip_lengths, identity_lengths, hits = [], [], 0
        for index in range(0, entries, max(1, entries // sample)):
            conn.request("GET", f"/v2/Flows/{FLOW}/Executions/{seeded(index)}/Context",
                         headers={"Authorization": AUTH, "Accept-Encoding": "gzip"})
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and response.getheader("Content-Encoding") == "gzip", (response.status, body[:200])
            hits += response.getheader("X-Cache") == "HIT"
            gzip_lengths.append(int(response.getheader("Content-Length")))
            identity_lengths.append(len(zlib.decompress(body, 16 + zlib.MAX_WBITS)))
        conn.close()
        rss_per_entry = (after - after_learning) * 1024 / max(1, stored)
        accounted = cache_bytes / max(1, stored)
        gzip_body = statistics.mean(gzip_lengths)
        return {"kind": kind, "entries": stored, "seeded": entries, "learned_ended": learned, "requests": requests, "non2xx": non2xx,
                "sample": len(gzip_lengths), "sample_hits": hits,
                "rss_start_kib": start, "rss_after_learning_kib": after_learning, "rss_after_kib": after,
                "identity_body_per_entry": statistics.mean(identity_lengths),
                "gzip_body_per_entry": gzip_body,
                "rss_per_entry": rss_per_entry,
                "accounted_per_entry": accounted,
                "rss_beyond_body_per_entry": rss_per_entry - gzip_body,
                "accounting_vs_rss_percent": (accounted - rss_per_entry) / rss_per_entry * 100 if rss_per_entry else None,
                # Not the cache's: RSS growth while learning which executions ended (the gateway's set of
                # ended SIDs, and whatever the list pages' processing left resident).
                "learning_rss_per_entry": (after_learning - start) * 1024 / max(1, stored)}
    finally:
        stack.stop()


def snapshot_cost(build, entries):
    """Issue 27: how long the `--state-dir` snapshot of `entries` ended Contexts takes to write
    (on SIGTERM, the final write) and to restore (at start), sealed with `--data-key` and in clear.
    Each variant fills a fresh gateway the way `memory` does (list pages teach it the executions
    ended, then every Context once), stops it, then starts another on the same directory. The
    times are the gateway's own (its log lines "wrote N entries (B bytes in T ms)" and
    "restored N entries … (B bytes in T ms)")."""
    return {variant: snapshot_variant(build, entries, variant == "sealed") for variant in ("clear", "sealed")}


def snapshot_variant(build, entries, sealed):
    seed = {"count": entries, "context_bytes": 1024, "status": "ended", "realistic": True}
    mock_port = free_port()
    mock = Proc([f"{build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"], LOAD_CORES)
    state = tempfile.mkdtemp(prefix="studiogate-snapshot-")
    logs = tempfile.mkdtemp(prefix="studiogate-snapshot-logs-")
    args = ["--active-ttl", "0", "--cache-size", "1G", "--log-level", "debug", "--state-dir", os.path.join(state, "state"),
            "--snapshot-interval", "1h"] + (["--data-key", "5e" * 32] if sealed else [])
    def start(name):
        port = free_port()
        log = open(os.path.join(logs, name), "wb")
        gateway = subprocess.Popen(["taskset", "-c", SERVER_CORES, f"{build}/studiogate", "--listen", f"127.0.0.1:{port}",
                                    "--upstream", f"http://127.0.0.1:{mock_port}", "--threads", "1", *args],
                                   stdout=log, stderr=subprocess.STDOUT)
        wait_listening(port, 60)
        return gateway, port
    def logged(name, pattern, timeout=120):
        # The listener is bound before the snapshot is restored: wait for the line.
        deadline = time.time() + timeout
        while not (match := re.search(pattern, open(os.path.join(logs, name)).read())) and time.time() < deadline:
            time.sleep(0.05)
        assert match, f"no line like {pattern} in {name}: {open(os.path.join(logs, name)).read()[-2000:]}"
        return match
    try:
        wait_listening(mock_port)
        mock_call(mock_port, "POST", "/__mock/seed", json.dumps(seed).encode())
        first, port = start("first")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for page in range(entries // 1000 + 2):
            conn.request("GET", f"/v2/Flows/{FLOW}/Executions?PageSize=1000&Page={page}", headers={"Authorization": AUTH})
            response = conn.getresponse()
            body = json.loads(response.read())
            if not body["meta"]["next_page_url"]:
                break
        conn.close()
        queue = multiprocessing.Queue()
        clients = [multiprocessing.Process(target=fetch_contexts, args=(port, range(k, entries, 4), time.time() + 600, queue, 1))
                   for k in range(4)]
        for client in clients:
            client.start()
        reports = [queue.get(timeout=660) for _ in clients]
        for client in clients:
            client.join(10)
        metrics = fetch(port, "GET", "/metrics")[1].decode()
        stored = int(re.search(r"^studiogate_cache_entries (\d+)", metrics, re.M).group(1))
        first.send_signal(signal.SIGTERM)
        first.wait(120)
        wrote = logged("first", r"wrote (\d+) entries \((\d+) bytes in ([\d.]+) ms\)")
        second, port = start("second")
        restored = logged("second", r"restored (\d+) entries.*\((\d+) bytes in ([\d.]+) ms\)")
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        return {"entries": stored, "seeded": entries, "requests": sum(r[0] for r in reports), "non2xx": sum(r[1] for r in reports),
                "written": int(wrote.group(1)), "file_bytes": int(wrote.group(2)), "write_ms": float(wrote.group(3)),
                "restored": int(restored.group(1)), "restore_ms": float(restored.group(3))}
    finally:
        mock.stop()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)


def cold_start(build, runs):
    times = []
    mock_port = free_port()
    mock = Proc([f"{build}/mock-studio", "--listen", f"127.0.0.1:{mock_port}"], LOAD_CORES)
    wait_listening(mock_port)
    try:
        for _ in range(runs):
            port = free_port()
            started = time.time()
            gateway = Proc([f"{build}/studiogate", "--listen", f"127.0.0.1:{port}", "--upstream", f"http://127.0.0.1:{mock_port}", "--log-level", "warn"])
            while True:
                try:
                    if fetch(port, "GET", f"/v2/Flows/{FLOW}/Executions", headers={"Authorization": AUTH})[0] == 200:
                        break
                except OSError:
                    time.sleep(0.002)
            times.append((time.time() - started) * 1000)
            gateway.stop()
    finally:
        mock.stop()
    return statistics.median(times)


def plot(sweep, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name in ("studiogate", "nginx"):
        points = [(c, r[name]) for c, r in sweep]
        left.plot([c for c, _ in points], [r["rps"] for _, r in points], marker="o", label=name)
        right.plot([c for c, _ in points], [r["p99"] for _, r in points], marker="o", label=name)
    for axis, title in ((left, "requests/s"), (right, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("keep-alive connections")
        axis.set_title(title + ", 1 KiB context hit, 1 core")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path)
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true", help="every scenario for about 2 s")
    parser.add_argument("--only", choices=["memory", "hit", "hit-floor", "fixed-load", "forward", "curl-ceiling", "fleet", "fleet-plain", "fleet-tls", "fleet-cluster", "fleet-sealing", "snapshot"], help="run one scenario and print it (no files written)")
    # One connection's round trips are bound by wake-ups, and this VM's vary a lot: more rounds help.
    parser.add_argument("--rounds", type=int, help="hit-floor, fixed-load: alternating rounds (default 3, 5)")
    parser.add_argument("--rates", help="fixed-load: comma-separated offered loads in req/s (default 10000,40000,70000)")
    parser.add_argument("--connections", help="hit-floor: comma-separated connection counts (default 1,64,256)")
    args = parser.parse_args()
    if args.only == "memory":
        print(json.dumps(memory(args.build, 2000 if args.smoke else 100_000), indent=1))
        return
    if args.only == "snapshot":
        print(json.dumps(snapshot_cost(args.build, 2000 if args.smoke else 100_000), indent=1))
        return
    if args.only == "forward":
        print(json.dumps(forward_path(args.build, 2 if args.smoke else 5, args.smoke), indent=1))
        return
    if args.only == "hit-floor":
        counts = tuple(int(c) for c in args.connections.split(",")) if args.connections else None
        print(json.dumps(hit_floor(args.build, 2 if args.smoke else 4, args.smoke, args.rounds, counts), indent=1))
        return
    if args.only == "fixed-load":
        rates = tuple(int(r) for r in args.rates.split(",")) if args.rates else None
        print(json.dumps(fixed_load(args.build, 2 if args.smoke else 4, args.smoke, args.rounds, rates), indent=1))
        return
    if args.only in ("fleet", "fleet-plain", "fleet-tls", "fleet-cluster"):
        variants = FLEET_VARIANTS if args.only == "fleet" else (args.only.removeprefix("fleet-"),)
        print(json.dumps(fleet(args.build, 3 if args.smoke else 30, variants=variants), indent=1))
        return
    if args.only == "fleet-sealing":
        print(json.dumps(sealing_cost(args.build, 1 if args.smoke else 5, 100 if args.smoke else 600), indent=1))
        return
    if args.only == "curl-ceiling":
        print(json.dumps(curl_ceiling(args.build, 2 if args.smoke else 5, args.smoke), indent=1))
        return
    if args.only == "hit":
        rows, _, _ = hit_path(args.build, 5, True)
        print(json.dumps(rows, indent=1, default=str))
        return
    seconds = 2 if args.smoke else 5
    report = {}
    print("hit path…", flush=True)
    report["hit"], sweep, report["no_keepalive"] = hit_path(args.build, seconds, args.smoke)
    print("hit floor…", flush=True)
    report["hit_floor"] = hit_floor(args.build, 2 if args.smoke else 4, args.smoke)
    print("fixed load…", flush=True)
    report["fixed_load"] = fixed_load(args.build, 2 if args.smoke else 4, args.smoke)
    print("forward…", flush=True)
    report["forward"] = forward_path(args.build, seconds, args.smoke)
    print("miss path…", flush=True)
    report["miss"] = miss_path(args.build, 2 if args.smoke else 10)
    print("polling…", flush=True)
    report["polling"] = polling(args.build, 3 if args.smoke else 30)
    print("fleet…", flush=True)
    report["fleet"] = fleet(args.build, 3 if args.smoke else 30, variants=FLEET_VARIANTS)
    print("fleet sealing…", flush=True)
    report["fleet_sealing"] = sealing_cost(args.build, 1 if args.smoke else 5, 100 if args.smoke else 600)
    print("herd…", flush=True)
    report["herd"] = herd(args.build, 100 if args.smoke else 1000)
    print("memory…", flush=True)
    report["memory"] = memory(args.build, 2000 if args.smoke else 100_000)
    print("snapshot…", flush=True)
    report["snapshot"] = snapshot_cost(args.build, 2000 if args.smoke else 100_000)
    print("cold start…", flush=True)
    report["cold_start_ms"] = cold_start(args.build, 2 if args.smoke else 10)
    os.makedirs(args.out, exist_ok=True)
    json.dump({"report": report, "sweep": sweep}, open(os.path.join(args.out, "bench-results.json"), "w"), indent=1, default=str)
    if not args.smoke:
        plot(sweep, os.path.join(args.out, "bench-hit-path.svg"))
    print(json.dumps(report, indent=1, default=str))
    # The smoke run checks the harness works and the headline properties hold, not speed.
    assert all(r[2][n]["errors"] == 0 for r in report["hit"] for n in ("studiogate", "nginx")), "wrk saw errors"
    assert report["herd"]["ok"] == report["herd"]["clients"], "herd requests failed"
    assert all(r[n]["errors"] == 0 for _, r in report["fixed_load"] for n in r), "fixed load: non-200 answers"
    assert all(r[n]["errors"] == 0 for _, r in report["forward"] for n in ("studiogate", "nginx")), "forward: wrk saw errors"
    assert report["herd"]["upstream_calls"] <= 2, "herd was not coalesced"
    assert all(report["fleet"][v]["latency_ms"]["second_level_hits"] > 0 for v in FLEET_VARIANTS), "fleet: no second-level hit"
    assert all(m["entries"] == m["seeded"] and m["non2xx"] == 0 and m["sample_hits"] == m["sample"] for m in report["memory"].values()), \
        "memory: not every context was cached and hit"
    assert all(v["written"] == v["restored"] == v["entries"] == v["seeded"] for v in report["snapshot"].values()), \
        "snapshot: not every entry was written and restored"


if __name__ == "__main__":
    main()
