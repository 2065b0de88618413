#!/usr/bin/env bash
# Gateway proxy benchmark: added latency vs calling the stub directly (open loop, 1000 req/s) and
# throughput of small non-streaming requests through the gateway vs nginx, side by side. Two
# gateways run: the default upstream client (socket) and Helidon's (the default before issue 13's
# speed work), so the choice stays measured. Issue 13's targets: added p99 <= 0.3 ms at 1,000 req/s
# and throughput >= 1x nginx. Installs Debian's nginx when it is missing (needs root and apt). Usage:
#   baton-gateway/bench/gateway-bench.sh [RATE] [SECONDS] [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/bin/lib/java.sh"
rate="${1:-1000}"; seconds="${2:-10}"; rounds="${3:-3}"

if ! command -v nginx >/dev/null; then
  echo "installing nginx (Debian package)..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

"$root/bin/baton" --version >/dev/null   # builds the CLI jar if needed
# GatewayBench lives in baton-jmh (benchmark harnesses stay out of the product jars).
cp="$root/baton-cli/target/baton-cli.jar:$root/baton-cli/target/lib/*:$root/baton-jmh/target/classes:$root/baton-jmh/target/lib/*"
java_run() { "$JAVA_HOME/bin/java" $BATON_JVM_FLAGS -cp "$cp" "$@"; }
# Background servers are started with exec so that their pid is the JVM's (cleanup kills it).
java_bg() { (exec "$JAVA_HOME/bin/java" $BATON_JVM_FLAGS -cp "$cp" "$@") & pids+=($!); }

work="$(mktemp -d)"
pids=()
echo "work dir $work" >&2
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stub=$(free_port); gw_socket=$(free_port); gw_helidon=$(free_port); ngx=$(free_port)

java_bg dev.baton.jmh.GatewayBench stub "$stub" 2>"$work/stub.log"

for kind in socket helidon; do
  port=$([[ $kind == socket ]] && echo "$gw_socket" || echo "$gw_helidon")
  cat > "$work/gw-$kind.yaml" <<YAML
host: 127.0.0.1
upstream_client: $kind
pools: [{name: stub, mode: colocated, policy: round-robin, workers: [{url: "http://127.0.0.1:$stub"}]}]
YAML
  java_bg dev.baton.cli.Main gateway --config "$work/gw-$kind.yaml" --port "$port" 2>"$work/gw-$kind.log"
done

cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  upstream stub { server 127.0.0.1:$stub; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$ngx;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://stub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf"

for p in "$stub" "$gw_socket" "$gw_helidon" "$ngx"; do
  for _ in $(seq 100); do
    curl -sf -o /dev/null -X POST -d '{}' "http://127.0.0.1:$p/v1/completions" && break
    sleep 0.2
  done
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); java $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
echo "git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
load_before="$(cat /proc/loadavg)"
echo "load average before: $load_before"
echo "== added latency (each proxy right after a direct run, rounds interleaved) =="
java_run dev.baton.jmh.GatewayBench latency "http://127.0.0.1:$stub" "$rate" "$seconds" "$rounds" \
  "gateway=http://127.0.0.1:$gw_socket" "gateway-helidon=http://127.0.0.1:$gw_helidon" \
  "nginx=http://127.0.0.1:$ngx" | tee "$work/latency.txt"
load_mid="$(cat /proc/loadavg)"
echo "load average after latency: $load_mid"
echo "== throughput =="
java_run dev.baton.jmh.GatewayBench throughput 32 5 "$rounds" \
  "nginx=http://127.0.0.1:$ngx" "gateway=http://127.0.0.1:$gw_socket" \
  "gateway-helidon=http://127.0.0.1:$gw_helidon" "direct=http://127.0.0.1:$stub" | tee "$work/throughput.txt"
load_after="$(cat /proc/loadavg)"

echo
echo "== summary: baton-gateway/bench/gateway-bench.sh $rate $seconds $rounds =="
echo "gateway = default upstream client (socket); gateway-helidon = upstream_client: helidon"
awk '/^median over rounds:/ {printf "%-16s added p50 %s ms  added p99 %s ms\n", $4, $7, $11}' \
  "$work/latency.txt" | tr -d ,
grep -E '^median:|/ nginx' "$work/throughput.txt"
gw_p99=$(awk '/^median over rounds: gateway / {gsub(",", "", $11); print $11}' "$work/latency.txt")
gw_ratio=$(awk '$1 == "gateway" && $2 == "/" {print $5}' "$work/throughput.txt")
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = op == "le" ? v <= t : v >= t; print ok ? "met" : "NOT met" }'; }
echo "target added p99 <= 0.3 ms at $rate req/s: gateway $gw_p99 ms -> $(verdict "$gw_p99" 0.3 le)"
echo "target throughput >= 1x nginx: gateway ${gw_ratio}x -> $(verdict "$gw_ratio" 1 ge)"
echo "load average: before $load_before | after latency $load_mid | after throughput $load_after"
