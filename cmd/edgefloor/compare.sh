#!/usr/bin/env bash
# Interleaved load runs of the intake's floor levels against the service itself
# (and, when the shared bench directory is there, against its naive pipeline
# and raw chi), all under the same load: wrk -t2 -c64, unique ~420-byte
# DOCUMENTS.INVOICE.DELIVERED envelopes (the bench's unique.lua).
# Prints req/s and the server's CPU microseconds per webhook per round, then
# medians and the median of per-round ratios to the service (and to naive).
# Usage, from the project root: cmd/edgefloor/compare.sh [ROUNDS=3] [SECONDS=8] [BENCH_DIR=../shared/bench]
# Needs wrk and python3. Binds only 127.0.0.1.
set -u
ROUNDS=${1:-3}; SECS=${2:-8}; BENCH=${3:-../shared/bench}
command -v wrk >/dev/null || { echo "compare.sh: wrk is missing: apt-get install -y wrk" >&2; exit 2; }
[ -f "$BENCH/unique.lua" ] || { echo "compare.sh: $BENCH/unique.lua is missing (the request script); pass the bench directory" >&2; exit 2; }
WORK=$(mktemp -d -t edgefloor.XXXXXX); BIN=$WORK/bin; mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/edgefloor ./cmd/maventa-events || exit 2
NAMES="store checked service_router service"
if [ -d "$BENCH/cmd/naive" ]; then
  (cd "$BENCH" && go build -o "$BIN/" ./cmd/naive ./cmd/rawchi) || exit 2
  NAMES="rawchi naive $NAMES"
fi
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
up() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "compare.sh: $1 never answered" >&2; return 1; }
SUM=$WORK/summary.txt; : > "$SUM"
for r in $(seq 1 "$ROUNDS"); do
  for n in $NAMES; do
    p=$(port); d=$WORK/data_$n$r; url="http://127.0.0.1:$p/webhooks/maventa?secret=bench-secret"; ready="http://127.0.0.1:$p/readyz"
    case $n in
      rawchi) "$BIN/rawchi" -addr 127.0.0.1:$p > "$WORK/$n.$r.log" 2>&1 & url="http://127.0.0.1:$p/webhook"; ready="http://127.0.0.1:$p/";;
      naive) "$BIN/naive" -addr 127.0.0.1:$p -store "$d" > "$WORK/$n.$r.log" 2>&1 & url="http://127.0.0.1:$p/webhook"; ready="http://127.0.0.1:$p/";;
      store|checked) "$BIN/edgefloor" -addr 127.0.0.1:$p -data-dir "$d" -level $n > "$WORK/$n.$r.log" 2>&1 & ;;
      service_router) "$BIN/edgefloor" -addr 127.0.0.1:$p -data-dir "$d" -level service > "$WORK/$n.$r.log" 2>&1 & ;;
      service) env WEBHOOK_SECRETS=bench-secret LISTEN_ADDR=127.0.0.1:$p NATS_EMBEDDED_PORT=0 POLL_ENABLED=false \
        CONSUMERS_ENABLED=false DATA_DIR="$d" LOG_LEVEL=warn "$BIN/maventa-events" > "$WORK/$n.$r.log" 2>&1 & ;;
    esac
    pid=$!
    if up "$ready"; then
      sleep 0.3
      c0=$(ticks $pid)
      wrk -t2 -c64 -d"${SECS}s" -s "$BENCH/unique.lua" "$url" > "$WORK/$n.$r.wrk" 2>&1
      c1=$(ticks $pid)
      reqs=$(awk '/requests in/{print $1}' "$WORK/$n.$r.wrk"); rps=$(awk '/Requests\/sec/{print $2}' "$WORK/$n.$r.wrk")
      bad=$(awk '/Non-2xx/{print $4}' "$WORK/$n.$r.wrk")
      printf "%-15s round %s %8.0f req/s %7.1f us/webhook non-2xx %s\n" $n $r "$rps" "$(echo "10000*($c1-$c0)/$reqs" | bc -l)" "${bad:-0}" | tee -a "$SUM"
    fi
    kill $pid 2>/dev/null; wait $pid 2>/dev/null
  done
done
echo "--- medians over $ROUNDS rounds; ratios are medians of the per-round ratios"
for n in $NAMES; do
  awk -v n="$n" '$1==n {print $4, $6}' "$SUM" | sort -n | awk -v n="$n" '{a[NR]=$1} {b[NR]=$2} END {m=int((NR+1)/2); printf "%-15s %8.0f req/s %7.1f us/webhook\n", n, a[m], b[m]}'
done
for base in service naive; do
  grep -q "^$base " "$SUM" || continue
  for n in $NAMES; do
    [ "$n" = "$base" ] && continue
    awk -v n="$n" -v b="$base" '$1==b {bv[$3]=$4; bc[$3]=$6} $1==n {me[$3]=$4; mc[$3]=$6} END {for (r in me) print me[r]/bv[r], mc[r]/bc[r]}' "$SUM" \
      | sort -n | awk -v n="$n" -v b="$base" '{a[NR]=$1} END {m=int((NR+1)/2); printf "%-15s / %-7s req/s %.2f\n", n, b, a[m]}'
  done
done
echo "raw output: $WORK"
