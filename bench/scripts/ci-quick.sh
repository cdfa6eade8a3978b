#!/usr/bin/env bash
# The quick comparison with Apache ZooKeeper, as CI runs it, and a check that it produced
# well-formed results. Never a speed assertion: only that every measure ran and gave numbers.
#
#   bench/scripts/ci-quick.sh BIN_DIR [OUT_DIR]
#
# BIN_DIR holds the release binaries `corral-bench` and `corral` (this script builds nothing;
# e.g. `cargo build --release --bin corral --bin corral-bench`, then BIN_DIR=target/release).
# OUT_DIR (default: a temporary directory, deleted afterwards) receives results.json,
# summary.md, report.html and plots/. Server data go under $CORRAL_BENCH_DIR (default: the
# working directory). ZooKeeper is installed by corral-bench when missing.
#
# Exits non-zero when the comparison fails or its output is not well formed: a case missing
# for a server, no operations, a number that is not finite, a large-tree measure missing, or
# the HTML without an <svg> per plot.
set -euo pipefail

if (($# < 1)) || [[ "$1" == -h || "$1" == --help ]]; then
    sed -n '2,16p' "$0"
    exit 2
fi
bin_dir="$(cd "$1" && pwd)"
out="${2:-}"
if [[ -z "$out" ]]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi
for binary in corral-bench corral; do
    [[ -x "$bin_dir/$binary" ]] || { echo "ci-quick: $bin_dir/$binary is missing" >&2; exit 2; }
done

started=$SECONDS
status=0
"$bin_dir/corral-bench" compare --quick --corral "$bin_dir/corral" --out "$out" \
    --dir "${CORRAL_BENCH_DIR:-$PWD}" || status=$?
echo "ci-quick: compare exited with $status after $((SECONDS - started)) s" >&2

check=0
python3 - "$out" <<'EOF' || check=$?
import json, math, os, sys

out = sys.argv[1]
problems = []
try:
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
except (OSError, ValueError) as error:
    print(f"ci-quick: results.json unreadable: {error}", file=sys.stderr)
    sys.exit(1)

def finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)

targets = ["corral", "zookeeper"]
# The quick comparison's cases (bench/src/compare/plan.rs, default_cases(true)).
expected = [f"{w}-{c}x1" for w in ("set", "get") for c in (1, 16, 64, 256)]
expected += ["create-64x1", "create-256x1", "set-64x16", "get-64x16", "exists-64x1",
             "create-seq-64x1", "children-64x1-w1000", "mixed-64x1-r90", "multi-64x1-ops10",
             "large-16x1-64KiB", "ephemeral-churn-16x1", "watch-fanout-w100", "election-c16",
             "set-open-loop", "tree-set-64x1-no-snapshots", "tree-set-64x1-snapshots"]
expected += ["set-64x1-no-fsync"]
runs = results.get("runs", [])
for case in expected:
    # Corral without fsync is compared with Corral only.
    for target in (["corral"] if case.endswith("no-fsync") else targets):
        mine = [r["result"] for r in runs if r["case"] == case and r["result"]["target"] == target]
        if not mine:
            problems.append(f"{case} on {target}: no run")
            continue
        for result in mine:
            latency = result["latency"]
            numbers = [result["throughput"], result["elapsed_seconds"], latency["mean_us"]]
            numbers += [latency[k] for k in ("p50_us", "p99_us", "p999_us", "max_us")]
            if result["ops"] <= 0:
                problems.append(f"{case} on {target}: ops = {result['ops']}")
            if not all(finite(n) for n in numbers):
                problems.append(f"{case} on {target}: a figure is not finite: {numbers}")
            if not (result.get("memory") or {}).get("samples"):
                problems.append(f"{case} on {target}: no RSS samples")
for target in targets:
    tree = [t for t in results.get("tree", []) if t["target"] == target]
    if not tree:
        problems.append(f"large tree on {target}: not measured")
    for t in tree:
        for key, value in t.items():
            if key not in ("target",) and not (finite(value) and value > 0):
                problems.append(f"large tree on {target}: {key} = {value}")
rows = results.get("summary", {}).get("cases", [])
for row in rows:
    for key in ("throughput_ratio", "p99_ratio", "p999_ratio", "rss_ratio"):
        if row.get(key) is not None and not finite(row[key]):
            problems.append(f"summary {row['case']}: {key} = {row[key]}")
if not rows:
    problems.append("summary: no rows")
for note in results.get("notes", []):
    if note.startswith("FAILED"):
        problems.append(note.splitlines()[0])

try:
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    cases = {r["case"] for r in runs}
    # One latency plot per case, and throughput versus clients for set and get.
    wanted = len(cases) + 2
    if html.count("<svg") < wanted:
        problems.append(f"report.html: {html.count('<svg')} plots, expected {wanted}")
    if "<script" in html or "<link" in html:
        problems.append("report.html loads external assets")
except OSError as error:
    problems.append(f"report.html unreadable: {error}")
if not os.path.getsize(os.path.join(out, "summary.md")):
    problems.append("summary.md is empty")

for problem in problems:
    print(f"ci-quick: {problem}", file=sys.stderr)
print(f"ci-quick: {len(runs)} runs checked, {len(problems)} problems", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
if ((status != 0)); then
    exit "$status"
fi
exit "$check"
