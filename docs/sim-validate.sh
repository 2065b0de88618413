#!/usr/bin/env bash
# Sim-vs-real validation of `baton sim` (issue 18, docs/SIM.md): for a 1P1D cluster and a cluster of
# two colocated workers (random `small` model, one compute thread per worker, as `baton demo` runs),
# each in turn: `baton sim calibrate` at the workload's shape -> a real `baton bench` run ->
# `baton sim calibrate` again -> `baton sim --replay` of the bench's requests with the first model,
# printing simulated/real p50/p99 TTFT and TPOT. The second calibration only checks that the
# machine's speed held during the run (it differs from the first by more than DRIFT: the run says
# so). The machine's load is printed with every step: on a shared machine it moves the real numbers.
# About 8-11 minutes with the defaults (calibrate takes ~2 min per pool).
#
#   docs/sim-validate.sh                       # defaults below
#   INPUT_LEN=512 OUTPUT_LEN=64 RATE=1 PROMPTS=100 docs/sim-validate.sh
#
# Exit status 1 when any ratio is off by more than MAX_ERROR (0.2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# BATON: another launcher of the same CLI (a machine without Maven runs the built jars directly).
baton=${BATON:-$root/bin/baton}
input=${INPUT_LEN:-1024}
output=${OUTPUT_LEN:-64}
# Default rate: 60% of the prefill worker's capacity as the first calibration measures it (the
# issue's scenario), so the load is the same share of the machine whatever else runs on it.
rate=${RATE:-auto}
# 200 requests: the p99 is then the 3rd-slowest request, not the slowest one (nearest rank).
prompts=${PROMPTS:-200}
preset=${PRESET:-small}
max_error=${MAX_ERROR:-0.2}
drift=${DRIFT:-0.15}
out=${OUT:-$(mktemp -d /tmp/sim-validate.XXXXXX)}
name="simval-$$"
mkdir -p "$out"
tokenizer="$HOME/.baton/models/random-$preset.gguf"

spec() { # $1: roles block
  cat <<SPEC
name: $name
model: random:$preset
mode: pool
gateway:
  config: {request_timeout_ms: 120000}
engine:
  args: [--max-num-seqs, '16', --threads, '1', --kv-cache-memory, 512M]
roles:
$1
supervision: {readyTimeoutSeconds: 120}
SPEC
}

gateway_url() {
  "$baton" status --name "$name" --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["gatewayUrl"])'
}

# The URLs of the workers of a role (all: every worker), comma-separated: calibrate measures
# colocated interference straight on two workers, and a P/D pool's prefill straight on its
# prefill worker (the rest of the TTFT is the KV hop).
worker_urls() {
  "$baton" status --name "$name" --json 2>/dev/null | python3 -c '
import json, sys
rows = json.load(sys.stdin)["workers"]
print(",".join("http://127.0.0.1:%d" % w["port"] for w in rows if sys.argv[1] in ("all", w["role"].lower())))' "$1"
}

trap '"$baton" down --name "$name" >/dev/null 2>&1 || true' EXIT
status=0
# POOLS: the clusters to run (default both).
for pool in ${POOLS:-disaggregated colocated}; do
  if [[ $pool == disaggregated ]]; then
    roles="  prefill: {replicas: 1}
  decode: {replicas: 1}"
    fleet=(--prefill 1 --decode 1)
    calibrate=(--workers 1 --prefill-url PREFILL)
  else
    roles="  both: {replicas: 2}"
    fleet=(--prefill 0 --decode 0 --colocated 2)
    calibrate=(--workers 2 --worker-urls WORKERS)
  fi
  spec "$roles" >"$out/$pool.yaml"
  if ! "$baton" up -f "$out/$pool.yaml" --name "$name" >"$out/$pool-up.log" 2>&1; then
    cat "$out/$pool-up.log"
    exit 1
  fi
  url=$(gateway_url)
  calibrate=("${calibrate[@]/WORKERS/$(worker_urls all)}")
  calibrate=("${calibrate[@]/PREFILL/$(worker_urls prefill)}")
  echo "== $pool: calibrate (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$baton" sim calibrate --base-url "$url" --tokenizer "$tokenizer" --input-len "$input" \
    --output-len "$output" "${calibrate[@]}" -o "$out/$pool-model.json" 2>&1 | grep -v WARNING
  if [[ $rate == auto ]]; then
    rate=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); n = int(sys.argv[2]); print("%.3f" % (0.6 * 1000 / (m["prefillBaseMs"] + m["prefillPerTokenMs"] * n + m["kvHopBaseMs"] + m["kvHopPerTokenMs"] * n)))' "$out/$pool-model.json" "$input")
  fi
  echo "== $pool: baton bench, $prompts prompts of $input tokens -> $output at $rate/s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$baton" bench --base-url "$url" --tokenizer "$tokenizer" --random-input-len "$input" \
    --random-output-len "$output" --random-range-ratio 0 --ignore-eos --num-prompts "$prompts" \
    --request-rate "$rate" --seed 1 --warmup 2 --no-progress --metric-percentiles 50,99 \
    --save-result --save-detailed --result-dir "$out" --result-filename "$pool-bench.json" 2>&1 |
    grep -E "TTFT|TPOT|Failed" || true
  echo "== $pool: calibrate again (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$baton" sim calibrate --base-url "$url" --tokenizer "$tokenizer" --input-len "$input" \
    --output-len "$output" "${calibrate[@]}" -o "$out/$pool-model-after.json" 2>&1 | grep -v WARNING
  echo "== $pool: baton sim --replay (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$baton" sim --replay "$out/$pool-bench.json" --step-model "$out/$pool-model.json" "${fleet[@]}" \
    --max-error "$max_error" --json "$out/$pool-replay.json" 2>&1 | grep -v WARNING || status=1
  "$baton" down --name "$name" 2>&1 | grep -v WARNING | tail -1
done
# One line per cluster: the four ratios, and whether the two calibrations agreed (the model's
# prefill at the input length and decode step of one sequence at that context, before vs after).
echo
python3 - "$out" "$input" "$output" "$max_error" "$drift" <<'PY'
import json, os, sys
out, n, m, max_error, drift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
def speeds(f):
    s = json.load(open(f))
    prefill = s["prefillBaseMs"] + s["prefillPerTokenMs"] * n
    step = s["decodeBaseMs"] + s["decodePerSeqMs"] + s["decodePerContextTokenMs"] * (n + m / 2)
    return prefill, step
print("%-14s %9s %9s %9s %9s  %-24s %s" % ("sim/real", "p50 TTFT", "p99 TTFT", "p50 TPOT", "p99 TPOT", "calibration after/before", "result"))
for pool in ("disaggregated", "colocated"):
    replay = os.path.join(out, pool + "-replay.json")
    if not os.path.exists(replay):
        print("%-14s not run" % pool)
        continue
    r = json.load(open(replay))
    ratios = [r[k]["ratio"] for k in ("median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p99_tpot_ms")]
    b = speeds(os.path.join(out, pool + "-model.json"))
    a = speeds(os.path.join(out, pool + "-model-after.json"))
    moved = [x / y for x, y in zip(a, b)]
    steady = all(abs(x - 1) <= drift for x in moved)
    ok = all(abs(x - 1) <= max_error for x in ratios)
    print("%-14s %9.2f %9.2f %9.2f %9.2f  prefill %.2f, decode %.2f %s %s" % (
        pool, *ratios, moved[0], moved[1], "" if steady else "(machine speed moved)",
        "PASS" if ok else "FAIL"))
PY
echo "files in $out"
exit $status
