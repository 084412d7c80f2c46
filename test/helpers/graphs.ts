import type { LayerWeight, ModelGraph, TensorRef, WeightLayout } from '../../src/core/model';
import { numel } from '../../src/core/model';

/** An in-memory tensor (tests only). */
export function memoryTensor(name: string, shape: number[], values?: Float32Array): TensorRef {
	const data = values ?? new Float32Array(numel(shape)).fill(1);
	return {
		name,
		shape,
		dtype: 'float32',
		async load(into?: Float32Array) {
			const out = into && into.length >= data.length ? into.subarray(0, data.length) : new Float32Array(data.length);
			out.set(data);
			return out;
		},
	};
}

/** A ModelGraph over in-memory conv (OIHW) or linear weights. */
export function memoryGraph(layers: { name: string; shape: number[]; values?: Float32Array; layout?: WeightLayout; invocations?: number }[]): ModelGraph {
	const weights: LayerWeight[] = layers.map(({ name, shape, values, layout, invocations }) => ({
		name,
		kind: shape.length === 4 ? 'conv' : 'linear',
		layout: layout ?? (shape.length === 4 ? 'OIHW' : 'OI'),
		groups: 1,
		tensor: memoryTensor(`${name}.weight`, shape, values),
		...(invocations !== undefined ? { invocationsPerInference: invocations } : {}),
	}));
	return { format: 'pytorch', file: 'memory.pt', tensors: weights.map((w) => w.tensor), layers: weights, warnings: [], async close() {} };
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
