/**
 * The eigenvalue kernel behind `eig.ts` (and the SSM stability report), on a row-major float64
 * A (n, n) that the caller has checked.
 *
 * The algorithm is the classical one for dense nonsymmetric matrices: reduce A to upper Hessenberg
 * form H = S⁻¹ A S by Gaussian elimination with pivoting (a similarity, so the eigenvalues are
 * kept), then run the Francis double-shift QR iteration on H until it splits into 1 × 1 and 2 × 2
 * blocks, whose eigenvalues are read off directly (EISPACK's `elmhes` + `hqr`; Golub & Van Loan
 * §7.5). A 2 × 2 matrix uses the closed form λ = tr/2 ± √((tr/2)² − det). Cost O(n³); meant for n
 * up to a few hundred.
 */

/** Eigenvalues as real and imaginary parts; complex ones come in conjugate pairs. */
export interface Eigenvalues {
  re: Float64Array;
  im: Float64Array;
}

/**
 * The n eigenvalues of a checked row-major A (n, n), sorted by decreasing real part (then
 * decreasing imaginary part).
 */
export function eigvalsRaw(a: ArrayLike<number>, n: number): Eigenvalues {
  let pairs: [number, number][];
  if (n === 0) pairs = [];
  else if (n === 1) pairs = [[a[0], 0]];
  else if (n === 2) pairs = eig2x2(a[0], a[1], a[2], a[3]);
  else pairs = hessenbergQr(a, n);
  pairs.sort((p, q) => q[0] - p[0] || q[1] - p[1]);
  return { re: Float64Array.from(pairs, (p) => p[0]), im: Float64Array.from(pairs, (p) => p[1]) };
}

/** Eigenvalues of [[a, b], [c, d]]: λ = m ± √(m² − det) with m = (a + d)/2, computed stably. */
function eig2x2(a: number, b: number, c: number, d: number): [number, number][] {
  const m = 0.5 * (a + d);
  const h = 0.5 * (a - d);
  // m² − det = h² + b c, which avoids cancellation when a ≈ d.
  const disc = h * h + b * c;
  if (disc >= 0) {
    const s = Math.sqrt(disc);
    // The root of larger magnitude first, the other from the product det = λ₁ λ₂ when safe.
    const big = m >= 0 ? m + s : m - s;
    const det = a * d - b * c;
    const small = big !== 0 ? det / big : m - s;
    return [
      [big, 0],
      [small, 0],
    ];
  }
  const s = Math.sqrt(-disc);
  return [
    [m, s],
    [m, -s],
  ];
}

/** elmhes + hqr on a copy of a (n, n), 1-indexed internally to follow the classical listing. */
function hessenbergQr(data: ArrayLike<number>, n: number): [number, number][] {
  const a: number[][] = [];
  for (let i = 0; i <= n; i++) a.push(new Array<number>(n + 1).fill(0));
  for (let i = 1; i <= n; i++) for (let j = 1; j <= n; j++) a[i][j] = data[(i - 1) * n + (j - 1)];

  // Reduction to upper Hessenberg form by stabilised elementary similarity transforms.
  for (let m = 2; m < n; m++) {
    let x = 0;
    let i = m;
    for (let j = m; j <= n; j++) {
      if (Math.abs(a[j][m - 1]) > Math.abs(x)) {
        x = a[j][m - 1];
        i = j;
      }
    }
    if (i !== m) {
      for (let j = m - 1; j <= n; j++) [a[i][j], a[m][j]] = [a[m][j], a[i][j]];
      for (let j = 1; j <= n; j++) [a[j][i], a[j][m]] = [a[j][m], a[j][i]];
    }
    if (x !== 0) {
      for (let r = m + 1; r <= n; r++) {
        let y = a[r][m - 1];
        if (y !== 0) {
          y /= x;
          a[r][m - 1] = y;
          for (let j = m; j <= n; j++) a[r][j] -= y * a[m][j];
          for (let j = 1; j <= n; j++) a[j][m] += y * a[j][r];
        }
      }
    }
  }
  for (let i = 3; i <= n; i++) for (let j = 1; j < i - 1; j++) a[i][j] = 0;

  // Francis double-shift QR on the Hessenberg matrix.
  const wr = new Array<number>(n + 1).fill(0);
  const wi = new Array<number>(n + 1).fill(0);
  let anorm = 0;
  for (let i = 1; i <= n; i++)
    for (let j = Math.max(i - 1, 1); j <= n; j++) anorm += Math.abs(a[i][j]);
  let nn = n;
  let t = 0;
  let p = 0;
  let q = 0;
  let r = 0;
  let s = 0;
  let w = 0;
  let x = 0;
  let y = 0;
  let z = 0;
  while (nn >= 1) {
    let its = 0;
    let l: number;
    do {
      // Look for a single small subdiagonal element to split the matrix.
      for (l = nn; l >= 2; l--) {
        s = Math.abs(a[l - 1][l - 1]) + Math.abs(a[l][l]);
        if (s === 0) s = anorm;
        if (Math.abs(a[l][l - 1]) + s === s) {
          a[l][l - 1] = 0;
          break;
        }
      }
      x = a[nn][nn];
      if (l === nn) {
        // One root found.
        wr[nn] = x + t;
        wi[nn] = 0;
        nn--;
      } else {
        y = a[nn - 1][nn - 1];
        w = a[nn][nn - 1] * a[nn - 1][nn];
        if (l === nn - 1) {
          // Two roots found: the eigenvalues of the trailing 2 × 2 block.
          p = 0.5 * (y - x);
          q = p * p + w;
          z = Math.sqrt(Math.abs(q));
          x += t;
          if (q >= 0) {
            z = p + (p >= 0 ? Math.abs(z) : -Math.abs(z));
            wr[nn - 1] = wr[nn] = x + z;
            if (z !== 0) wr[nn] = x - w / z;
            wi[nn - 1] = wi[nn] = 0;
          } else {
            wr[nn - 1] = wr[nn] = x + p;
            wi[nn - 1] = -z;
            wi[nn] = z;
          }
          nn -= 2;
        } else {
          if (its === 60) {
            throw new Error(
              `eigvals: argument 'A': the QR iteration did not converge after ${its} iterations`,
            );
          }
          if (its === 10 || its === 20 || its === 40) {
            // Exceptional shift.
            t += x;
            for (let i = 1; i <= nn; i++) a[i][i] -= x;
            s = Math.abs(a[nn][nn - 1]) + Math.abs(a[nn - 1][nn - 2]);
            y = x = 0.75 * s;
            w = -0.4375 * s * s;
          }
          its++;
          // Form the shift and look for two consecutive small subdiagonal elements.
          let m: number;
          for (m = nn - 2; m >= l; m--) {
            z = a[m][m];
            r = x - z;
            s = y - z;
            p = (r * s - w) / a[m + 1][m] + a[m][m + 1];
            q = a[m + 1][m + 1] - z - r - s;
            r = a[m + 2][m + 1];
            s = Math.abs(p) + Math.abs(q) + Math.abs(r);
            p /= s;
            q /= s;
            r /= s;
            if (m === l) break;
            const u = Math.abs(a[m][m - 1]) * (Math.abs(q) + Math.abs(r));
            const v =
              Math.abs(p) * (Math.abs(a[m - 1][m - 1]) + Math.abs(z) + Math.abs(a[m + 1][m + 1]));
            if (u + v === v) break;
          }
          for (let i = m + 2; i <= nn; i++) {
            a[i][i - 2] = 0;
            if (i !== m + 2) a[i][i - 3] = 0;
          }
          // The double QR step on rows l..nn and columns m..nn.
          for (let k = m; k <= nn - 1; k++) {
            if (k !== m) {
              p = a[k][k - 1];
              q = a[k + 1][k - 1];
              r = 0;
              if (k !== nn - 1) r = a[k + 2][k - 1];
              x = Math.abs(p) + Math.abs(q) + Math.abs(r);
              if (x !== 0) {
                p /= x;
                q /= x;
                r /= x;
              }
            }
            const root = Math.sqrt(p * p + q * q + r * r);
            s = p >= 0 ? root : -root;
            if (s !== 0) {
              if (k === m) {
                if (l !== m) a[k][k - 1] = -a[k][k - 1];
              } else {
                a[k][k - 1] = -s * x;
              }
              p += s;
              x = p / s;
              y = q / s;
              z = r / s;
              q /= p;
              r /= p;
              for (let j = k; j <= nn; j++) {
                p = a[k][j] + q * a[k + 1][j];
                if (k !== nn - 1) {
                  p += r * a[k + 2][j];
                  a[k + 2][j] -= p * z;
                }
                a[k + 1][j] -= p * y;
                a[k][j] -= p * x;
              }
              const mmin = nn < k + 3 ? nn : k + 3;
              for (let i = l; i <= mmin; i++) {
                p = x * a[i][k] + y * a[i][k + 1];
                if (k !== nn - 1) {
                  p += z * a[i][k + 2];
                  a[i][k + 2] -= p * r;
                }
                a[i][k + 1] -= p * q;
                a[i][k] -= p;
              }
            }
          }
        }
      }
    } while (l < nn - 1);
  }
  const out: [number, number][] = [];
  for (let i = 1; i <= n; i++) out.push([wr[i], wi[i]]);
  return out;
}
