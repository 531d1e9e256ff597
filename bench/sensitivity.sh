#!/usr/bin/env bash
# Time and peak memory of `aligntraj sensitivity` at protein scale, with the bounds of issue 12
# asserted (memory only: wall time on a shared machine is reported, not asserted).
#
#   bash bench/sensitivity.sh          # the two default runs (≈ 1 min on 2 cores)
#   bash bench/sensitivity.sh --all    # also `--points all` on 100 × 3,500 points (minutes)
#
# Inputs are generated with `aligntraj generate --kind blob3d` (a tumbling random coil, f32)
# into $BENCH_DIR (default /tmp/aligntraj-bench). Peak RSS comes from /usr/bin/time. Exits 1
# when a memory bound is exceeded.
set -euo pipefail

cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/tmp/aligntraj-bench}
mkdir -p "$dir"
all=0
case "${1:-}" in
    "") ;;
    --all) all=1 ;;
    *)
        echo "bench/sensitivity.sh: unknown argument '$1' (usage: bash bench/sensitivity.sh [--all])" >&2
        exit 2
        ;;
esac

cargo build --release -q
bin=target/release/aligntraj
if [[ ! -x /usr/bin/time ]]; then
    echo "bench/sensitivity.sh: /usr/bin/time is needed for peak memory" >&2
    exit 1
fi

failed=0
# run NAME FRAMES POINTS MAX_MB [sensitivity options…]: one timed run, then the bound check.
run() {
    local name=$1 frames=$2 points=$3 max_mb=$4
    shift 4
    local input="$dir/sens_${frames}x${points}.npz"
    [[ -f $input ]] || "$bin" generate --kind blob3d --dims 3 --frames "$frames" \
        --points "$points" --dtype f32 -o "$input"
    local stats="$dir/sens_time.txt"
    if ! /usr/bin/time -o "$stats" -f '%e %M' "$bin" sensitivity "$input" -q "$@" \
        --report "${report:-$dir/sens_report.json}" >/dev/null; then
        echo "$name: sensitivity failed" >&2
        failed=1
        return
    fi
    local secs kb
    read -r secs kb <"$stats"
    if ! [[ $kb =~ ^[0-9]+$ ]] || ((kb == 0)); then
        echo "$name: no peak memory from /usr/bin/time ('$(cat "$stats")')" >&2
        failed=1
        return
    fi
    local mb=$((kb / 1024))
    local verdict="ok (≤ $max_mb MB)"
    if ((mb > max_mb)); then
        verdict="OVER the $max_mb MB bound"
        failed=1
    fi
    printf '%-44s %8.1f s %7d MB  %s\n' "$name" "$secs" "$mb" "$verdict"
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; sensitivity, default pipelines:"
report=$dir/sens_sampled.json run "generated 3-D body, 20 × 2,000 points" 20 2000 300
report=$dir/sens_all.json run "generated 3-D body, 20 × 2,000, --points all" 20 2000 1536 \
    --points 0:2000
# The default run's rows (256 nudged points) must equal the same rows of the all-points run.
if ! python3 - "$dir/sens_sampled.json" "$dir/sens_all.json" <<'PY'; then
import json, sys
sampled, full = (json.load(open(p)) for p in sys.argv[1:])
rows = sampled["nudged"]
assert len(rows) == 256 and full["nudged"] == list(range(2000)), "unexpected nudged points"
for ps, pa in zip(sampled["pipelines"], full["pipelines"]):
    for r, k in enumerate(rows):
        assert ps["matrix"][r] == pa["matrix"][k], f"{ps['name']}: row of point {k} differs"
print(f"{'sampled rows equal the all-points rows':<44} {len(rows)} rows × 2 pipelines: ok")
PY
    echo "sampled rows differ from the all-points run" >&2
    failed=1
fi
rm -f "$dir/sens_sampled.json" "$dir/sens_all.json"
run "protein-sized, 100 × 3,500 points" 100 3500 500
if ((all)); then
    run "protein-sized, 100 × 3,500, --points all" 100 3500 1536 --points 0:3500
fi
rm -f "$dir/sens_report.json" "$dir/sens_time.txt"
exit $failed
