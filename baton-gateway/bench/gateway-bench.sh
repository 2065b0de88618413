#!/usr/bin/env bash
# Gateway proxy benchmark: added latency vs calling the stub directly (open loop, 1000 req/s) and
# throughput of small non-streaming requests through the gateway vs nginx, side by side.
# Installs Debian's nginx when it is missing (needs root and apt). Usage:
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
stub=$(free_port); gw_jdk=$(free_port); gw_helidon=$(free_port); ngx=$(free_port)

java_bg dev.baton.jmh.GatewayBench stub "$stub" 2>"$work/stub.log"

for kind in jdk helidon; do
  port=$([[ $kind == jdk ]] && echo "$gw_jdk" || echo "$gw_helidon")
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

for p in "$stub" "$gw_jdk" "$gw_helidon" "$ngx"; do
  for _ in $(seq 100); do
    curl -sf -o /dev/null -X POST -d '{}' "http://127.0.0.1:$p/v1/completions" && break
    sleep 0.2
  done
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); java $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
echo "== added latency, gateway (jdk client) =="
java_run dev.baton.jmh.GatewayBench latency "http://127.0.0.1:$stub" "http://127.0.0.1:$gw_jdk" "$rate" "$seconds" "$rounds"
echo "== added latency, gateway (helidon client) =="
java_run dev.baton.jmh.GatewayBench latency "http://127.0.0.1:$stub" "http://127.0.0.1:$gw_helidon" "$rate" "$seconds" "$rounds"
echo "== added latency, nginx =="
java_run dev.baton.jmh.GatewayBench latency "http://127.0.0.1:$stub" "http://127.0.0.1:$ngx" "$rate" "$seconds" "$rounds"
echo "== throughput =="
java_run dev.baton.jmh.GatewayBench throughput 32 5 "$rounds" \
  "nginx=http://127.0.0.1:$ngx" "gateway-jdk=http://127.0.0.1:$gw_jdk" \
  "gateway-helidon=http://127.0.0.1:$gw_helidon" "direct=http://127.0.0.1:$stub"
