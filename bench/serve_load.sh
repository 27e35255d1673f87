#!/usr/bin/env bash
# bench/serve_load.sh: how many concurrent real-time sessions `rvc-rt serve` holds.
#
# Starts `rvc-rt serve` (loopback, a free port) with a models dir, preloads the voice, records
# the server's RSS idle with the voice loaded, then for each N runs N `rvc-rt client --realtime`
# sessions at once (WebSocket, the same input file), sampling the server's VmRSS while they run.
# Per N it prints: the clients' added latency (p50: median over sessions; p99: the worst
# session's), the real-time factor of the slowest client, the server's block overruns (blocks
# that took longer to compute than they last, from /metrics), the mean block compute, the peak
# RSS and (peak - idle) / N. N holds real time when no block overran and every client's p99
# added latency is below one block.
#
# Usage:
#   bench/serve_load.sh [-m MODELS_DIR] [-v VOICE] [-b RVC_RT] [-i IN.wav] [-n "1 2 3"]
#       [-k BLOCK_MS] [-e EXTRA_MS] [-f F0_METHOD] [-a] [-o LOGDIR] [-- more serve flags]
#   -m/-v  models dir and voice name (VOICE.pth, hubert_base.pt, rmvpe.pt there); without -v
#          the sessions use the built-in voice
#   -b  rvc-rt binary (default build/rvc-rt)      -i  input wav (default assets/sample.wav)
#   -n  session counts, ascending (default "1 2 3 4")
#   -k  block ms (default 100)   -e  RVC extra context ms (default 500)   -f  rmvpe|yin
#   -a  go on after an N that does not hold (default: stop there)
#   -o  keep the server's and clients' logs here
#   after --: passed to `rvc-rt serve`, e.g. -- --workers 2 --threads 1
# Example: bench/serve_load.sh -m /tmp/fullsize -v v2_40k -i speech60_48k.wav -n "1 2"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/rvc-rt"
models=""
voice=""
input="$root/assets/sample.wav"
counts="1 2 3 4"
block_ms=100
extra_ms=500
f0=rmvpe
all=0
logdir=""

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "m:v:b:i:n:k:e:f:ao:h" opt; do
  case "$opt" in
    m) models=$OPTARG ;;
    v) voice=$OPTARG ;;
    b) bin=$OPTARG ;;
    i) input=$OPTARG ;;
    n) counts=$OPTARG ;;
    k) block_ms=$OPTARG ;;
    e) extra_ms=$OPTARG ;;
    f) f0=$OPTARG ;;
    a) all=1 ;;
    o) logdir=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ -x "$bin" ]] || { echo "serve_load: $bin: not an executable rvc-rt (-b)" >&2; exit 2; }
[[ -f "$input" ]] || { echo "serve_load: $input: input wav not found (-i)" >&2; exit 2; }
if [[ -n "$voice" ]]; then
  [[ -n "$models" && -f "$models/$voice.pth" ]] ||
    { echo "serve_load: -m DIR must hold $voice.pth (and hubert_base.pt, rmvpe.pt)" >&2; exit 2; }
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [[ -n "$logdir" ]] && cp "$work"/*.log "$logdir"/ 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n "$logdir" ]] && mkdir -p "$logdir"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
metric() {  # metric NAME: the value of an unlabelled Prometheus sample, 0 if absent
  curl -fsS "http://$addr/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

serve_args=(serve --host 127.0.0.1 --port 0 --tcp-port -1 --block-ms "$block_ms"
  --extra-ms "$extra_ms" --f0-method "$f0" --max-sessions 256 --idle-timeout-s 120)
[[ -n "$models" ]] && serve_args+=(--models-dir "$models")
[[ -n "$voice" ]] && serve_args+=(--preload "$voice")
serve_args+=("$@")
"$bin" "${serve_args[@]}" >"$work/serve.log" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 600); do
  addr=$(sed -n 's/^rvc-rt serve: listening http=\([^ ]*\) .*/\1/p' "$work/serve.log")
  [[ -n "$addr" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$addr" ]] || { echo "serve_load: the server did not start" >&2; exit 1; }
for _ in $(seq 1200); do
  curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://$addr/readyz" >/dev/null || { echo "serve_load: never ready" >&2; exit 1; }
sleep 1
idle_kb=$(rss_kb)
echo "serve_load: $("$bin" --version | paste -sd, -), $(nproc) cores, server pid $server_pid at $addr," \
  "voice ${voice:-built-in}, block $block_ms ms, serve flags: ${*:-none};" \
  "idle RSS with the voice loaded $((idle_kb / 1024)) MB" >&2

client_args=(client "$input" --url "ws://$addr/ws" --realtime --quiet --block-ms "$block_ms")
[[ -n "$voice" ]] && client_args+=(--model "$voice")
rows=()
for n in $counts; do
  echo "== $n sessions; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  over0=$(metric rvc_block_overruns_total)
  sum0=$(metric rvc_block_compute_seconds_sum)
  cnt0=$(metric rvc_block_compute_seconds_count)
  pids=()
  for i in $(seq "$n"); do
    "$bin" "${client_args[@]}" -o "$work/out_$i.wav" >"$work/client_${n}_$i.log" 2>&1 &
    pids+=($!)
  done
  peak_kb=0
  while :; do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    kb=$(rss_kb)
    ((kb > peak_kb)) && peak_kb=$kb
    ((alive)) || break
    sleep 0.5
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  over=$(($(metric rvc_block_overruns_total) - over0))
  mean_ms=$(awk -v s0="$sum0" -v c0="$cnt0" -v s="$(metric rvc_block_compute_seconds_sum)" \
    -v c="$(metric rvc_block_compute_seconds_count)" \
    'BEGIN { printf "%.1f", (c > c0) ? 1000 * (s - s0) / (c - c0) : 0 }')
  # client: A s audio in W s (R x real time), ...; added latency p50 X ms p99 Y ms; wrote ...
  cat "$work"/client_"${n}"_*.log | awk '/^client:/ {
      for (i = 1; i <= NF; i++) {
        if ($i == "p50") p50 = $(i + 1)
        if ($i == "p99") p99 = $(i + 1)
        if ($i == "real") r = substr($(i - 1), 2) + 0
      }
      print p50, p99, r
    }' | sort -n >"$work/clients.txt"
  stats=$(awk -v blk="$block_ms" '
    { p50[NR] = $1; if ($2 > worst) worst = $2; if ($2 >= blk) bad++
      if (NR == 1 || $3 < rmin) rmin = $3 }
    END {
      m = (NR == 0) ? 0 : (NR % 2) ? p50[(NR + 1) / 2] : (p50[NR / 2] + p50[NR / 2 + 1]) / 2
      printf "%d %.1f %.1f %.2f %d\n", NR, m, worst, rmin, bad + 0
    }' "$work/clients.txt")
  read -r ok p50 p99 rtf bad <<<"$stats"
  holds=no
  [[ $failed -eq 0 && $ok -eq $n && $over -eq 0 && $bad -eq 0 ]] && holds=yes
  per_mb=$(awk -v p="$peak_kb" -v i="$idle_kb" -v n="$n" 'BEGIN { printf "%.1f", (p - i) / 1024 / n }')
  rows+=("$(printf '%4s %4s %9s %9s %8s %8s %9s %8s %9s %9s' "$n" "$holds" "$p50" "$p99" \
    "$rtf" "$over" "$mean_ms" "$failed" "$((peak_kb / 1024))" "$per_mb")")
  echo "   ${rows[-1]}" >&2
  if ((failed > 0)); then
    for i in $(seq "$n"); do sed 's/^/   /' "$work/client_${n}_$i.log" >&2; done
  fi
  [[ $holds == yes || $all -eq 1 ]] || break
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
echo "idle RSS (voice loaded): $((idle_kb / 1024)) MB; input $(basename "$input"), block $block_ms ms"
printf '%4s %4s %9s %9s %8s %8s %9s %8s %9s %9s\n' N rt p50_ms p99_ms min_rtf overruns \
  compute_ms failed rss_mb mb_per_sess
printf '%s\n' "${rows[@]}"
