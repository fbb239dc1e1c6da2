/**
 * `npm run generate` (lib/src/cli/generate.ts), run as a child process from lib's build (`npm run
 * build` first, as `npm test` does) with a GPT-NeoX-style tokenizer.json written here: it prints
 * mambaGenerate's greedy continuation, names a missing file or the flag of a bad value before
 * loading anything.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Tokenizer } from "@huggingface/tokenizers";
import { Rng, initMamba, mambaGenerate, saveMambaCheckpoint } from "../../../lib/src/index";

const SCRIPT = path.resolve(__dirname, "../../../lib/dist/cli/generate.js");
const dir = mkdtempSync(path.join(os.tmpdir(), "mamba-generate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A byte-level BPE tokenizer.json in the format of GPT-NeoX's (which Mamba uses), 33 tokens. */
function tokenizerJson(): object {
  const vocab: Record<string, number> = {};
  [..."abcdefghijklmnopqrstuvwxyzĠ.,"].forEach((c, i) => (vocab[c] = i));
  Object.assign(vocab, { he: 29, ll: 30, hell: 31, Ġw: 32 });
  const byteLevel = {
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ["h e", "l l", "he ll", "Ġ w"],
    },
  };
}

describe("npm run generate", () => {
  const model = initMamba({ vocab_size: 33, hidden_size: 16, num_hidden_layers: 2 }, new Rng(9));
  saveMambaCheckpoint(model, dir);
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson()));
  const tokenizer = new Tokenizer(tokenizerJson(), {});

  it("tokenizes, generates greedily and prints the continuation, tokens/s and cache bytes", () => {
    const run = spawnSync(
      process.execPath,
      [SCRIPT, "--model", dir, "--prompt", "hello world", "--max-new-tokens", "6"],
      { encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const ids = tokenizer.encode("hello world", { add_special_tokens: false }).ids;
    expect(ids).toEqual([31, 14, 32, 14, 17, 11, 3]);
    const expected =
      "hello world" +
      tokenizer.decode(mambaGenerate(model, ids, { maxNewTokens: 6, temperature: 0 }));
    expect(run.stdout).toContain(`---\n${expected}\n---`);
    expect(run.stdout).toMatch(/decode: [\d.]+ tokens\/s \(6 new tokens\)/);
    // 2 layers · 1 sequence · E = 32 channels · (k 4 + N 16) float32
    expect(run.stdout).toContain(`cache: ${2 * 32 * (4 + 16) * 4} bytes`);
  });
  it("fails with a message naming what is missing", () => {
    const run = spawnSync(
      process.execPath,
      [SCRIPT, "--model", path.join(dir, "nope"), "--prompt", "hi"],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/generate: --model: .*nope is not a folder/);
    const noTokenizer = mkdtempSync(path.join(os.tmpdir(), "mamba-generate-no-tokenizer-"));
    saveMambaCheckpoint(model, noTokenizer);
    const missing = spawnSync(
      process.execPath,
      [SCRIPT, "--model", noTokenizer, "--prompt", "hi"],
      { encoding: "utf8" },
    );
    rmSync(noTokenizer, { recursive: true, force: true });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/generate: .*tokenizer\.json is missing/);
    const usage = spawnSync(process.execPath, [SCRIPT, "--prompt", "hi"], { encoding: "utf8" });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/usage: npm run generate -- --model DIR/);
  });
  it("names the flag of a bad value, before loading anything", () => {
    for (const [flag, value, want] of [
      ["--max-new-tokens", "-5", /--max-new-tokens must be an integer in \[0, 4096\] \(got "-5"\)/],
      ["--max-new-tokens", "2.5", /--max-new-tokens must be an integer/],
      ["--temperature", "-1", /--temperature must be a number in \[0, Infinity\] \(got "-1"\)/],
      ["--top-k", "0", /--top-k must be an integer in \[1, Infinity\]/],
      ["--seed", "x", /--seed must be an integer/],
      ["--engine", "gpu", /--engine must be one of simd-threads, simd, typescript \(got "gpu"\)/],
      ["--keep", "f32", /--keep must be one of bf16, f16 \(got "f32"\)/],
    ] as const) {
      const run = spawnSync(
        process.execPath,
        [SCRIPT, "--model", dir, "--prompt", "hi", `${flag}=${value}`],
        { encoding: "utf8" },
      );
      expect(run.status, `${flag} ${value}`).toBe(1);
      expect(run.stderr).toMatch(want);
    }
  });
  it("--max-new-tokens 0 prints the prompt alone and exits 0", () => {
    const run = spawnSync(
      process.execPath,
      [SCRIPT, "--model", dir, "--prompt", "hello world", "--max-new-tokens", "0"],
      { encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("---\nhello world\n---");
    expect(run.stdout).toContain("decode: n/a tokens/s (0 new tokens)");
  });
});
