/**
 * The D.U.B. regularizer (dub-method.md §4; REPO:c1_Hoyer_and_variance_class.py:compute_loss_with_gate,
 * gradient_gate) and the Group-Lasso group norms (§8.3; REPO:c2_GroupLassoForXB_class.py:compute_loss),
 * as closed-form loss + gradient on the matrix M, so any engine can add them to its backprop
 * gradients. Sums run in float64 (the reference runs in float32 on the GPU).
 */

import type { WeightMatrix } from './tiles';
import { checkMatrix, tileGeometry, tileGrid } from './tiles';

/** ε in the Hoyer denominator: the reference's `+ 0.000001` (§4.1). */
export const hoyerEpsilon = 1e-6;

/** A growable float64 scratch buffer, reused across calls. */
export class Float64Scratch {
	private buffer = new Float64Array(0);

	/** A view of `length` elements (contents unspecified). */
	view(length: number): Float64Array {
		if (this.buffer.length < length) {
			this.buffer = new Float64Array(Math.max(length, Math.ceil(this.buffer.length * 1.5)));
		}
		return this.buffer.subarray(0, length);
	}
}

const sharedScratch = new Float64Scratch();

/** Hoyer-Square of one column segment (§4.1): h = S1²/(S2 + ε), S1 = Σ|v|, S2 = Σv². 0 for all-zero v. */
export function hoyerSquare(values: ArrayLike<number>, epsilon = hoyerEpsilon): number {
	let s1 = 0;
	let s2 = 0;
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		s1 += Math.abs(v);
		s2 += v * v;
	}
	return (s1 * s1) / (s2 + epsilon);
}

/**
 * ∂h/∂v_i = 2·S1·sign(v_i)/S2' − 2·S1²·v_i/S2'², S2' = S2 + ε, sign(0) = 0 as autograd's abs (§4.1).
 * Writes into `out` (or a new array) and returns it.
 */
export function hoyerSquareGradient(values: ArrayLike<number>, epsilon = hoyerEpsilon, out = new Float64Array(values.length)): Float64Array {
	let s1 = 0;
	let s2 = 0;
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		s1 += Math.abs(v);
		s2 += v * v;
	}
	const d = s2 + epsilon;
	const alpha = (2 * s1) / d;
	const beta = (2 * s1 * s1) / (d * d);
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		out[i] = Math.sign(v) * alpha - beta * v;
	}
	return out;
}

/** Geometry and switches of the D.U.B. regularizer. */
export interface DubRegularizerOptions {
	/** T: crossbar rows; each column segment is T inputs long. */
	readonly tileSize: number;
	/** q (default 1): R = T/q output channels per crossbar enter one variance. */
	readonly slices?: number;
	/** λ_var: the loss is λ·Σ_tiles v_t (a sum over tiles, not a mean; A6). */
	readonly lambda: number;
	/** Default 1e-6 (§4.1). */
	readonly epsilon?: number;
	/** Default true: the one-sided gradient gate (§4.2, A5). false: plain ∂v/∂h (the unused `compute_loss`). */
	readonly gate?: boolean;
	/**
	 * Default false (A4, reference): output channels padded past O count in the variance with
	 * h = 0. true: the variance of a partial tile runs over its real channels only.
	 */
	readonly excludePaddedChannels?: boolean;
}

/** Per column segment h[o, b] (§4.1), index o·tileCols + b; padding inputs add nothing. */
export function segmentHoyers(matrix: WeightMatrix, options: { readonly tileSize: number; readonly epsilon?: number }): Float64Array {
	checkMatrix(matrix);
	const { values, outChannels, fanIn } = matrix;
	const { tileSize } = options;
	const epsilon = options.epsilon ?? hoyerEpsilon;
	const tileCols = Math.ceil(fanIn / tileSize);
	const h = new Float64Array(outChannels * tileCols);
	for (let o = 0; o < outChannels; o++) {
		const row = o * fanIn;
		for (let b = 0; b < tileCols; b++) {
			const end = row + Math.min(fanIn, (b + 1) * tileSize);
			let s1 = 0;
			let s2 = 0;
			for (let i = row + b * tileSize; i < end; i++) {
				const v = values[i];
				s1 += Math.abs(v);
				s2 += v * v;
			}
			h[o * tileCols + b] = (s1 * s1) / (s2 + epsilon);
		}
	}
	return h;
}

/**
 * Unbiased variance of the R Hoyer values of every tile (§4.2), index a·tileCols + b.
 * The sum of these times λ is the loss.
 */
export function tileHoyerVariances(matrix: WeightMatrix, options: Omit<DubRegularizerOptions, 'lambda' | 'gate'>): Float64Array {
	const variances = new Float64Array(tileGrid(matrix.outChannels, matrix.fanIn, tileGeometry(options.tileSize, options.slices ?? 1)).count);
	runRegularizer(matrix, { ...options, lambda: 1 }, undefined, sharedScratch, variances);
	return variances;
}

/**
 * The D.U.B. loss λ·Σ_tiles var(h) of one layer; when `grad` (length O·K) is given, ADDS the
 * (gated) closed-form gradient g[o,b]·∂h/∂w to it, g = λ·2·max(h − mean, 0)/(R − 1).
 */
export function dubRegularizer(matrix: WeightMatrix, options: DubRegularizerOptions, grad?: Float32Array, scratch: Float64Scratch = sharedScratch): number {
	return runRegularizer(matrix, options, grad, scratch, undefined);
}

// One tile row (R output channels × all K) at a time: pass 1 computes S1, S2 per segment,
// pass 2 the variances and gate coefficients, pass 3 the gradient while the rows are still in
// cache. Nothing is allocated beyond the scratch (3·R·tileCols doubles).
function runRegularizer(
	matrix: WeightMatrix,
	options: DubRegularizerOptions,
	grad: Float32Array | undefined,
	scratch: Float64Scratch,
	variancesOut: Float64Array | undefined,
): number {
	checkMatrix(matrix);
	const { values, outChannels, fanIn } = matrix;
	const geometry = tileGeometry(options.tileSize, options.slices ?? 1);
	const { tileSize, channelsPerTile: R } = geometry;
	const grid = tileGrid(outChannels, fanIn, geometry);
	const tileCols = grid.tileCols;
	const lambda = options.lambda;
	const epsilon = options.epsilon ?? hoyerEpsilon;
	const gate = options.gate ?? true;
	const excludePadded = options.excludePaddedChannels ?? false;
	if (grad !== undefined && grad.length !== values.length) {
		throw new RangeError(`Gradient needs ${values.length} values, got ${grad.length}.`);
	}
	if (R < 2 && !excludePadded) {
		throw new RangeError(`The variance regularizer needs at least 2 output channels per crossbar (T/q = ${R}).`);
	}
	const segments = R * tileCols;
	const buffer = scratch.view(3 * segments);
	const s1s = buffer.subarray(0, segments);
	const s2s = buffer.subarray(segments, 2 * segments);
	const hs = buffer.subarray(2 * segments, 3 * segments);
	let loss = 0;

	for (let a = 0; a < grid.tileRows; a++) {
		const o0 = a * R;
		const real = Math.min(R, outChannels - o0);
		// Pass 1: S1, S2 and h per (channel, block).
		for (let r = 0; r < real; r++) {
			const row = (o0 + r) * fanIn;
			for (let b = 0; b < tileCols; b++) {
				const start = row + b * tileSize;
				const end = row + Math.min(fanIn, (b + 1) * tileSize);
				let s1 = 0;
				let s2 = 0;
				for (let i = start; i < end; i++) {
					const v = values[i];
					s1 += Math.abs(v);
					s2 += v * v;
				}
				const j = r * tileCols + b;
				s1s[j] = s1;
				s2s[j] = s2 + epsilon;
				hs[j] = (s1 * s1) / (s2 + epsilon);
			}
		}
		// Pass 2: per tile mean and unbiased variance; h becomes the gate coefficient g.
		const count = excludePadded ? real : R;
		for (let b = 0; b < tileCols; b++) {
			if (count < 2) {
				// A single real channel with padding excluded: no variance, no gradient.
				for (let r = 0; r < real; r++) hs[r * tileCols + b] = 0;
				if (variancesOut) variancesOut[a * tileCols + b] = 0;
				continue;
			}
			let sum = 0;
			for (let r = 0; r < real; r++) sum += hs[r * tileCols + b];
			const mean = sum / count;
			// Padded channels (h = 0) each add mean² (A4).
			let squares = (count - real) * mean * mean;
			for (let r = 0; r < real; r++) {
				const d = hs[r * tileCols + b] - mean;
				squares += d * d;
			}
			const variance = squares / (count - 1);
			loss += lambda * variance;
			if (variancesOut) variancesOut[a * tileCols + b] = variance;
			const scale = (2 * lambda) / (count - 1);
			for (let r = 0; r < real; r++) {
				const j = r * tileCols + b;
				const g = scale * (hs[j] - mean);
				// gradient_gate.backward: `grad_input.masked_fill_(grad_input <= 0.0, 0.0)`.
				hs[j] = gate && g <= 0 ? 0 : g;
			}
		}
		if (grad === undefined) {
			continue;
		}
		// Pass 3: grad += g·(2·S1·sign(w)/S2' − 2·S1²·w/S2'²) = α·sign(w) − β·w.
		for (let r = 0; r < real; r++) {
			const row = (o0 + r) * fanIn;
			for (let b = 0; b < tileCols; b++) {
				const j = r * tileCols + b;
				const g = hs[j];
				if (g === 0) continue;
				const s1 = s1s[j];
				const d = s2s[j];
				const alpha = (2 * g * s1) / d;
				const beta = (alpha * s1) / d;
				const start = row + b * tileSize;
				const end = row + Math.min(fanIn, (b + 1) * tileSize);
				for (let i = start; i < end; i++) {
					const w = values[i];
					// Branch-free sign (autograd's sign(0) = 0): random signs would mispredict a branch half the time.
					grad[i] += (+(w > 0) - +(w < 0)) * alpha - beta * w;
				}
			}
		}
	}
	return loss;
}

/** The three Group-Lasso group shapes of REPO:c2_GroupLassoForXB_class.py (§8.3). */
export type GroupLassoGroup = 'xb_tile' | 'xb_column' | 'xb_row';

/** Options of groupLassoNorms. */
export interface GroupLassoOptions {
	readonly tileSize: number;
	readonly slices?: number;
	readonly group: GroupLassoGroup;
	/** λ_g for `loss` and the gradient (default 1). */
	readonly lambda?: number;
	/** Added inside the sqrt (default 0, the reference; A14 suggests a small ε against NaN). */
	readonly epsilon?: number;
}

/** Norms of every group, their sum, and loss = λ·sum. */
export interface GroupLassoResult {
	/**
	 * ‖w_g‖₂ per group. xb_tile: tileRows × tileCols; xb_column (1 × T, one output channel):
	 * O × tileCols; xb_row (R × 1, one input across a tile's channels): tileRows × K.
	 */
	readonly norms: Float64Array;
	readonly sum: number;
	readonly loss: number;
}

/**
 * Group-Lasso norms ‖w_g‖₂ (no √size factor) for xb_tile, xb_column or xb_row groups; when
 * `grad` is given, ADDS λ·w/‖w_g‖ (0 for an all-zero group, where the reference's sqrt gives NaN).
 */
export function groupLassoNorms(matrix: WeightMatrix, options: GroupLassoOptions, grad?: Float32Array): GroupLassoResult {
	checkMatrix(matrix);
	const { values, outChannels, fanIn } = matrix;
	const geometry = tileGeometry(options.tileSize, options.slices ?? 1);
	const { tileSize, channelsPerTile: R } = geometry;
	const grid = tileGrid(outChannels, fanIn, geometry);
	const lambda = options.lambda ?? 1;
	const epsilon = options.epsilon ?? 0;
	if (grad !== undefined && grad.length !== values.length) {
		throw new RangeError(`Gradient needs ${values.length} values, got ${grad.length}.`);
	}
	const { group } = options;
	const groupCount = group === 'xb_tile' ? grid.count : group === 'xb_column' ? outChannels * grid.tileCols : grid.tileRows * fanIn;
	// Group of M[o, κ]: xb_tile (a, b), xb_column (o, b), xb_row (a, κ); a = ⌊o/R⌋, b = ⌊κ/T⌋.
	const groupBase = (o: number): number => (group === 'xb_tile' ? Math.floor(o / R) * grid.tileCols : group === 'xb_column' ? o * grid.tileCols : Math.floor(o / R) * fanIn);
	const norms = new Float64Array(groupCount);
	for (let o = 0; o < outChannels; o++) {
		const base = groupBase(o);
		const row = o * fanIn;
		for (let b = 0; b < grid.tileCols; b++) {
			const end = Math.min(fanIn, (b + 1) * tileSize);
			if (group === 'xb_row') {
				for (let k = b * tileSize; k < end; k++) norms[base + k] += values[row + k] ** 2;
			} else {
				let squares = 0;
				for (let k = b * tileSize; k < end; k++) squares += values[row + k] ** 2;
				norms[base + b] += squares;
			}
		}
	}
	let sum = 0;
	for (let g = 0; g < groupCount; g++) {
		norms[g] = Math.sqrt(norms[g] + epsilon);
		sum += norms[g];
	}
	if (grad !== undefined) {
		for (let o = 0; o < outChannels; o++) {
			const base = groupBase(o);
			const row = o * fanIn;
			for (let k = 0; k < fanIn; k++) {
				const norm = norms[group === 'xb_row' ? base + k : base + Math.floor(k / tileSize)];
				if (norm > 0) grad[row + k] += (lambda * values[row + k]) / norm;
			}
		}
	}
	return { norms, sum, loss: lambda * sum };
}
