#!/usr/bin/env bash
# A two-shard ClickHouse cluster on 127.0.0.1 for tests and benches: two clickhouse-server
# processes with free non-default ports, each in its own temporary directory, both knowing the
# cluster `offpolicy_two_shards` (shard 1 = server 1, shard 2 = server 2).
#
#   eval "$(scripts/clickhouse-cluster.sh start)"   # starts both; prints `export OFFPOLICY_CH_...` lines
#   scripts/clickhouse-cluster.sh env  DIR           # prints those lines again
#   scripts/clickhouse-cluster.sh distributed DIR DB.LOCAL DB.DIST
#        # creates DB.LOCAL on server 2 as it is on server 1 (if missing) and, on both servers,
#        # DB.DIST ENGINE = Distributed(offpolicy_two_shards, DB, LOCAL, rand())
#   scripts/clickhouse-cluster.sh stop   DIR         # stops both servers by PID and removes DIR
#
# Exported: OFFPOLICY_CH_DIR (state dir), OFFPOLICY_CH_HTTP1/2 (HOST:PORT of the HTTP interfaces),
# OFFPOLICY_CH_TCP1/2, OFFPOLICY_CH_CLUSTER, OFFPOLICY_CH_PID1/2, and OFFPOLICY_CH_TEST_USER /
# OFFPOLICY_CH_TEST_PASSWORD (a second user with a password, for the credential tests).
set -euo pipefail
CLUSTER=offpolicy_two_shards
TEST_USER=offpolicy_test
TEST_PASSWORD=offpolicy-test-secret

free_ports() { # N: N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
EOF
}

write_config() { # DIR I TCP HTTP INTERSERVER TCP1 TCP2
  local dir=$1 i=$2 tcp=$3 http=$4 inter=$5 tcp1=$6 tcp2=$7
  mkdir -p "$dir/s$i/data" "$dir/s$i/tmp" "$dir/s$i/user_files" "$dir/s$i/format_schemas"
  cat >"$dir/s$i/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/s$i/server.log</log><errorlog>$dir/s$i/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$tcp</tcp_port>
  <http_port>$http</http_port>
  <interserver_http_port>$inter</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>1073741824</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$dir/s$i/data/</path>
  <tmp_path>$dir/s$i/tmp/</tmp_path>
  <user_files_path>$dir/s$i/user_files/</user_files_path>
  <format_schema_path>$dir/s$i/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <remote_servers>
    <$CLUSTER>
      <shard><replica><host>127.0.0.1</host><port>$tcp1</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>$tcp2</port></replica></shard>
    </$CLUSTER>
  </remote_servers>
  <query_log>
    <database>system</database><table>query_log</table>
    <flush_interval_milliseconds>500</flush_interval_milliseconds>
  </query_log>
</yandex>
EOF
}

write_users() { # DIR
  cat >"$1/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><log_queries>1</log_queries></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <$TEST_USER><password>$TEST_PASSWORD</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></$TEST_USER>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
}

print_env() { # DIR
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/ports"
  echo "export OFFPOLICY_CH_DIR='$dir'"
  echo "export OFFPOLICY_CH_HTTP1='127.0.0.1:$HTTP1' OFFPOLICY_CH_HTTP2='127.0.0.1:$HTTP2'"
  echo "export OFFPOLICY_CH_TCP1='127.0.0.1:$TCP1' OFFPOLICY_CH_TCP2='127.0.0.1:$TCP2'"
  echo "export OFFPOLICY_CH_PID1='$(cat "$dir/s1/pid")' OFFPOLICY_CH_PID2='$(cat "$dir/s2/pid")'"
  echo "export OFFPOLICY_CH_CLUSTER='$CLUSTER' OFFPOLICY_CH_TEST_USER='$TEST_USER' OFFPOLICY_CH_TEST_PASSWORD='$TEST_PASSWORD'"
}

http_query() { # HOSTPORT SQL
  curl -sS --fail-with-body --max-time 30 "http://$1/" --data-binary "$2"
}

cmd_start() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/offpolicy-ch.XXXXXX")
  read -r TCP1 TCP2 HTTP1 HTTP2 INTER1 INTER2 < <(free_ports 6)
  printf 'TCP1=%s\nTCP2=%s\nHTTP1=%s\nHTTP2=%s\n' "$TCP1" "$TCP2" "$HTTP1" "$HTTP2" >"$dir/ports"
  write_users "$dir"
  write_config "$dir" 1 "$TCP1" "$HTTP1" "$INTER1" "$TCP1" "$TCP2"
  write_config "$dir" 2 "$TCP2" "$HTTP2" "$INTER2" "$TCP1" "$TCP2"
  for i in 1 2; do
    # Own session and no terminal: the servers outlive this script; `stop` ends them by PID.
    setsid clickhouse-server --config-file="$dir/s$i/config.xml" </dev/null >"$dir/s$i/stdout.log" 2>&1 &
    echo $! >"$dir/s$i/pid"
  done
  local http
  for http in "$HTTP1" "$HTTP2"; do
    local ok=
    for _ in $(seq 1 300); do
      if [ "$(curl -s --max-time 1 "http://127.0.0.1:$http/ping" 2>/dev/null)" = "Ok." ]; then ok=1; break; fi
      sleep 0.02
    done
    if [ -z "$ok" ]; then
      echo "clickhouse-cluster: a server on HTTP port $http did not start; logs in $dir" >&2
      cmd_stop "$dir" keep >&2 || true
      exit 1
    fi
  done
  print_env "$dir"
}

cmd_stop() { # DIR [keep]
  local dir=$1 i pid
  [ -d "$dir" ] || { echo "clickhouse-cluster: no such state directory: $dir" >&2; exit 1; }
  for i in 1 2; do
    [ -f "$dir/s$i/pid" ] || continue
    pid=$(cat "$dir/s$i/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
  done
  [ "${2:-}" = keep ] || rm -rf "$dir"
}

cmd_distributed() { # DIR DB.LOCAL DB.DIST
  local dir=$1 local_t=$2 dist_t=$3
  # shellcheck disable=SC1091
  . "$dir/ports"
  local db=${local_t%%.*} table=${local_t#*.}
  local create
  create=$(http_query "127.0.0.1:$HTTP1" "SHOW CREATE TABLE $local_t FORMAT TSVRaw")
  http_query "127.0.0.1:$HTTP2" "CREATE DATABASE IF NOT EXISTS $db" >/dev/null
  http_query "127.0.0.1:$HTTP2" "${create/CREATE TABLE/CREATE TABLE IF NOT EXISTS}" >/dev/null
  for http in "$HTTP1" "$HTTP2"; do
    http_query "127.0.0.1:$http" "CREATE TABLE $dist_t AS $local_t ENGINE = Distributed($CLUSTER, $db, $table, rand())" >/dev/null
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop "${2:?usage: $0 stop DIR}" ;;
  env) print_env "${2:?usage: $0 env DIR}" ;;
  distributed) cmd_distributed "${2:?usage: $0 distributed DIR DB.LOCAL DB.DIST}" "${3:?}" "${4:?}" ;;
  *) echo "usage: $0 start | stop DIR | env DIR | distributed DIR DB.LOCAL DB.DIST" >&2; exit 2 ;;
esac
