/**
 * Tensor views over a storage (torch's as_strided model): element (i0, i1, …) of the view is
 * storage element `offset + Σ ik·stride[k]`. Strides may be zero (expand) and need not be
 * row-major (transpose, permute, slices).
 */

/** Element count of a shape, or undefined when it is not a safe integer. */
export function safeNumel(shape: readonly number[]): number | undefined {
	let n = 1;
	for (const d of shape) {
		n *= d;
	}
	return Number.isSafeInteger(n) ? n : undefined;
}

/** Index of the last storage element the view touches (the view must have ≥ 1 element). */
export function lastViewIndex(offset: number, shape: readonly number[], stride: readonly number[]): number {
	let last = offset;
	for (let k = 0; k < shape.length; k++) {
		last += (shape[k] - 1) * stride[k];
	}
	return last;
}

/** True when the view is the row-major run `[offset, offset + numel)` of its storage. */
export function isRowMajorContiguous(shape: readonly number[], stride: readonly number[]): boolean {
	let expected = 1;
	for (let k = shape.length - 1; k >= 0; k--) {
		if (shape[k] !== 1 && stride[k] !== expected) {
			return false;
		}
		expected *= shape[k];
	}
	return true;
}

/**
 * Copies the view's elements, in logical row-major order, from `source` (storage elements
 * starting at storage index `first`) into `out` (numel elements).
 */
export function gatherView(source: Float32Array, first: number, offset: number, shape: readonly number[], stride: readonly number[], out: Float32Array): void {
	const rank = shape.length;
	if (rank === 0) {
		out[0] = source[offset - first];
		return;
	}
	const inner = shape[rank - 1];
	const innerStride = stride[rank - 1];
	const outerCount = out.length / inner;
	const index = new Array<number>(rank).fill(0);
	let o = 0;
	let p = offset - first;
	for (let k = 0; k < outerCount; k++) {
		for (let j = 0, q = p; j < inner; j++, q += innerStride) {
			out[o++] = source[q];
		}
		for (let d = rank - 2; d >= 0; d--) {
			index[d]++;
			p += stride[d];
			if (index[d] < shape[d]) {
				break;
			}
			p -= stride[d] * shape[d];
			index[d] = 0;
		}
	}
}

/** Storage index of every element of the view, in logical row-major order (writers scatter with it). */
export function viewStorageIndices(offset: number, shape: readonly number[], stride: readonly number[], count: number): Float64Array {
	const indices = new Float64Array(count);
	const rank = shape.length;
	if (count === 0) {
		return indices;
	}
	if (rank === 0) {
		indices[0] = offset;
		return indices;
	}
	const index = new Array<number>(rank).fill(0);
	let p = offset;
	for (let i = 0; i < count; i++) {
		indices[i] = p;
		for (let d = rank - 1; d >= 0; d--) {
			index[d]++;
			p += stride[d];
			if (index[d] < shape[d]) {
				break;
			}
			p -= stride[d] * shape[d];
			index[d] = 0;
		}
	}
	return indices;
}

/** Reverses the bytes of each `itemBytes`-sized element in place (big-endian storages). */
export function swapElementBytes(bytes: Uint8Array, itemBytes: number): void {
	if (itemBytes <= 1) {
		return;
	}
	for (let i = 0; i + itemBytes <= bytes.length; i += itemBytes) {
		for (let a = i, b = i + itemBytes - 1; a < b; a++, b--) {
			const t = bytes[a];
			bytes[a] = bytes[b];
			bytes[b] = t;
		}
	}
}
