#!/usr/bin/env bash
# What the device routes (table1-device.sh, induction-device.sh) share, sourced by both: the
# staged Node.js, and unpacking what a slice brings back. `stage` copies this file beside the
# script it stages.

# Copies lib's build and this file and `script` into DIR (stage_lib DIR SCRIPT), with the Node.js
# that runs here, compressed (about 24 MB), so that the runs there use the same version (the
# models are deterministic per version) whether or not that machine has one.
stage_lib() {
  local dir="$1" script="$2" node
  mkdir -p "$dir/lib"
  rm -rf "$dir/lib/dist" "$dir/lib/build"
  cp -a lib/dist lib/build lib/package.json "$dir/lib/"
  cp "$script" lib/scripts/train/device-common.sh "$dir/"
  node="$(readlink -f "$(command -v node)")"
  if [ ! -f "$dir/node.xz" ] || [ "$node" -nt "$dir/node.xz" ]; then
    xz -T0 -6 -c "$node" >"$dir/node.xz"
  fi
}

# Unpacks DIR's Node.js to FILE (unpack_node DIR FILE): xz, else Python's lzma.
unpack_node() {
  local dir="$1" node="$2"
  if command -v xz >/dev/null; then
    xz -dc "$dir/node.xz" >"$node"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$dir/node.xz" "$node"
  fi
  chmod +x "$node"
}

# Packs DIR's ITEMS into DEST, a gzipped tar (pack_slice DEST DIR ITEM ...); one that would be
# over the 15 MiB a lent machine sends back per file is cut into DEST.part-00, DEST.part-01, ...
pack_slice() {
  local dest="$1" dir="$2"
  shift 2
  tar czf "$dest" -C "$dir" "$@"
  if [ "$(stat -c %s "$dest")" -gt $((15 << 20)) ]; then
    split -b 15M -d "$dest" "$dest.part-"
    rm "$dest"
  fi
  ls -l "$dest"*
}

# Unpacks TARBALL's out/ into RECORDS and work/ into WORK (import_slice TARBALL RECORDS WORK);
# TARBALL may be the first of the parts pack_slice cut (….part-00: the rest are read after it).
import_slice() {
  local tarball="$1" records="$2" work="$3" tmp
  tmp="$(mktemp -d)"
  if [[ "$tarball" == *.part-00 ]]; then
    cat "${tarball%-00}"-* | tar xz -C "$tmp"
  else
    tar xzf "$tarball" -C "$tmp"
  fi
  mkdir -p "$records" "$work"
  cp -a "$tmp/out/." "$records/"
  cp -a "$tmp/work/." "$work/"
  rm -rf "$tmp"
  echo "imported $tarball: $(ls "$records"/runs/*.json | wc -l) records"
}
