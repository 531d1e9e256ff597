#!/usr/bin/env bash
# Times the aligntraj CLI on generated data against `cp` of the same file (the floor), as
# medians of whole-process runs under /usr/bin/time, and writes the table into BENCHMARKS.md.
#
#   bash bench/run.sh                 # medium (10000×1000×3 f32, 120 MB) and large (2000×20000×3 f32, 480 MB), 5 runs
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
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=3; sizes="quick-medium quick-large"; write_md=0 ;;
    --sizes) sizes="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --no-write) write_md=0 ;;
    *) echo "usage: bash bench/run.sh [--quick] [--sizes 'medium large'] [--runs N] [--no-write]" >&2; exit 2 ;;
  esac
  shift
done

dir="${BENCH_DIR:-/tmp/aligntraj-bench}"
mkdir -p "$dir"
cargo build --release --quiet
bin="$PWD/target/release/aligntraj"

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
  local out="$dir/out.npz" walls=() rsss=()
  "$@" >/dev/null 2>"$dir/stderr.txt" || { echo "bench: $* failed:" >&2; cat "$dir/stderr.txt" >&2; exit 1; }
  rm -f "$out" "$dir/copy.npz"
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$dir/time.txt" "$@" >/dev/null 2>"$dir/stderr.txt" || { cat "$dir/stderr.txt" >&2; exit 1; }
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    read -r rss < "$dir/time.txt"
    walls+=("$wall"); rsss+=("$rss")
    rm -f "$out" "$dir/copy.npz"
  done
  printf '%s %s\n' "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${rsss[@]}" | median | awk '{printf "%.1f", $1/1024}')"
}

table="| input | command | threads | median wall (s) | × cp | max RSS (MB) |
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
| $name | \`cp\` (in-kernel copy) | – | $cp_wall | 1.00 | $cp_rss |
| $name | \`cat > file\` (through user space) | – | $cat_wall | $(awk -v a="$cat_wall" -v b="$cp_wall" 'BEGIN {printf "%.2f", a / b}') | $cat_rss |"
  for cmd in "center --com" "align --center com --rotate kabsch" "align --center com --rotate principal"; do
    for threads in 1 2; do
      # shellcheck disable=SC2086
      read -r wall rss <<<"$(time_cmd "$cmd" "$bin" $cmd "$input" -o "$dir/out.npz" --threads "$threads" --quiet)"
      [ -n "$wall" ] || { echo "bench: $cmd failed" >&2; exit 1; }
      ratio=$(awk -v a="$wall" -v b="$cp_wall" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
      table+="
| $name | \`$cmd\` | $threads | $wall | $ratio | $rss |"
    done
  done
done

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
