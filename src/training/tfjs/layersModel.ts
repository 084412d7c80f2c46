/**
 * TF.js layers models (model.json + shards, Sequential or a functional linear chain) as the same
 * GraphSpec the ONNX path builds: every layer becomes the ONNX nodes the interpreter in model.ts
 * runs, and weights are converted to ONNX layouts (conv HWIO → OIHW; Dense IO kept as a Gemm B
 * with transB=0). Keras flattens NHWC activations in (h, w, c) order while the interpreter's
 * Flatten is NCHW (c, h, w): the rows of the Dense kernel after a Flatten of an image are
 * permuted to match. `toFile` converts trained values back to the file's layouts for the writer.
 */

import { UsageError } from '../../core/errors';
import type { ModelGraph, TensorRef } from '../../core/model';
import { openFileSource } from '../../formats/byteSource';
import { openModel } from '../../formats/registry';
import { kerasPair, kerasTopology } from '../../formats/kerasTopology';
import type { KerasLayer } from '../../formats/kerasTopology';
import { readTfjsManifest, weightFinder } from '../../formats/tfjs';
import { fromMatrix, toMatrix } from '../../hardware/matrix';
import { kerasV3LayerPaths, kerasV3Variable, kerasVariableIndex, openKerasParts } from '../../formats/keras';
import type { OnnxAttribute, OnnxNode } from '../../formats/onnx/schema';
import { loadOnnxGraphSpec } from './model';
import type { GraphInitializer, GraphSpec } from './model';

/** A graph the tfjs engine trains, with the converter of trained values back to the file's layouts. */
export interface LoadedGraph {
	readonly spec: GraphSpec;
	readonly graph: ModelGraph;
	/** Parameter name + values in the spec's (ONNX) layout → values in the file's layout. */
	readonly toFile: (name: string, values: Float32Array) => Float32Array;
}

/** Layer classes the tfjs engine trains. */
export const supportedLayers: readonly string[] = [
	'InputLayer', 'Conv2D', 'Dense', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Flatten', 'Dropout', 'Activation', 'BatchNormalization',
];

/** Opens an ONNX graph, a TF.js layers model (model.json) or a Keras model (.keras/.h5) as a trainable GraphSpec. */
export async function loadTrainableGraph(path: string): Promise<LoadedGraph> {
	if (/\.(json|keras|h5|hdf5)$/i.test(path)) {
		const graph = await openModel(path);
		if (graph.format === 'tfjs' || graph.format === 'keras') {
			try {
				return graph.format === 'tfjs' ? await loadTfjsLayersSpec(path, graph) : await loadKerasSpec(path, graph);
			} catch (ex) {
				await graph.close();
				throw ex;
			}
		}
		await graph.close();
	}
	const { spec, graph } = await loadOnnxGraphSpec(path);
	return { spec, graph, toFile: (_name, values) => values };
}

type Layer = KerasLayer;

/** The layers of a topology (nested models flattened, src/formats/kerasTopology.ts); a weights-only file cannot train. */
function topologyLayers(path: string, topology: unknown): Layer[] {
	const parsed = kerasTopology(topology, (what) => {
		throw new UsageError(`${path}: ${what}.`);
	});
	if (!parsed) {
		throw new UsageError(`${path}: the model has no layer topology (a weights-only file?); the tfjs engine needs the layers to train them.`);
	}
	return parsed.layers;
}

const ints = (name: string, values: readonly number[]): OnnxAttribute => ({ name, ints: values });
/**
 * Row r of the NCHW-order kernel ← row of the NHWC-order one: with `channels` C and P = rows / C
 * spatial positions, NCHW row c·P + p is NHWC row p·C + c.
 */
function nhwcRowsToNchw(values: Float32Array, rows: number, cols: number, channels: number, inverse: boolean): Float32Array {
	const out = new Float32Array(values.length);
	const positions = rows / channels;
	for (let c = 0; c < channels; c++) for (let p = 0; p < positions; p++) {
		const nchw = (c * positions + p) * cols;
		const nhwc = (p * channels + c) * cols;
		if (inverse) out.set(values.subarray(nchw, nchw + cols), nhwc);
		else out.set(values.subarray(nhwc, nhwc + cols), nchw);
	}
	return out;
}

type LayerWeightFinder = (layer: Layer, weight: string) => TensorRef | undefined;

/** Weights named `layer/weight` (TF.js manifests, Keras 2 .h5 `model_weights/conv2d/conv2d/kernel:0`). */
function namedWeights(graph: ModelGraph): LayerWeightFinder {
	const find = weightFinder(graph.tensors);
	return (layer, weight) => find(layer.name, weight);
}

/** Builds the GraphSpec of a TF.js layers model opened as `graph`. */
export async function loadTfjsLayersSpec(path: string, graph: ModelGraph): Promise<LoadedGraph> {
	const source = await openFileSource(path);
	let json: Record<string, unknown>;
	try {
		json = (await readTfjsManifest(source)).json;
	} finally {
		await source.close();
	}
	return buildLayersSpec(path, topologyLayers(path, json.modelTopology), graph, namedWeights(graph));
}

/** Builds the GraphSpec of a Keras model (.keras or .h5) opened as `graph`. */
export async function loadKerasSpec(path: string, graph: ModelGraph): Promise<LoadedGraph> {
	const source = await openFileSource(path);
	let topology: unknown;
	let v3: boolean;
	try {
		({ topology, v3 } = await openKerasParts(source));
	} finally {
		await source.close();
	}
	const layers = topologyLayers(path, topology);
	if (!v3) return buildLayersSpec(path, layers, graph, namedWeights(graph));
	// Keras 3: <path>/vars/<index>, the path from the layer's class and place, the index from its variable order.
	const byPath = new Map(graph.tensors.map((t) => [t.name, t]));
	const paths = kerasV3LayerPaths(topology);
	return buildLayersSpec(path, layers, graph, (layer, weight) => kerasV3Variable(byPath, paths.get(layer.name), kerasVariableIndex(layer.className, layer.config, weight)));
}

async function buildLayersSpec(path: string, layers: Layer[], graph: ModelGraph, find: LayerWeightFinder): Promise<LoadedGraph> {
	const need = (layer: Layer, weight: string): TensorRef => {
		const t = find(layer, weight);
		if (!t) throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' has no weight '${weight}' in the file.`);
		return t;
	};

	const nodes: OnnxNode[] = [];
	const initializers = new Map<string, GraphInitializer>();
	const layerNames = new Map<string, string>();
	const back = new Map<string, (values: Float32Array) => Float32Array>();
	const inputName = 'input';
	let current = inputName;
	let counter = 0;
	/** Rank and channels of the running value: 4 (image, NHWC in Keras) or 2. */
	let rank = 4;
	let channels: number | undefined;
	/** Set by a Flatten of an image: the next Dense's kernel rows are permuted. */
	let flattenedChannels: number | undefined;
	let inputShape: (number | undefined)[] | undefined;

	const add = (opType: string, layer: Layer, inputs: string[], attributes: OnnxAttribute[] = []): string => {
		const output = `${layer.name}:${opType}:${counter++}`;
		nodes.push({ name: layer.name, opType, domain: '', inputs, outputs: [output], attributes: new Map(attributes.map((a) => [a.name, a])) });
		current = output;
		return output;
	};
	const initializer = async (tensor: TensorRef, shape: readonly number[], convert?: (v: Float32Array) => Float32Array, fixed = false): Promise<string> => {
		const raw = Float32Array.from(await tensor.load());
		initializers.set(tensor.name, { shape, values: convert ? convert(raw) : raw, integer: fixed });
		return tensor.name;
	};
	const activation = (layer: Layer, value: unknown, last: boolean): void => {
		const name = typeof value === 'string' ? value : 'linear';
		switch (name) {
			case 'linear': return;
			case 'relu': add('Relu', layer, [current]); return;
			case 'sigmoid': add('Sigmoid', layer, [current]); return;
			case 'tanh': add('Tanh', layer, [current]); return;
			case 'softmax':
				if (rank !== 2 || !last) throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' applies softmax before the last layer; the tfjs engine trains a softmax only as the model's output.`);
				add('Softmax', layer, [current]);
				return;
			default:
				throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' uses activation '${name}', which the tfjs engine cannot train (relu, linear, sigmoid, tanh or a final softmax).`);
		}
	};
	const channelsLast = (layer: Layer): void => {
		const format = layer.config.data_format;
		if (format !== undefined && format !== null && format !== 'channels_last') {
			throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' is ${String(format)}; the tfjs engine trains channels_last models.`);
		}
	};
	const padding = (layer: Layer): OnnxAttribute => {
		const p = layer.config.padding ?? 'valid';
		if (p !== 'same' && p !== 'valid') throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' uses padding '${String(p)}'; only same and valid are supported.`);
		return { name: 'auto_pad', s: p === 'same' ? 'SAME_UPPER' : 'VALID' };
	};
	const needImage = (layer: Layer): void => {
		if (rank !== 4) throw new UsageError(`${path}: ${layer.className} layer '${layer.name}' needs an image (H×W×C) input, but its input is flat.`);
	};

	const chain = layers.filter((l) => l.className !== 'InputLayer');
	const isFunctional = layers.some((l) => l.inbound !== undefined);
	let previous: string | undefined = layers.find((l) => l.className === 'InputLayer')?.name;
	for (const layer of layers) {
		const batchShape = layer.config.batch_input_shape ?? layer.config.batch_shape;
		if (!inputShape && Array.isArray(batchShape)) inputShape = batchShape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
		if (layer.className === 'InputLayer') continue;
		if (!supportedLayers.includes(layer.className)) {
			throw new UsageError(`${path}: the tfjs engine cannot train layer '${layer.name}' of class ${layer.className}; supported: ${supportedLayers.join(', ')}.`);
		}
		if (isFunctional) {
			const inbound = layer.inbound ?? [];
			if (inbound.length !== 1 || (previous !== undefined && inbound[0] !== previous)) {
				throw new UsageError(`${path}: layer '${layer.name}' takes [${inbound.join(', ')}] instead of the layer before it; the tfjs engine trains functional models only when they are a linear chain.`);
			}
		}
		previous = layer.name;
		const last = layer === chain[chain.length - 1];
		switch (layer.className) {
			case 'Conv2D': {
				needImage(layer);
				channelsLast(layer);
				if (kerasPair(layer.config.dilation_rate, 1).some((d) => d !== 1)) throw new UsageError(`${path}: Conv2D layer '${layer.name}' is dilated; tfjs has no gradient for dilated convolutions.`);
				const groups = typeof layer.config.groups === 'number' ? layer.config.groups : 1;
				if (groups !== 1) throw new UsageError(`${path}: Conv2D layer '${layer.name}' is grouped (groups=${groups}); the tfjs engine trains dense convolutions only.`);
				const kernel = need(layer, 'kernel');
				if (kernel.shape.length !== 4) throw new UsageError(`${path}: Conv2D layer '${layer.name}' has a ${kernel.shape.length}-D kernel.`);
				const hwio = [...kernel.shape];
				const [kh, kw, ci, co] = hwio;
				const w = await initializer(kernel, [co, ci, kh, kw], (v) => toMatrix(v, hwio, 'HWIO'));
				back.set(w, (v) => fromMatrix(v, hwio, 'HWIO'));
				layerNames.set(w, layer.name);
				const inputs = [current, w];
				if (layer.config.use_bias !== false) inputs.push(await initializer(need(layer, 'bias'), [co]));
				add('Conv', layer, inputs, [ints('strides', kerasPair(layer.config.strides, 1)), ints('kernel_shape', [kh, kw]), padding(layer)]);
				channels = co;
				activation(layer, layer.config.activation, last);
				break;
			}
			case 'Dense': {
				if (rank !== 2) throw new UsageError(`${path}: Dense layer '${layer.name}' gets an image; the tfjs engine needs a Flatten or GlobalAveragePooling2D before it.`);
				const kernel = need(layer, 'kernel');
				const [rows, cols] = kernel.shape;
				const permute = flattenedChannels !== undefined && flattenedChannels > 1 && rows % flattenedChannels === 0 ? flattenedChannels : undefined;
				const w = await initializer(kernel, [rows, cols], permute ? (v) => nhwcRowsToNchw(v, rows, cols, permute, false) : undefined);
				if (permute) back.set(w, (v) => nhwcRowsToNchw(v, rows, cols, permute, true));
				const inputs = [current, w];
				if (layer.config.use_bias !== false) inputs.push(await initializer(need(layer, 'bias'), [cols]));
				add('Gemm', layer, inputs);
				flattenedChannels = undefined;
				activation(layer, layer.config.activation, last);
				break;
			}
			case 'MaxPooling2D':
			case 'AveragePooling2D': {
				needImage(layer);
				channelsLast(layer);
				const size = kerasPair(layer.config.pool_size, 2);
				const strides = layer.config.strides === null || layer.config.strides === undefined ? size : kerasPair(layer.config.strides, 1);
				add(layer.className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', layer, [current], [ints('kernel_shape', size), ints('strides', strides), padding(layer)]);
				break;
			}
			case 'GlobalAveragePooling2D':
				needImage(layer);
				channelsLast(layer);
				add('GlobalAveragePool', layer, [current]);
				if (layer.config.keepdims !== true) {
					add('Flatten', layer, [current]);
					rank = 2;
				}
				break;
			case 'Flatten':
				channelsLast(layer);
				if (rank === 4) flattenedChannels = channels ?? inputShape?.[2];
				add('Flatten', layer, [current]);
				rank = 2;
				break;
			case 'Dropout': {
				const rate = typeof layer.config.rate === 'number' ? layer.config.rate : 0.5;
				add('Dropout', layer, [current], [{ name: 'ratio', f: rate }]);
				break;
			}
			case 'Activation':
				activation(layer, layer.config.activation, last);
				break;
			case 'BatchNormalization': {
				const axis = Array.isArray(layer.config.axis) && layer.config.axis.length === 1 ? layer.config.axis[0] : layer.config.axis ?? -1;
				if (axis !== -1 && axis !== rank - 1) throw new UsageError(`${path}: BatchNormalization layer '${layer.name}' normalizes axis ${String(axis)}; the tfjs engine supports the channel (last) axis.`);
				const mean = need(layer, 'moving_mean');
				const n = mean.shape[0];
				// A missing gamma/beta (scale/center false) is a fixed constant (never a parameter).
				const fixed = (name: string, value: number): string => {
					const key = `${layer.name}/${name}(fixed)`;
					initializers.set(key, { shape: [n], values: new Float32Array(n).fill(value), integer: true });
					return key;
				};
				const gamma = layer.config.scale === false ? fixed('gamma', 1) : await initializer(need(layer, 'gamma'), [n]);
				const beta = layer.config.center === false ? fixed('beta', 0) : await initializer(need(layer, 'beta'), [n]);
				const inputs = [current, gamma, beta, await initializer(mean, [n]), await initializer(need(layer, 'moving_variance'), [n])];
				const epsilon = typeof layer.config.epsilon === 'number' ? layer.config.epsilon : 1e-3;
				const momentum = typeof layer.config.momentum === 'number' ? layer.config.momentum : 0.99;
				add('BatchNormalization', layer, inputs, [{ name: 'epsilon', f: epsilon }, { name: 'momentum', f: momentum }]);
				break;
			}
			default:
				throw new UsageError(`${path}: the tfjs engine cannot train layer '${layer.name}' of class ${layer.className}.`);
		}
	}
	if (nodes.length === 0) throw new UsageError(`${path}: the model has no layers the tfjs engine can train.`);
	if (!inputShape || inputShape.length !== 3) {
		throw new UsageError(`${path}: the tfjs engine trains image models with an H×W×C input; the model declares ${inputShape ? `rank ${inputShape.length}` : 'no input shape'}.`);
	}
	const [h, w, c] = inputShape;
	const spec: GraphSpec = { name: path, nodes, initializers, inputName, inputShape: [c, h, w], outputName: current, layerNames };
	return { spec, graph, toFile: (name, values) => back.get(name)?.(values) ?? values };
}
