/**
 * Saving and reading checkpoint files safely (lib/src/checkpoint/write-files.ts and the checks
 * of file-errors.ts and safetensors.ts), on real files in temporary folders: a save that fails
 * part way leaves the old checkpoint loadable and no half-written file; an invalid model creates
 * nothing; odd paths return with an error; a model.safetensors that is not a regular file, is far
 * too large, or lists a tensor twice is refused. The failures that need another process (a file
 * size limit, a path that once never returned) run lib's build (`npm run build`, as `npm test`
 * does) in a child process.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  unlinkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type MambaModel,
  type TransformerModel,
  Rng,
  initMamba,
  initTransformer,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  parseSafetensors,
  readSafetensors,
  saveMambaCheckpoint,
  saveTransformerCheckpoint,
  serializeSafetensors,
  writeConfigJson,
  writeSafetensors,
} from "../../../lib/src/index";

const LIB = path.resolve(__dirname, "../../../lib/dist/index.js");
const root = mkdtempSync(path.join(os.tmpdir(), "checkpoint-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => path.join(root, `case-${counter++}`);

// Big enough that model.safetensors (about 110 kB) passes a 16 kB file size limit.
const mamba = (seed: number): MambaModel =>
  initMamba({ vocab_size: 64, hidden_size: 32, num_hidden_layers: 2 }, new Rng(seed));
const llama = (seed: number): TransformerModel =>
  initTransformer(
    {
      vocab_size: 64,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    },
    new Rng(seed),
  );
const savers = {
  mamba: {
    make: mamba,
    save: (m: unknown, dir: string) => saveMambaCheckpoint(m as MambaModel, dir),
    load: loadMambaCheckpoint,
    fn: "saveMambaCheckpoint",
    loadFn: "loadMambaCheckpoint",
  },
  llama: {
    make: llama,
    save: (m: unknown, dir: string) => saveTransformerCheckpoint(m as TransformerModel, dir),
    load: loadTransformerCheckpoint,
    fn: "saveTransformerCheckpoint",
    loadFn: "loadTransformerCheckpoint",
  },
};

/** The files of a folder with their bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = readFileSync(path.join(dir, f)).toString("hex");
  return out;
}

/** Runs `code` (with `lib` = lib's build) in a child node, under bash `limits`; its output. */
function child(code: string, limits = "", timeoutMs = 60_000) {
  expect(existsSync(LIB), `${LIB} is missing: run npm run build`).toBe(true);
  const script = `const lib = require(${JSON.stringify(LIB)});\n${code}`;
  const r = spawnSync("bash", ["-c", `${limits} exec "$0" -e "$1"`, process.execPath, script], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

describe.each(Object.entries(savers))("%s checkpoints", (kind, s) => {
  it("a save that hits the file size limit (ulimit -f 16: EFBIG) leaves the old checkpoint whole", () => {
    const dir = fresh();
    s.save(s.make(1), dir);
    const before = snapshot(dir);
    const r = child(
      `const dir = ${JSON.stringify(dir)};
       const m = lib.${s.loadFn}(dir);
       for (const t of m.params.values()) t.data[0] += 1;
       try { lib.${s.fn}(m, dir); console.log("saved"); }
       catch (e) { console.log(e.message); }`,
      "ulimit -f 16;",
    );
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^${s.fn}: argument 'dir' must be a path that can be written: file '.*model\\.safetensors': cannot be written \\(EFBIG`,
      ),
    );
    // Nothing changed: no truncated model.safetensors, no new config.json, no temporary file.
    expect(snapshot(dir)).toEqual(before);
    expect(() => s.load(dir)).not.toThrow();
  });

  it("a save that fails in a folder it created removes the folders again", () => {
    const parent = fresh();
    const dir = path.join(parent, "a", "b");
    const source = fresh();
    s.save(s.make(7), source);
    const r = child(
      `const m = lib.${s.loadFn}(${JSON.stringify(source)});
       try { lib.${s.fn}(m, ${JSON.stringify(dir)}); console.log("saved"); }
       catch (e) { console.log(e.message); }`,
      "ulimit -f 16;",
    );
    expect(r.out).toMatch(/cannot be written \(EFBIG/);
    expect(existsSync(parent)).toBe(false);
  });

  it("an invalid model (a NaN weight) is refused before anything is created or changed", () => {
    const bad = s.make(2);
    const name = [...bad.params.keys()][1];
    bad.params.get(name)!.data[3] = NaN;
    const dir = path.join(fresh(), "new");
    expect(() => s.save(bad, dir)).toThrow(
      new RegExp(
        `^${s.fn}: argument 'model\\.params' must hold finite values \\(got NaN in "${name.replace(/\./g, "\\.")}" at flat index 3\\)`,
      ),
    );
    expect(existsSync(path.dirname(dir))).toBe(false);
    const old = fresh();
    s.save(s.make(3), old);
    const before = snapshot(old);
    expect(() => s.save(bad, old)).toThrow(/finite values/);
    expect(snapshot(old)).toEqual(before);
  });

  it("replaces the tensors before the config, and leaves no temporary file when a rename fails", () => {
    // config.json is a non-empty folder, so it cannot be replaced: the tensors already were.
    const dir = fresh();
    mkdirSync(path.join(dir, "config.json"), { recursive: true });
    writeFileSync(path.join(dir, "config.json", "keep"), "x");
    const model = s.make(4);
    expect(() => s.save(model, dir)).toThrow(
      new RegExp(
        `^${s.fn}: argument 'dir' must be a path that can be written: file '.*config\\.json': cannot be replaced \\(.*\\); model\\.safetensors already were$`,
      ),
    );
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]);
    expect(statSync(path.join(dir, "config.json")).isDirectory()).toBe(true);
  });

  it("saving under /proc returns with an error (Node's recursive mkdir never does there)", () => {
    const make =
      kind === "mamba"
        ? "lib.initMamba({ vocab_size: 8, hidden_size: 4, num_hidden_layers: 1 }, new lib.Rng(1))"
        : "lib.initTransformer({ vocab_size: 8, hidden_size: 4, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1 }, new lib.Rng(1))";
    const r = child(
      `try { lib.${s.fn}(${make}, "/proc/self/mamba-ts/ckpt"); console.log("saved"); }
       catch (e) { console.log(e.message); }`,
      "",
      20_000,
    );
    expect(r.signal, "the save did not return").toBeNull();
    expect(r.out).toMatch(
      new RegExp(
        `^${s.fn}: argument 'dir' must be a folder path: file '/proc/self/mamba-ts/ckpt': cannot be created \\(`,
      ),
    );
    expect(() => s.save(s.make(5), "")).toThrow(
      new RegExp(`^${s.fn}: argument 'dir' must be a non-empty folder path \\(got ""\\)$`),
    );
  });

  it("refuses a model.safetensors or config.json that is a link to /dev/zero, a pipe, or far too large", () => {
    const base = fresh();
    s.save(s.make(6), base);
    const variant = (file: string, make: (p: string) => void): string => {
      const dir = fresh();
      mkdirSync(dir);
      for (const f of ["config.json", "model.safetensors"]) {
        if (f !== file) writeFileSync(path.join(dir, f), readFileSync(path.join(base, f)));
      }
      make(path.join(dir, file));
      return dir;
    };
    const where = (file: string) =>
      new RegExp(
        `^${s.loadFn}: argument 'dir' must be a valid checkpoint folder: file '.*${file.replace(".", "\\.")}': `,
      );
    // A link to /dev/zero or a pipe, read whole, would never end: those loads run in a child
    // process with a time limit, so that a regression fails instead of hanging the tests.
    for (const file of ["model.safetensors", "config.json"]) {
      const zero = variant(file, (p) => symlinkSync("/dev/zero", p));
      const pipe = variant(file, (p) => expect(spawnSync("mkfifo", [p]).status).toBe(0));
      const r = child(
        `for (const dir of ${JSON.stringify([zero, pipe])}) {
           try { lib.${s.loadFn}(dir); console.log("loaded"); } catch (e) { console.log(e.message); }
         }`,
        "",
        20_000,
      );
      expect(r.signal, "a load did not return").toBeNull();
      const [zeroMessage, pipeMessage] = r.out.trim().split("\n");
      expect(zeroMessage).toMatch(where(file));
      expect(zeroMessage).toMatch(/is a character device, not a regular file$/);
      expect(pipeMessage).toMatch(where(file));
      expect(pipeMessage).toMatch(/is a named pipe, not a regular file$/);
      const folder = variant(file, (p) => mkdirSync(p));
      expect(() => s.load(folder)).toThrow(where(file));
      expect(() => s.load(folder)).toThrow(/is a folder, not a regular file$/);
    }
    // A sparse 300 MB file: refused from its size, before reading, for a model of 100 kB.
    const huge = variant("model.safetensors", (p) => {
      writeFileSync(p, "");
      truncateSync(p, 300_000_000);
    });
    expect(() => s.load(huge)).toThrow(where("model.safetensors"));
    expect(() => s.load(huge)).toThrow(
      /is 300000000 bytes, more than the \d+ bytes such a file may hold here$/,
    );
  });
});

describe("saveTrainingState", () => {
  it("returns with an error under /proc too (its folder is made the same way)", () => {
    const r = child(
      `const m = lib.initMamba({ vocab_size: 8, hidden_size: 4, num_hidden_layers: 1 }, new lib.Rng(1));
       const state = { step: 1, optimizer: lib.createAdamW(m.params), rng: new lib.Rng(2) };
       try { lib.saveTrainingState(state, m, "/proc/self/mamba-ts/state"); console.log("saved"); }
       catch (e) { console.log(e.message); }`,
      "",
      20_000,
    );
    expect(r.signal, "the save did not return").toBeNull();
    expect(r.out).toMatch(
      /^saveTrainingState: argument 'dir' must be a folder path: file '\/proc\/self\/mamba-ts\/state': cannot be created \(/,
    );
  });
});

describe("the training state's files", () => {
  const setup = (dir: string): string =>
    `const m = lib.initMamba({ vocab_size: 8, hidden_size: 4, num_hidden_layers: 1 }, new lib.Rng(1));
     const dir = ${JSON.stringify(dir)};`;
  it("a save that hits the file size limit leaves the old state whole and loadable", () => {
    const dir = fresh();
    const first = child(
      `${setup(dir)}
       lib.saveTrainingState({ step: 3, optimizer: lib.createAdamW(m.params), rng: new lib.Rng(2) }, m, dir);
       console.log("saved");`,
    );
    expect(first.out.trim()).toBe("saved");
    const before = snapshot(dir);
    // A model large enough that its moments exceed 16 blocks of 512 bytes.
    const r = child(
      `const big = lib.initMamba({ vocab_size: 64, hidden_size: 32, num_hidden_layers: 2 }, new lib.Rng(1));
       const dir = ${JSON.stringify(dir)};
       try { lib.saveTrainingState({ step: 9, optimizer: lib.createAdamW(big.params), rng: new lib.Rng(2) }, big, dir); console.log("saved"); }
       catch (e) { console.log(e.message); }`,
      "ulimit -f 16;",
    );
    expect(r.out).toMatch(
      /^saveTrainingState: .*optimizer\.safetensors.*cannot be written \(EFBIG/,
    );
    expect(snapshot(dir)).toEqual(before);
    const loaded = child(
      `${setup(dir)}
       console.log(lib.loadTrainingState(dir, m).step);`,
    );
    expect(loaded.out.trim()).toBe("3");
  });
  it("a training_state.json that is a link to /dev/zero is refused, not read forever", () => {
    const dir = fresh();
    child(
      `${setup(dir)}
       lib.saveTrainingState({ step: 1, optimizer: lib.createAdamW(m.params), rng: new lib.Rng(2) }, m, dir);`,
    );
    unlinkSync(path.join(dir, "training_state.json"));
    symlinkSync("/dev/zero", path.join(dir, "training_state.json"));
    const r = child(
      `${setup(dir)}
       try { lib.loadTrainingState(dir, m); console.log("loaded"); } catch (e) { console.log(e.message); }`,
      "",
      20_000,
    );
    expect(r.signal, "the load did not return").toBeNull();
    expect(r.out).toMatch(
      /^loadTrainingState: argument 'dir' must be a folder holding a training state: file '.*training_state\.json': is a character device, not a regular file/,
    );
  });
});

describe("safetensors and config.json helpers", () => {
  it("refuse a header that lists a tensor twice (JSON.parse would keep the last)", () => {
    const bytes = serializeSafetensors({ a: { shape: [2], data: new Float32Array([1, 2]) } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)).trimEnd();
    const entry = header.slice(header.indexOf('"a"'), header.lastIndexOf("}"));
    // Both entries cover the same 8 bytes; the second spelled with an escape.
    const twice = header.replace(entry, `${entry},${entry.replace('"a"', '"\\u0061"')}`);
    const padded = twice + " ".repeat((8 - (twice.length % 8)) % 8);
    const out = new Uint8Array(8 + padded.length + 8);
    new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
    out.set(new TextEncoder().encode(padded), 8);
    out.set(bytes.subarray(8 + headerLength), 8 + padded.length);
    expect(() => parseSafetensors(out, "x.safetensors")).toThrow(
      /^parseSafetensors: argument 'bytes' must be a valid safetensors file: file 'x\.safetensors': tensor "a" is listed twice in the header$/,
    );
    // A nested "a" (inside __metadata__) is not a repeat.
    const nested = serializeSafetensors(
      { a: { shape: [1], data: new Float32Array([1]) } },
      { a: "b" },
    );
    expect([...parseSafetensors(nested).tensors.keys()]).toEqual(["a"]);
  });
  it("writeSafetensors and writeConfigJson replace a file whole, leaving no temporary file", () => {
    const dir = fresh();
    const file = path.join(dir, "t.safetensors");
    writeSafetensors(file, { w: { shape: [3], data: new Float32Array([1, 2, 3]) } });
    writeSafetensors(file, { w: { shape: [1], data: new Float32Array([7]) } });
    expect(Array.from(readSafetensors(file).get("w")!.data)).toEqual([7]);
    writeConfigJson(path.join(dir, "c.json"), { a: 1 });
    writeConfigJson(path.join(dir, "c.json"), { b: 2 });
    expect(JSON.parse(readFileSync(path.join(dir, "c.json"), "utf8"))).toEqual({ b: 2 });
    expect(readdirSync(dir).sort()).toEqual(["c.json", "t.safetensors"]);
    expect(() => readSafetensors(file, { maxBytes: 20 })).toThrow(
      /^readSafetensors: argument 'path' must be a valid safetensors file: file '.*t\.safetensors': is \d+ bytes, more than the 20 bytes/,
    );
  });
});
