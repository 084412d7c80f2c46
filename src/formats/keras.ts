import { ModelFormatError, throwIfAborted } from '../core/errors';
import type { DType, LayerWeight, TensorRef } from '../core/model';
import type { ByteSource } from './byteSource';
import { bufferSource, windowSource } from './byteSource';
import { openHdf5 } from './hdf5';
import type { Hdf5Dataset, Hdf5File } from './hdf5';
import { graphOverSources } from './stateDict';
import { kerasContainers, kerasLayerList, kerasModel } from './kerasTopology';
import { buildKerasLayers, checkInputSize, weightFinder } from './tfjs';
import type { KerasWeightFinder } from './tfjs';
import type { FormatReader } from './types';
import { readZipDirectory, readZipEntry, zipEntryDataOffset } from './zip';
import type { ZipEntryDetail } from './zip';
import { isRecord } from '../shared/isRecord';

const hdf5Signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const floatTypes: ReadonlySet<DType> = new Set(['float64', 'float32', 'float16', 'bfloat16']);
/** The weights file inside a .keras archive (Keras 2.13+ and Keras 3). */
export const kerasWeightsEntry = 'model.weights.h5';
/** config.json is parsed whole; a model config is kilobytes to a few megabytes. */
const maxConfigBytes = 64 * 1024 * 1024;

/** Where a Keras model's parts are: the HDF5 weights and, when saved with the model, its config. */
export interface KerasParts {
	readonly h5: Hdf5File;
	/** The model config ({class_name, config}); undefined for a weights-only file. */
	readonly topology: unknown;
	/** Keras 3 / .keras layout (`layers/<name>/vars/<i>`) rather than Keras 2 .h5 (`<layer>/<layer>/kernel:0`). */
	readonly v3: boolean;
	/** The archive's weights entry, for .keras files. */
	readonly entry?: ZipEntryDetail;
	readonly entries?: readonly ZipEntryDetail[];
}

function startsWith(head: Uint8Array, bytes: readonly number[]): boolean {
	return bytes.every((b, i) => head[i] === b);
}

function parseJson(source: ByteSource, what: string, text: string): unknown {
	try {
		return JSON.parse(text);
	} catch (ex) {
		throw new ModelFormatError('corrupt', `${source.name}: its ${what} is not valid JSON (${(ex as Error).message}).`);
	}
}

/**
 * Opens the HDF5 part of a Keras model: a .keras zip's model.weights.h5 (read in place when
 * stored, as Keras writes it) with config.json, or a Keras .h5 file with its `model_config`.
 */
export async function openKerasParts(source: ByteSource): Promise<KerasParts> {
	const head = await source.read(0, Math.min(8, source.length));
	if (startsWith(head, [0x50, 0x4b])) {
		const entries = await readZipDirectory(source);
		const entry = entries.find((e) => e.name === kerasWeightsEntry);
		if (!entry) {
			throw new ModelFormatError('unsupported-format', `${source.name}: a zip without ${kerasWeightsEntry}, so not a Keras 3 .keras model (older Keras saved .keras as a TensorFlow SavedModel folder; save with model.save('x.keras') in Keras ≥ 2.13).`);
		}
		const config = entries.find((e) => e.name === 'config.json');
		if (config && config.size > maxConfigBytes) {
			throw new ModelFormatError('too-large', `${source.name}: config.json is ${config.size} bytes, too large for a model config.`);
		}
		const topology = config ? parseJson(source, 'config.json', new TextDecoder().decode(await readZipEntry(source, config))) : undefined;
		const name = `${source.name}/${kerasWeightsEntry}`;
		const weights = entry.method === 0
			? windowSource(source, await zipEntryDataOffset(source, entry), entry.size, name)
			: bufferSource(await readZipEntry(source, entry), name);
		return { h5: await openHdf5(weights), topology, v3: true, entry, entries };
	}
	const h5 = await openHdf5(source);
	const config = await h5.root.attribute('model_config');
	const topology = typeof config === 'string' ? parseJson(source, "'model_config' attribute", config) : undefined;
	const v3 = (await h5.get('layers')) !== undefined || (await h5.get('_layer_checkpoint_dependencies')) !== undefined;
	return { h5, topology, v3 };
}

/** The float datasets holding layer weights (not optimizer state), as tensors named by their path. */
async function weightTensors(parts: KerasParts): Promise<TensorRef[]> {
	const tensors: TensorRef[] = [];
	const hasModelWeights = (await parts.h5.get('model_weights')) !== undefined;
	for (const dataset of await parts.h5.datasets()) {
		const path = dataset.path.replace(/^\//, '');
		const isWeight = parts.v3 ? /^(layers|_layer_checkpoint_dependencies)\//.test(path) : hasModelWeights ? path.startsWith('model_weights/') : !path.startsWith('optimizer_weights/');
		if (isWeight && dataset.dtype !== undefined && floatTypes.has(dataset.dtype)) {
			tensors.push(datasetTensor(path, dataset));
		}
	}
	return tensors;
}

function datasetTensor(path: string, dataset: Hdf5Dataset): TensorRef {
	return { name: path, shape: [...dataset.shape], dtype: dataset.dtype!, load: (into) => dataset.load(into) };
}

/**
 * Keras 3 stores a layer's variables by index, in the order the layer creates them: kernel, bias;
 * DepthwiseConv2D depthwise_kernel, bias; SeparableConv2D depthwise_kernel, pointwise_kernel,
 * bias; BatchNormalization gamma (when scale), beta (when center), moving_mean, moving_variance.
 */
export function kerasVariableIndex(className: string, config: Record<string, unknown>, weight: string): number | undefined {
	const order = className === 'BatchNormalization'
		? [...(config.scale === false ? [] : ['gamma']), ...(config.center === false ? [] : ['beta']), 'moving_mean', 'moving_variance']
		: className === 'SeparableConv2D' ? ['depthwise_kernel', 'pointwise_kernel', 'bias']
			: className === 'DepthwiseConv2D' ? ['depthwise_kernel', 'bias'] : ['kernel', 'bias'];
	const index = order.indexOf(weight);
	return index < 0 ? undefined : index;
}

/** Keras's naming.to_snake_case: 'Conv2D' → 'conv2d', 'MaxPooling2D' → 'max_pooling2d'. */
export function kerasSnakeCase(name: string): string {
	return name.replace(/\W+/g, '').replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Where Keras 3 (and 2.13+) keeps each layer's variables in model.weights.h5, by layer name.
 * saving_lib walks a model's `layers` and names each one by its class, not its name (snake case,
 * `_1`, `_2`, … for the second, third of a class in the same model): a Sequential of Conv2D
 * 'stem', MaxPooling2D, Conv2D 'head' stores `layers/conv2d/vars`, `layers/conv2d_1/vars`. Nested
 * models nest (`layers/sequential/layers/dense/vars`). A Sequential's InputLayer is not among its
 * layers. Keras 2.13 wrote `_layer_checkpoint_dependencies` where Keras 3 writes `layers`.
 */
export function kerasV3LayerPaths(topology: unknown): Map<string, string> {
	const paths = new Map<string, string>();
	const visit = (model: unknown, prefix: string, depth: number): void => {
		if (!isRecord(model) || depth > 16) return;
		const used = new Map<string, number>();
		for (const layer of kerasLayerList(model) ?? []) {
			if (!isRecord(layer) || typeof layer.class_name !== 'string') continue;
			if (model.class_name === 'Sequential' && layer.class_name === 'InputLayer') continue;
			const base = kerasSnakeCase(layer.class_name);
			const seen = used.get(base) ?? 0;
			used.set(base, seen + 1);
			const path = `${prefix}layers/${seen === 0 ? base : `${base}_${seen}`}`;
			if (kerasContainers.has(layer.class_name)) {
				visit(layer, `${path}/`, depth + 1);
			} else {
				const name = isRecord(layer.config) && typeof layer.config.name === 'string' ? layer.config.name : typeof layer.name === 'string' ? layer.name : undefined;
				if (name !== undefined) paths.set(name, path);
			}
		}
	};
	visit(kerasModel(topology), '', 0);
	return paths;
}

/**
 * A layer's variable `index` in a Keras 3 file: `<path>/vars/<index>` under the path
 * {@link kerasV3LayerPaths} gives (or the Keras 2.13 spelling of it).
 */
export function kerasV3Variable(tensors: ReadonlyMap<string, TensorRef>, path: string | undefined, index: number | undefined): TensorRef | undefined {
	if (path === undefined || index === undefined) return undefined;
	return tensors.get(`${path}/vars/${index}`) ?? tensors.get(`${path.replaceAll('layers', '_layer_checkpoint_dependencies')}/vars/${index}`);
}

function v3Finder(tensors: readonly TensorRef[], topology: unknown): KerasWeightFinder {
	const byPath = new Map(tensors.map((t) => [t.name, t]));
	const paths = kerasV3LayerPaths(topology);
	// The kernels: index 0, except SeparableConv2D's pointwise kernel (1); see kerasVariableIndex.
	return (layer, weight) => kerasV3Variable(byPath, paths.get(layer), weight === 'pointwise_kernel' ? 1 : weight === 'kernel' || weight === 'depthwise_kernel' ? 0 : undefined);
}

/**
 * Keras 2's list of layer names, in model order (`layer_names`, split into `layer_names0`,
 * `layer_names1`, … when it is too long for one attribute), on `model_weights` or the root.
 */
async function kerasLayerNames(h5: Hdf5File): Promise<string[] | undefined> {
	const group = await h5.get('model_weights');
	const holder = group?.kind === 'group' ? group : h5.root;
	const names = await holder.attributeNames();
	const parts = names.includes('layer_names') ? ['layer_names'] : names.filter((n) => /^layer_names\d+$/.test(n)).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
	const values: string[] = [];
	for (const part of parts) {
		const value = await holder.attribute(part);
		for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') values.push(v);
	}
	return values.length > 0 ? values : undefined;
}

/**
 * Without a model config: 4-D kernels are HWIO convs, 2-D ones Dense (IO), in the order of
 * Keras 2's `layer_names` when the file has it, else in the file's (name) order.
 */
function layersFromKernels(tensors: readonly TensorRef[], v3: boolean, order: readonly string[] | undefined): LayerWeight[] {
	const layers: LayerWeight[] = [];
	const rank = (tensor: TensorRef): number => {
		const index = order?.indexOf(tensor.name.replace(/^model_weights\//, '').split('/')[0]) ?? -1;
		return index < 0 ? Number.MAX_SAFE_INTEGER : index;
	};
	const sorted = order ? [...tensors].sort((a, b) => rank(a) - rank(b)) : tensors;
	for (const tensor of sorted) {
		const kernel = v3 ? /\/vars\/0$/.test(tensor.name) : /(^|\/)kernel(:\d+)?$/.test(tensor.name);
		if (!kernel || (tensor.shape.length !== 4 && tensor.shape.length !== 2)) {
			continue;
		}
		const name = v3 ? tensor.name.replace(/\/vars\/0$/, '').split('/').pop()! : tensor.name.replace(/\/kernel(:\d+)?$/, '').split('/').pop()!;
		layers.push(tensor.shape.length === 4
			? { name, kind: 'conv', layout: 'HWIO', groups: 1, tensor }
			: { name, kind: 'linear', layout: 'IO', groups: 1, tensor });
	}
	return layers;
}

/**
 * Keras models: `.keras` (Keras 3 and 2.13+: a zip of config.json and model.weights.h5) and `.h5`
 * (Keras 2's HDF5 with the config in `model_config` and weights under `model_weights`, or a
 * weights-only file). Layers come from the config as for TF.js (Conv2D HWIO, DepthwiseConv2D,
 * SeparableConv2D, Dense IO); a weights-only file gives its kernels in file order.
 */
export const kerasReader: FormatReader = {
	id: 'keras',
	sniff(name, head) {
		const lower = name.toLowerCase();
		return startsWith(head, hdf5Signature) || (lower.endsWith('.keras') && startsWith(head, [0x50, 0x4b, 0x03, 0x04]));
	},
	async open(source, options) {
		const inputSize = checkInputSize(options.inputSize);
		const parts = await openKerasParts(source);
		throwIfAborted(options.signal);
		const tensors = await weightTensors(parts);
		const warnings: string[] = [];
		if (tensors.length === 0) {
			throw new ModelFormatError('no-layers', `${source.name}: an HDF5 file without Keras layer weights (no float datasets under model_weights/ or layers/).`);
		}
		const find = parts.v3 ? v3Finder(tensors, parts.topology) : weightFinder(tensors);
		let layers = buildKerasLayers(parts.topology, find, inputSize, source, warnings);
		if (!layers) {
			const order = parts.v3 ? undefined : await kerasLayerNames(parts.h5);
			warnings.push(`The file holds weights only (no model config): every 4-D kernel is taken as a conv (HWIO) and every 2-D one as Dense, ${order ? 'in the order of its layer_names' : 'in name order'}, and crossbar activations per inference are unknown.`);
			layers = layersFromKernels(tensors, parts.v3, order);
		}
		return graphOverSources('keras', [source], tensors, layers, warnings);
	},
};
