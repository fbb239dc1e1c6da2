#!/usr/bin/env node
/**
 * `npm run generate -- --model DIR --prompt "..." [--max-new-tokens N] [--temperature T]
 * [--top-k K] [--seed S] [--engine simd-threads|simd|typescript] [--keep bf16|f16]`
 *
 * Runs a Hugging Face Mamba checkpoint folder (config.json, model.safetensors, tokenizer.json;
 * e.g. `state-spaces/mamba-130m-hf`): tokenizes the prompt with `tokenizer.json` (through
 * `@huggingface/tokenizers`), reads it with one forward pass, decodes with the constant-size
 * cache, and prints the continuation, tokens per second and the cache's bytes. The engine is
 * "simd-threads" unless `--engine` says otherwise (`mambaGenerate`'s); `--keep bf16` (or f16)
 * keeps a 16-bit checkpoint's weight matrices in 16 bits (`loadMambaCheckpoint`'s `keep`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../rng";
import { loadMambaCheckpoint } from "../mamba/checkpoint";
import { mambaGenerateWithStats } from "../mamba/generate";

const USAGE =
  'usage: npm run generate -- --model DIR --prompt "text" [--max-new-tokens 40] [--temperature 0] [--top-k K] [--seed 0] [--engine simd-threads|simd|typescript] [--keep bf16|f16]';

function readJson(file: string): object {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as object;
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The number a flag holds, checked here so that a bad value is reported as the flag the user
 * typed: `integer` flags must be whole numbers, and every value must lie in [min, max].
 */
function number(
  name: string,
  value: string | undefined,
  fallback: number,
  { integer = false, min = -Infinity, max = Infinity } = {},
): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  const what = `${integer ? "an integer" : "a number"} in [${min}, ${max}]`;
  if (
    value.trim() === "" ||
    !Number.isFinite(v) ||
    (integer && !Number.isInteger(v)) ||
    v < min ||
    v > max
  )
    throw new Error(`--${name} must be ${what} (got ${JSON.stringify(value)})`);
  return v;
}

/** The value of a flag that takes one of `choices`, checked here to name the flag. */
function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value))
    throw new Error(
      `--${name} must be one of ${choices.join(", ")} (got ${JSON.stringify(value)})`,
    );
  return value as T;
}

/** Most new tokens one call generates (the decoding cost grows linearly: about a minute of a 130m model). */
const MAX_NEW_TOKENS = 4096;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      "max-new-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      seed: { type: "string" },
      engine: { type: "string" },
      keep: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.model || values.prompt === undefined) {
    console.error(USAGE);
    return 2;
  }
  const dir = values.model;
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(
      `--model: ${dir} is not a folder (a checkpoint folder holds config.json, model.safetensors and tokenizer.json)`,
    );
  const tokenizerPath = path.join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath))
    throw new Error(`${tokenizerPath} is missing (download it with the checkpoint)`);
  const maxNewTokens = number("max-new-tokens", values["max-new-tokens"], 40, {
    integer: true,
    min: 0,
    max: MAX_NEW_TOKENS,
  });
  const temperature = number("temperature", values.temperature, 0, { min: 0 });
  const topK =
    values["top-k"] === undefined
      ? undefined
      : number("top-k", values["top-k"], 0, { integer: true, min: 1 });
  const seed = number("seed", values.seed, 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const engine = oneOf("engine", values.engine, ["simd-threads", "simd", "typescript"] as const);
  const keep = oneOf("keep", values.keep, ["bf16", "f16"] as const);
  const configPath = path.join(dir, "tokenizer_config.json");
  // The tokenizer package is an ES module: loaded with import() from this CommonJS build.
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const tokenizer = new Tokenizer(
    readJson(tokenizerPath),
    existsSync(configPath) ? readJson(configPath) : {},
  );
  const t0 = performance.now();
  const model = loadMambaCheckpoint(dir, keep === undefined ? {} : { keep });
  const loadMs = performance.now() - t0;
  const prompt = tokenizer.encode(values.prompt, { add_special_tokens: false }).ids;
  if (prompt.length === 0)
    throw new Error("--prompt: the tokenizer made no tokens of it; give some text");
  const result = mambaGenerateWithStats(model, prompt, {
    maxNewTokens,
    temperature,
    ...(topK === undefined ? {} : { topK }),
    rng: new Rng(seed),
    ...(engine === undefined ? {} : { engine }),
  });
  const c = model.config;
  console.log(
    `model: ${dir} (d_model ${c.hidden_size}, ${c.num_hidden_layers} layers, vocab ${c.vocab_size}, weights ${keep ?? "float32"}), loaded in ${(loadMs / 1000).toFixed(2)} s; engine ${engine ?? "simd-threads"}`,
  );
  console.log(`prompt: ${prompt.length} tokens`);
  console.log("---");
  const continuation =
    result.tokens.length === 0
      ? ""
      : tokenizer.decode(result.tokens, { skip_special_tokens: false });
  console.log(values.prompt + continuation);
  console.log("---");
  const steps = Math.max(result.tokens.length - 1, 0);
  const prefillRate = (prompt.length / result.prefillMs) * 1000;
  const decodeRate = steps > 0 ? (steps / result.decodeMs) * 1000 : NaN;
  console.log(
    `prompt: ${prefillRate.toFixed(1)} tokens/s (one forward pass over ${prompt.length} tokens)`,
  );
  console.log(
    `decode: ${Number.isNaN(decodeRate) ? "n/a" : decodeRate.toFixed(1)} tokens/s (${result.tokens.length} new tokens)`,
  );
  console.log(`cache: ${result.cacheBytes} bytes (constant over the positions)`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`generate: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
