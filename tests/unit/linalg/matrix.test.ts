/**
 * matmul, matvec, transpose, identity and norm (lib/src/linalg/matrix.ts) against explicit dot
 * products and the norms' definitions, written here with nested arrays.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import { at, maxDiff, mul, randomMatrix, rows } from "../../helpers/reference";
import { Rng, identity, matmul, matvec, norm, tensor, transpose } from "../../../lib/src/index";

describe("matmul / matvec / transpose / identity", () => {
  it("matches explicit dot products on random shapes (tol 1e-13)", () => {
    const rng = new Rng(1);
    for (const [r, k, c] of [
      [1, 1, 1],
      [2, 3, 4],
      [5, 5, 5],
      [7, 2, 3],
    ]) {
      const a = randomMatrix(rng, r, k);
      const b = randomMatrix(rng, k, c);
      const got = matmul(tensor(a), tensor(b));
      expect(got.shape).toEqual([r, c]);
      expect(maxDiff(rows(got), mul(a, b))).toBeLessThan(1e-13);
    }
  });

  it("matvec equals matmul with a column, identity is neutral, transpose swaps indices", () => {
    const rng = new Rng(2);
    const a = randomMatrix(rng, 4, 3);
    const x = [rng.normal(), rng.normal(), rng.normal()];
    const y = matvec(tensor(a), tensor(x));
    const ref = mul(
      a,
      x.map((v) => [v]),
    );
    ref.forEach((row, i) => expect(Math.abs(row[0] - y.data[i])).toBeLessThan(1e-14));
    expect(rows(matmul(identity(4), tensor(a)))).toEqual(a);
    const t = transpose(tensor(a));
    expect(t.shape).toEqual([3, 4]);
    a.forEach((row, i) => row.forEach((v, j) => expect(at(t, j, i)).toBe(v)));
  });

  it("float32 in both arguments gives float32, otherwise float64", () => {
    const a32 = tensor([[1, 2]], "float32");
    const b32 = tensor([[3], [4]], "float32");
    expect(matmul(a32, b32).data).toBeInstanceOf(Float32Array);
    expect(matmul(a32, tensor([[3], [4]])).data).toBeInstanceOf(Float64Array);
    expect(identity(2, "float32").data).toBeInstanceOf(Float32Array);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => matmul(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow(/matmul: argument 'B'/);
    expect(() => matmul(tensor([1, 2]), tensor([[1], [2]]))).toThrow(/matmul: argument 'A'/);
    expect(() => matmul(rawTensor([[NaN]]), tensor([[1]]))).toThrow(/matmul: argument 'A'.*finite/);
    expect(() => matvec(tensor([[1, 2]]), tensor([1, 2, 3]))).toThrow(/matvec: argument 'x'/);
    expect(() => identity(-1)).toThrow(/identity: argument 'n'/);
    expect(() => identity(1.5)).toThrow(/identity: argument 'n'/);
  });
});

describe("norms", () => {
  it("match their definitions", () => {
    const rng = new Rng(3);
    const a = randomMatrix(rng, 4, 6);
    const colSums = a[0].map((_, j) => a.reduce((s, row) => s + Math.abs(row[j]), 0));
    const rowSums = a.map((row) => row.reduce((s, v) => s + Math.abs(v), 0));
    const fro = Math.sqrt(a.flat().reduce((s, v) => s + v * v, 0));
    const A = tensor(a);
    expect(norm(A, "1")).toBeCloseTo(Math.max(...colSums), 13);
    expect(norm(A, "inf")).toBeCloseTo(Math.max(...rowSums), 13);
    expect(norm(A, "fro")).toBeCloseTo(fro, 13);
    expect(norm(A, "max")).toBe(Math.max(...a.flat().map(Math.abs)));
    expect(norm(tensor([3, -4]))).toBeCloseTo(5, 14);
  });

  it("the Frobenius norm does not overflow on huge entries", () => {
    expect(norm(tensor([[3e200, 4e200]]), "fro") / 5e200).toBeCloseTo(1, 14);
  });

  it("rejects an unknown kind", () => {
    expect(() => norm(tensor([[1]]), "2" as never)).toThrow(/norm: argument 'kind'/);
  });
});
