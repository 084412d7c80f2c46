/**
 * The weight matrix M that the analysis, the pruning math and the regularizer all work on
 * (docs/method.md §1): row-major O × K, O = output channels (crossbar columns), K = fan-in in
 * PyTorch flatten(1) order; and the conversions between a tensor's stored layout and M.
 */
import type { WeightLayout } from '../core/model';

/** A weight matrix M: `values[o·fanIn + κ]`, row o = output channel o. */
export interface WeightMatrix {
	readonly values: Float32Array;
	/** O: output channels, i.e. crossbar columns (bit lines). */
	readonly outChannels: number;
	/** K = C·Kh·Kw: inputs, i.e. crossbar rows (word lines). */
	readonly fanIn: number;
}

/** Throws a RangeError unless `matrix.values` holds exactly O·K elements. */
export function checkMatrix(matrix: WeightMatrix): void {
	const { values, outChannels, fanIn } = matrix;
	if (!Number.isInteger(outChannels) || !Number.isInteger(fanIn) || outChannels < 1 || fanIn < 1) {
		throw new RangeError(`Matrix dimensions must be positive integers, got ${outChannels} × ${fanIn}.`);
	}
	if (values.length !== outChannels * fanIn) {
		throw new RangeError(`Matrix ${outChannels} × ${fanIn} needs ${outChannels * fanIn} values, got ${values.length}.`);
	}
}

/** A weight's shape in PyTorch's order (OIHW, OI) whatever its stored layout (for matching presets). */
export function pytorchShape(shape: readonly number[], layout: WeightLayout): number[] {
	return layout === 'HWIO' ? [shape[3], shape[2], shape[0], shape[1]] : layout === 'IO' ? [shape[1], shape[0]] : [...shape];
}

/** [O, K] of a weight's matrix M: output channels (crossbar columns) and fan-in. */
export function matrixDims(shape: readonly number[], layout: WeightLayout): [number, number] {
	switch (layout) {
		case 'OIHW': return [shape[0], shape[1] * shape[2] * shape[3]];
		case 'HWIO': return [shape[3], shape[0] * shape[1] * shape[2]];
		case 'OI': return [shape[0], shape[1]];
		case 'IO': return [shape[1], shape[0]];
	}
}

/** True when the stored order already is M's row-major order (no copy needed). */
export function isMatrixOrder(layout: WeightLayout): boolean {
	return layout === 'OIHW' || layout === 'OI';
}

/**
 * The reference's matrix M (docs/method.md §1): row o holds output channel o's fan-in in
 * PyTorch flatten(1) order (input channel, then kh, then kw). OIHW/OI data is returned as is;
 * HWIO (TF.js/Keras) and IO are transposed into `scratch` when given.
 */
export function toMatrix(values: Float32Array, shape: readonly number[], layout: WeightLayout, scratch?: Float32Array): Float32Array {
	if (isMatrixOrder(layout)) {
		return values;
	}
	const [outChannels, fanIn] = matrixDims(shape, layout);
	const out = scratch && scratch.length >= values.length ? scratch.subarray(0, values.length) : new Float32Array(values.length);
	if (layout === 'IO') {
		for (let i = 0; i < fanIn; i++) {
			for (let o = 0; o < outChannels; o++) out[o * fanIn + i] = values[i * outChannels + o];
		}
		return out;
	}
	// HWIO: W[h, w, c, o] → M[o, (c·KH + h)·KW + w]
	const [kh, kw, cin, cout] = shape;
	for (let h = 0; h < kh; h++) {
		for (let w = 0; w < kw; w++) {
			for (let c = 0; c < cin; c++) {
				const src = ((h * kw + w) * cin + c) * cout;
				const input = (c * kh + h) * kw + w;
				for (let o = 0; o < cout; o++) out[o * fanIn + input] = values[src + o];
			}
		}
	}
	return out;
}

/** The inverse of toMatrix: M back into the tensor's own layout (for writers). */
export function fromMatrix(matrix: Float32Array, shape: readonly number[], layout: WeightLayout): Float32Array {
	if (isMatrixOrder(layout)) {
		return matrix;
	}
	const [outChannels, fanIn] = matrixDims(shape, layout);
	const out = new Float32Array(matrix.length);
	if (layout === 'IO') {
		for (let i = 0; i < fanIn; i++) {
			for (let o = 0; o < outChannels; o++) out[i * outChannels + o] = matrix[o * fanIn + i];
		}
		return out;
	}
	const [kh, kw, cin, cout] = shape;
	for (let h = 0; h < kh; h++) {
		for (let w = 0; w < kw; w++) {
			for (let c = 0; c < cin; c++) {
				const dst = ((h * kw + w) * cin + c) * cout;
				const input = (c * kh + h) * kw + w;
				for (let o = 0; o < cout; o++) out[dst + o] = matrix[o * fanIn + input];
			}
		}
	}
	return out;
}
