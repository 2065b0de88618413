# Sourced by bin/ scripts: makes sure redis-server (the offload connector's shared KV cache, L2)
# is on PATH, installing Debian's package when it is missing and we may (root, or sudo without a
# password). Never fails the caller: without redis-server the tests that need it skip and say so,
# and `baton up` refuses a spec that asks it to start one.
ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return 0
  [[ "${BATON_NO_INSTALL:-}" == "1" ]] && return 0
  local sudo=""
  if [[ "$(id -u)" != "0" ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || {
      echo "baton: redis-server is missing and cannot be installed without root (apt-get install redis-server)" >&2
      return 0
    }
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "baton: redis-server is missing and this is no Debian system; install it yourself" >&2
    return 0
  }
  echo "baton: installing redis-server (apt-get) for the shared KV cache" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null 2>&1 \
    || echo "baton: installing redis-server failed; tests that need it will skip" >&2
  return 0
}
ensure_redis_server
