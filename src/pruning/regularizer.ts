/**
 * The D.U.B. regularizer (docs/method.md §4; REPO:c1_Hoyer_and_variance_class.py:compute_loss_with_gate,
 * gradient_gate) as closed-form loss + gradient on the matrix M, so any engine can add it to its
 * backprop gradients. Sums run in float64 (the reference runs in float32 on the GPU).
 */

import { crossbarGeometry, crossbarGrid } from '../hardware/geometry';
import type { WeightMatrix } from '../hardware/matrix';
import { checkMatrix } from '../hardware/matrix';

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
	readonly crossbarSize: number;
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

/** Per column segment h[o, b] (§4.1), index o·inputBlocks + b; padding inputs add nothing. */
export function segmentHoyers(matrix: WeightMatrix, options: { readonly crossbarSize: number; readonly epsilon?: number }): Float64Array {
	checkMatrix(matrix);
	const { values, outChannels, fanIn } = matrix;
	const { crossbarSize } = options;
	const epsilon = options.epsilon ?? hoyerEpsilon;
	const inputBlocks = Math.ceil(fanIn / crossbarSize);
	const h = new Float64Array(outChannels * inputBlocks);
	for (let o = 0; o < outChannels; o++) {
		const row = o * fanIn;
		for (let b = 0; b < inputBlocks; b++) {
			const end = row + Math.min(fanIn, (b + 1) * crossbarSize);
			let s1 = 0;
			let s2 = 0;
			for (let i = row + b * crossbarSize; i < end; i++) {
				const v = values[i];
				s1 += Math.abs(v);
				s2 += v * v;
			}
			h[o * inputBlocks + b] = (s1 * s1) / (s2 + epsilon);
		}
	}
	return h;
}

/**
 * Unbiased variance of the R Hoyer values of every crossbar (§4.2), index block·channelGroups + group
 * (src/hardware/geometry.ts). The sum of these times λ is the loss.
 */
export function crossbarHoyerVariances(matrix: WeightMatrix, options: Omit<DubRegularizerOptions, 'lambda' | 'gate'>): Float64Array {
	const variances = new Float64Array(crossbarGrid(matrix.outChannels, matrix.fanIn, crossbarGeometry(options.crossbarSize, options.slices ?? 1)).count);
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

// One channel group (R output channels × all K) at a time: pass 1 computes S1, S2 per segment,
// pass 2 the variances and gate coefficients, pass 3 the gradient while the rows are still in
// cache. Nothing is allocated beyond the scratch (3·R·inputBlocks doubles).
function runRegularizer(
	matrix: WeightMatrix,
	options: DubRegularizerOptions,
	grad: Float32Array | undefined,
	scratch: Float64Scratch,
	variancesOut: Float64Array | undefined,
): number {
	checkMatrix(matrix);
	const { values, outChannels, fanIn } = matrix;
	const geometry = crossbarGeometry(options.crossbarSize, options.slices ?? 1);
	const { crossbarSize, channelsPerCrossbar: R } = geometry;
	const { inputBlocks, channelGroups } = crossbarGrid(outChannels, fanIn, geometry);
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
	const segments = R * inputBlocks;
	const buffer = scratch.view(3 * segments);
	const s1s = buffer.subarray(0, segments);
	const s2s = buffer.subarray(segments, 2 * segments);
	const hs = buffer.subarray(2 * segments, 3 * segments);
	let loss = 0;

	for (let group = 0; group < channelGroups; group++) {
		const o0 = group * R;
		const real = Math.min(R, outChannels - o0);
		// Pass 1: S1, S2 and h per (channel, block).
		for (let r = 0; r < real; r++) {
			const row = (o0 + r) * fanIn;
			for (let b = 0; b < inputBlocks; b++) {
				const start = row + b * crossbarSize;
				const end = row + Math.min(fanIn, (b + 1) * crossbarSize);
				let s1 = 0;
				let s2 = 0;
				for (let i = start; i < end; i++) {
					const v = values[i];
					s1 += Math.abs(v);
					s2 += v * v;
				}
				const j = r * inputBlocks + b;
				s1s[j] = s1;
				s2s[j] = s2 + epsilon;
				hs[j] = (s1 * s1) / (s2 + epsilon);
			}
		}
		// Pass 2: per tile mean and unbiased variance; h becomes the gate coefficient g.
		const count = excludePadded ? real : R;
		for (let b = 0; b < inputBlocks; b++) {
			if (count < 2) {
				// A single real channel with padding excluded: no variance, no gradient.
				for (let r = 0; r < real; r++) hs[r * inputBlocks + b] = 0;
				if (variancesOut) variancesOut[b * channelGroups + group] = 0;
				continue;
			}
			let sum = 0;
			for (let r = 0; r < real; r++) sum += hs[r * inputBlocks + b];
			const mean = sum / count;
			// Padded channels (h = 0) each add mean² (A4).
			let squares = (count - real) * mean * mean;
			for (let r = 0; r < real; r++) {
				const d = hs[r * inputBlocks + b] - mean;
				squares += d * d;
			}
			const variance = squares / (count - 1);
			loss += lambda * variance;
			if (variancesOut) variancesOut[b * channelGroups + group] = variance;
			const scale = (2 * lambda) / (count - 1);
			for (let r = 0; r < real; r++) {
				const j = r * inputBlocks + b;
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
			for (let b = 0; b < inputBlocks; b++) {
				const j = r * inputBlocks + b;
				const g = hs[j];
				if (g === 0) continue;
				const s1 = s1s[j];
				const d = s2s[j];
				const alpha = (2 * g * s1) / d;
				const beta = (alpha * s1) / d;
				const start = row + b * crossbarSize;
				const end = row + Math.min(fanIn, (b + 1) * crossbarSize);
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
