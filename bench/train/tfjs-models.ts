/**
 * CIFAR-10 VGG11 and ResNet18 as in-memory ONNX-style graphs (GraphSpec) with He-initialised
 * weights, for the tfjs engine's benchmarks (no model files needed).
 * VGG11: the reference's CIFAR variant (8 convs 3×3 with bias, no BN, FC 512-512-10; docs/method.md §2.7).
 * ResNet18: the usual CIFAR variant (3×3 stem, no max-pool, BasicBlocks 64-128-256-512, GAP, FC 10).
 */

import type { OnnxAttribute, OnnxNode } from '../../src/formats/onnx/schema';
import { Rng } from '../../src/training/datasets/rng';
import type { GraphInitializer, GraphSpec } from '../../src/training/tfjs/model';

class GraphBuilder {
	readonly nodes: OnnxNode[] = [];
	readonly initializers = new Map<string, GraphInitializer>();
	readonly layerNames = new Map<string, string>();
	private counter = 0;
	private readonly rng: Rng;

	constructor(seed: number) {
		this.rng = new Rng(seed);
	}

	private node(opType: string, inputs: string[], attrs: Record<string, Partial<OnnxAttribute>> = {}): string {
		const output = `${opType.toLowerCase()}_${this.counter++}`;
		const attributes = new Map<string, OnnxAttribute>(Object.entries(attrs).map(([name, a]) => [name, { name, ...a }]));
		this.nodes.push({ name: `/${output}`, opType, domain: '', inputs, outputs: [output], attributes });
		return output;
	}

	private weight(name: string, shape: number[], fanIn: number): string {
		const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
		const bound = Math.sqrt(6 / fanIn);
		for (let i = 0; i < values.length; i++) values[i] = (this.rng.next() * 2 - 1) * bound;
		this.initializers.set(name, { shape, values, integer: false });
		return name;
	}

	private constant(name: string, shape: number[], fill: number): string {
		this.initializers.set(name, { shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill), integer: false });
		return name;
	}

	conv(x: string, layer: string, cin: number, cout: number, k: number, stride: number, pad: number, bias: boolean): string {
		const w = this.weight(`${layer}.weight`, [cout, cin, k, k], cin * k * k);
		this.layerNames.set(w, layer);
		const inputs = [x, w];
		if (bias) inputs.push(this.constant(`${layer}.bias`, [cout], 0));
		return this.node('Conv', inputs, { kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, pads: { ints: [pad, pad, pad, pad] }, dilations: { ints: [1, 1] }, group: { i: 1 } });
	}

	bn(x: string, layer: string, c: number): string {
		return this.node('BatchNormalization', [x, this.constant(`${layer}.weight`, [c], 1), this.constant(`${layer}.bias`, [c], 0), this.constant(`${layer}.running_mean`, [c], 0), this.constant(`${layer}.running_var`, [c], 1)], { epsilon: { f: 1e-5 }, momentum: { f: 0.9 } });
	}

	relu(x: string): string {
		return this.node('Relu', [x]);
	}

	maxPool(x: string): string {
		return this.node('MaxPool', [x], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, pads: { ints: [0, 0, 0, 0] } });
	}

	add(a: string, b: string): string {
		return this.node('Add', [a, b]);
	}

	globalAveragePool(x: string): string {
		return this.node('GlobalAveragePool', [x]);
	}

	flatten(x: string): string {
		return this.node('Flatten', [x], { axis: { i: 1 } });
	}

	linear(x: string, layer: string, cin: number, cout: number): string {
		const w = this.weight(`${layer}.weight`, [cout, cin], cin);
		return this.node('Gemm', [x, w, this.constant(`${layer}.bias`, [cout], 0)], { transB: { i: 1 }, alpha: { f: 1 }, beta: { f: 1 } });
	}

	spec(name: string, output: string): GraphSpec {
		return { name, nodes: this.nodes, initializers: this.initializers, inputName: 'input', inputShape: [3, 32, 32], outputName: output, layerNames: this.layerNames };
	}
}

/** VGG11 for CIFAR-10 (REPO:custom_models_cifar_vgg.py): 9,217,728 conv weights. */
export function vgg11Cifar(seed = 0): GraphSpec {
	const g = new GraphBuilder(seed);
	let x = 'input';
	let cin = 3;
	let index = 0;
	for (const item of [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const) {
		if (item === 'M') {
			x = g.maxPool(x);
			index++;
			continue;
		}
		x = g.relu(g.conv(x, `features.${index}`, cin, item, 3, 1, 1, true));
		cin = item;
		index += 2;
	}
	x = g.flatten(x);
	x = g.relu(g.linear(x, 'classifier.0', 512, 512));
	x = g.relu(g.linear(x, 'classifier.2', 512, 512));
	x = g.linear(x, 'classifier.4', 512, 10);
	return g.spec('vgg11-cifar10', x);
}

/** ResNet18 for CIFAR-10: 3×3 stem, BasicBlocks [2, 2, 2, 2], 1×1 downsample convs. */
export function resnet18Cifar(seed = 0): GraphSpec {
	const g = new GraphBuilder(seed);
	let x = g.relu(g.bn(g.conv('input', 'conv1', 3, 64, 3, 1, 1, false), 'bn1', 64));
	let cin = 64;
	[64, 128, 256, 512].forEach((cout, stage) => {
		for (let block = 0; block < 2; block++) {
			const stride = block === 0 && stage > 0 ? 2 : 1;
			const name = `layer${stage + 1}.${block}`;
			let y = g.relu(g.bn(g.conv(x, `${name}.conv1`, cin, cout, 3, stride, 1, false), `${name}.bn1`, cout));
			y = g.bn(g.conv(y, `${name}.conv2`, cout, cout, 3, 1, 1, false), `${name}.bn2`, cout);
			const shortcut = stride !== 1 || cin !== cout ? g.bn(g.conv(x, `${name}.downsample.0`, cin, cout, 1, stride, 0, false), `${name}.downsample.1`, cout) : x;
			x = g.relu(g.add(y, shortcut));
			cin = cout;
		}
	});
	x = g.linear(g.flatten(g.globalAveragePool(x)), 'fc', 512, 10);
	return g.spec('resnet18-cifar10', x);
}
