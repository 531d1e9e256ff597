#!/usr/bin/env bash
# Times the aligntraj CLI on generated data against `cp` of the same file (the floor), as
# medians of whole-process runs under /usr/bin/time, and writes the table into BENCHMARKS.md.
#
#   bash bench/run.sh                 # medium (10000×1000×3 f32, 120 MB) and large (2000×20000×3 f32, 480 MB), 5 runs
#                                     # + MD: XTC/DCD of 200 frames × 50,000 atoms, and MDTraj / MDAnalysis
#                                     #   measured in the same run (a throw-away virtualenv in target/bench-venv)
#   bash bench/run.sh --quick         # small sizes, 3 runs: checks the script itself
#   bash bench/run.sh --sizes medium  # one size only
#   BENCH_DIR=/path bash bench/run.sh # scratch folder (default /tmp/aligntraj-bench)
#
# The page cache is warm (one untimed run of each command first): the figures are what a
# second run on the same machine sees, bounded by memory bandwidth and compute, not the disk.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
sizes="medium large"
write_md=1
peers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=3; sizes="quick-medium quick-large"; write_md=0 ;;
    --sizes) sizes="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --no-write) write_md=0 ;;
    --no-peers) peers=0 ;;
    *) echo "usage: bash bench/run.sh [--quick] [--sizes 'medium large'] [--runs N] [--no-write]" >&2; exit 2 ;;
  esac
  shift
done

dir="${BENCH_DIR:-/tmp/aligntraj-bench}"
mkdir -p "$dir"
cargo build --release --quiet
bin="$PWD/target/release/aligntraj"

# Peers (MDTraj, MDAnalysis) for the comparison rows only: never needed by the tests.
py=""
if [ "$peers" = 1 ]; then
  venv="$PWD/target/bench-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mdtraj, MDAnalysis" 2>/dev/null; then
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "numpy<2.5" "mdtraj==1.11.1.post2" "MDAnalysis==2.11.0" \
      || { echo "bench: could not install MDTraj/MDAnalysis; peers left out" >&2; venv=""; }
  fi
  [ -n "$venv" ] && py="$venv/bin/python"
fi

shape() {
  case "$1" in
    medium) echo "10000 1000" ;;
    large) echo "2000 20000" ;;
    quick-medium) echo "1000 1000" ;;
    quick-large) echo "200 20000" ;;
    *) echo "unknown size $1" >&2; exit 2 ;;
  esac
}

# Median of the numbers on standard input.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# time_cmd LABEL CMD…: runs once untimed, then $runs times; prints "wall_s rss_mb".
time_cmd() {
  shift # the label is for the reader of this script
  local walls=() rsss=()
  "$@" >/dev/null 2>"$dir/stderr.txt" || { echo "bench: $* failed:" >&2; cat "$dir/stderr.txt" >&2; exit 1; }
  rm -f "$dir"/out.* "$dir/copy.npz"
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$dir/time.txt" "$@" >/dev/null 2>"$dir/stderr.txt" || { cat "$dir/stderr.txt" >&2; exit 1; }
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    read -r rss < "$dir/time.txt"
    walls+=("$wall"); rsss+=("$rss")
    rm -f "$dir"/out.* "$dir/copy.npz"
  done
  printf '%s %s\n' "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${rsss[@]}" | median | awk '{printf "%.1f", $1/1024}')"
}

# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }

table="| input | command | threads | median wall (s) | × cat | max RSS (MB) |
|---|---|---:|---:|---:|---:|"
for size in $sizes; do
  read -r frames points <<<"$(shape "$size")"
  input="$dir/blob3d-${frames}x${points}x3-f32.npz"
  if [ ! -f "$input" ]; then
    "$bin" generate --kind blob3d --frames "$frames" --points "$points" --dims 3 --dtype f32 -o "$input"
  fi
  mb=$(( $(stat -c %s "$input") / 1000000 ))
  name="$size ${frames}×${points}×3 f32 (${mb} MB)"
  read -r cp_wall cp_rss <<<"$(time_cmd cp cp "$input" "$dir/copy.npz")"
  [ -n "$cp_wall" ] || { echo "bench: cp failed" >&2; exit 1; }
  read -r cat_wall cat_rss <<<"$(time_cmd cat sh -c "cat '$input' > '$dir/copy.npz'")"
  table+="
| $name | \`cp\` (in-kernel copy) | – | $cp_wall | $(ratio "$cp_wall" "$cat_wall") | $cp_rss |
| $name | \`cat in > out\` (through user space, fresh output) | – | $cat_wall | 1.00 | $cat_rss |"
  for cmd in "center --com" "align --center com --rotate kabsch" "align --center com --rotate principal"; do
    for threads in 1 2; do
      # shellcheck disable=SC2086
      read -r wall rss <<<"$(time_cmd "$cmd" "$bin" $cmd "$input" -o "$dir/out.npz" --threads "$threads" --quiet)"
      [ -n "$wall" ] || { echo "bench: $cmd failed" >&2; exit 1; }
      table+="
| $name | \`$cmd\` | $threads | $wall | $(ratio "$wall" "$cat_wall") | $rss |"
    done
  done
  # The same alignment with the per-frame report (JSON) and RMSF: their overhead is this row
  # against the `align --center com --rotate kabsch` row with 2 threads above.
  read -r wall rss <<<"$(time_cmd report "$bin" align --center com --rotate kabsch "$input" -o "$dir/out.npz" \
    --threads 2 --quiet --report "$dir/out.report.json" --rmsf "$dir/out.rmsf.csv")"
  [ -n "$wall" ] || { echo "bench: align --report failed" >&2; exit 1; }
  table+="
| $name | \`align --center com --rotate kabsch --report r.json --rmsf f.csv\` | 2 | $wall | $(ratio "$wall" "$cat_wall") | $rss |"
  if [ -n "$py" ]; then
    read -r wall rss <<<"$(time_cmd mdtraj "$py" bench/peers.py mdtraj "$input" "$dir/out.npz")"
    table+="
| $name | MDTraj 1.11 \`superpose\` (load npz, superpose onto frame 0, save npz) | 2 | $wall | $(ratio "$wall" "$cat_wall") | $rss |"
  fi
done

# MD formats: 200 frames × 50,000 atoms (float32), fit on 3,000 atoms, written back.
if [ "$sizes" != "quick-medium quick-large" ]; then
  base="$dir/md-200x50000"
  if [ ! -f "$base.xtc" ]; then
    "$bin" generate --kind blob3d --frames 200 --points 50000 --dims 3 --dtype f32 -o "$base.npz"
    "$bin" convert "$base.npz" -o "$base.xtc" --quiet
    "$bin" convert "$base.npz" -o "$base.dcd" --quiet
    "$bin" convert "$base.npz" --frames 0:1 -o "$base.gro" --quiet
  fi
  for ext in xtc dcd; do
    mb=$(( $(stat -c %s "$base.$ext") / 1000000 ))
    name="$ext 200×50000 atoms (${mb} MB)"
    read -r cat_wall cat_rss <<<"$(time_cmd cat sh -c "cat '$base.$ext' > '$dir/copy.npz'")"
    read -r conv_wall conv_rss <<<"$(time_cmd convert "$bin" convert "$base.$ext" -o "$dir/out.$ext" --quiet)"
    read -r al_wall al_rss <<<"$(time_cmd align "$bin" align "$base.$ext" --fit-points 0:3000 -o "$dir/out.$ext" --quiet)"
    table+="
| $name | \`cat in > out\` | – | $cat_wall | 1.00 | $cat_rss |
| $name | \`convert\` (decode + encode, no stages) | 2 | $conv_wall | $(ratio "$conv_wall" "$cat_wall") | $conv_rss |
| $name | \`align --fit-points 0:3000\` (com+kabsch) | 2 | $al_wall | $(ratio "$al_wall" "$cat_wall") | $al_rss |"
    if [ -n "$py" ]; then
      read -r mda_wall mda_rss <<<"$(time_cmd mdanalysis "$py" bench/peers.py mdanalysis "$base.gro" "$base.$ext" "$dir/out.$ext")"
      table+="
| $name | MDAnalysis 2.11 \`AlignTraj\` (select index 0:2999, write $ext) | 1 | $mda_wall | $(ratio "$mda_wall" "$cat_wall") | $mda_rss |"
    fi
  done
fi

machine="$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
stamp="$(date -u +%Y-%m-%d\ %H:%M\ UTC)"
section="<!-- bench/run.sh:begin -->
Measured $stamp on $machine; median of $runs runs each, warm page cache, files in \`$dir\`.

$table
<!-- bench/run.sh:end -->"
echo "$section"

if [ "$write_md" = 1 ]; then
  if grep -q '<!-- bench/run.sh:begin -->' BENCHMARKS.md 2>/dev/null; then
    python3 - "$section" <<'PY'
import re, sys
text = open("BENCHMARKS.md").read()
new = re.sub(r"<!-- bench/run.sh:begin -->.*?<!-- bench/run.sh:end -->", lambda m: sys.argv[1], text, flags=re.S)
open("BENCHMARKS.md", "w").write(new)
PY
  else
    printf '\n%s\n' "$section" >> BENCHMARKS.md
  fi
  echo "BENCHMARKS.md updated" >&2
fi
