import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
	Float64Scratch, dubRegularizer, hoyerSquare, hoyerSquareGradient, segmentHoyers, tileHoyerVariances,
} from '../../../src/pruning/regularizer';
import type { WeightMatrix } from '../../../src/pruning/weightMatrix';
import { randomInt, randomNormal, seededRandom } from './random';

function matrix(rows: number[][]): WeightMatrix {
	return { values: Float32Array.from(rows.flat()), outChannels: rows.length, fanIn: rows[0].length };
}

function close(actual: ArrayLike<number>, expected: readonly number[], tolerance: number, what = ''): void {
	assert.equal(actual.length, expected.length, `${what} length`);
	for (let i = 0; i < expected.length; i++) {
		assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (± ${tolerance})`);
	}
}

/** The layer's gradient as a fresh Float32Array (zeros + the regularizer's contribution). */
function gradientOf(m: WeightMatrix, options: Parameters<typeof dubRegularizer>[1]): { loss: number; grad: Float32Array } {
	const grad = new Float32Array(m.values.length);
	const loss = dubRegularizer(m, options, grad);
	return { loss, grad };
}

void describe('Hoyer-Square (docs/method.md §4.1, TV6–TV7)', () => {
	void it('TV6: values with ε = 1e-6', () => {
		const cases: [number[], number][] = [
			[[1, 0, 0, 0], 0.999999000001],
			[[1, 1, 1, 1], 3.99999900000025],
			[[1, 1, 0, 0], 1.9999990000005],
			[[3, 4, 0, 0], 1.9599999216],
			[[1, 2, 3, 4], 3.3333332222],
			[[0.5, -0.5, 0.5, 0], 2.999996000005],
		];
		for (const [v, h] of cases) assert.ok(Math.abs(hoyerSquare(v) - h) < 1e-10, `${v}: ${hoyerSquare(v)} vs ${h}`);
		assert.equal(hoyerSquare([0, 0, 0, 0]), 0);
		assert.ok(Math.abs(hoyerSquare([3, 4, 0, 0], 0) - 1.96) < 1e-15);
	});

	void it('TV7: gradient at ε = 0, sign(0) = 0', () => {
		close(hoyerSquareGradient([3, 4, 0, 0], 0), [0.0896, -0.0672, 0, 0], 1e-12, '[3,4,0,0]');
		close(hoyerSquareGradient([3, 4, 0.5, -1], 0), [0.0185034, -0.1912018, 0.5427664, -0.4379138], 1e-7, '[3,4,.5,−1]');
	});
});

void describe('D.U.B. variance regularizer (docs/method.md §4.2, TV8–TV10, TV18)', () => {
	void it('TV8: q = 2, T = 4 (2 channels × 4 inputs), gated and ungated gradient', () => {
		const m = matrix([[3, 4, 0, 0], [1, 2, 3, 4]]);
		const options = { crossbarSize: 4, slices: 2, lambda: 1 };
		close(segmentHoyers(m, options), [1.9599999, 3.3333332], 1e-7, 'h');
		close(tileHoyerVariances(m, options), [0.9430222], 1e-7, 'v');
		const { loss, grad } = gradientOf(m, options);
		assert.ok(Math.abs(loss - 0.9430222) < 1e-7);
		close(grad, [0, 0, 0, 0, 0.61037, 0.305185, 3.05e-8, -0.305185], 1e-6, 'gated ∂L/∂M');
		const ungated = gradientOf(m, { ...options, gate: false }).grad;
		close(ungated.subarray(0, 4), [-0.123051, 0.092288, 0, 0], 1e-6, 'ungated row 0');
		close(ungated.subarray(4), Array.from(grad.subarray(4)), 1e-7, 'ungated row 1');
	});

	void it('TV9: padded output channels count with h = 0 (A4)', () => {
		const m = matrix([[3, 4, 0, 0], [1, 0, 0, 0]]);
		const options = { crossbarSize: 4, lambda: 1 };
		close(segmentHoyers(m, options), [1.96, 0.999999], 1e-7, 'h');
		close(tileHoyerVariances(m, options), [0.8837331], 1e-7, 'v');
		const { grad } = gradientOf(m, options);
		close(grad.subarray(0, 4), [0.0728747, -0.054656, 0, 0], 1e-7, 'row 0');
		close(grad.subarray(4), [3.5e-7, 0, 0, 0], 1e-8, 'row 1');
		// ∂v/∂h = [.813333, .173333, −.493333, −.493333]: row 1's gate passes .173333·∂h/∂w.
		assert.ok(Math.abs(grad[4] - 0.173333 * hoyerSquareGradient([1, 0, 0, 0])[0]) < 1e-9);

		// Excluding the padding: variance of the two real channels only, with n − 1 = 1.
		const h = [1.9599999216, 0.999999000001];
		const mean = (h[0] + h[1]) / 2;
		const v = (h[0] - mean) ** 2 + (h[1] - mean) ** 2;
		close(tileHoyerVariances(m, { ...options, excludePaddedChannels: true }), [v], 1e-9, 'v without padding');
		const excluded = gradientOf(m, { ...options, excludePaddedChannels: true }).grad;
		assert.deepEqual(Array.from(excluded.subarray(4)), [0, 0, 0, 0]); // row 1 is now below the mean
	});

	void it('TV10: conv weight (2,2,1,2) as M = [[1,0,2,1],[1,2,0,3]], T = 2, q = 1', () => {
		const m = matrix([[1, 0, 2, 1], [1, 2, 0, 3]]);
		const options = { crossbarSize: 2, lambda: 1 };
		// h[o, b], index o·2 + b: tile b=0 holds [1.0, 1.8], tile b=1 holds [1.8, 1.0].
		close(segmentHoyers(m, options), [1, 1.8, 1.8, 1], 1e-5, 'h');
		close(tileHoyerVariances(m, options), [0.32, 0.32], 1e-5, 'v');
		const { loss, grad } = gradientOf(m, options);
		assert.ok(Math.abs(loss - 0.6400003) < 1e-7, `${loss}`);
		// Reshaped to W: W[0,0]=[0,0], W[0,1]=[−.192,.384], W[1,0]=[.384,−.192], W[1,1]=[0,0].
		close(grad, [0, 0, -0.192, 0.384, 0.384, -0.192, 0, 0], 1e-6, 'gated ∂L/∂M');
	});

	void it('TV18: Hoyer values and variance of the TV11 tile', () => {
		const m = matrix([[0.05, 0.5, -0.3, 0.02], [0.9, -0.08, 0.04, 0.01], [0.2, 0.3, -0.06, 0.7], [0.03, -0.02, 0.6, 0.01]]);
		close(segmentHoyers(m, { crossbarSize: 4 }), [2.2073426, 1.2967837, 2.5458587, 1.2053093], 1e-7, 'h');
		close(tileHoyerVariances(m, { crossbarSize: 4 }), [0.4427842], 1e-7, 'v');
	});

	void it('adds to the gradient it is given instead of overwriting it', () => {
		const m = matrix([[3, 4, 0, 0], [1, 2, 3, 4]]);
		const options = { crossbarSize: 4, slices: 2, lambda: 1 };
		const base = gradientOf(m, options).grad;
		const grad = new Float32Array(8).fill(1);
		dubRegularizer(m, options, grad, new Float64Scratch());
		close(grad, Array.from(base, (g) => Math.fround(1 + g)), 0, 'accumulated');
	});

	void it('rejects crossbars with a single output channel (no variance)', () => {
		assert.throws(() => dubRegularizer(matrix([[1, 2]]), { crossbarSize: 2, slices: 2, lambda: 1 }), /at least 2 output channels/);
	});
});

// ---- Independent reference: the reference's torch pipeline written out naively in float64
// (pad M to whole tiles, Hoyer per 1×T segment, unfold R rows, unbiased var, gate).

interface Naive {
	loss: number;
	/** Gate coefficients ∂L/∂h after the gate, per (o, b) of the padded grid. */
	coefficient: number[][];
}

function naiveHoyer(w: number[], fanIn: number, o: number, b: number, T: number, eps: number): number {
	let s1 = 0;
	let s2 = 0;
	for (let k = b * T; k < Math.min(fanIn, (b + 1) * T); k++) {
		s1 += Math.abs(w[o * fanIn + k]);
		s2 += w[o * fanIn + k] ** 2;
	}
	return (s1 * s1) / (s2 + eps);
}

function naiveDub(w: number[], O: number, K: number, T: number, q: number, lambda: number, gate: boolean, exclude: boolean): Naive {
	const R = Math.floor(T / q);
	const crossbarSize = Math.ceil(O / R);
	const tileCols = Math.ceil(K / T);
	const h = (o: number, b: number) => (o < O ? naiveHoyer(w, K, o, b, T, 1e-6) : 0);
	const coefficient = Array.from({ length: crossbarSize * R }, () => new Array<number>(tileCols).fill(0));
	let loss = 0;
	for (let a = 0; a < crossbarSize; a++) {
		for (let b = 0; b < tileCols; b++) {
			const rows = [];
			for (let o = a * R; o < (a + 1) * R; o++) if (!exclude || o < O) rows.push(o);
			if (rows.length < 2) continue;
			const hs = rows.map((o) => h(o, b));
			const mean = hs.reduce((s, x) => s + x, 0) / hs.length;
			loss += (lambda * hs.reduce((s, x) => s + (x - mean) ** 2, 0)) / (hs.length - 1);
			rows.forEach((o, i) => {
				const dLdh = (lambda * 2 * (hs[i] - mean)) / (hs.length - 1);
				coefficient[o][b] = gate ? (dLdh > 0 ? dLdh : 0) : dLdh;
			});
		}
	}
	return { loss, coefficient };
}

/** Σ_{o,b} c[o,b]·h[o,b](w): its derivative is the gated gradient when c is frozen at w₀. */
function surrogate(w: number[], O: number, K: number, T: number, coefficient: number[][]): number {
	let sum = 0;
	for (let o = 0; o < O; o++) {
		for (let b = 0; b < Math.ceil(K / T); b++) sum += coefficient[o][b] * naiveHoyer(w, K, o, b, T, 1e-6);
	}
	return sum;
}

void describe('D.U.B. regularizer against a naive reference and finite differences', () => {
	const random = seededRandom(4242);
	const cases = Array.from({ length: 24 }, (_, i) => {
		const T = [4, 8, 16, 32, 64][i % 5];
		const q = [1, 2, 4][randomInt(random, 0, 2)];
		const R = T / q;
		return { T, q, O: randomInt(random, 1, 2 * R + 3), K: randomInt(random, 1, 2 * T + 7), seed: 500 + i, exclude: i % 3 === 2 };
	});

	void it('loss and gradient equal the naive pipeline; gated gradient = d/dw of Σ gate(∂L/∂h)·h', () => {
		for (const c of cases) {
			const values = randomNormal(c.O * c.K, c.seed, 0.1);
			// A few exact zeros: autograd's sign(0) = 0 gives them no gradient.
			for (let i = 0; i < values.length; i += 7) values[i] = 0;
			const m = { values, outChannels: c.O, fanIn: c.K };
			const where = `${c.O}×${c.K}, T=${c.T}, q=${c.q}, exclude=${c.exclude}`;
			const w = Array.from(values);
			for (const gate of [true, false]) {
				const lambda = 0.37;
				const naive = naiveDub(w, c.O, c.K, c.T, c.q, lambda, gate, c.exclude);
				if (c.T / c.q < 2 && !c.exclude) continue;
				const { loss, grad } = gradientOf(m, { crossbarSize: c.T, slices: c.q, lambda, gate, excludePaddedChannels: c.exclude });
				assert.ok(Math.abs(loss - naive.loss) <= 1e-9 * (1 + Math.abs(naive.loss)), `${where}: loss ${loss} vs ${naive.loss}`);
				// Central differences of the surrogate (gated) or of the loss itself (ungated).
				const f = gate ? (x: number[]) => surrogate(x, c.O, c.K, c.T, naive.coefficient) : (x: number[]) => naiveDub(x, c.O, c.K, c.T, c.q, lambda, false, c.exclude).loss;
				for (let i = 0; i < w.length; i++) {
					if (w[i] === 0) {
						assert.equal(grad[i], 0, `${where}: gradient at an exact zero`);
						continue;
					}
					const step = 1e-6;
					const plus = w.slice();
					const minus = w.slice();
					plus[i] += step;
					minus[i] -= step;
					const numeric = (f(plus) - f(minus)) / (2 * step);
					assert.ok(Math.abs(grad[i] - numeric) <= 1e-5 + 1e-4 * Math.abs(numeric), `${where} gate=${gate} [${i}]: ${grad[i]} vs ${numeric}`);
				}
			}
		}
	});

	void it('the gate keeps only columns denser than their tile mean', () => {
		const values = randomNormal(20 * 40, 3);
		const m = { values, outChannels: 20, fanIn: 40 };
		const gated = gradientOf(m, { crossbarSize: 8, lambda: 1 }).grad;
		const ungated = gradientOf(m, { crossbarSize: 8, lambda: 1, gate: false }).grad;
		const h = segmentHoyers(m, { crossbarSize: 8 });
		for (let o = 0; o < 20; o++) {
			for (let b = 0; b < 5; b++) {
				const tileStart = Math.floor(o / 8) * 8;
				const rows = Math.min(20, tileStart + 8) - tileStart;
				let mean = 0;
				for (let r = tileStart; r < tileStart + rows; r++) mean += h[r * 5 + b];
				mean /= 8; // padded rows count as 0
				for (let k = b * 8; k < (b + 1) * 8; k++) {
					const i = o * 40 + k;
					assert.equal(gated[i], h[o * 5 + b] > mean ? ungated[i] : 0);
				}
			}
		}
	});
});
