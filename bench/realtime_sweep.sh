#!/usr/bin/env bash
# bench/realtime_sweep.sh: real-time block sweep of `rvc-rt stream` through the file device.
#
# For each f0 method and precision it runs `rvc-rt stream --input-file IN --output-file OUT
# --realtime --model VOICE ...` (the live path, paced like a sound card) at increasing block
# lengths and stops at the first block that holds real time, then does the same for the built-in
# voice. A run holds real time when block compute p99 < the block length and there were no
# xruns, input overruns, output underruns or dropped input frames. One table at the end:
#
#   block_ms f0 precision p50_ms p99_ms max_ms overruns(xrun/in/under/dropped) rt latency_ms
#
# Usage:
#   bench/realtime_sweep.sh -m MODELS_DIR [-b RVC_RT] [-i IN.wav] [-v VOICE] [-e EXTRA_MS]
#       [-B "BLOCKS_MS"] [-f "F0_METHODS"] [-p "PRECISIONS"] [-u "BUILTIN_BLOCKS_MS"] [-a]
#       [-t THREADS] [-o LOGDIR] [-- more rvc-rt stream flags, e.g. --headroom-ms 20]
#   -m  models dir with VOICE.pth, hubert_base.pt, rmvpe.pt (the full-size random models:
#       ../shared/tools/ref/make_fullsize_models.py DIR)
#   -b  rvc-rt binary (default build/rvc-rt)          -i  input wav (default: assets/sample.wav)
#   -v  voice name in MODELS_DIR (default v2_40k)     -e  extra context ms (default 500)
#   -B  RVC blocks to try, ascending (default "60 80 100 120 150 200 250 300 400 500")
#   -f  f0 methods (default "rmvpe yin")              -p  precisions (default "f32 bf16")
#   -u  built-in voice blocks (default "10 20 50 100"; "" = skip the built-in voice)
#   -a  run every block instead of stopping at the first that holds
#   -t  compute threads (default 2)                   -o  keep each run's log and per-block
#                                                         timings (--timings-file CSV) here
# Example, the 10-minute run at block 100 ms:
#   bench/realtime_sweep.sh -m /tmp/fullsize -i long.wav -B 100 -f rmvpe -p f32 -u "" -a
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/rvc-rt"
models=""
input="$root/assets/sample.wav"
voice="v2_40k"
extra_ms=500
blocks="60 80 100 120 150 200 250 300 400 500"
methods="rmvpe yin"
precisions="f32 bf16"
builtin_blocks="10 20 50 100"
all=0
threads=2
logdir=""

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "m:b:i:v:e:B:f:p:u:at:o:h" opt; do
  case "$opt" in
    m) models=$OPTARG ;;
    b) bin=$OPTARG ;;
    i) input=$OPTARG ;;
    v) voice=$OPTARG ;;
    e) extra_ms=$OPTARG ;;
    B) blocks=$OPTARG ;;
    f) methods=$OPTARG ;;
    p) precisions=$OPTARG ;;
    u) builtin_blocks=$OPTARG ;;
    a) all=1 ;;
    t) threads=$OPTARG ;;
    o) logdir=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
more=("$@")
[[ -x "$bin" ]] || { echo "realtime_sweep: $bin: not an executable rvc-rt (-b)" >&2; exit 2; }
[[ -f "$input" ]] || { echo "realtime_sweep: $input: input wav not found (-i)" >&2; exit 2; }
if [[ -n "$methods" && -n "$precisions" ]]; then
  [[ -n "$models" && -f "$models/$voice.pth" ]] ||
    { echo "realtime_sweep: -m DIR must hold $voice.pth (and hubert_base.pt, rmvpe.pt)" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[[ -n "$logdir" ]] && mkdir -p "$logdir"
rows=()

# run_one LABEL_F0 PRECISION BLOCK_MS [extra rvc-rt stream args...]: one paced run; appends a
# table row and returns 0 when the run held real time.
run_one() {
  local f0=$1 prec=$2 block=$3
  shift 3
  local log="$work/run.log"
  local timings=()
  [[ -n "$logdir" ]] && timings=(--timings-file "$logdir/timings_${f0}_${prec}_${block}ms.csv")
  echo "== block $block ms, $f0, $prec; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if ! "$bin" stream --input-file "$input" --output-file "$work/out.wav" --realtime --quiet \
      --block-ms "$block" "${timings[@]}" "$@" "${more[@]}" >"$log" 2>&1; then
    sed 's/^/   /' "$log" >&2
    rows+=("$(printf '%6s %-7s %-5s %s' "$block" "$f0" "$prec" "run failed (see above)")")
    return 1
  fi
  [[ -n "$logdir" ]] && cp "$log" "$logdir/stream_${f0}_${prec}_${block}ms.log"
  local stats
  stats=$(awk '
    /block compute p50/ { gsub(/,/, ""); p50 = $4; p99 = $7; max = $10 }
    /xruns .*input overrun/ { gsub(/,/, ""); x = $2; o = $5; u = $8; d = $11 }
    /latency: algorithmic/ { gsub(/,/, ""); lat = $3 }
    /audio .* wall/ { audio = $2 }
    END { print p50, p99, max, x, o, u, d, lat, audio }' "$log")
  local p50 p99 max x o u d lat audio
  read -r p50 p99 max x o u d lat audio <<<"$stats"
  if [[ -z "$lat" ]]; then
    sed 's/^/   /' "$log" >&2
    rows+=("$(printf '%6s %-7s %-5s %s' "$block" "$f0" "$prec" "no summary (see above)")")
    return 1
  fi
  local holds=no
  if awk -v p="$p99" -v b="$block" 'BEGIN { exit !(p < b) }' &&
      [[ "$x$o$u$d" == "0000" ]]; then
    holds=yes
  fi
  rows+=("$(printf '%6s %-7s %-5s %8s %8s %8s %18s %4s %9s %7s' "$block" "$f0" "$prec" \
    "$p50" "$p99" "$max" "$x/$o/$u/$d" "$holds" "$lat" "$audio")")
  echo "   p50 $p50 p99 $p99 max $max ms, xrun/overrun/underrun/dropped $x/$o/$u/$d," \
    "latency $lat ms, $audio s audio: holds real time: $holds" >&2
  # Whether the slow blocks came in bursts (runs of 20 s or more).
  sed -n 's/^ *10 s windows/   10 s windows/p' "$log" >&2
  [[ "$holds" == yes ]]
}

echo "realtime_sweep: $("$bin" --version | paste -sd, -) $(nproc) cores, input $input, extra $extra_ms ms," \
  "threads $threads, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, more flags: ${more[*]:-none}" >&2
for f0 in $methods; do
  for prec in $precisions; do
    for block in $blocks; do
      if RVC_MODELS_DIR="$models" run_one "$f0" "$prec" "$block" --model "$voice" \
          --f0-method "$f0" --precision "$prec" --threads "$threads" --extra-ms "$extra_ms" &&
          [[ $all -eq 0 ]]; then
        break
      fi
    done
  done
done
for block in $builtin_blocks; do
  if run_one builtin - "$block" && [[ $all -eq 0 ]]; then break; fi
done

echo
printf '%6s %-7s %-5s %8s %8s %8s %18s %4s %9s %7s\n' block f0 prec p50_ms p99_ms max_ms \
  xrun/ovr/und/drop rt lat_ms audio_s
printf '%s\n' "${rows[@]}"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
