#!/usr/bin/env bash
# A local 3-node MariaDB Galera cluster for glancedb's tests and CI.
# See README.md beside this file.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: galera.sh COMMAND
  start          start the 3-node cluster (idempotent; a broken or stale one is recreated)
  stop           stop every node (data is kept)
  destroy        stop every node and remove the folder
  status         print each node's state; exit 0 only when the cluster is healthy
  stop-node N    stop node N (1..3) cleanly
  kill-node N    SIGKILL node N (crash simulation)
  start-node N   start node N again; it rejoins the running cluster (IST or SST)
  env            print export lines with the node URLs
EOF
  exit 2
}

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOPOLOGY_NAME=galera
# shellcheck source=common.sh
. "$SCRIPT_DIR/common.sh"

GALERA_DIR="$TOPOLOGY_DIR/galera"
DB_NAME="${GLANCEDB_GALERA_DB:-glancedb_test}"
CLUSTER_NAME="glancedb_galera"
# All Galera write sets get GTIDs in this domain; local-only ones use the
# node's own gtid_domain_id (1, 2, 3).
WSREP_GTID_DOMAIN=100

declare -a SQL_PORT GCOMM_PORT IST_PORT SST_PORT
SQL_PORT=(0 "${GLANCEDB_GALERA_SQL_PORT1:-13306}" "${GLANCEDB_GALERA_SQL_PORT2:-13307}" "${GLANCEDB_GALERA_SQL_PORT3:-13308}")
GCOMM_PORT=(0 "${GLANCEDB_GALERA_GCOMM_PORT1:-14567}" "${GLANCEDB_GALERA_GCOMM_PORT2:-14577}" "${GLANCEDB_GALERA_GCOMM_PORT3:-14587}")
IST_PORT=(0 "${GLANCEDB_GALERA_IST_PORT1:-14568}" "${GLANCEDB_GALERA_IST_PORT2:-14578}" "${GLANCEDB_GALERA_IST_PORT3:-14588}")
SST_PORT=(0 "${GLANCEDB_GALERA_SST_PORT1:-14569}" "${GLANCEDB_GALERA_SST_PORT2:-14579}" "${GLANCEDB_GALERA_SST_PORT3:-14589}")
NODES=(1 2 3)

node_dir() { echo "$GALERA_DIR/node$1"; }
node_cnf() { echo "$GALERA_DIR/node$1/my.cnf"; }
node_sock() { echo "$GALERA_DIR/node$1/mariadb.sock"; }
node_pidfile() { echo "$GALERA_DIR/node$1/mariadbd.pid"; }
node_log() { echo "$GALERA_DIR/node$1/error.log"; }

find_provider() {
  local p
  for p in "${GLANCEDB_GALERA_PROVIDER:-}" /usr/lib/galera/libgalera_smm.so /usr/lib/libgalera_smm.so \
    /usr/lib64/galera-4/libgalera_smm.so /usr/lib64/galera/libgalera_smm.so \
    /usr/lib/x86_64-linux-gnu/galera/libgalera_smm.so; do
    [ -n "$p" ] && [ -f "$p" ] && {
      echo "$p"
      return 0
    }
  done
  p="$(dpkg -L galera-4 2>/dev/null | grep -m1 '/libgalera_smm\.so$' || true)"
  [ -n "$p" ] && [ -f "$p" ] && {
    echo "$p"
    return 0
  }
  return 1
}

find_mariadbd() {
  local p
  for p in "${GLANCEDB_MARIADBD:-}" "$(command -v mariadbd || true)" /usr/sbin/mariadbd /usr/sbin/mysqld; do
    [ -n "$p" ] && [ -x "$p" ] && {
      echo "$p"
      return 0
    }
  done
  return 1
}

check_prereqs() {
  local missing=() t
  PROVIDER="$(find_provider)" || missing+=(galera-4)
  MARIADBD="$(find_mariadbd)" || missing+=(mariadb-server)
  for t in mariadb mariadb-admin mariadb-install-db; do
    command -v "$t" >/dev/null || missing+=(mariadb-client/mariadb-server)
  done
  command -v rsync >/dev/null || missing+=(rsync)
  command -v ss >/dev/null || command -v lsof >/dev/null || missing+=(iproute2)
  command -v flock >/dev/null || missing+=(util-linux)
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]} (apt-get install -y galera-4 mariadb-server rsync iproute2)"
  fi
}

# sql N QUERY: run QUERY on node N over TCP as root (tab-separated, no header).
sql() {
  local n="$1"
  shift
  mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "${SQL_PORT[$n]}" -u root \
    --connect-timeout=3 -N -B -e "$*"
}

# node_pid N: pid of node N's mariadbd when it is alive.
node_pid() {
  local n="$1" f p
  for f in "$(node_pidfile "$n")" "$(node_dir "$n")/launch.pid"; do
    p="$(cat "$f" 2>/dev/null || true)"
    if [ -n "$p" ] && pid_alive "$p" &&
      { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "--defaults-file=$(node_cnf "$n")"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# node_state N: prints "SIZE STATE" (e.g. "3 Synced"), fails when unreachable.
node_state() {
  local out size state
  out="$(sql "$1" "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size','wsrep_local_state_comment')" 2>/dev/null)" || return 1
  size="$(awk '$1 == "wsrep_cluster_size" {print $2}' <<<"$out")"
  state="$(awk '$1 == "wsrep_local_state_comment" {print $2}' <<<"$out")"
  [ -n "$size" ] && [ -n "$state" ] || return 1
  echo "$size $state"
}

cluster_healthy() {
  local n
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null || return 1
    [ "$(sql "$n" "SELECT CONCAT(@@datadir, ' ', @@tmpdir)" 2>/dev/null || true)" = "$(node_dir "$n")/data/ $(node_dir "$n")/tmp" ] || return 1
    [ "$(node_state "$n" 2>/dev/null || true)" = "3 Synced" ] || return 1
  done
}

write_cnf() {
  local n="$1" d
  d="$(node_dir "$n")"
  local addrs="" m
  for m in "${NODES[@]}"; do addrs="${addrs:+$addrs,}127.0.0.1:${GCOMM_PORT[$m]}"; done
  {
    echo "# Written by scripts/topology/galera.sh; recreated on every fresh start."
    echo "[mysqld]"
    is_root && echo "user = mysql"
    cat <<EOF
datadir = $d/data
# A tmpdir of its own: a starting server deletes every "#sql*" file in its
# tmpdir, which in a shared /tmp are the other nodes' live temporary tables.
tmpdir = $d/tmp
socket = $d/mariadb.sock
pid-file = $d/mariadbd.pid
log-error = $d/error.log
port = ${SQL_PORT[$n]}
bind-address = 127.0.0.1
skip-name-resolve

default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2

server_id = $n
gtid_domain_id = $n
log_bin = galera-bin
log_slave_updates = ON
binlog_format = ROW
sync_binlog = 0
binlog_expire_logs_seconds = 86400

wsrep_on = ON
wsrep_provider = $PROVIDER
wsrep_provider_options = "base_host=127.0.0.1;base_port=${GCOMM_PORT[$n]};gmcast.listen_addr=tcp://127.0.0.1:${GCOMM_PORT[$n]};ist.recv_addr=127.0.0.1:${IST_PORT[$n]};gcache.size=64M"
wsrep_cluster_name = $CLUSTER_NAME
wsrep_cluster_address = gcomm://$addrs
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1
wsrep_node_incoming_address = 127.0.0.1:${SQL_PORT[$n]}
wsrep_sst_receive_address = 127.0.0.1:${SST_PORT[$n]}
wsrep_sst_method = rsync
wsrep_gtid_mode = ON
wsrep_gtid_domain_id = $WSREP_GTID_DOMAIN
EOF
  } >"$(node_cnf "$n")"
  chmod 644 "$(node_cnf "$n")"
}

# The root accounts a test connects with: empty password over TCP, like the
# main server. Run once at install time on node 1; SST copies them to 2 and 3.
write_init_sql() {
  # FLUSH PRIVILEGES first: the install runs with the grant tables off.
  cat >"$1" <<'EOF'
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'localhost';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'root'@'::1';
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING '';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING '';
ALTER USER 'root'@'::1' IDENTIFIED VIA mysql_native_password USING '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;
EOF
  chmod 644 "$1"
}

# launch N [ARGS...]: start node N's mariadbd in the background, detached.
launch() {
  local n="$1" d
  shift
  d="$(node_dir "$n")"
  : >"$d/launch.pid"
  # 9>&-: the server must not inherit our lock.
  setsid "$MARIADBD" --defaults-file="$(node_cnf "$n")" "$@" </dev/null >>"$d/mariadbd.out" 2>&1 9>&- &
  echo "$!" >"$d/launch.pid"
  disown "$!" # no "Killed" job notices from this shell
}

fail_with_logs() {
  local n
  log "ERROR: $*"
  for n in "${NODES[@]}"; do
    show_log_tail "$(node_log "$n")" 30
    if [ -s "$(node_dir "$n")/mariadbd.out" ]; then show_log_tail "$(node_dir "$n")/mariadbd.out" 10; fi
  done
  if [ "${STARTING:-0}" = 1 ]; then
    log "stopping the partly started cluster (its files stay in $GALERA_DIR)"
    stop_all hard
  fi
  exit 1
}

# wait_node N MIN_SIZE DEADLINE: until node N is Synced in a cluster of at
# least MIN_SIZE nodes; fails when its server dies or at DEADLINE ($SECONDS).
wait_node() {
  local n="$1" min="$2" deadline="$3" st="" size state
  while [ "$SECONDS" -lt "$deadline" ]; do
    if st="$(node_state "$n" 2>/dev/null)"; then
      size="${st% *}"
      state="${st#* }"
      [ "$state" = "Synced" ] && [ "$size" -ge "$min" ] && return 0
    elif ! node_pid "$n" >/dev/null; then
      sleep 1 # the pid file may lag behind the launch
      node_pid "$n" >/dev/null || fail_with_logs "node $n died while starting"
    fi
    sleep 0.5
  done
  fail_with_logs "node $n not Synced in a cluster of >= $min within ${TOPOLOGY_TIMEOUT}s (last state: ${st:-unreachable})"
}

# stop_node N [hard]: clean shutdown (SIGKILL after 45 s); "hard" kills at
# once, for a node whose data is about to be wiped.
stop_node() {
  local n="$1" mode="${2:-clean}" pid p
  if pid="$(node_pid "$n")"; then
    if [ "$mode" = hard ]; then
      log "killing node $n (pid $pid)"
      kill_pids KILL "$pid"
    else
      log "stopping node $n (pid $pid)"
      # Through the node's own socket only: a TCP port may have been
      # overridden to another server's since the node was started. A node
      # still joining has no socket yet: SIGTERM then.
      timeout 45 mariadb-admin --no-defaults -S "$(node_sock "$n")" -u root --connect-timeout=3 \
        shutdown >/dev/null 2>&1 || kill_pids TERM "$pid"
    fi
    if ! wait_pid_gone "$pid" 45; then
      log "node $n did not stop within 45 s: SIGKILL"
      kill_pids KILL "$pid"
    fi
    wait_pid_gone "$pid" 10 || log "warning: node $n (pid $pid) still alive"
  fi
  # Anything else still running from this node's folder (a stray server, an
  # rsync SST daemon): TERM, then KILL.
  mapfile -t p < <(pids_using "$(node_dir "$n")/" '^(mariadbd|mysqld|rsync|wsrep_sst_[a-z]*|mariadb-install[a-z-]*) |^(sh|bash) .*wsrep_sst_')
  if [ "${#p[@]}" -gt 0 ]; then
    log "node $n: ending leftover processes ${p[*]}"
    kill_pids TERM "${p[@]}"
    for pid in "${p[@]}"; do wait_pid_gone "$pid" 15 || kill_pids KILL "$pid"; done
  fi
  return 0
}

# stop_all [hard]
stop_all() {
  local n
  # Nodes 2 and 3 first, node 1 last (it then is the most advanced one).
  for n in 3 2 1; do stop_node "$n" "${1:-clean}"; done
}

ensure_db() {
  sql 1 "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8"
}

check_ports_free() {
  local n port busy=()
  for n in "${NODES[@]}"; do
    for port in "${SQL_PORT[$n]}" "${GCOMM_PORT[$n]}" "${IST_PORT[$n]}" "${SST_PORT[$n]}"; do
      port_in_use "$port" && busy+=("$port")
    done
  done
  if [ "${#busy[@]}" -gt 0 ]; then
    ss -ltnp 2>/dev/null | grep -E ":($(
      IFS='|'
      echo "${busy[*]}"
    ))\b" >&2 || true
    die "ports already in use: ${busy[*]} (set GLANCEDB_GALERA_*_PORT{1,2,3} to others)"
  fi
}

cmd_start() {
  local t0=$SECONDS deadline n
  check_prereqs
  topology_lock galera
  if cluster_healthy; then
    ensure_db
    log "already running and healthy (3 nodes Synced); left as it is"
    return 0
  fi
  if [ -d "$GALERA_DIR" ]; then
    log "no healthy cluster in $GALERA_DIR: stopping what is left and recreating it"
    stop_all hard
    rm -rf "$GALERA_DIR"
  fi
  check_ports_free
  mkdir -p "$GALERA_DIR"
  chmod 755 "$TOPOLOGY_DIR" "$GALERA_DIR"
  is_root && ensure_traversable mysql "$GALERA_DIR"
  for n in "${NODES[@]}"; do
    mkdir -p "$(node_dir "$n")/data" "$(node_dir "$n")/tmp"
    write_cnf "$n"
  done
  is_root && chown -R mysql:mysql "$GALERA_DIR"/node*

  log "installing node 1's datadir"
  write_init_sql "$GALERA_DIR/init.sql"
  local install_args=(--no-defaults --datadir="$(node_dir 1)/data" --auth-root-authentication-method=normal
    --skip-test-db --skip-name-resolve --extra-file="$GALERA_DIR/init.sql" --innodb-log-file-size=32M)
  is_root && install_args+=(--user=mysql)
  if ! mariadb-install-db "${install_args[@]}" >"$(node_dir 1)/install.log" 2>&1; then
    show_log_tail "$(node_dir 1)/install.log"
    die "mariadb-install-db failed"
  fi
  # Nodes 2 and 3 start with an empty datadir: their first join copies
  # node 1's by rsync SST.

  deadline=$((SECONDS + TOPOLOGY_TIMEOUT))
  STARTING=1
  log "bootstrapping node 1 (--wsrep-new-cluster)"
  launch 1 --wsrep-new-cluster
  wait_node 1 1 "$deadline"
  for n in 2 3; do
    log "starting node $n (joins by SST)"
    launch "$n"
    wait_node "$n" "$n" "$deadline"
  done
  for n in "${NODES[@]}"; do wait_node "$n" 3 "$deadline"; done
  ensure_db
  for n in "${NODES[@]}"; do
    sql "$n" "SELECT 1 FROM information_schema.schemata WHERE schema_name = '$DB_NAME'" | grep -q 1 ||
      fail_with_logs "database $DB_NAME not visible on node $n"
  done
  log "cluster up: 3 nodes Synced on ports ${SQL_PORT[1]},${SQL_PORT[2]},${SQL_PORT[3]} in $((SECONDS - t0))s"
}

cmd_start_node() {
  local n="$1" deadline m others=0
  check_prereqs
  topology_lock galera
  [ -f "$(node_cnf "$n")" ] || die "no cluster in $GALERA_DIR: run 'galera.sh start' first"
  if node_pid "$n" >/dev/null && [ "$(node_state "$n" 2>/dev/null | cut -d' ' -f2)" = "Synced" ]; then
    log "node $n already running and Synced"
    return 0
  fi
  for m in "${NODES[@]}"; do
    [ "$m" = "$n" ] && continue
    [ "$(node_state "$m" 2>/dev/null | cut -d' ' -f2)" = "Synced" ] && others=$((others + 1))
  done
  [ "$others" -gt 0 ] || die "no other node is Synced: node $n has no cluster to join (run 'galera.sh start')"
  stop_node "$n"
  is_root && chown -R mysql:mysql "$(node_dir "$n")"
  deadline=$((SECONDS + TOPOLOGY_TIMEOUT))
  log "starting node $n (rejoins by IST or SST)"
  launch "$n"
  wait_node "$n" $((others + 1)) "$deadline"
  log "node $n Synced"
}

cmd_kill_node() {
  local n="$1" pid
  pid="$(node_pid "$n")" || die "node $n is not running"
  log "SIGKILL node $n (pid $pid)"
  kill -KILL "$pid"
  wait_pid_gone "$pid" 10 || die "node $n (pid $pid) survived SIGKILL"
}

cmd_status() {
  local n pid st extra rc=0
  for n in "${NODES[@]}"; do
    pid="$(node_pid "$n" || echo -)"
    if st="$(node_state "$n" 2>/dev/null)"; then
      extra="$(sql "$n" "SELECT CONCAT('last_committed=', VARIABLE_VALUE, ' gtid_binlog_pos=', @@gtid_binlog_pos) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LAST_COMMITTED'" 2>/dev/null || true)"
      printf 'node%s port=%s pid=%s cluster_size=%s state=%s %s\n' "$n" "${SQL_PORT[$n]}" "$pid" "${st% *}" "${st#* }" "$extra"
      [ "$st" = "3 Synced" ] && [ "$pid" != - ] || rc=1
    else
      printf 'node%s port=%s pid=%s unreachable\n' "$n" "${SQL_PORT[$n]}" "$pid"
      rc=1
    fi
  done
  return "$rc"
}

cmd_env() {
  local n urls=""
  for n in "${NODES[@]}"; do
    urls="${urls:+$urls,}mysql+pymysql://root@127.0.0.1:${SQL_PORT[$n]}/$DB_NAME"
  done
  echo "export GLANCEDB_TEST_GALERA_URLS=$urls"
}

node_arg() {
  case "${1:-}" in
    1 | 2 | 3) echo "$1" ;;
    *) usage ;;
  esac
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    topology_lock galera
    stop_all
    log "stopped"
    ;;
  destroy)
    topology_lock galera
    stop_all hard
    rm -rf "$GALERA_DIR"
    log "destroyed $GALERA_DIR"
    ;;
  status) cmd_status ;;
  stop-node)
    n="$(node_arg "${2:-}")"
    topology_lock galera
    stop_node "$n"
    ;;
  kill-node) cmd_kill_node "$(node_arg "${2:-}")" ;;
  start-node) cmd_start_node "$(node_arg "${2:-}")" ;;
  env) cmd_env ;;
  *) usage ;;
esac
