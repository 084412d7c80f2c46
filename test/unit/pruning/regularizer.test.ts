import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
	Float64Scratch, dubRegularizer, hoyerEpsilon as codeHoyerEpsilon, hoyerSquare, hoyerSquareGradient, segmentHoyers, crossbarHoyerVariances,
} from '../../../src/pruning/regularizer';
import type { WeightMatrix } from '../../../src/hardware/matrix';
import { flat, hoyerEpsilon, vectors } from '../../helpers/testVectors';
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

/**
 * ∂L/∂w of one column segment is (∂L/∂h)·∂h/∂w: checks `grad` against the listed ∂L/∂h, each
 * element within `tolerance`·|∂h/∂w_i| (plus float32 rounding of the gradient).
 */
function chainRule(grad: ArrayLike<number>, segment: number[], dLdH: number, tolerance: number, what: string): void {
	const dHdW = hoyerSquareGradient(segment);
	for (let i = 0; i < segment.length; i++) {
		const expected = dLdH * dHdW[i];
		assert.ok(Math.abs(grad[i] - expected) <= tolerance * Math.abs(dHdW[i]) + 1e-7 * Math.abs(expected) + 1e-15, `${what}[${i}] from ∂L/∂h: ${grad[i]} vs ${expected}`);
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
		const { epsilon, tolerance, cases, atEpsilonZero } = vectors.TV6;
		assert.equal(epsilon, hoyerEpsilon);
		assert.equal(codeHoyerEpsilon, hoyerEpsilon);
		for (const { v, h, exact } of cases) {
			if (exact) assert.equal(hoyerSquare(v), h, `${v}`);
			else assert.ok(Math.abs(hoyerSquare(v) - h) <= tolerance, `${v}: ${hoyerSquare(v)} vs ${h}`);
		}
		assert.ok(Math.abs(hoyerSquare(atEpsilonZero.v, 0) - atEpsilonZero.h) <= atEpsilonZero.tolerance);
	});

	void it('TV7: gradient at ε = 0, sign(0) = 0', () => {
		for (const { v, gradient, tolerance } of vectors.TV7.cases) {
			close(hoyerSquareGradient(v, vectors.TV7.epsilon), gradient, tolerance, `[${v}]`);
		}
	});
});

void describe('D.U.B. variance regularizer (docs/method.md §4.2, TV8–TV10, TV18)', () => {
	void it('TV8: q = 2, T = 4 (2 channels × 4 inputs), gated and ungated gradient', () => {
		const { T, q, lambda, input, expected, tolerance } = vectors.TV8;
		const m = matrix(input);
		const options = { crossbarSize: T, slices: q, lambda };
		close(segmentHoyers(m, options), expected.h, tolerance.h, 'h');
		close(crossbarHoyerVariances(m, options), [expected.variance], tolerance.variance, 'v');
		const { loss, grad } = gradientOf(m, options);
		assert.ok(Math.abs(loss - lambda * expected.variance) <= tolerance.variance);
		close(grad, flat(expected.gradient), tolerance.gradient, 'gated ∂L/∂M');
		// The chain rule with the listed ∂v/∂h: gated, only row 1 (above the mean) gets λ·∂v/∂h·∂h/∂w.
		input.forEach((row, o) => chainRule(grad.subarray(o * T, (o + 1) * T), row, lambda * expected.dVdHGated[o], lambda * tolerance.dVdH, `row ${o}`));
		const ungated = gradientOf(m, { ...options, gate: false }).grad;
		close(ungated.subarray(0, T), expected.ungatedGradientRow0, tolerance.ungatedGradientRow0, 'ungated row 0');
		chainRule(ungated.subarray(0, T), input[0], lambda * expected.dVdH[0], lambda * tolerance.dVdH, 'ungated row 0');
		close(ungated.subarray(T), Array.from(grad.subarray(T)), 1e-7, 'ungated row 1');
	});

	void it('TV9: padded output channels count with h = 0 (A4)', () => {
		const { T, q, lambda, input, expected, tolerance } = vectors.TV9;
		const m = matrix(input);
		const options = { crossbarSize: T, slices: q, lambda };
		// segmentHoyers lists the real channels; the padded ones are the h = 0 that follow.
		close(segmentHoyers(m, options), expected.h.slice(0, input.length), tolerance.h, 'h');
		assert.deepEqual(expected.h.slice(input.length), new Array(T / q - input.length).fill(0));
		close(crossbarHoyerVariances(m, options), [expected.variance], tolerance.variance, 'v');
		const { grad } = gradientOf(m, options);
		close(grad.subarray(0, T), expected.gradientRow0, tolerance.gradientRow0, 'row 0');
		close(grad.subarray(T), expected.gradientRow1, tolerance.gradientRow1, 'row 1');
		// Both real rows are above the mean (lowered by the padding), so the gate passes λ·∂v/∂h·∂h/∂w.
		input.forEach((row, o) => chainRule(grad.subarray(o * T, (o + 1) * T), row, lambda * expected.dVdH[o], lambda * tolerance.dVdH, `row ${o}`));

		// Excluding the padding: variance of the two real channels only, with n − 1 = 1.
		const h = Array.from(segmentHoyers(m, options));
		const mean = (h[0] + h[1]) / 2;
		const v = (h[0] - mean) ** 2 + (h[1] - mean) ** 2;
		close(crossbarHoyerVariances(m, { ...options, excludePaddedChannels: true }), [v], 1e-9, 'v without padding');
		const excluded = gradientOf(m, { ...options, excludePaddedChannels: true }).grad;
		assert.deepEqual(Array.from(excluded.subarray(T)), new Array(T).fill(0)); // row 1 is now below the mean
	});

	void it('TV10: conv weight (2,2,1,2) as M = [[1,0,2,1],[1,2,0,3]], T = 2, q = 1', () => {
		const { T, q, lambda, expected, tolerance } = vectors.TV10;
		const m = matrix(expected.matrix);
		const options = { crossbarSize: T, slices: q, lambda };
		// h[o, b] at index o·blocks + b; the vector lists them per tile b.
		const blocks = expected.tileHoyers.length;
		const perSegment = expected.matrix.flatMap((_, o) => expected.tileHoyers.map((tile) => tile[o]));
		assert.equal(segmentHoyers(m, options).length, expected.matrix.length * blocks);
		close(segmentHoyers(m, options), perSegment, tolerance.tileHoyers, 'h');
		close(crossbarHoyerVariances(m, options), expected.tileVariances, tolerance.tileVariances, 'v');
		const { loss, grad } = gradientOf(m, options);
		assert.ok(Math.abs(loss / lambda - expected.lossOverLambda) <= tolerance.lossOverLambda, `${loss}`);
		// The gradient is listed reshaped to W (OIHW), which is M's row-major order.
		close(grad, flat(expected.gradient), tolerance.gradient, 'gated ∂L/∂M');
	});

	void it('TV18: Hoyer values and variance of the TV11 tile (its Group-Lasso norms document a baseline this tool does not train)', () => {
		const { T, q, input, expected, tolerance } = vectors.TV18;
		const m = matrix(input);
		close(segmentHoyers(m, { crossbarSize: T }), expected.h, tolerance, 'h');
		close(crossbarHoyerVariances(m, { crossbarSize: T, slices: q }), [expected.variance], tolerance, 'v');
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
	const inputBlocks = Math.ceil(K / T);
	const h = (o: number, b: number) => (o < O ? naiveHoyer(w, K, o, b, T, 1e-6) : 0);
	const coefficient = Array.from({ length: crossbarSize * R }, () => new Array<number>(inputBlocks).fill(0));
	let loss = 0;
	for (let a = 0; a < crossbarSize; a++) {
		for (let b = 0; b < inputBlocks; b++) {
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
