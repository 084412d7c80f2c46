/** Tiny in-memory graphs and datasets for the tfjs-engine unit tests. */
import type { OnnxAttribute, OnnxNode } from '../../../src/formats/onnx/schema';
import { Rng } from '../../../src/training/datasets/rng';
import type { Dataset } from '../../../src/training/datasets/types';
import type { GraphInitializer, GraphSpec } from '../../../src/training/tfjs/model';

export function node(opType: string, inputs: string[], output: string, attrs: Record<string, Partial<OnnxAttribute>> = {}): OnnxNode {
	return { name: `/${output}`, opType, domain: '', inputs, outputs: [output], attributes: new Map(Object.entries(attrs).map(([name, a]) => [name, { name, ...a }])) };
}

function init(shape: number[], seed: number, scale = 0.5): GraphInitializer {
	const rng = new Rng(seed);
	return { shape, values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.next() * 2 - 1) * scale), integer: false };
}

const conv3 = { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, strides: { ints: [1, 1] } };

/**
 * conv1 (1→4, 3×3) → relu → conv2 (4→4, 3×3) → BN → relu → maxpool 2 → add(·, avgpool 2 of conv1)
 * → GAP → flatten → fc (4→3). Input 1×6×6. Without `batchNorm` the BN node is an Identity.
 */
export function tinySpec(seed = 1, extraNodes: OnnxNode[] = [], batchNorm = true): GraphSpec {
	const initializers = new Map<string, GraphInitializer>([
		['conv1.weight', init([4, 1, 3, 3], seed)],
		['conv1.bias', init([4], seed + 1, 0.1)],
		['conv2.weight', init([4, 4, 3, 3], seed + 2)],
		['bn.weight', { shape: [4], values: new Float32Array(4).fill(1), integer: false }],
		['bn.bias', { shape: [4], values: new Float32Array(4), integer: false }],
		['bn.running_mean', { shape: [4], values: new Float32Array(4), integer: false }],
		['bn.running_var', { shape: [4], values: new Float32Array(4).fill(1), integer: false }],
		['fc.weight', init([3, 4], seed + 3)],
		['fc.bias', init([3], seed + 4, 0.1)],
	]);
	const nodes = [
		node('Conv', ['input', 'conv1.weight', 'conv1.bias'], 'c1', conv3),
		node('Relu', ['c1'], 'r1'),
		node('Conv', ['r1', 'conv2.weight'], 'c2', conv3),
		batchNorm
			? node('BatchNormalization', ['c2', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'], 'b2', { epsilon: { f: 1e-5 }, momentum: { f: 0.9 } })
			: node('Identity', ['c2'], 'b2'),
		node('Relu', ['b2'], 'r2'),
		node('MaxPool', ['r2'], 'p2', { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }),
		node('AveragePool', ['r1'], 'p1', { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }),
		node('Add', ['p2', 'p1'], 'sum'),
		...extraNodes,
		node('GlobalAveragePool', ['sum'], 'gap'),
		node('Flatten', ['gap'], 'flat', { axis: { i: 1 } }),
		node('Gemm', ['flat', 'fc.weight', 'fc.bias'], 'logits', { transB: { i: 1 } }),
	];
	return { name: 'tiny.onnx', nodes, initializers, inputName: 'input', inputShape: [1, 6, 6], outputName: 'logits', layerNames: new Map([['conv1.weight', 'conv1'], ['conv2.weight', 'conv2']]) };
}

/** `count` random 1×6×6 images in 3 classes (labels follow the mean brightness, so it is learnable). */
export function tinyDataset(count = 24, seed = 2): Dataset {
	const rng = new Rng(seed);
	const x = Float32Array.from({ length: count * 36 }, () => rng.next());
	const y = Int32Array.from({ length: count }, (_, i) => {
		let s = 0;
		for (let p = 0; p < 36; p++) s += x[i * 36 + p];
		return s < 17 ? 0 : s < 19 ? 1 : 2;
	});
	const set = { x, y, count };
	return { name: 'tiny', shape: [1, 6, 6], classes: 3, train: set, test: set, augment: false, standardize: false };
}
