#!/usr/bin/env bash
# The serving throughput benchmark of docs/PERFORMANCE.md ("Concurrency 16 vs 1"): for each
# concurrency C in 1 4 16, a fresh `baton serve` on the 1b preset and `baton bench` with random
# 256-token prompts and 128 output tokens against it; prints one line per run.
# Usage: docs/serve-concurrency-bench.sh [JAR_DIR]  (JAR_DIR: a copy of baton-cli/target, to
# compare builds side by side; default: this checkout through bin/baton)
# Needs /tmp/serve-bench/1b.gguf (bin/baton model random --preset 1b --out /tmp/serve-bench/1b.gguf).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bin/lib/java.sh"
model=/tmp/serve-bench/1b.gguf
out=$(mktemp -d)
if [[ $# -ge 1 ]]; then
  baton=("$JAVA_HOME/bin/java" $BATON_JVM_FLAGS -cp "$1/baton-cli.jar:$1/lib/*" dev.baton.cli.Main)
else
  baton=("$root/bin/baton") # execs java: $! below is the server's own pid
fi
server=
trap '[[ -n "$server" ]] && kill $server 2>/dev/null; true' EXIT
port=18190
for c in 1 4 16; do
  n=$(( c == 1 ? 3 : (c == 4 ? 8 : 16) ))
  "${baton[@]}" serve -m "$model" --port $port --served-model-name 1b > "$out/serve-c$c.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do curl -s "localhost:$port/health" -o /dev/null && break; sleep 1; done
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  "${baton[@]}" bench --base-url "http://127.0.0.1:$port" --dataset-name random --random-input-len 256 \
    --random-output-len 128 --ignore-eos --num-prompts $n --max-concurrency $c --seed $((200 + c)) \
    --tokenizer "$model" --no-progress --request-timeout 3000 > "$out/bench-c$c.log" 2>&1
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  kill $server
  wait $server 2>/dev/null || true
  server=
  tps=$(awk '/Output token throughput/ {print $NF}' "$out/bench-c$c.log")
  ttft=$(awk '/Median TTFT/ {print $NF}' "$out/bench-c$c.log")
  tpot=$(awk '/Median TPOT/ {print $NF}' "$out/bench-c$c.log")
  echo "c$c ($n prompts): $tps output tok/s, median TTFT $ttft ms, median TPOT $tpot ms, load $load_before -> $load_after"
  port=$((port + 1))
done
echo "logs: $out"
