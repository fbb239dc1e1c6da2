#!/usr/bin/env bash
# The Table 1 runs (lib/scripts/train/table1.ts) in parallel on a machine with more cores, in
# time-limited slices that resume where the last slice stopped:
#
#   bash lib/scripts/train/table1-device.sh stage [DIR]
#       here: copies what the runs need into DIR (default .table1-device): the built library and
#       scripts (lib/dist, lib/build, lib/package.json; no node_modules: the training needs none),
#       the records (datasets/checkpoints/table1/runs), the resumable state (.train/table1), this
#       script with device-common.sh and this machine's Node.js (xz-compressed). Build first
#       (npm run build).
#   bash DIR/table1-device.sh run DIR SECONDS [VARIANT:SEED[:TASK] ...]
#       there, from the folder that holds DIR: trains every run (default: the four variants x
#       seeds 0-2 on selective copying, and the plain-copying control with the LTI, seed 0) at
#       once, one thread each, each for at most SECONDS of training (then it scores its test set
#       and writes its record), writes the summary, and packs DIR/out and DIR/work into
#       $OUT/table1.tar.gz (or DIR/table1.tar.gz without $OUT; cut into parts ….part-00, -01, ...
#       when over the 15 MiB a lent machine sends back per file).
#   bash lib/scripts/train/table1-device.sh import TARBALL
#       here (TARBALL, or its first part ….part-00): unpacks what a run brought back into datasets/checkpoints/table1 (records, logs,
#       kept models, table1.json) and .train/table1 (the state the next slice resumes from).
#
# Every run uses the Table 1 recipe (TABLE1_RECIPE in table1.ts: batch 32, constant lr 3e-3),
# the plateau rule with a window of 1000 steps and a cap of 8000 steps; seed 0 of each keeps its
# model (datasets/checkpoints/table1/<variant>, the control in copying-lti).
set -euo pipefail
# shellcheck source=device-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/device-common.sh"

RUNS_DEFAULT="mamba:0 mamba:1 mamba:2 s6:0 s6:1 s6:2 lti:0 lti:1 lti:2 mamba-lti:0 mamba-lti:1 mamba-lti:2 lti:0:copying"

stage() {
  local dir="${1:-.table1-device}"
  [ -f lib/build/train/table1.js ] || { echo "table1-device.sh stage: build first (npm run build)" >&2; exit 1; }
  mkdir -p "$dir/out/runs" "$dir/work"
  stage_lib "$dir" lib/scripts/train/table1-device.sh
  cp -a datasets/checkpoints/table1/runs/. "$dir/out/runs/"
  [ -d .train/table1 ] && cp -a .train/table1/. "$dir/work/"
  du -sh "$dir"
}

run() {
  local dir="$1" seconds="$2"
  shift 2
  local runs="${*:-$RUNS_DEFAULT}"
  local pids=() spec variant seed task keep
  mkdir -p "$dir/console"
  local node=/tmp/table1-node
  unpack_node "$dir" "$node"
  echo "node $("$node" --version), $(nproc) cores, $(echo $runs | wc -w) runs of at most $seconds s of training"
  for spec in $runs; do
    IFS=: read -r variant seed task <<<"$spec"
    task="${task:-selective}"
    # A run its rule has stopped (solved or flat) is done: resuming it would only score it again.
    local record="$dir/out/runs/$task-L256-$variant-lr0.003-b32-wd0-default-s$seed.json"
    if [ -f "$record" ] && grep -qE '"stopped": "(solved|flat)"' "$record"; then
      echo "$task $variant seed $seed: finished ($(grep -oE '"stopped": "[a-z ]+"' "$record"))"
      continue
    fi
    keep=()
    if [ "$seed" = 0 ]; then
      if [ "$task" = copying ]; then keep=(--keep "copying-$variant"); else keep=(--keep "$variant"); fi
    fi
    # A run stops by itself after SECONDS of training and then scores its test set (about 20 s
    # on one core); the hard stop only guards the slice's end against a hung process.
    timeout -k 10 "$((seconds + 90))" "$node" "$dir/lib/build/train/table1.js" --phase train --task "$task" --variant "$variant" \
      --seed "$seed" --lr 0.003 --window 1000 --max-steps 8000 "${keep[@]}" \
      --out "$dir/out" --work "$dir/work" --threads 1 --resume --time-limit "$seconds" \
      >"$dir/console/$task-$variant-s$seed.txt" 2>&1 &
    pids+=($!)
  done
  local failed=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  "$node" "$dir/lib/build/train/table1.js" --phase summary --out "$dir/out" || failed=$((failed + 1))
  tail -n 2 "$dir"/console/*.txt
  local dest="${OUT:-$dir}/table1.tar.gz"
  pack_slice "$dest" "$dir" out work console
  echo "runs failed: $failed"
  [ "$failed" = 0 ]
}

import() {
  import_slice "$1" datasets/checkpoints/table1 .train/table1
}

cmd="${1:-}"
shift || true
case "$cmd" in
stage) stage "$@" ;;
run) run "$@" ;;
import) import "$@" ;;
*)
  echo "usage: table1-device.sh stage [DIR] | run DIR SECONDS [VARIANT:SEED[:TASK] ...] | import TARBALL" >&2
  exit 1
  ;;
esac
