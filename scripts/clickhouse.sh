#!/usr/bin/env bash
# ClickHouse for development and CI.
#
#   scripts/clickhouse.sh install   install clickhouse-server and -client (apt) if missing
#   scripts/clickhouse.sh install-zookeeper
#                                   install ZooKeeper (apt zookeeperd) if missing, for the
#                                   two-shard cluster test (internal/chtest.StartCluster runs
#                                   its own ZooKeeper; the system service is not used)
#   scripts/clickhouse.sh ensure    install if missing, start the system server unless
#                                   something already answers on 127.0.0.1:9000, wait
#                                   until SELECT 1 works (60s)
#   scripts/clickhouse.sh status    exit 0 if a server answers on 127.0.0.1:9000
#   scripts/clickhouse.sh stop      stop a server this script started
#
# Tests do not need the system server: internal/chtest starts a private
# clickhouse-server per test; they only need the binary (`install`).
# Debian ships clickhouse 18.16 (old); the schema and the Go client are
# kept compatible with it and with current releases.
#
# Environment: CLICKHOUSE_PORT (default 9000), CLICKHOUSE_WAIT (seconds, default 60),
# CLICKHOUSE_CONFIG (default /etc/clickhouse-server/config.xml).
set -euo pipefail

PORT=${CLICKHOUSE_PORT:-9000}
WAIT=${CLICKHOUSE_WAIT:-60}
CONFIG=${CLICKHOUSE_CONFIG:-/etc/clickhouse-server/config.xml}
PIDFILE=${CLICKHOUSE_PIDFILE:-/tmp/gatehouse-clickhouse-server.pid}
LOG=${CLICKHOUSE_LOG:-/tmp/gatehouse-clickhouse-server.out}

say() { echo "clickhouse.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# server_cmd prints the command that runs a server, empty if none.
server_cmd() {
	local p
	for p in "$(command -v clickhouse-server 2>/dev/null || true)" /usr/sbin/clickhouse-server /usr/local/sbin/clickhouse-server; do
		[ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return; }
	done
	for p in "$(command -v clickhouse 2>/dev/null || true)" /usr/bin/clickhouse /usr/local/bin/clickhouse; do
		[ -n "$p" ] && [ -x "$p" ] && { echo "$p server"; return; }
	done
}

client_cmd() {
	local p
	p=$(command -v clickhouse-client 2>/dev/null || true)
	[ -n "$p" ] && { echo "$p"; return; }
	p=$(command -v clickhouse 2>/dev/null || true)
	[ -n "$p" ] && { echo "$p client"; return; }
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
	else die "need root (or sudo) to run: $*"
	fi
}

install() {
	if [ -n "$(server_cmd)" ] && [ -n "$(client_cmd)" ]; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "no ClickHouse server found and no apt-get to install one; install clickhouse-server and clickhouse-client"
	say "installing clickhouse-server and clickhouse-client (apt)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		clickhouse-server clickhouse-client >/dev/null
	[ -n "$(server_cmd)" ] || die "clickhouse-server still missing after apt-get install"
}

ZOOKEEPER_JAR=/usr/share/java/zookeeper.jar

install_zookeeper() {
	if [ -f "$ZOOKEEPER_JAR" ] && command -v java >/dev/null 2>&1; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "no ZooKeeper ($ZOOKEEPER_JAR) and no apt-get to install one; install zookeeperd"
	say "installing zookeeperd (apt)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zookeeperd >/dev/null
	[ -f "$ZOOKEEPER_JAR" ] || die "$ZOOKEEPER_JAR still missing after apt-get install zookeeperd"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# answers: SELECT 1 works (or, without a client, the port accepts).
answers() {
	local c
	c=$(client_cmd)
	if [ -n "$c" ]; then
		[ "$($c --host 127.0.0.1 --port "$PORT" --query 'SELECT 1' 2>/dev/null)" = 1 ]
	else
		port_open
	fi
}

wait_ready() {
	local deadline=$((SECONDS + WAIT))
	until answers; do
		if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			tail -n 20 "$LOG" >&2 || true
			die "clickhouse-server exited; see $LOG and /var/log/clickhouse-server/"
		fi
		[ $SECONDS -lt $deadline ] || die "nothing answers SELECT 1 on 127.0.0.1:$PORT after ${WAIT}s (see $LOG)"
		sleep 0.2
	done
}

start() {
	local cmd
	cmd=$(server_cmd)
	[ -n "$cmd" ] || die "no clickhouse-server; run: $0 install"
	[ -f "$CONFIG" ] || die "no $CONFIG"
	say "starting $cmd --config-file=$CONFIG (log $LOG)"
	# The Debian package owns its data and log dirs by user clickhouse:
	# run as that user when we are root, so a later systemd start works.
	if [ "$(id -u)" = 0 ] && id clickhouse >/dev/null 2>&1; then
		for d in /var/lib/clickhouse /var/log/clickhouse-server; do
			mkdir -p "$d" && chown -R clickhouse:clickhouse "$d" 2>/dev/null || true
		done
		# shellcheck disable=SC2086
		nohup setsid runuser -u clickhouse -- $cmd --config-file="$CONFIG" >"$LOG" 2>&1 </dev/null &
	else
		# shellcheck disable=SC2086
		nohup setsid $cmd --config-file="$CONFIG" >"$LOG" 2>&1 </dev/null &
	fi
	echo $! >"$PIDFILE"
}

case "${1:-}" in
install)
	install
	;;
install-zookeeper)
	install_zookeeper
	;;
ensure)
	install
	if port_open; then
		wait_ready
	else
		start
		wait_ready
	fi
	say "ClickHouse answers on 127.0.0.1:$PORT"
	;;
status)
	answers
	;;
stop)
	if [ -f "$PIDFILE" ]; then
		pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$PIDFILE"
	else
		say "no server started by this script ($PIDFILE missing)"
	fi
	;;
*)
	echo "usage: $0 install|install-zookeeper|ensure|status|stop" >&2
	exit 2
	;;
esac
