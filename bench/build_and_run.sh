#!/usr/bin/env bash
# Build and run figures for [3/8]: cold and warm builds, binary sizes, start time, a long
# sequential flow, a wide parallel loop, peak memory; for [6/13]: 1,000 KV sets and gets, a
# 100 MB file through internal storage. Prints a Markdown table.
#
#   bench/build_and_run.sh            # uses a fresh cache (cold build included)
#   KEEP_CACHE=1 bench/build_and_run.sh   # reuse the cache (skips the cold figure's meaning)
#
# Needs: the workspace built (`cargo build --release -p kflow-compiler`), GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

REPO="$PWD"
cargo build --quiet --release -p kflow-compiler
KFLOWC="$PWD/target/release/kflowc"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export KFLOW_CACHE_DIR="${KFLOW_CACHE_DIR:-$WORK/cache}"
[ -n "${KEEP_CACHE:-}" ] || rm -rf "$KFLOW_CACHE_DIR"

ms() { date +%s%3N; }
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }

# Flows: the example greeting, 1,000 sequential Log tasks, EachParallel over 10,000 values.
cp examples/core/greet.yml "$WORK/greet.yml"
{
  echo "id: thousand_logs"; echo "namespace: bench"; echo "tasks:"
  for i in $(seq 1 1000); do
    printf '  - id: log_%d\n    type: io.kestra.plugin.core.log.Log\n    message: "step %d of {{ flow.id }}"\n' "$i" "$i"
  done
} > "$WORK/thousand_logs.yml"
cat > "$WORK/wide_loop.yml" <<'YAML'
id: wide_loop
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: "{{ range(1, 10000) }}"
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
YAML

# 1,000 KV sets then 1,000 gets, one after another; a 100 MB FILE input copied into storage,
# sized, and copied once more by Concat (both copies stream).
cat > "$WORK/kv_thousand.yml" <<'YAML'
id: kv_thousand
namespace: bench
tasks:
  - id: sets
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 1000) }}"
    tasks:
      - id: set
        type: io.kestra.plugin.core.kv.Set
        key: "key_{{ taskrun.value }}"
        value: "value {{ taskrun.value }}"
  - id: gets
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 1000) }}"
    tasks:
      - id: get
        type: io.kestra.plugin.core.kv.Get
        key: "key_{{ taskrun.value }}"
YAML
cat > "$WORK/big_file.yml" <<'YAML'
id: big_file
namespace: bench
inputs:
  - id: data
    type: FILE
tasks:
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ inputs.data }}"
  - id: copy
    type: io.kestra.plugin.core.storage.Concat
    files: ["{{ inputs.data }}"]
YAML
head -c 100000000 /dev/urandom > "$WORK/100mb.bin"
# [8/13]'s size target: a flow with an HTTP request and a Python script (the runtime's `http`
# feature; every other family stays out of the binary).
cat > "$WORK/http_python.yml" <<'YAML'
id: http_python
namespace: bench
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Request
    uri: http://127.0.0.1:1/
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: print("hi")
YAML

cd "$WORK"
t0=$(ms); "$KFLOWC" build greet.yml -o greet >/dev/null 2>&1; t1=$(ms)
cold=$((t1 - t0))
cp "$REPO/examples/core/branches.yml" branches.yml
t0=$(ms); "$KFLOWC" build branches.yml -o branches >/dev/null 2>&1; t1=$(ms)
warm=$((t1 - t0))
t0=$(ms); "$KFLOWC" build thousand_logs.yml -o thousand_logs >/dev/null 2>&1; t1=$(ms)
big=$((t1 - t0))
"$KFLOWC" build wide_loop.yml -o wide_loop >/dev/null 2>&1
t0=$(ms); "$KFLOWC" build --small greet.yml -o greet_small >/dev/null 2>&1; t1=$(ms)
small_build=$((t1 - t0))

size() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

# Start time: best of 20 runs of `--version`.
best=999999
for _ in $(seq 1 20); do
  a=$(date +%s%N); ./greet --version >/dev/null; b=$(date +%s%N)
  d=$(( (b - a) / 1000 )); [ "$d" -lt "$best" ] && best=$d
done
start_us=$best

run_ms() { local a b; a=$(ms); "$@" >/dev/null 2>&1 || true; b=$(ms); echo $((b - a)); }
logs_ms=$(run_ms ./thousand_logs run --state "$WORK/s1")
wide_ms=$(run_ms ./wide_loop run --state "$WORK/s2")
logs_rss=$(rss ./thousand_logs run --state "$WORK/s3")
wide_rss=$(rss ./wide_loop run --state "$WORK/s4")
version_rss=$(rss ./greet --version)
"$KFLOWC" build kv_thousand.yml -o kv_thousand >/dev/null 2>&1
"$KFLOWC" build big_file.yml -o big_file >/dev/null 2>&1
kv_ms=$(run_ms ./kv_thousand run --state "$WORK/s5")
file_ms=$(run_ms ./big_file run --state "$WORK/s6" --input "data=$WORK/100mb.bin")
file_rss=$(rss ./big_file run --state "$WORK/s7" --input "data=$WORK/100mb.bin")
"$KFLOWC" build http_python.yml -o http_python >/dev/null 2>&1

echo "| measure | figure | target |"
echo "|---|---|---|"
echo "| cold build of the first flow (runtime compiled) | $((cold / 1000)).$(( (cold % 1000) / 100 )) s | minutes |"
echo "| build of a second flow, warm cache | $((warm / 1000)).$(( (warm % 1000) / 100 )) s | ≤ 3 s |"
echo "| build of the 1,000-task flow, warm cache | $((big / 1000)).$(( (big % 1000) / 100 )) s | |"
echo "| \`--small\` build (fat LTO) | $((small_build / 1000)).$(( (small_build % 1000) / 100 )) s | |"
echo "| binary size, default | $(mb "$(size greet)") | ≤ 15 MB |"
echo "| binary size, \`--small\` | $(mb "$(size greet_small)") | ≤ 8 MB |"
echo "| binary size, a flow with \`http.Request\` and a \`python.Script\` | $(mb "$(size http_python)") | ≤ 15 MB |"
echo "| \`--version\` start time (best of 20) | ${start_us} µs | ≤ 5 ms |"
echo "| 1,000 sequential Log tasks, whole run | ${logs_ms} ms | ≤ 100 ms |"
echo "| EachParallel over 10,000 values, whole run | ${wide_ms} ms | ≤ 2 s |"
echo "| peak RSS: \`--version\` / 1,000 logs / 10,000 loop | ${version_rss} KB / ${logs_rss} KB / ${wide_rss} KB | |"
echo "| 1,000 KV sets then 1,000 gets (2,000 task runs), whole run | ${kv_ms} ms | |"
echo "| 100 MB FILE input stored, sized, copied (200 MB written), whole run | ${file_ms} ms ($(awk -v t="$file_ms" 'BEGIN { printf "%.0f", 200000 / t }') MB/s) | |"
echo "| peak RSS of that run | ${file_rss} KB | streaming |"
echo
file greet | sed 's/^/file: /'
