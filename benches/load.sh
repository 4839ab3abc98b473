#!/usr/bin/env bash
# The emulator's load figures (issue #6): `posemu load` against `testhost`, two processes on this
# machine, loopback only, state in memory on both sides.
#
#   throughput: 64 terminals x SALES sales        target >= 50,000 approved sales/s, p99 < 5 ms
#   memory:     1,000 terminals x MEM_SALES sales target: peak RSS of both processes <= 256 MB
#
# Each run starts a fresh testhost on a free loopback port (its books start empty), waits for
# its `listening` line, runs posemu load, then stops the host with SIGTERM. Peak RSS is the
# kernel's high-water mark (VmHWM in /proc/PID/status) of each process, read as it ends:
# posemu's through /usr/bin/time -v when present, else from the same /proc field while it runs.
#
# Usage: benches/load.sh [RUNS]    (environment: SALES, MEM_SALES, TERMINALS, MEM_TERMINALS,
#                                   POSEMU_ARGS and TESTHOST_ARGS add options to each program;
#                                   FLOOR=1 also runs the host's own light client, host_load,
#                                   against a fresh testhost before each throughput run: what
#                                   host and kernel alone reach on the machine at that moment)
# Prints one line per run and the medians. Builds the release binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
SALES=${SALES:-2000}
TERMINALS=${TERMINALS:-64}
MEM_TERMINALS=${MEM_TERMINALS:-1000}
MEM_SALES=${MEM_SALES:-100}
POSEMU_ARGS=${POSEMU_ARGS:-}
TESTHOST_ARGS=${TESTHOST_ARGS:-}

cargo build --release -q -p posemu -p iso8583-host
FLOOR=${FLOOR:-0}
[ "$FLOOR" = 1 ] && cargo build --release -q -p pos8583-benches --bin host_load
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
HOST_PID=
trap '[ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# Starts testhost for N terminals on a free port; sets HOST_PID and HOST_ADDR.
start_host() {
  local n=$1
  # shellcheck disable=SC2086 # TESTHOST_ARGS is a list of options.
  "$BIN/testhost" --listen 127.0.0.1:0 --dialect intl --terminals "$n" $TESTHOST_ARGS \
    >"$WORK/host.out" 2>"$WORK/host.err" &
  HOST_PID=$!
  for _ in $(seq 100); do
    HOST_ADDR=$(awk '/^listening intl /{print $3}' "$WORK/host.out")
    [ -n "$HOST_ADDR" ] && return 0
    sleep 0.05
  done
  echo "testhost did not start" >&2
  exit 1
}

# Stops testhost; prints its peak RSS in KiB.
stop_host() {
  local hwm
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$HOST_PID/status")
  kill -TERM "$HOST_PID"
  wait "$HOST_PID" || true
  HOST_PID=
  echo "$hwm"
}

# Runs posemu load; its JSON summary goes to $WORK/load.json, its peak RSS (KiB) to stdout.
run_load() {
  local n=$1 m=$2
  # shellcheck disable=SC2086 # POSEMU_ARGS is a list of options.
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$WORK/time.txt" "$BIN/posemu" load --host "$HOST_ADDR" \
      --terminals "$n" --sales "$m" --json $POSEMU_ARGS >"$WORK/load.json" || true
    awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/time.txt"
  else
    "$BIN/posemu" load --host "$HOST_ADDR" --terminals "$n" --sales "$m" --json $POSEMU_ARGS \
      >"$WORK/load.json" &
    local pid=$! hwm=0 now
    while kill -0 "$pid" 2>/dev/null; do
      now=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${now:-0}" -gt "$hwm" ] && hwm=$now
      sleep 0.05
    done
    wait "$pid" || true
    echo "$hwm"
  fi
}

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$WORK/load.json" "$1"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "== throughput: $TERMINALS terminals x $SALES sales"
: >"$WORK/rates"; : >"$WORK/p99s"
for run in $(seq "$RUNS"); do
  if [ "$FLOOR" = 1 ]; then
    start_host "$TERMINALS"
    "$BIN/host_load" --host "$HOST_ADDR" --connections "$TERMINALS" --sales "$SALES" 2>&1 |
      sed -n 's/^run [0-9/]*: /floor (host_load): /p'
    stop_host >/dev/null
  fi
  start_host "$TERMINALS"
  emu_kib=$(run_load "$TERMINALS" "$SALES")
  host_kib=$(stop_host)
  rate=$(field 'round(d["approved_per_s"])')
  p50=$(field 'd["latency_us"]["p50"]'); p99=$(field 'd["latency_us"]["p99"]')
  max=$(field 'd["latency_us"]["max"]'); passed=$(field 'd["passed"]')
  echo "run $run: $rate approved sales/s, p50 ${p50} us, p99 ${p99} us, max ${max} us," \
    "passed: $passed; peak RSS posemu $((emu_kib / 1024)) MiB, testhost" \
    "$((host_kib / 1024)) MiB; load average $(cut -d' ' -f1 /proc/loadavg)"
  echo "$rate" >>"$WORK/rates"; echo "$p99" >>"$WORK/p99s"
done
echo "median: $(median <"$WORK/rates") approved sales/s, p99 $(median <"$WORK/p99s") us"

echo "== memory: $MEM_TERMINALS terminals x $MEM_SALES sales"
: >"$WORK/sums"
for run in $(seq "$RUNS"); do
  start_host "$MEM_TERMINALS"
  emu_kib=$(run_load "$MEM_TERMINALS" "$MEM_SALES")
  host_kib=$(stop_host)
  sum=$(((emu_kib + host_kib) / 1024))
  rate=$(field 'round(d["approved_per_s"])'); passed=$(field 'd["passed"]')
  echo "run $run: peak RSS posemu $((emu_kib / 1024)) MiB + testhost $((host_kib / 1024)) MiB" \
    "= $sum MiB; $rate approved sales/s, passed: $passed"
  echo "$sum" >>"$WORK/sums"
done
echo "median: $(median <"$WORK/sums") MiB for both processes"
