# Shell helpers the benchmarks share: `. tools/bench/lib.sh` from the repository root.

# Installs Debian packages (quietly; with sudo when not root). Fails without apt-get.
apt_install() {
  command -v apt-get >/dev/null || return 1
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null 2>&1
}

# Prints a TCP port on 127.0.0.1 that nothing listens on, or fails.
free_port() {
  local candidate
  for _ in $(seq 1 20); do
    candidate=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: no free port found" >&2
  return 1
}
