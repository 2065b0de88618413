#!/bin/bash
# Issue 16's side-by-side CPU benchmark (docs/PERFORMANCE.md, "CPU engine vs llama.cpp"): Baton's
# `baton generate` against llama.cpp's llama-bench / llama-batched-bench on the same GGUF with the
# same thread count, the two engines alternating run by run so that a busy machine hits both alike;
# prints each run and then the medians of the repetitions and the Baton / llama.cpp ratios.
#
# Usage: docs/cpu-vs-llamacpp.sh LLAMA_CPP_BIN_DIR [MODEL.gguf] [THREADS] [REPS]
#   LLAMA_CPP_BIN_DIR: llama.cpp built outside the repository (/work/shared/tools/peer-llamacpp.sh
#   prints it); MODEL defaults to /tmp/baton-1b.gguf (bin/baton model random --preset 1b --out ...).
# Extra JVM options for Baton: BATON_JAVA_OPTS (e.g. -Dbaton.kernels=vector for the fallback path).
set -euo pipefail
peer=${1:?usage: $0 LLAMA_CPP_BIN_DIR [MODEL.gguf] [THREADS] [REPS]}
model=${2:-/tmp/baton-1b.gguf}
threads=${3:-2}
reps=${4:-3}
cd "$(dirname "$0")/.."
[ -x "$peer/llama-bench" ] && [ -x "$peer/llama-batched-bench" ] || { echo "no llama-bench in $peer" >&2; exit 1; }
[ -f "$model" ] || { echo "no model $model (bin/baton model random --preset 1b --out $model)" >&2; exit 1; }
ids512=$(python3 -c "print(','.join(str((i*7919)%120000+10) for i in range(512)))")
results=$(mktemp)
trap 'rm -f "$results"' EXIT

baton() { # field, generate args...
  local field=$1; shift
  bin/baton generate -m "$model" --threads "$threads" --ignore-eos --json "$@" 2>/dev/null \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['$field'])"
}
llama_bench() { # prompt tokens, generated tokens
  "$peer/llama-bench" -m "$model" -t "$threads" -p "$1" -n "$2" -r 1 -o json 2>/dev/null \
    | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['avg_ts'])"
}
llama_batched() { # 8 sequences of an 8-token prompt, 32 tokens each: total generation speed
  "$peer/llama-batched-bench" -m "$model" -t "$threads" -c 2048 -b 512 -ub 512 \
    -npp 8 -ntg 32 -npl 8 --output-format jsonl 2>/dev/null \
    | python3 -c "import json,sys; print([json.loads(l) for l in sys.stdin if l.startswith('{')][0]['speed_tg'])"
}
record() { echo "$1 $2 $3" | tee -a "$results"; }

echo "# $(date -u) $(nproc) cores, $threads threads, model $model, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$reps"); do
  record decode baton "$(baton decode_tokens_per_s --prompt-ids 1,2,3,4,5,6,7,8 -n 64)"
  record decode llama.cpp "$(llama_bench 0 64)"
  record prefill512 baton "$(baton prefill_tokens_per_s --prompt-ids "$ids512" -n 2)"
  record prefill512 llama.cpp "$(llama_bench 512 0)"
  record batch8 baton "$(baton decode_tokens_per_s --prompt-ids 1,2,3,4,5,6,7,8 -n 32 --batch 8)"
  record batch8 llama.cpp "$(llama_batched)"
done
echo "# done $(date -u), load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    what, who, v = line.split()
    runs.setdefault(what, {}).setdefault(who, []).append(float(v))
print("| tok/s (medians) | Baton | llama.cpp | ratio | Baton runs | llama.cpp runs |")
print("|---|---|---|---|---|---|")
for what, by in runs.items():
    b, l = statistics.median(by["baton"]), statistics.median(by["llama.cpp"])
    fmt = lambda xs: ", ".join(f"{x:.1f}" for x in xs)
    print(f"| {what} | {b:.1f} | {l:.1f} | {b / l:.2f} | {fmt(by['baton'])} | {fmt(by['llama.cpp'])} |")
PY
