#!/usr/bin/env bash
# A local PostgreSQL primary + asynchronous streaming hot standby for
# glancedb's tests and CI. See README.md beside this file.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: pg-standby.sh COMMAND
  start                       start primary + standby (idempotent; a broken or stale pair is recreated)
  stop                        stop both servers (data is kept)
  destroy                     stop both servers and remove the folder
  status                      print both servers' state; exit 0 only when replication is healthy
  stop-node primary|standby   stop one server (fast shutdown)
  start-node primary|standby  start it again (the standby resumes streaming)
  delay VALUE                 set the standby's recovery_min_apply_delay now (e.g. 2s, 500ms, 0)
  promote                     promote the standby (failover; the next 'start' recreates the pair)
  env                         print export lines with the two URLs
EOF
  exit 2
}

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOPOLOGY_NAME=pg-standby
# shellcheck source=common.sh
. "$SCRIPT_DIR/common.sh"

PG_DIR="$TOPOLOGY_DIR/pg"
RUN_DIR="$PG_DIR/run" # unix sockets
DB_NAME="${GLANCEDB_PG_DB:-glancedb_test}"
PRIMARY_PORT="${GLANCEDB_PG_PRIMARY_PORT:-15432}"
STANDBY_PORT="${GLANCEDB_PG_STANDBY_PORT:-15433}"
STANDBY_DELAY="${GLANCEDB_PG_STANDBY_DELAY:-0}"
SLOT=glancedb_standby
PG_USER=postgres

find_pg_bindir() {
  local d v
  if [ -n "${GLANCEDB_PG_BINDIR:-}" ]; then
    echo "$GLANCEDB_PG_BINDIR"
    return 0
  fi
  # Highest installed major version that has a server.
  local versions=()
  [ -d /usr/lib/postgresql ] && mapfile -t versions < <(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -rV)
  for v in "${versions[@]}"; do
    d="/usr/lib/postgresql/$v/bin"
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && {
      echo "$d"
      return 0
    }
  done
  d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
  [ -x "$d/initdb" ] && {
    echo "$d"
    return 0
  }
  return 1
}

check_prereqs() {
  PGBIN="$(find_pg_bindir)" || die "no PostgreSQL server binaries (apt-get install -y postgresql)"
  local t
  for t in initdb pg_ctl pg_basebackup psql; do
    [ -x "$PGBIN/$t" ] || die "$PGBIN/$t missing (apt-get install -y postgresql)"
  done
  if is_root; then
    id -u "$PG_USER" >/dev/null 2>&1 || die "no '$PG_USER' OS user (it comes with the postgresql package)"
  else
    PG_USER="$(id -un)"
  fi
  command -v flock >/dev/null || die "flock missing (apt-get install -y util-linux)"
}

role_dir() { echo "$PG_DIR/$1"; }
role_port() { if [ "$1" = primary ]; then echo "$PRIMARY_PORT"; else echo "$STANDBY_PORT"; fi; }
role_log() { echo "$PG_DIR/$1.log"; }

pg() { run_as "$PG_USER" "$@"; }

# q ROLE QUERY [DB]: one query over TCP, unaligned tuples only.
q() {
  PGCONNECT_TIMEOUT=3 "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(role_port "$1")" \
    -U postgres -d "${3:-postgres}" -c "$2"
}

# role_pid ROLE: the postmaster pid of ROLE's server when it is alive.
role_pid() {
  local p
  p="$(head -n1 "$(role_dir "$1")/postmaster.pid" 2>/dev/null || true)"
  [ -n "$p" ] && pid_alive "$p" && echo "$p"
}

# ours ROLE: the server answering on ROLE's port runs from our folder.
ours() {
  [ "$(q "$1" "SHOW data_directory" 2>/dev/null || true)" = "$(role_dir "$1")" ]
}

healthy() {
  ours primary || return 1
  ours standby || return 1
  [ "$(q primary "SELECT pg_is_in_recovery()" 2>/dev/null)" = "f" ] || return 1
  [ "$(q standby "SELECT pg_is_in_recovery()" 2>/dev/null)" = "t" ] || return 1
  streaming || return 1
}

streaming() {
  [ "$(q primary "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || echo 0)" -ge 1 ]
}

fail_with_logs() {
  log "ERROR: $*"
  show_log_tail "$(role_log primary)" 30
  show_log_tail "$(role_log standby)" 30
  if [ "${STARTING:-0}" = 1 ]; then
    log "stopping the partly started pair (its files stay in $PG_DIR)"
    stop_all hard
  fi
  exit 1
}

# wait_until DEADLINE WHAT CMD...: poll CMD until true, or fail at DEADLINE.
wait_until() {
  local deadline="$1" what="$2"
  shift 2
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" && return 0
    sleep 0.3
  done
  fail_with_logs "timed out (${TOPOLOGY_TIMEOUT}s) waiting for: $what"
}

db_exists() {
  [ "$(q "$1" "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" 2>/dev/null || true)" = "1" ]
}
in_recovery() { [ "$(q standby "SELECT pg_is_in_recovery()" 2>/dev/null || true)" = "t" ]; }

start_role() {
  local role="$1"
  # The servers must not inherit our lock (fd 9): pg_ctl starts them in the background.
  pg "$PGBIN/pg_ctl" -D "$(role_dir "$role")" -l "$(role_log "$role")" -w -t "$TOPOLOGY_TIMEOUT" start \
    >/dev/null 9>&- || fail_with_logs "pg_ctl start of the $role failed"
}

# stop_role ROLE [hard]: fast shutdown; "hard" is an immediate one, for data
# about to be wiped.
stop_role() {
  local role="$1" mode=fast pid p
  [ "${2:-}" = hard ] && mode=immediate
  if pid="$(role_pid "$role")"; then
    log "stopping the $role (pid $pid, $mode)"
    pg "$PGBIN/pg_ctl" -D "$(role_dir "$role")" -m "$mode" -w -t 45 stop >/dev/null 2>&1 || true
    if ! wait_pid_gone "$pid" 5; then
      log "$role did not stop; SIGQUIT, then SIGKILL"
      kill_pids QUIT "$pid"
      wait_pid_gone "$pid" 10 || {
        kill_pids KILL "$pid"
        wait_pid_gone "$pid" 10 || true
      }
    fi
  fi
  mapfile -t p < <(pids_using "$(role_dir "$role")" '^(postgres|postmaster|pg_basebackup|pg_ctl|initdb) ')
  if [ "${#p[@]}" -gt 0 ]; then
    log "$role: ending leftover processes ${p[*]}"
    kill_pids TERM "${p[@]}"
    for pid in "${p[@]}"; do wait_pid_gone "$pid" 10 || kill_pids KILL "$pid"; done
  fi
  return 0
}

# stop_all [hard]
stop_all() {
  stop_role standby "${1:-}"
  stop_role primary "${1:-}"
}

set_delay() {
  local value="$1" current
  current="$(q standby "SHOW recovery_min_apply_delay")" || fail_with_logs "standby unreachable"
  [ "$current" = "$value" ] && return 0
  q standby "ALTER SYSTEM SET recovery_min_apply_delay = '$value'" >/dev/null
  q standby "SELECT pg_reload_conf()" >/dev/null
  sleep 0.2 # the reload is asynchronous
  log "standby recovery_min_apply_delay: $current -> $(q standby "SHOW recovery_min_apply_delay")"
}

ensure_db() {
  db_exists primary || q primary "CREATE DATABASE \"$DB_NAME\"" >/dev/null
}

cmd_start() {
  local t0=$SECONDS deadline role port
  check_prereqs
  topology_lock pg-standby
  if healthy; then
    ensure_db
    set_delay "$STANDBY_DELAY"
    log "already running and healthy (primary :$PRIMARY_PORT streaming to standby :$STANDBY_PORT); left as it is"
    return 0
  fi
  if [ -d "$PG_DIR" ]; then
    log "no healthy pair in $PG_DIR: stopping what is left and recreating it"
    stop_all hard
    rm -rf "$PG_DIR"
  fi
  for port in "$PRIMARY_PORT" "$STANDBY_PORT"; do
    port_in_use "$port" && die "port $port already in use (set GLANCEDB_PG_PRIMARY_PORT / GLANCEDB_PG_STANDBY_PORT)"
  done
  mkdir -p "$PG_DIR" "$RUN_DIR"
  chmod 755 "$TOPOLOGY_DIR" "$PG_DIR"
  if is_root; then
    chown "$PG_USER": "$PG_DIR" "$RUN_DIR"
    ensure_traversable "$PG_USER" "$PG_DIR"
  fi
  deadline=$((SECONDS + TOPOLOGY_TIMEOUT))
  STARTING=1

  log "initdb of the primary ($PGBIN)"
  pg "$PGBIN/initdb" -D "$(role_dir primary)" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -N \
    >"$PG_DIR/initdb.log" 2>&1 || {
    show_log_tail "$PG_DIR/initdb.log"
    die "initdb failed"
  }
  pg tee -a "$(role_dir primary)/postgresql.conf" >/dev/null <<EOF

# --- scripts/topology/pg-standby.sh ---
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$RUN_DIR'
cluster_name = 'glancedb_primary'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
# Asynchronous replication on purpose: the library must cope with replica lag.
synchronous_commit = on
synchronous_standby_names = ''
fsync = off
shared_buffers = 64MB
wal_receiver_status_interval = 1s
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' \
    "$(role_dir primary)/pg_hba.conf" ||
    echo "host replication all 127.0.0.1/32 trust" | pg tee -a "$(role_dir primary)/pg_hba.conf" >/dev/null

  log "starting the primary on :$PRIMARY_PORT"
  start_role primary

  log "pg_basebackup of the standby"
  pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$(role_dir standby)" \
    -R -X stream -C -S "$SLOT" -c fast -N >"$PG_DIR/basebackup.log" 2>&1 || {
    show_log_tail "$PG_DIR/basebackup.log"
    fail_with_logs "pg_basebackup failed"
  }
  pg tee -a "$(role_dir standby)/postgresql.conf" >/dev/null <<EOF

# --- scripts/topology/pg-standby.sh: standby ---
port = $STANDBY_PORT
cluster_name = 'glancedb_standby'
hot_standby = on
hot_standby_feedback = on
recovery_min_apply_delay = 0
EOF
  log "starting the standby on :$STANDBY_PORT"
  start_role standby

  wait_until "$deadline" "standby in recovery" in_recovery
  wait_until "$deadline" "a streaming row in the primary's pg_stat_replication" streaming
  ensure_db
  wait_until "$deadline" "database $DB_NAME on the standby" db_exists standby
  [ "$STANDBY_DELAY" = "0" ] || set_delay "$STANDBY_DELAY"
  log "up: primary :$PRIMARY_PORT streaming to standby :$STANDBY_PORT in $((SECONDS - t0))s"
}

cmd_start_node() {
  local role="$1" deadline
  check_prereqs
  topology_lock pg-standby
  [ -f "$(role_dir "$role")/PG_VERSION" ] || die "no $role in $PG_DIR: run 'pg-standby.sh start' first"
  deadline=$((SECONDS + TOPOLOGY_TIMEOUT))
  if ! role_pid "$role" >/dev/null; then
    log "starting the $role"
    start_role "$role"
  fi
  if [ "$role" = standby ] || role_pid standby >/dev/null; then
    wait_until "$deadline" "standby in recovery" in_recovery
    wait_until "$deadline" "a streaming row in the primary's pg_stat_replication" streaming
  fi
  log "$role running"
}

cmd_status() {
  local role rc=0 info
  for role in primary standby; do
    if ours "$role"; then
      if [ "$role" = primary ]; then
        info="$(q primary "SELECT 'in_recovery=' || pg_is_in_recovery() || ' wal_lsn=' ||
          CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END ||
          ' streaming_to=' || coalesce((SELECT string_agg(application_name || '(' || state || ', replay_lag=' ||
          coalesce(replay_lag::text, '0') || ')', ' ') FROM pg_stat_replication), 'none')")"
      else
        info="$(q standby "SELECT 'in_recovery=' || pg_is_in_recovery() || ' replay_lsn=' ||
          coalesce(pg_last_wal_replay_lsn()::text, '-') || ' receive_lsn=' || coalesce(pg_last_wal_receive_lsn()::text, '-') ||
          ' apply_delay=' || current_setting('recovery_min_apply_delay')")"
      fi
      printf '%s port=%s pid=%s %s\n' "$role" "$(role_port "$role")" "$(role_pid "$role" || echo -)" "$info"
    else
      printf '%s port=%s pid=%s unreachable\n' "$role" "$(role_port "$role")" "$(role_pid "$role" || echo -)"
      rc=1
    fi
  done
  healthy || rc=1
  return "$rc"
}

cmd_env() {
  echo "export GLANCEDB_TEST_PG_PRIMARY_URL=postgresql+psycopg://postgres@127.0.0.1:$PRIMARY_PORT/$DB_NAME"
  echo "export GLANCEDB_TEST_PG_STANDBY_URL=postgresql+psycopg://postgres@127.0.0.1:$STANDBY_PORT/$DB_NAME"
}

role_arg() {
  case "${1:-}" in
    primary | standby) echo "$1" ;;
    *) usage ;;
  esac
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    check_prereqs
    topology_lock pg-standby
    stop_all
    log "stopped"
    ;;
  destroy)
    check_prereqs
    topology_lock pg-standby
    stop_all hard
    rm -rf "$PG_DIR"
    log "destroyed $PG_DIR"
    ;;
  status)
    check_prereqs
    cmd_status
    ;;
  stop-node)
    role="$(role_arg "${2:-}")"
    check_prereqs
    topology_lock pg-standby
    stop_role "$role"
    ;;
  start-node) cmd_start_node "$(role_arg "${2:-}")" ;;
  delay)
    [ -n "${2:-}" ] || usage
    check_prereqs
    set_delay "$2"
    ;;
  promote)
    check_prereqs
    pg "$PGBIN/pg_ctl" -D "$(role_dir standby)" -w promote
    ;;
  env) cmd_env ;;
  *) usage ;;
esac
