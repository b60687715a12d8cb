#!/usr/bin/env python3
"""Two studiogate builds side by side on the hit path, for changes whose effect is smaller than
this VM's drift between runs: both serve a cached 1 KiB Context at once, rounds alternate, medians.

    python3 bench/ab.py OLD_BINARY NEW_BINARY [--threads N] [--rounds N] [--rate REQ_PER_S] [--mock PATH]

Reports req/s at saturation (wrk, 64 connections) and CPU per hit at a fixed offered load
(bench/open-loop.c; the process's utime + stime over answers). Run it with the old binary twice
first: the A/A ratio is the noise to beat. Loopback only; every round lasts 4 s.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile

import bench


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rate", type=int, default=40_000)
    parser.add_argument("--mock", default=os.path.join(os.path.dirname(bench.HERE), ".build", "release", "mock-studio"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="studiogate-ab-")
    open_loop = bench.build_open_loop(work)
    mock_port = bench.free_port()
    mock = bench.Proc([args.mock, "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"],
                      bench.LOAD_CORES)
    gateways = {}
    try:
        bench.wait_listening(mock_port)
        bench.mock_call(mock_port, "POST", "/__mock/seed",
                        json.dumps({"count": 4, "context_bytes": 1024, "status": "ended"}).encode())
        cores = bench.SERVER_CORES if args.threads == 1 else None
        for name, binary in (("old", args.old), ("new", args.new)):
            port = bench.free_port()
            process = bench.Proc([binary, "--listen", f"127.0.0.1:{port}", "--upstream", f"http://127.0.0.1:{mock_port}",
                                  "--threads", str(args.threads), "--log-level", "warn"], cores)
            gateways[name] = (port, process)
            bench.wait_listening(port)
        execution = f"/v2/Flows/{bench.FLOW}/Executions/{bench.seeded(0)}"
        path = execution + "/Context"
        for port, _ in gateways.values():
            for target in (execution, path, path):
                bench.fetch(port, "GET", target, headers={"Authorization": bench.AUTH})
        rps = {name: [] for name in gateways}
        cpu = {name: [] for name in gateways}
        for round_ in range(args.rounds):
            for name in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                port, process = gateways[name]
                rps[name].append(bench.wrk(port, path, 64, 4)["rps"])
                before = cpu_ticks(process.p.pid)
                output = subprocess.run(["taskset", "-c", bench.LOAD_CORES, open_loop, str(port), path, bench.AUTH, "64",
                                         str(args.rate), "4"], capture_output=True, text=True, timeout=40, check=True)
                answered = json.loads(output.stdout)["answered"]
                ticks_per_second = os.sysconf("SC_CLK_TCK")
                cpu[name].append((cpu_ticks(process.p.pid) - before) / ticks_per_second * 1e6 / answered)
        for name in gateways:
            print(f"{name}: {statistics.median(rps[name]):,.0f} req/s (rounds {[round(r) for r in rps[name]]}); "
                  f"{statistics.median(cpu[name]):.2f} µs CPU per hit at {args.rate:,} req/s "
                  f"(rounds {[round(c, 2) for c in cpu[name]]})")
        print(f"new/old: req/s {statistics.median(rps['new']) / statistics.median(rps['old']):.3f}, "
              f"CPU per hit {statistics.median(cpu['new']) / statistics.median(cpu['old']):.3f}")
    finally:
        for _, process in gateways.values():
            process.stop()
        mock.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
