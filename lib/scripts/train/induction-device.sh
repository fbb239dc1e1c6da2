#!/usr/bin/env bash
# The induction-heads runs (lib/scripts/train/induction.ts: Table 2 of lesson 11, Mamba-2 of
# lesson 13) in parallel on a machine with more cores (the lent device machines: 16 cores, no
# Node.js of their own), in time-limited slices that resume where the last slice stopped, as
# table1-device.sh does for Table 1:
#
#   bash lib/scripts/train/induction-device.sh stage [DIR [MODEL:SEED[:LR] ...]]
#       here: copies what the runs need into DIR (default .induction-device): the built library
#       and scripts (lib/dist, lib/build, lib/package.json), the committed records and models
#       (datasets/checkpoints/induction/runs and models), the resumable state of the runs named
#       (default: those `train` trains by default; from .train/induction, about 2 MB a run),
#       this script with device-common.sh and this machine's Node.js (xz-compressed, so that the
#       runs there use the same version: the runs are deterministic per version). Build first
#       (npm run build).
#   bash DIR/induction-device.sh train DIR SECONDS [MODEL:SEED[:LR] ...]
#       there, from the folder that holds DIR: trains the runs at once (default: the Transformer++
#       seeds 1 and 2 at lr 2e-4, which never left the plateau in their 69,571 steps), the machine's cores
#       shared out as threads, each run for at most SECONDS of training (`--time-limit`; resumed
#       from DIR's state), and packs DIR/out and DIR/work into $OUT/induction.tar.gz (or
#       DIR/induction.tar.gz without $OUT), cut into induction.tar.gz.part-00, -01, ... when over
#       the 15 MiB a lent machine sends back per file.
#   [MIN_LENGTH=L] [SHARD=E] bash DIR/induction-device.sh eval DIR SECONDS MAX_LENGTH RUN ...
#       there: scores each named run (a folder of DIR/out/models) at lengths MIN_LENGTH (default
#       2^6), twice that, … MAX_LENGTH, 128 examples each, in shards of SHARD examples (default 32
#       for Mamba and Mamba-2, 64 for the Transformer++), one process per shard and as many at once
#       as there are cores, in the order given; every shard stops SECONDS after the start and keeps
#       the lengths it finished. Packs as `train` does.
#   bash lib/scripts/train/induction-device.sh import TARBALL
#       here (TARBALL, or its first part ….part-00): unpacks what came back into
#       datasets/checkpoints/induction (records, logs, models, parts) and .train/induction (the
#       state the next slice resumes from); then
#       `npm run train -- induction --phase merge` writes extrapolation.json.
set -euo pipefail
# shellcheck source=device-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/device-common.sh"

RUNS_DEFAULT="transformer:1:0.0002 transformer:2:0.0002"

stage() {
  local dir="${1:-.induction-device}"
  shift || true
  local runs="${*:-$RUNS_DEFAULT}" spec model seed lr state
  [ -f lib/build/train/induction.js ] || {
    echo "induction-device.sh stage: build first (npm run build)" >&2
    exit 1
  }
  mkdir -p "$dir/out" "$dir/work"
  rm -rf "$dir/out/runs" "$dir/out/models" "$dir/work"/*
  stage_lib "$dir" lib/scripts/train/induction-device.sh
  cp -a datasets/checkpoints/induction/runs datasets/checkpoints/induction/models "$dir/out/"
  # only the named runs' state: the others' would only make the folder larger
  for spec in $runs; do
    IFS=: read -r model seed lr <<<"$spec"
    for state in .train/induction/"$model"-L*-lr"${lr:-0.001}"-*s"$seed"; do
      [ -d "$state" ] && cp -a "$state" "$dir/work/"
    done
  done
  ls "$dir/work"
  du -sh "$dir"
}

pack() {
  local dir="$1" dest="${OUT:-$1}/induction.tar.gz"
  pack_slice "$dest" "$dir" out work console
}

train() {
  local dir="$1" seconds="$2"
  shift 2
  local runs="${*:-$RUNS_DEFAULT}" node spec model seed lr pids=() failed=0 pid
  node=/tmp/induction-node
  unpack_node "$dir" "$node"
  local count threads
  count=$(echo $runs | wc -w)
  threads=$(($(nproc) / count))
  [ "$threads" -ge 1 ] || threads=1
  mkdir -p "$dir/console"
  echo "node $("$node" --version), $(nproc) cores, $count runs of $threads threads, at most $seconds s of training each"
  for spec in $runs; do
    IFS=: read -r model seed lr <<<"$spec"
    lr="${lr:-0.001}"
    # The run stops by itself after SECONDS and writes its record; the hard stop only guards
    # the slice's end against a hung process.
    timeout -k 10 "$((seconds + 120))" "$node" "$dir/lib/build/train/induction.js" --phase train \
      --model "$model" --seed "$seed" --lr "$lr" --eval-every 100 --save-every 100 \
      --threads "$threads" --out "$dir/out" --work "$dir/work" --resume --time-limit "$seconds" \
      >"$dir/console/train-$model-s$seed-lr$lr.txt" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  tail -n 2 "$dir"/console/train-*.txt
  pack "$dir"
  echo "runs failed: $failed"
  [ "$failed" = 0 ]
}

evaluate() {
  local dir="$1" seconds="$2" max_length="$3"
  shift 3
  local node run from size lengths l jobs=""
  node=/tmp/induction-node
  unpack_node "$dir" "$node"
  lengths="${MIN_LENGTH:-64}"
  l=$((lengths * 2))
  while [ "$l" -le "$max_length" ]; do
    lengths="$lengths,$l"
    l=$((l * 2))
  done
  mkdir -p "$dir/console"
  for run in "$@"; do
    if [[ "$run" == transformer-* ]]; then size="${SHARD:-64}"; else size="${SHARD:-32}"; fi
    [ $((128 % size)) = 0 ] || {
      echo "induction-device.sh eval: SHARD must divide the 128 examples (got $size)" >&2
      exit 2
    }
    for from in $(seq 0 "$size" $((128 - size))); do jobs="$jobs$run $from $((from + size))\n"; done
  done
  # as many shards at once as there are cores, in the order given; each stops at the deadline
  local end=$(($(date +%s) + seconds))
  export node dir lengths end
  printf "$jobs" | xargs -P "$(nproc)" -n 3 sh -c '
    left=$((end - $(date +%s)))
    [ "$left" -gt 5 ] || exit 0
    timeout "$left" "$node" "$dir/lib/build/train/induction.js" --phase eval --run "$0" \
      --lengths "$lengths" --examples 128 --from "$1" --to "$2" --out "$dir/out" \
      >"$dir/console/eval-$0-$1.txt" 2>&1
    true' # a shard stopped at the deadline keeps its lengths
  tail -q -n 1 "$dir"/console/eval-*.txt
  pack "$dir"
}

import() {
  import_slice "$1" datasets/checkpoints/induction .train/induction
}

cmd="${1:-}"
shift || true
case "$cmd" in
stage) stage "$@" ;;
train) train "$@" ;;
eval) evaluate "$@" ;;
import) import "$@" ;;
*)
  echo "usage: induction-device.sh stage [DIR [MODEL:SEED[:LR] ...]] | train DIR SECONDS [MODEL:SEED[:LR] ...] | eval DIR SECONDS MAX_LENGTH RUN ... | import TARBALL" >&2
  exit 1
  ;;
esac
