#!/usr/bin/env python3
"""Mutation run: applies each mutant of mutants.py, one at a time, to a scratch copy of the
repository (the committed HEAD), runs the tests meant to catch it, and reports which survive.

Usage: python3 Tests/mutation/run.py [NAME-SUBSTRING]   (about a minute per mutant; not run by CI)
A mutant is killed when its tests fail (or do not build). A survivor is a bug no test notices.
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mutants import MUTANTS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/opt/swift/usr/bin")


def run(command, cwd, timeout):
    started = time.time()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result.returncode, time.time() - started, result.stdout + result.stderr


def main():
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    scratch = tempfile.mkdtemp(prefix="studiogate-mutation-")
    subprocess.run(f"git -C {ROOT} archive HEAD | tar -x -C {scratch}", shell=True, check=True)
    code, seconds, output = run(["swift", "build", "--build-tests"], scratch, 1800)
    if code != 0:
        sys.exit("mutation: the unmutated copy does not build:\n" + output[-2000:])
    results = []
    for name, path, original, mutated, tests in MUTANTS:
        if wanted not in name:
            continue
        file = os.path.join(scratch, path)
        source = open(file).read()
        if source.count(original) != 1:
            results.append((name, "STALE (the original text is not in the source once)", 0))
            print(f"{'STALE':28} {0:6.0f} s  {name} (its original text is not in the source exactly once)", flush=True)
            continue
        open(file, "w").write(source.replace(original, mutated))
        try:
            code, seconds, output = run(["swift", "test", "--filter", tests], scratch, 900)
            if "error:" in output and "Compiling" in output and code != 0 and "Executed" not in output:
                verdict = "killed (does not build)"
            else:
                verdict = "killed" if code != 0 else "SURVIVED"
        except subprocess.TimeoutExpired:
            verdict, seconds = "killed (timed out)", 900
        finally:
            open(file, "w").write(source)
        results.append((name, verdict, seconds))
        print(f"{verdict:28} {seconds:6.0f} s  {name}", flush=True)
    killed = sum(1 for _, verdict, _ in results if verdict.startswith("killed"))
    print(f"\n{killed} of {len(results)} mutants killed")
    sys.exit(0 if killed == len(results) else 1)


if __name__ == "__main__":
    main()
