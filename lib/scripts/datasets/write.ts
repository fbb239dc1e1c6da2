/**
 * Writing datasets (build time only, never in the learner's lib): a file into the course's
 * `datasets/` folder and its entry (size, SHA-256, description) into `datasets/manifest.json`.
 * Used by the `make-<name>` scripts and the datasets CLI.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  DATASET_META_FILES,
  type DatasetEntry,
  checkDatasetName,
  datasetsDir,
  readManifest,
  sha256Hex,
} from "../../dist/datasets/index";
import { describe } from "../../dist/validate";

/**
 * Writes a dataset file and records it in the manifest (size, SHA-256, description), keeping the
 * manifest's entries sorted by name. Used by the `make-<name>` scripts and the datasets CLI.
 */
export function writeDataset(
  name: string,
  bytes: Uint8Array,
  description: string,
  dir?: string,
): DatasetEntry {
  const checked = checkDatasetName("writeDataset", name);
  if (DATASET_META_FILES.includes(checked)) {
    throw new Error(
      `writeDataset: argument 'name': ${checked} is reserved for the folder's documentation`,
    );
  }
  if (typeof description !== "string" || description.trim() === "") {
    throw new Error(
      `writeDataset: argument 'description' must be a non-empty one-line description, got ${describe(description)}`,
    );
  }
  const root = dir ?? datasetsDir();
  writeFileSync(path.join(root, checked), bytes);
  return recordDataset(checked, description, root);
}

/** Adds or refreshes the manifest entry of a file already in the datasets folder. */
export function recordDataset(name: string, description: string, dir?: string): DatasetEntry {
  const checked = checkDatasetName("recordDataset", name);
  const root = dir ?? datasetsDir();
  const file = path.join(root, checked);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new Error(`recordDataset: argument 'name': no file ${file}`);
  }
  const bytes = readFileSync(file);
  const manifest = readManifest(root);
  const entry: DatasetEntry = {
    sha256: sha256Hex(bytes),
    bytes: bytes.length,
    description: description.trim(),
  };
  const files: Record<string, DatasetEntry> = { ...manifest.files, [checked]: entry };
  const sorted: Record<string, DatasetEntry> = {};
  for (const key of Object.keys(files).sort()) sorted[key] = files[key];
  writeFileSync(
    path.join(root, "manifest.json"),
    JSON.stringify({ files: sorted }, null, 2) + "\n",
  );
  return entry;
}
