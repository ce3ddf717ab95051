# shellcheck shell=bash
# Shared by the scripts under benches/ (sourced, not run).
#
#   need_packages CMD:PACKAGE...   installs the Debian packages whose command is missing
#                                  (CMD "-" checks whether the package itself is installed)
#   gslbd_bin                      prints the gslbd binary to benchmark: $GSLBD_BIN when set,
#                                  else target/release/gslbd, built first
#   pg_alive PGID / stop_pg PGID   process groups the scripts start (setsid), stopped by their id

# A command counts as present when it is on PATH or in /usr/sbin (daemons live there).
have_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

need_packages() {
  local want=() spec cmd pkg
  for spec in "$@"; do
    cmd=${spec%%:*} pkg=${spec#*:}
    if [ "$cmd" = - ]; then
      dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || want+=("$pkg")
    else
      have_cmd "$cmd" || want+=("$pkg")
    fi
  done
  ((${#want[@]})) || return 0
  # One package may provide several of the commands.
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
  echo "installing benchmark dependencies: ${want[*]}" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # The packaged daemons must not start system services: the benchmarks start their own
  # instances on their own loopback ports.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
}

gslbd_bin() {
  if [ -n "${GSLBD_BIN:-}" ]; then
    [ -x "$GSLBD_BIN" ] || { echo "GSLBD_BIN=$GSLBD_BIN is not an executable" >&2; return 1; }
    (cd "$(dirname "$GSLBD_BIN")" && echo "$(pwd)/$(basename "$GSLBD_BIN")")
    return 0
  fi
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  (cd "$repo" && cargo build --release --locked --bin gslbd >&2) || return 1
  echo "$repo/target/release/gslbd"
}

pg_alive() { ps -e -o pgid= | awk -v g="$1" '$1==g{f=1} END{exit !f}'; }

stop_pg() {
  local g=$1 _
  pg_alive "$g" || return 0
  kill -TERM -- "-$g" 2>/dev/null || true
  for _ in $(seq 1 50); do pg_alive "$g" || break; sleep 0.2; done
  if pg_alive "$g"; then
    echo "process group $g ignored SIGTERM, sending SIGKILL" >&2
    kill -KILL -- "-$g" 2>/dev/null || true
    sleep 0.5
  fi
  wait "$g" 2>/dev/null || true
}
