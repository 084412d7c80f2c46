import type { Dataset, ImageSet } from './types';
import type { Rng } from './rng';

/**
 * Fills `out` (N·H·W·C, NHWC as tfjs convs want) with the images `indices[start, end)` of `set`
 * (bytes scaled by 1/255): optional random crop with 4-pixel zero padding and horizontal flip
 * (training only), then optional per-image standardization (mean/std over C·H·W,
 * std ≥ 1/sqrt(C·H·W); docs/method.md §4.4).
 */
export function fillBatch(dataset: Pick<Dataset, 'shape' | 'augment' | 'standardize'>, set: ImageSet, indices: ArrayLike<number>, start: number, end: number, out: Float32Array, rng?: Rng): Float32Array {
	const [c, h, w] = dataset.shape;
	const size = c * h * w;
	const plane = h * w;
	const n = end - start;
	const target = out.length >= n * size ? out.subarray(0, n * size) : new Float32Array(n * size);
	const image = new Float32Array(size);
	const divisor = set.x instanceof Uint8Array ? 255 : 1;
	for (let b = 0; b < n; b++) {
		const src = set.x.subarray(indices[start + b] * size, (indices[start + b] + 1) * size);
		let dy = 0, dx = 0, flip = false;
		if (rng && dataset.augment) {
			dy = rng.int(9) - 4;
			dx = rng.int(9) - 4;
			flip = rng.next() < 0.5;
		}
		// image[k, y, x] = src[k, y + dy, x' + dx] (0 outside), x' = flipped x.
		for (let k = 0; k < c; k++) {
			for (let y = 0; y < h; y++) {
				const sy = y + dy;
				for (let x = 0; x < w; x++) {
					const sx = (flip ? w - 1 - x : x) + dx;
					image[k * plane + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[k * plane + sy * w + sx] / divisor : 0;
				}
			}
		}
		if (dataset.standardize) {
			standardizeImage(image);
		}
		const base = b * size;
		for (let p = 0; p < plane; p++) {
			for (let k = 0; k < c; k++) target[base + p * c + k] = image[k * plane + p];
		}
	}
	return target;
}

/** Per-image standardization in place: (v − mean)/max(std, 1/sqrt(n)), as tf.image.per_image_standardization. */
export function standardizeImage(image: Float32Array): void {
	const n = image.length;
	let sum = 0;
	for (let i = 0; i < n; i++) sum += image[i];
	const mean = sum / n;
	let squares = 0;
	for (let i = 0; i < n; i++) squares += (image[i] - mean) ** 2;
	const std = Math.max(Math.sqrt(squares / n), 1 / Math.sqrt(n));
	for (let i = 0; i < n; i++) image[i] = (image[i] - mean) / std;
}

/** Labels of `indices[start, end)`. */
export function batchLabels(set: ImageSet, indices: ArrayLike<number>, start: number, end: number): Int32Array {
	const y = new Int32Array(end - start);
	for (let i = start; i < end; i++) y[i - start] = set.y[indices[i]];
	return y;
}
