# Helpers shared by galera.sh and pg-standby.sh (sourced, not run).
# shellcheck shell=bash

TOPOLOGY_DIR="${GLANCEDB_TOPOLOGY_DIR:-/tmp/glancedb-topology}"
# shellcheck disable=SC2034 # used by the scripts that source this file
TOPOLOGY_TIMEOUT="${GLANCEDB_TOPOLOGY_TIMEOUT:-120}"

# Progress and errors go to stderr, so that `env` output stays clean.
log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${TOPOLOGY_NAME:-topology}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# run_as USER CMD...: run CMD as USER when we are root, else as ourselves.
run_as() {
  local user="$1"
  shift
  if is_root && [ "$(id -un)" != "$user" ]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

# ensure_traversable USER DIR: make DIR and each of its parents searchable
# by USER (a server running as mysql/postgres must reach its datadir).
ensure_traversable() {
  local user="$1" dir="$2" chain=() d i
  is_root || return 0
  while [ -n "$dir" ] && [ "$dir" != "/" ]; do
    chain+=("$dir")
    dir="$(dirname "$dir")"
  done
  # From the top down, so each test sees its parents already fixed.
  for ((i = ${#chain[@]} - 1; i >= 0; i--)); do
    d="${chain[$i]}"
    if [ -d "$d" ] && ! runuser -u "$user" -- test -x "$d"; then
      log "note: chmod o+x $d so that $user can reach the topology folder"
      chmod o+x "$d"
    fi
  done
}

# pid_alive PID: true when PID is a live (non-zombie) process.
pid_alive() {
  local pid="$1" state
  [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 1
  state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != "Z" ]
}

# pids_using PATH REGEX: ids of processes whose command line mentions PATH
# and for which "NAME ARGS..." (NAME from /proc/PID/comm) matches REGEX: our
# own servers and their helpers (rsync SST daemons and scripts,
# pg_basebackup...), never someone's `tail -f` of a log. This script and its
# parents are never listed.
pids_using() {
  local needle="$1" comm_re="$2" f p comm parents=" " q=$$
  while [ -n "$q" ] && [ "$q" != "0" ] && [ "$q" != "1" ]; do
    parents="$parents$q "
    q="$(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null || true)"
  done
  # One grep over all command lines (NUL-separated arguments; the needle
  # is a path, so it lies within one argument).
  while IFS= read -r f; do
    p="${f#/proc/}"
    p="${p%/cmdline}"
    case "$parents" in *" $p "*) continue ;; esac
    comm="$({ cat "/proc/$p/comm" && tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | tr '\n' ' ' || true)"
    [[ "$comm" =~ $comm_re ]] || continue
    if pid_alive "$p"; then echo "$p"; fi
  done < <(grep -lsF -- "$needle" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 0
}

# wait_pid_gone PID SECONDS: true when PID has exited within SECONDS.
wait_pid_gone() {
  local pid="$1" secs="$2" i
  for ((i = 0; i < secs * 5; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  ! pid_alive "$pid"
}

# kill_pids SIG PIDS...: signal each pid that is still alive.
kill_pids() {
  local sig="$1" p
  shift
  for p in "$@"; do
    if pid_alive "$p"; then kill "-$sig" "$p" 2>/dev/null || true; fi
  done
}

# port_in_use PORT: true when something listens on 127.0.0.1:PORT (or any address).
port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# show_log_tail FILE [LINES]: print the end of a log file to stderr.
show_log_tail() {
  local f="$1" n="${2:-40}"
  if [ -f "$f" ]; then
    printf '%s\n' "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2 || true
    printf '%s\n' "----- end of $f -----" >&2
  else
    printf '%s\n' "(no log file $f)" >&2
  fi
}

# topology_lock NAME: serialise concurrent runs of one script.
# The lock is on fd 9; children that outlive us must close it (9>&-).
topology_lock() {
  mkdir -p "$TOPOLOGY_DIR"
  exec 9>"$TOPOLOGY_DIR/.$1.lock"
  flock -w 600 9 || die "another $1 command holds $TOPOLOGY_DIR/.$1.lock"
}
