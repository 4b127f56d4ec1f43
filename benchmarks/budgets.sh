#!/usr/bin/env bash
# Measures the issue's time budgets from fresh clones of this repository's HEAD:
#   1. `make tables` (venv set-up included)            budget 20 min
#   2. `snakemake results/table1.csv` after set-up      budget 10 min
#   3. `make test` from another fresh clone             budget 15 min
# Usage: benchmarks/budgets.sh [WORKDIR]   (default: a new temporary directory)
#        SKIP_TEST=1 benchmarks/budgets.sh [WORKDIR]   (steps 1 and 2 only)
# Writes WORKDIR/budgets.tsv and prints it. Each clone stands alone (nothing beside it), and
# after `make tables` its `git status --porcelain` is written to WORKDIR/git_status.txt.
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=${1:-$(mktemp -d /tmp/infocam-budgets.XXXX)}
mkdir -p "$work"
out="$work/budgets.tsv"
printf "step\tseconds\texit\n" > "$out"

timed() {  # timed NAME DIR COMMAND...
  local name=$1 dir=$2 start rc
  shift 2
  start=$(date +%s%N)
  set +e
  (cd "$dir" && "$@") > "$work/$name.log" 2>&1
  rc=$?
  set -e
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf "%s\t%d.%03d\t%d\n" "$name" $((ms / 1000)) $((ms % 1000)) "$rc" >> "$out"
}

fresh_clone() {  # fresh_clone NAME -> path of the clone
  rm -rf "${work:?}/$1"
  git clone -q "$repo" "$work/$1"
  echo "$work/$1"
}

tables_clone=$(fresh_clone tables)
timed make_tables "$tables_clone" make tables
git -C "$tables_clone" status --porcelain > "$work/git_status.txt"
# Keep what `make tables` built (tables, figures, provenance) before the table1-only rerun.
mkdir -p "$work/make_tables_results"
cp "$tables_clone"/results/*.{csv,md,json} "$tables_clone"/results/figures/*.png "$work/make_tables_results/" 2>/dev/null || true
cp -r "$tables_clone"/results/{eval,benchmarks,pretrain} "$work/make_tables_results/" 2>/dev/null || true
rm -rf "$tables_clone"/{data,results,logs,.snakemake}
timed snakemake_table1 "$tables_clone" env PATH="$tables_clone/.venv/bin:$PATH" snakemake results/table1.csv
cp "$tables_clone/results/table1.md" "$work/table1.md" 2>/dev/null || true

if [ -z "${SKIP_TEST:-}" ]; then
  test_clone=$(fresh_clone test)
  timed make_test "$test_clone" make test
  tail -3 "$work/make_test.log" > "$work/make_test.tail"
fi

cat "$out"
