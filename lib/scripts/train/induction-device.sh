#!/usr/bin/env bash
# Table 2 (lesson 11) on a machine with many CPU cores (the lent device machines: 16 cores, no
# Node.js of their own): the training runs in parallel within a deadline, or the evaluation
# sharded over the cores, resumable across calls. Run from the repository root with lib/dist and
# lib/build built and `node` on the PATH:
#
#   bash lib/scripts/train/induction-device.sh train [SECONDS]        (default 500)
#       Mamba and Mamba-2 seeds 0, 1, 2 (lr 1e-3) and the Transformer++ (seed 0) at lr 1e-3 and
#       2e-4, eight processes of 2 threads, each stopped at the deadline (`--time-limit`) and
#       resumed by the next call from the state it left.
#   bash lib/scripts/train/induction-device.sh eval [SECONDS] [MAX_LENGTH]   (500, 32768)
#       Every run of models/ at lengths 2^6 ... MAX_LENGTH, 128 examples each: each Mamba and
#       Mamba-2 run in 4 shards of 32 examples, each Transformer++ run in 2 shards of 64, one process per shard
#       (at most 16), lengths in increasing order; a shard still running at the deadline is
#       stopped and keeps the lengths it finished; then the merge.
#
# The runs write where `npm run train -- induction` writes by default (datasets/checkpoints/induction
# and .train/induction, in this copy of the tree), so that their records name the plain commands.
# State: if .device/induction.tgz exists (what an earlier call returned), both folders are replaced
# by its contents; otherwise the records in this copy are cleared and the runs start afresh.
# Results: $OUT/induction.tgz (both folders) and $OUT/log.txt.
set -uo pipefail
phase="${1:-train}"
seconds="${2:-500}"
max_length="${3:-32768}"
out="${OUT:-/tmp/induction-device-out}"
records=datasets/checkpoints/induction
work=.train/induction
logs=/tmp/induction-device
script=lib/build/train/induction.js
mkdir -p "$out" "$logs"
log="$out/log.txt"
rm -rf "$work"
if [ -f .device/induction.tgz ]; then
  rm -rf "$records"
  tar xzf .device/induction.tgz
else
  rm -rf "$records/runs" "$records/models" "$records/parts" "$records/extrapolation.json"
fi
mkdir -p "$records" "$work"
cores=$(nproc)
{
  echo "== $(date -u +%FT%TZ) induction-device.sh $phase $seconds $max_length on $cores cores, node $(node --version)"
  if [ "$phase" = train ]; then
    for model in mamba mamba2; do
      for seed in 0 1 2; do
        node $script --phase train --model "$model" --seed "$seed" --threads 2 --time-limit "$seconds" --resume >"$logs/$model-$seed.txt" 2>&1 &
      done
    done
    for lr in 0.001 0.0002; do
      node $script --phase train --model transformer --lr "$lr" --seed 0 --threads 2 --time-limit "$seconds" --resume >"$logs/transformer-$lr.txt" 2>&1 &
    done
    wait
    tail -n 3 "$logs"/mamba-*.txt "$logs"/mamba2-*.txt "$logs"/transformer-*.txt
  elif [ "$phase" = eval ]; then
    lengths=64
    l=128
    while [ "$l" -le "$max_length" ]; do lengths="$lengths,$l"; l=$((l * 2)); done
    rm -rf "$records/parts"
    for dir in "$records"/models/*/; do
      run=$(basename "$dir")
      if [[ "$run" == mamba-* || "$run" == mamba2-* ]]; then shards="0 32 64 96"; size=32; else shards="0 64"; size=64; fi
      for from in $shards; do
        timeout "$seconds" node $script --phase eval --run "$run" --lengths "$lengths" --examples 128 --from "$from" --to $((from + size)) >"$logs/eval-$run-$from.txt" 2>&1 &
      done
    done
    wait
    tail -q -n 2 "$logs"/eval-*.txt
    node $script --phase merge
  else
    echo "phase must be train or eval (got $phase)"
    exit 2
  fi
  echo "== $(date -u +%FT%TZ) done"
} 2>&1 | tee "$log"
tar czf "$out/induction.tgz" "$records" "$work"
ls -la "$out"
