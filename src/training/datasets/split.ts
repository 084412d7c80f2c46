import type { ImageSet, LabelledImages } from './types';
import { Rng } from './rng';

/** Indices of a seeded stratified split: `round(n_c · testFraction)` of each class go to test, leaving every class at least one training image. */
export function stratifiedSplit(labels: Int32Array, testFraction: number, seed: number): { train: Int32Array; test: Int32Array } {
	if (!(testFraction > 0 && testFraction < 1)) {
		throw new Error(`The held-out fraction must be between 0 and 1 (got ${testFraction}).`);
	}
	const byClass = indicesByClass(labels);
	const rng = new Rng(seed);
	const train: number[] = [];
	const test: number[] = [];
	for (const indices of byClass) {
		if (!indices) continue;
		rng.shuffle(indices);
		const nTest = Math.min(Math.round(indices.length * testFraction), indices.length - 1);
		for (let i = 0; i < indices.length; i++) (i < nTest ? test : train).push(indices[i]);
	}
	train.sort((a, b) => a - b);
	test.sort((a, b) => a - b);
	return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** A seeded stratified subset of `limit` indices (all of them when limit ≥ n). */
export function stratifiedSubset(labels: Int32Array, limit: number, seed: number): Int32Array {
	if (limit >= labels.length) {
		return Int32Array.from(labels, (_, i) => i);
	}
	const byClass = indicesByClass(labels);
	const rng = new Rng(seed);
	const picked: number[] = [];
	const fraction = limit / labels.length;
	for (const indices of byClass) {
		if (!indices) continue;
		rng.shuffle(indices);
		picked.push(...indices.slice(0, Math.max(1, Math.round(indices.length * fraction))));
	}
	return Int32Array.from(picked.sort((a, b) => a - b).slice(0, limit));
}

function indicesByClass(labels: Int32Array): number[][] {
	const byClass: number[][] = [];
	for (let i = 0; i < labels.length; i++) {
		(byClass[labels[i]] ??= []).push(i);
	}
	return byClass;
}

/** The images at `indices`, copied. */
export function take(images: LabelledImages | ImageSet, indices: Int32Array, size: number): ImageSet {
	const x = images.x instanceof Uint8Array ? new Uint8Array(indices.length * size) : new Float32Array(indices.length * size);
	const y = new Int32Array(indices.length);
	for (let i = 0; i < indices.length; i++) {
		const j = indices[i];
		x.set(images.x.subarray(j * size, (j + 1) * size), i * size);
		y[i] = images.y[j];
	}
	return { x, y, count: indices.length };
}
