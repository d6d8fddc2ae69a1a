#!/usr/bin/env bash
# kafka.sh - fetch and run a throwaway single-node Apache Kafka 4.x broker
# (KRaft, combined broker+controller, no ZooKeeper) on 127.0.0.1, using only
# Maven Central artifacts (see pom.xml beside this script) and the machine's
# Java 17+.
#
# Usage: kafka.sh fetch|start|stop|status|halt|resume|version
#   fetch    copy the broker's runtime jars into $CACHE/libs with Maven
#            (skipped when already done; exit 3 if Maven cannot get them)
#   start    fetch if needed, format a fresh KRaft log dir, start the broker in
#            the background, wait until it is ready; the last stdout line is
#            "bootstrap=127.0.0.1:PORT" (also written to $DATA/bootstrap).
#            If the broker recorded in $STATE is still running, prints its
#            bootstrap line and exits 0 without starting another.
#   stop     SIGTERM the broker (SIGKILL after 20 s); remove $DATA if start
#            created it as a temp dir. Exits 0 when nothing is running.
#   status   print "bootstrap=..." and exit 0 if running, else exit 1
#   halt     stop the broker but keep its data, config and port (an outage)
#   resume   start a halted broker again on them; prints its bootstrap line
#   version  print the Kafka version used
#
# Environment (all optional):
#   WIREWATCH_KAFKA_VERSION   Kafka version; default: <kafka.version> in pom.xml (4.4.0)
#   WIREWATCH_KAFKA_CACHE     jar cache dir; default: $HOME/.cache/wirewatch/kafka-<version>
#                             (jars go to $WIREWATCH_KAFKA_CACHE/libs)
#   WIREWATCH_KAFKA_DATA      broker data dir; default: a new `mktemp -d` dir, removed by stop.
#                             A given dir is kept by stop, but its kafka-logs/ is wiped
#                             and reformatted by every start (no data survives a restart).
#   WIREWATCH_KAFKA_PORT      client (PLAINTEXT) port; default: a free loopback port
#   WIREWATCH_KAFKA_CONTROLLER_PORT  KRaft controller port; default: a free loopback port
#   WIREWATCH_KAFKA_STATE     file recording the data dir of the last started broker, used by
#                             stop/status when WIREWATCH_KAFKA_DATA is unset;
#                             default: $WIREWATCH_KAFKA_CACHE/current
#   WIREWATCH_KAFKA_HEAP_OPTS JVM heap flags; default: -Xms256m -Xmx512m
#   WIREWATCH_KAFKA_START_TIMEOUT  seconds to wait for readiness; default: 60
#   WIREWATCH_KAFKA_LOG_LEVEL root log4j2 level for $DATA/logs/server.log; default: INFO
#   JAVA_HOME                 if set, $JAVA_HOME/bin/java is used; else `java` on PATH (17+)
#   MVN                       Maven command; default: mvn
#
# Exit codes: 0 ok, 1 failure (broker did not start, bad usage, ...),
#             2 Java missing or older than 17, 3 Maven could not provide the jars.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")" && pwd -P)"
POM="$SCRIPT_DIR/pom.xml"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pom_version() {
  sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p' "$POM" | head -n1
}

KAFKA_VERSION="${WIREWATCH_KAFKA_VERSION:-$(pom_version)}"
[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"
CACHE="${WIREWATCH_KAFKA_CACHE:-$HOME/.cache/wirewatch/kafka-$KAFKA_VERSION}"
LIBS="$CACHE/libs"
MARKER="$CACHE/.fetched-$KAFKA_VERSION"
STATE="${WIREWATCH_KAFKA_STATE:-$CACHE/current}"
HEAP_OPTS="${WIREWATCH_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${WIREWATCH_KAFKA_START_TIMEOUT:-60}"
LOG_LEVEL="${WIREWATCH_KAFKA_LOG_LEVEL:-INFO}"
MVN="${MVN:-mvn}"
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi

# ---------------------------------------------------------------- fetch
fetched() {
  [[ -f "$MARKER" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

cmd_fetch() {
  if fetched; then return 0; fi
  mkdir -p "$CACHE"
  # Serialise concurrent fetches of the same cache.
  exec 9>"$CACHE/.lock"
  flock 9 2>/dev/null || true
  if fetched; then exec 9>&-; return 0; fi
  command -v "${MVN%% *}" >/dev/null 2>&1 || { log "maven ($MVN) not found"; exit 3; }
  local tmp="$CACHE/libs.tmp.$$" out="$CACHE/fetch.log" t0=$SECONDS
  rm -rf "$tmp"
  log "fetching Kafka $KAFKA_VERSION jars from Maven into $LIBS ..."
  if ! $MVN -B -q -Dstyle.color=never -f "$POM" \
        -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$out" 2>&1 \
     || [[ ! -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    log "maven could not provide Kafka $KAFKA_VERSION (log: $out):"
    sed 's/\x1b\[[0-9;]*m//g' "$out" >&2   # Debian's mvn emits colour codes even with -B
    rm -rf "$tmp"
    exit 3
  fi
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "$KAFKA_VERSION" >"$MARKER"
  exec 9>&-
  log "fetched $(find "$LIBS" -name "*.jar" | wc -l) jars in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- helpers
check_java() {
  command -v "$JAVA" >/dev/null 2>&1 || { log "java not found (need Java 17+)"; exit 2; }
  local v
  v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ "$v" =~ ^[0-9]+$ && "$v" -ge 17 ]] || { log "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is '${v:-unknown}'"; exit 2; }
}

# Prints N distinct free TCP ports on 127.0.0.1.
free_ports() {
  local n="$1"
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
  else
    local out=() p
    while ((${#out[@]} < n)); do
      p=$((20000 + RANDOM % 30000))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      port_open "$p" || out+=("$p")
    done
    echo "${out[*]}"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Is $1 a live pid of a kafka.Kafka JVM?
is_broker_pid() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka '
}

# Data dir of the broker that stop/status should act on.
current_data() {
  if [[ -n "${WIREWATCH_KAFKA_DATA:-}" ]]; then echo "$WIREWATCH_KAFKA_DATA"
  elif [[ -f "$STATE" ]]; then cat "$STATE"
  fi
}

running_pid() {
  local data="$1" pid
  [[ -n "$data" && -f "$data/kafka.pid" ]] || return 1
  pid="$(cat "$data/kafka.pid")"
  is_broker_pid "$pid" && echo "$pid"
}

# ---------------------------------------------------------------- start
write_config() {
  local data="$1" port="$2" cport="$3"
  cat >"$data/server.properties" <<EOF
# Generated by deploy/kafka/kafka.sh for Kafka $KAFKA_VERSION
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/kafka-logs
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
  # log4j2 (Kafka 4 ignores log4j 1 properties files). XML needs no extra jars.
  cat >"$data/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="server" fileName="$data/logs/server.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <!-- start() waits for "Kafka Server started" from this logger. -->
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="$LOG_LEVEL"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
EOF
}

fail_start() {
  local data="$1" pid="${2:-}" msg="$3"
  log "$msg"
  for f in "$data/logs/server.log" "$data/logs/stdout.log"; do
    [[ -s "$f" ]] && { log "--- tail of $f"; tail -n 40 "$f" >&2; }
  done
  if [[ -n "$pid" ]] && is_broker_pid "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  exit 1
}

# How many times the broker of $1 logged that it started.
started_count() {
  local n
  n="$(grep -c 'Kafka Server started' "$1/logs/server.log" 2>/dev/null)" || true
  echo "${n:-0}"
}

# Start the JVM on $data's config and wait until it serves $port (a new "Kafka Server
# started" line in server.log: a resumed broker's log already has one from before).
launch() {
  local data="$1" port="$2" pid seen
  local cp="$LIBS/*"
  local jvm=(-Djava.awt.headless=true -XX:+UseG1GC -XX:MaxGCPauseMillis=20
             -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
             -Dlog4j2.configurationFile="$data/log4j2.xml" -Dkafka.logs.dir="$data/logs")
  seen="$(started_count "$data")"
  # shellcheck disable=SC2086  # HEAP_OPTS is a list of flags
  nohup "$JAVA" $HEAP_OPTS "${jvm[@]}" -cp "$cp" kafka.Kafka "$data/server.properties" \
    </dev/null >>"$data/logs/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" >"$data/kafka.pid"
  log "broker pid $pid, data $data, waiting for 127.0.0.1:$port ..."
  local deadline=$((SECONDS + START_TIMEOUT))
  until (( $(started_count "$data") > seen )) && port_open "$port"; do
    kill -0 "$pid" 2>/dev/null || fail_start "$data" "" "broker exited during startup"
    ((SECONDS < deadline)) || fail_start "$data" "$pid" "broker not ready after ${START_TIMEOUT}s"
    sleep 0.2
  done
}

# SIGTERM the broker $1 (SIGKILL after 20 s) and wait until it is gone.
terminate() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do     # 100 x 0.2 s = 20 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker $pid still alive after 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  log "stopped broker pid $pid"
}

cmd_start() {
  local data pid
  data="$(current_data)"
  if pid="$(running_pid "$data")"; then
    log "broker already running (pid $pid, data $data)"
    echo "kafka_version=$(cat "$data/version" 2>/dev/null || echo "$KAFKA_VERSION")"
    echo "data_dir=$data"
    cat "$data/bootstrap"
    return 0
  fi

  check_java
  cmd_fetch

  local ports port cport
  ports="$(free_ports 2)"
  port="${WIREWATCH_KAFKA_PORT:-${ports%% *}}"
  cport="${WIREWATCH_KAFKA_CONTROLLER_PORT:-${ports##* }}"
  [[ "$port" != "$cport" ]] || die "client and controller ports are both $port"
  port_open "$port" && die "port $port is already in use"
  port_open "$cport" && die "controller port $cport is already in use"

  local temp=0
  if [[ -n "${WIREWATCH_KAFKA_DATA:-}" ]]; then
    data="$WIREWATCH_KAFKA_DATA"
    mkdir -p "$data"
  else
    data="$(mktemp -d "${TMPDIR:-/tmp}/wirewatch-kafka.XXXXXX")"
    temp=1
  fi
  data="$(cd "$data" && pwd -P)"
  # Fresh broker every time: drop whatever a previous start left behind.
  rm -rf "$data/kafka-logs" "$data/logs" "$data/kafka.pid" "$data/bootstrap" "$data/.tempdir"
  mkdir -p "$data/logs"
  ((temp)) && : >"$data/.tempdir"
  # Record the dir now, so that `stop` also cleans up after a failed start.
  mkdir -p "$(dirname "$STATE")"
  echo "$data" >"$STATE"

  write_config "$data" "$port" "$cport"
  echo "$KAFKA_VERSION" >"$data/version"

  local t0=$SECONDS
  local cp="$LIBS/*"
  if ! "$JAVA" -Xmx256m -cp "$cp" \
        kafka.tools.StorageTool format --standalone \
        -t "$("$JAVA" -cp "$cp" kafka.tools.StorageTool random-uuid)" \
        -c "$data/server.properties" >"$data/logs/format.log" 2>&1; then
    log "--- $data/logs/format.log"; cat "$data/logs/format.log" >&2
    die "formatting KRaft storage failed"
  fi

  launch "$data" "$port"
  echo "bootstrap=127.0.0.1:$port" >"$data/bootstrap"
  log "Kafka $KAFKA_VERSION ready in $((SECONDS - t0)) s"
  echo "kafka_version=$KAFKA_VERSION"
  echo "data_dir=$data"
  echo "bootstrap=127.0.0.1:$port"
}

# ---------------------------------------------------------------- stop
cmd_stop() {
  local data pid
  data="$(current_data)"
  if [[ -z "$data" || ! -d "$data" ]]; then
    log "no broker recorded; nothing to stop"
    rm -f "$STATE"
    return 0
  fi
  if pid="$(running_pid "$data")"; then
    terminate "$pid"
  else
    log "broker not running"
  fi
  rm -f "$data/kafka.pid" "$data/bootstrap"
  if [[ -f "$data/.tempdir" ]]; then
    rm -rf "$data"
  fi
  if [[ -f "$STATE" && "$(cat "$STATE")" == "$data" ]]; then rm -f "$STATE"; fi
}

cmd_status() {
  local data pid
  data="$(current_data)"
  if pid="$(running_pid "$data")" && [[ -f "$data/bootstrap" ]]; then
    echo "pid=$pid"
    echo "data_dir=$data"
    cat "$data/bootstrap"
  else
    log "not running"
    return 1
  fi
}

# ---------------------------------------------------------------- halt / resume
# An outage for the reliability tests: halt stops the broker but keeps its data, config and
# port; resume starts it again on them (no formatting), so acknowledged records survive.
cmd_halt() {
  local data pid
  data="$(current_data)"
  pid="$(running_pid "$data")" || die "no running broker to halt"
  terminate "$pid"
  rm -f "$data/kafka.pid"
}

cmd_resume() {
  local data pid port
  data="$(current_data)"
  [[ -n "$data" && -f "$data/server.properties" && -f "$data/bootstrap" ]] \
    || die "no halted broker to resume"
  if pid="$(running_pid "$data")"; then log "broker already running (pid $pid)"
  else
    check_java
    port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$data/bootstrap")"
    launch "$data" "$port"
  fi
  cat "$data/bootstrap"
}

case "${1:-}" in
  fetch) cmd_fetch; log "jars in $LIBS" ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  halt) cmd_halt ;;
  resume) cmd_resume ;;
  version) echo "$KAFKA_VERSION" ;;
  *) echo "usage: $0 fetch|start|stop|status|halt|resume|version" >&2; exit 1 ;;
esac
