#!/usr/bin/env bash
# Smoke test of both topologies: starts them (idempotent), checks
# replication end to end, bounces a Galera node and the standby while writes
# go on, then stops both (unless --keep). Exit 0 when all checks pass.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

G="$SCRIPT_DIR/galera.sh"
P="$SCRIPT_DIR/pg-standby.sh"
GP1="${GLANCEDB_GALERA_SQL_PORT1:-13306}"
GP2="${GLANCEDB_GALERA_SQL_PORT2:-13307}"
GP3="${GLANCEDB_GALERA_SQL_PORT3:-13308}"
PP="${GLANCEDB_PG_PRIMARY_PORT:-15432}"
PS="${GLANCEDB_PG_STANDBY_PORT:-15433}"

say() { printf '== %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
my() { mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$1" -u root -N -B glancedb_test -e "$2"; }
pq() { psql -X -h 127.0.0.1 -p "$1" -U postgres -d glancedb_test -Atqc "$2"; }

say "start both"
"$G" start
"$P" start
"$G" status
"$P" status

say "galera: write on node 1, read on node 3 with wsrep_sync_wait=1"
my "$GP1" "DROP TABLE IF EXISTS topology_selftest;
  CREATE TABLE topology_selftest (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20));
  INSERT INTO topology_selftest (v) VALUES ('a'), ('b')"
[ "$(my "$GP3" "SET SESSION wsrep_sync_wait=1; SELECT COUNT(*) FROM topology_selftest")" = 2 ] ||
  fail "node 3 does not see node 1's rows"
for port in "$GP1" "$GP2" "$GP3"; do
  my "$port" "SELECT @@gtid_binlog_pos" | grep -Eq '^[0-9]+-[0-9]+-[0-9]+' || fail "no @@gtid_binlog_pos on :$port"
  my "$port" "SHOW STATUS LIKE 'wsrep_last_committed'" | grep -Eq '^wsrep_last_committed[[:space:]]+[0-9]+$' ||
    fail "no wsrep_last_committed on :$port"
done

say "galera: stop-node 2 / start-node 2 while writes go on"
(for i in $(seq 1 100); do
  my "$GP1" "INSERT INTO topology_selftest (v) VALUES ('w$i')"
  sleep 0.02
done) &
writer=$!
sleep 0.5
"$G" stop-node 2
"$G" start-node 2
wait "$writer" || fail "writes to node 1 failed while node 2 was away"
counts="$(for port in "$GP1" "$GP2" "$GP3"; do
  my "$port" "SET SESSION wsrep_sync_wait=1; SELECT COUNT(*) FROM topology_selftest"
done | sort -u)"
[ "$counts" = 102 ] || fail "row counts differ across nodes: $counts"
my "$GP1" "DROP TABLE topology_selftest"

say "postgres: write on the primary, read on the standby once replayed"
pq "$PP" "DROP TABLE IF EXISTS topology_selftest; CREATE TABLE topology_selftest (id serial PRIMARY KEY, v text);
  INSERT INTO topology_selftest (v) VALUES ('a')"
lsn="$(pq "$PP" "SELECT pg_current_wal_lsn()")"
for _ in $(seq 1 100); do
  [ "$(pq "$PS" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && break
  sleep 0.1
done
[ "$(pq "$PS" "SELECT count(*) FROM topology_selftest")" = 1 ] || fail "standby does not see the primary's row"
[ "$(pq "$PS" "SELECT pg_is_in_recovery()")" = t ] || fail "standby not in recovery"

say "postgres: stop-node standby / start-node standby while writes go on"
"$P" stop-node standby
for i in $(seq 1 50); do pq "$PP" "INSERT INTO topology_selftest (v) VALUES ('w$i')"; done
"$P" start-node standby
lsn="$(pq "$PP" "SELECT pg_current_wal_lsn()")"
for _ in $(seq 1 100); do
  [ "$(pq "$PS" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && break
  sleep 0.1
done
[ "$(pq "$PS" "SELECT count(*) FROM topology_selftest")" = 51 ] || fail "standby did not catch up"
pq "$PP" "DROP TABLE topology_selftest"

if [ "$KEEP" = 0 ]; then
  say "stop both"
  "$G" stop
  "$P" stop
fi
say "selftest passed"
