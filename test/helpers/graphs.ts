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

/** VGG11 for CIFAR (dub-method.md §2.7): 8 convs. */
export const vgg11CifarConvs: number[][] = [[64, 3, 3, 3], [128, 64, 3, 3], [256, 128, 3, 3], [256, 256, 3, 3], [512, 256, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3]];

/** torchvision ResNet18's 20 convs in module order (conv1, then per block conv1, conv2, downsample.0). */
export const resnet18Convs: number[][] = (() => {
	const shapes: number[][] = [[64, 3, 7, 7]];
	let inC = 64;
	for (const [outC, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
		for (let block = 0; block < 2; block++) {
			const cin = block === 0 ? inC : outC;
			shapes.push([outC, cin, 3, 3], [outC, outC, 3, 3]);
			if (block === 0 && (stride !== 1 || cin !== outC)) {
				shapes.push([outC, cin, 1, 1]);
			}
		}
		inC = outC;
	}
	return shapes;
})();

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
