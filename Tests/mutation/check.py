#!/usr/bin/env python3
"""Checks mutants.py without running it: every mutant's original text occurs exactly once in its
file, and every test filter names a test class (and test, with `Class/test`) that exists, so a
mutant cannot "survive" because its filter matches nothing. Fast; run it after editing mutants."""
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from mutants import MUTANTS  # noqa: E402

tests = {}
for path in glob.glob(os.path.join(ROOT, "Tests", "**", "*.swift"), recursive=True):
    current = None
    for line in open(path, encoding="utf-8"):
        match = re.match(r"\s*(?:final )?class (\w+): XCTestCase", line)
        if match:
            current = match.group(1)
            tests.setdefault(current, set())
        match = re.match(r"\s*func (test\w+)\(", line)
        if match and current:
            tests[current].add(match.group(1))

problems = []
for name, path, original, _mutated, filters in MUTANTS:
    count = open(os.path.join(ROOT, path), encoding="utf-8").read().count(original)
    if count != 1:
        problems.append(f"{name}: its original text occurs {count} times in {path}")
    for alternative in filters.split("|"):
        klass, _, test = alternative.partition("/")
        classes = [known for known in tests if re.search(klass, known)]
        if not classes or (test and not any(any(t.startswith(test) for t in tests[k]) for k in classes)):
            problems.append(f"{name}: the filter {alternative} names no test")
print("\n".join(problems) or f"{len(MUTANTS)} mutants: every original occurs once, every filter names a test")
sys.exit(1 if problems else 0)
