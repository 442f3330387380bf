#!/usr/bin/env bash
# How much of the corpus kflow can build and run: for each folder of `../shared/corpus`, how many
# flows pass `kflowc check --runnable` (no error: every task type runs, nothing else is wrong),
# then the task types that stop the most of the others (a flow counts once per type). Prints
# Markdown; the README's coverage table is this script's output.
#
#   bench/coverage.sh              # all folders
#   bench/coverage.sh blueprints   # one folder
#
# Needs: python3 (for reading kflowc's JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${CORPUS:-../shared/corpus}"
cargo build --quiet --release -p kflow-compiler
KFLOWC="$PWD/target/release/kflowc"
folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(blueprints kestra/valids plugin-scripts examples)

for folder in "${folders[@]}"; do
  "$KFLOWC" check --runnable --format json "$CORPUS/$folder" || true
done | python3 -c '
import json, re, sys, collections
folders = sys.argv[1:]
reports = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
print("| corpus folder | flows | pass `check --runnable` | share |")
print("|---|---|---|---|")
blocking = collections.Counter()
for folder, report in zip(folders, reports):
    failed = collections.defaultdict(set)
    for d in report["diagnostics"]:
        if d["severity"] == "error":
            failed[d["file"]].add(d["code"])
        if d["code"] == "KF111":
            m = re.search(r"task type `([^`]+)`", d["message"])
            if m and folder == "blueprints":
                blocking[(m.group(1), d["file"])] += 1
    total = report["files_checked"]
    passed = total - len(failed)
    share = 100.0 * passed / total if total else 0.0
    print(f"| {folder} | {total} | {passed} | {share:.1f}% |")
by_type = collections.Counter(t for (t, _f) in blocking)
print()
print("Task types that stop the most blueprints (flows that use each; a flow may need several):")
print()
print("| task type | blueprints |")
print("|---|---|")
for name, count in by_type.most_common(15):
    print(f"| `{name}` | {count} |")
' "${folders[@]}"
