/**
 * mambaForward (lib/src/mamba/forward.ts, running the one model definition of model.ts) against the
 * float64 Mamba written from the equations in tests/helpers/mamba-reference.ts, within float32
 * tolerance; token, option and width errors.
 */
import { describe, expect, it } from "vitest";
import { mambaForward, mambaMixer } from "../../../lib/src/index";
import { MAMBA_TOKENS, mambaReferenceLogits, tinyMamba } from "../../helpers/mamba-reference";
import { relErr } from "../../helpers/reference";

describe("mambaForward", () => {
  it("matches a float64 implementation written from the equations (float32 tolerance)", () => {
    const model = tinyMamba();
    const want = mambaReferenceLogits(model, MAMBA_TOKENS).flat(2);
    for (const scan of ["reference", "fast"] as const) {
      const got = mambaForward(model, MAMBA_TOKENS, { scan });
      expect(got.shape).toEqual([2, 12, 37]);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relErr(got.data, want)).toBeLessThan(1e-5);
    }
  });
  it("accepts an Int32Array tensor like number[][] and refuses bad tokens and options", () => {
    const model = tinyMamba();
    const a = mambaForward(model, MAMBA_TOKENS);
    const b = mambaForward(model, { shape: [2, 12], data: Int32Array.from(MAMBA_TOKENS.flat()) });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(() => mambaForward(model, [[0, 37]])).toThrow(
      /mambaForward: argument 'tokens' must be token ids in \[0, 37\)/,
    );
    expect(() => mambaForward(model, [[0, 1], [2]])).toThrow(
      /mambaForward: argument 'tokens' must be number\[\]\[\] with rows of equal length/,
    );
    expect(() => mambaForward(model, [[0.5]])).toThrow(
      /mambaForward: argument 'tokens' must be a batch of integer ids/,
    );
    expect(() =>
      mambaForward(model, { shape: [2, 2], data: new Float32Array(4) } as never),
    ).toThrow(/mambaForward: argument 'tokens' must be \{ shape: \[b, l\], data: Int32Array \}/);
    expect(() => mambaForward(model, MAMBA_TOKENS, { scan: "gpu" as never })).toThrow(
      /mambaForward: argument 'options.scan'/,
    );
    expect(() => mambaForward(model, MAMBA_TOKENS, { speed: 1 } as never)).toThrow(
      /mambaForward: argument 'options' must be an options object \{ scan\?, variant\? \} \(got an unknown key "speed"; the keys are/,
    );
    expect(() =>
      mambaForward({ ...model, config: { ...model.config, state_size: 0 } }, MAMBA_TOKENS),
    ).toThrow(/mambaForward: argument 'model.config.state_size'/);
    const broken = { config: model.config, params: new Map(model.params) };
    broken.params.delete("backbone.layers.1.mixer.D");
    expect(() => mambaForward(broken, MAMBA_TOKENS)).toThrow(
      /mambaForward: argument 'model.params' must hold every tensor of the config \(got no "backbone.layers.1.mixer.D"/,
    );
  });
  it("the mixer alone refuses a hidden state of the wrong width", () => {
    const model = tinyMamba();
    expect(() => mambaMixer(model, 0, { shape: [1, 3, 5], data: new Float32Array(15) })).toThrow(
      /mambaMixer: argument 'u' must be a tensor of shape \[\*, \*, 24\]/,
    );
    expect(() => mambaMixer(model, 2, { shape: [1, 3, 24], data: new Float32Array(72) })).toThrow(
      /mambaMixer: argument 'layer'/,
    );
  });
});
