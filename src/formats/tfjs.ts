import { ModelFormatError, UsageError, throwIfAborted } from '../core/errors';
import type { DType, LayerWeight, TensorRef } from '../core/model';
import { numel } from '../core/model';
import type { ByteSource } from './byteSource';
import { decodeToFloat32, float32Target } from './dtype';
import type { FormatReader } from './types';
import { kerasPair, kerasTopology } from './kerasTopology';
import { isRecord } from '../shared/isRecord';
import type { KerasLayer, KerasShape } from './kerasTopology';
import { graphOverSources } from './stateDict';

/** model.json is parsed whole; anything bigger than this is not a TF.js topology. */
const maxModelJsonBytes = 256 * 1024 * 1024;

/** One entry of a weightsManifest group, as written by tfjs / tensorflowjs_converter. */
export interface TfjsManifestWeight {
	name: string;
	shape: number[];
	dtype: string;
	quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsManifestGroup {
	paths: string[];
	weights: TfjsManifestWeight[];
}

/** Where one weight lies in its group's concatenated shards. */
export interface TfjsWeightLocation {
	readonly entry: TfjsManifestWeight;
	readonly group: number;
	readonly offset: number;
	readonly byteLength: number;
	/** The dtype the bytes are stored in ('uint8'/'uint16' for affine quantization). */
	readonly stored: 'float32' | 'int32' | 'bool' | 'float16' | 'uint8' | 'uint16';
}

export interface TfjsManifest {
	/** model.json, parsed. */
	readonly json: Record<string, unknown>;
	readonly groups: readonly TfjsManifestGroup[];
	readonly weights: readonly TfjsWeightLocation[];
	/** Byte length each group's weights need. */
	readonly groupBytes: readonly number[];
	readonly warnings: string[];
}

const storedBytes: Record<TfjsWeightLocation['stored'], number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2 };

function corrupt(source: ByteSource, what: string): never {
	throw new ModelFormatError('corrupt', `${source.name}: ${what} (not a valid TF.js layers model).`);
}

/**
 * Reads model.json and lays out its weightsManifest: each weight's group, offset and stored type.
 * Graph models are refused with 'unsupported-format'. Shards are not opened here.
 */
export async function readTfjsManifest(source: ByteSource): Promise<TfjsManifest> {
	if (source.length > maxModelJsonBytes) {
		throw new ModelFormatError('too-large', `${source.name}: ${source.length} bytes is too large for a TF.js model.json.`);
	}
	let json: unknown;
	try {
		json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(0, source.length)));
	} catch (ex) {
		if (ModelFormatError.is(ex)) {
			throw ex;
		}
		throw new ModelFormatError('corrupt', `${source.name}: is not valid JSON (${(ex as Error).message}).`);
	}
	if (!isRecord(json)) {
		corrupt(source, 'model.json is not a JSON object');
	}
	const topology = json.modelTopology;
	if (json.format === 'graph-model' || (isRecord(topology) && 'node' in topology)) {
		throw new ModelFormatError('unsupported-format', `${source.name}: is a TF.js graph model (a frozen TensorFlow graph); Crossbar Lens reads TF.js layers models only. Convert the Keras model with tensorflowjs_converter --output_format tfjs_layers_model.`);
	}
	if (json.format !== undefined && json.format !== 'layers-model') {
		throw new ModelFormatError('unsupported-format', `${source.name}: TF.js model format '${String(json.format)}' is not a layers model.`);
	}
	const manifest = json.weightsManifest ?? [];
	if (!Array.isArray(manifest)) {
		corrupt(source, 'weightsManifest is not a list');
	}
	const groups: TfjsManifestGroup[] = [];
	const weights: TfjsWeightLocation[] = [];
	const groupBytes: number[] = [];
	const warnings: string[] = [];
	for (const [g, group] of (manifest as unknown[]).entries()) {
		if (!isRecord(group) || !Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string') || !Array.isArray(group.weights)) {
			corrupt(source, `weightsManifest group ${g} needs 'paths' and 'weights'`);
		}
		groups.push(group as unknown as TfjsManifestGroup);
		let offset = 0;
		for (const entry of group.weights as unknown[]) {
			if (!isRecord(entry) || typeof entry.name !== 'string' || typeof entry.dtype !== 'string' || !Array.isArray(entry.shape)
				|| !entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
				corrupt(source, `weightsManifest group ${g} has an entry without name, dtype and shape`);
			}
			const weight = entry as unknown as TfjsManifestWeight;
			const q = weight.quantization;
			let stored: TfjsWeightLocation['stored'] | undefined;
			if (q !== undefined) {
				if (!isRecord(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)
					|| (q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number'))) {
					corrupt(source, `weight '${weight.name}' has an unknown quantization ${JSON.stringify(q)}`);
				}
				stored = q.dtype as TfjsWeightLocation['stored'];
			} else if (weight.dtype === 'float32' || weight.dtype === 'int32' || weight.dtype === 'bool') {
				stored = weight.dtype;
			}
			if (stored === undefined) {
				if (weight.dtype === 'complex64') {
					offset += numel(weight.shape) * 8;
					warnings.push(`Weight '${weight.name}' (complex64) is skipped.`);
					continue;
				}
				// Strings have per-element lengths: the offsets of what follows are unknown without reading them.
				warnings.push(`Weight '${weight.name}' has dtype '${weight.dtype}'; it and the weights after it in its group are skipped.`);
				break;
			}
			const byteLength = numel(weight.shape) * storedBytes[stored];
			weights.push({ entry: weight, group: g, offset, byteLength, stored });
			offset += byteLength;
		}
		groupBytes.push(offset);
	}
	return { json, groups, weights, groupBytes, warnings };
}

/** Several shard files read as one byte range (tfjs cuts shards at 4 MB regardless of weight boundaries). */
export class ShardGroup {
	private readonly starts: number[] = [];
	readonly length: number;

	constructor(readonly shards: readonly ByteSource[]) {
		let total = 0;
		for (const shard of shards) {
			this.starts.push(total);
			total += shard.length;
		}
		this.length = total;
	}

	async readInto(offset: number, target: Uint8Array): Promise<void> {
		let done = 0;
		for (let i = 0; i < this.shards.length && done < target.length; i++) {
			const start = this.starts[i];
			const shard = this.shards[i];
			const from = offset + done;
			if (from >= start + shard.length || from < start) {
				continue;
			}
			const take = Math.min(target.length - done, start + shard.length - from);
			await shard.readInto(from - start, target.subarray(done, done + take));
			done += take;
		}
		if (done < target.length) {
			throw new ModelFormatError('truncated', `${this.shards[0]?.name ?? 'weights'}: the weight shards end before byte ${offset + target.length}.`);
		}
	}
}

/** Opens every group's shards; errors name `source` (model.json). */
export async function openShardGroups(source: ByteSource, manifest: TfjsManifest, opened: ByteSource[]): Promise<ShardGroup[]> {
	const groups: ShardGroup[] = [];
	for (const [g, group] of manifest.groups.entries()) {
		const shards: ByteSource[] = [];
		for (const path of group.paths) {
			try {
				const shard = await source.openSibling(path);
				opened.push(shard);
				shards.push(shard);
			} catch (ex) {
				if (ModelFormatError.is(ex)) {
					throw new ModelFormatError(ex.reason, `${source.name}: weight shard '${path}': ${ex.message}`, { cause: ex });
				}
				throw ex;
			}
		}
		const shardGroup = new ShardGroup(shards);
		if (manifest.groupBytes[g] > shardGroup.length) {
			throw new ModelFormatError('truncated', `${source.name}: weight group ${g + 1} needs ${manifest.groupBytes[g]} bytes but its shards (${group.paths.join(', ')}) hold ${shardGroup.length} (truncated or wrong manifest).`);
		}
		groups.push(shardGroup);
	}
	return groups;
}

function weightTensor(location: TfjsWeightLocation, group: ShardGroup): TensorRef {
	const { entry, stored, offset, byteLength } = location;
	const count = numel(entry.shape);
	const q = entry.quantization;
	const dtype: DType = stored === 'float16' ? 'float16' : stored === 'int32' ? 'int32' : stored === 'bool' ? 'bool' : 'float32';
	return {
		name: entry.name,
		shape: entry.shape,
		dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const target = float32Target(count, into);
			if (stored === 'float32') {
				await group.readInto(offset, new Uint8Array(target.buffer, target.byteOffset, byteLength));
				return target;
			}
			const bytes = new Uint8Array(byteLength);
			await group.readInto(offset, bytes);
			if (stored === 'uint8' || stored === 'uint16') {
				// tfjs-core io.decodeWeights: value = quantized * scale + min.
				const scale = q!.scale!;
				const min = q!.min!;
				const values = stored === 'uint8' ? bytes : new Uint16Array(bytes.buffer, 0, count);
				for (let i = 0; i < count; i++) {
					target[i] = values[i] * scale + min;
				}
			} else {
				decodeToFloat32(bytes, dtype, count, target);
			}
			return target;
		},
	};
}

/** A reshaped view of a tensor: same bytes and load, another logical shape (row-major reinterpretation). */
function reshaped(tensor: TensorRef, shape: number[]): TensorRef {
	return { name: tensor.name, shape, dtype: tensor.dtype, load: (into) => tensor.load(into) };
}

// ---------------------------------------------------------------- topology

type Dim = number | undefined;
/** A layer output shape without the batch axis; undefined when unknown. */
type Shape = KerasShape;

const passThrough = new Set([
	'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax', 'BatchNormalization', 'LayerNormalization',
	'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Rescaling', 'Normalization', 'Masking',
	'ActivityRegularization', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum',
]);

function windowed(size: Dim, kernel: number, stride: number, padding: unknown, dilation: number): Dim {
	if (size === undefined) {
		return undefined;
	}
	// Keras conv_utils.conv_output_length.
	const out = padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - dilation * (kernel - 1) - 1) / stride) + 1;
	return out > 0 ? out : undefined;
}

/** Output shape of one layer from its inputs' shapes (channels_last unless the layer says otherwise). */
function layerOutput(layer: KerasLayer, inputs: Shape[]): Shape {
	const input = inputs[0];
	const c = layer.config;
	const first = c.data_format === 'channels_first';
	const spatial = (s: Dim[]): [Dim, Dim, Dim] => (first ? [s[1], s[2], s[0]] : [s[0], s[1], s[2]]);
	const pack = (h: Dim, w: Dim, ch: Dim): Shape => (first ? [ch, h, w] : [h, w, ch]);
	switch (layer.className) {
		case 'InputLayer':
			return input;
		case 'Conv2D':
		case 'DepthwiseConv2D':
		case 'SeparableConv2D':
		case 'MaxPooling2D':
		case 'AveragePooling2D': {
			if (!input || input.length !== 3) {
				return undefined;
			}
			const [h, w, ch] = spatial(input);
			const isPool = layer.className.endsWith('Pooling2D');
			const [kh, kw] = kerasPair(isPool ? c.pool_size : c.kernel_size, isPool ? 2 : 1);
			const [sh, sw] = kerasPair(isPool ? c.strides ?? c.pool_size : c.strides, isPool ? kh : 1);
			const [dh, dw] = kerasPair(c.dilation_rate, 1);
			const channels = isPool ? ch : layer.className === 'DepthwiseConv2D'
				? (ch === undefined ? undefined : ch * ((c.depth_multiplier as number | undefined) ?? 1))
				: (c.filters as number | undefined);
			return pack(windowed(h, kh, sh, c.padding, dh), windowed(w, kw, sw, c.padding, dw), channels);
		}
		case 'GlobalAveragePooling2D':
		case 'GlobalMaxPooling2D': {
			if (!input || input.length !== 3) {
				return undefined;
			}
			const ch = spatial(input)[2];
			return c.keepdims === true ? pack(1, 1, ch) : [ch];
		}
		case 'ZeroPadding2D':
		case 'Cropping2D': {
			if (!input || input.length !== 3) {
				return undefined;
			}
			const raw = layer.className === 'ZeroPadding2D' ? c.padding : c.cropping;
			const sign = layer.className === 'ZeroPadding2D' ? 1 : -1;
			let rows: [number, number];
			let cols: [number, number];
			if (Array.isArray(raw) && Array.isArray(raw[0])) {
				rows = kerasPair(raw[0], 0);
				cols = kerasPair(raw[1], 0);
			} else {
				const [a, b] = kerasPair(raw, layer.className === 'ZeroPadding2D' ? 1 : 0);
				rows = [a, a];
				cols = [b, b];
			}
			const [h, w, ch] = spatial(input);
			return pack(h === undefined ? undefined : h + sign * (rows[0] + rows[1]), w === undefined ? undefined : w + sign * (cols[0] + cols[1]), ch);
		}
		case 'UpSampling2D': {
			if (!input || input.length !== 3) {
				return undefined;
			}
			const [fh, fw] = kerasPair(c.size, 2);
			const [h, w, ch] = spatial(input);
			return pack(h === undefined ? undefined : h * fh, w === undefined ? undefined : w * fw, ch);
		}
		case 'Flatten':
			return input && input.every((d) => d !== undefined) ? [(input as number[]).reduce((a, b) => a * b, 1)] : [undefined];
		case 'Reshape':
			return Array.isArray(c.target_shape) ? c.target_shape.map((d) => (typeof d === 'number' && d > 0 ? d : undefined)) : undefined;
		case 'Dense':
			return input ? [...input.slice(0, -1), c.units as number] : [c.units as number];
		case 'Concatenate': {
			if (inputs.some((s) => !s) || inputs.length === 0) {
				return undefined;
			}
			const rank = input!.length;
			const axisRaw = typeof c.axis === 'number' ? c.axis : -1;
			// Keras axes count the batch axis; our shapes do not.
			const axis = axisRaw < 0 ? axisRaw + rank : axisRaw - 1;
			if (axis < 0 || axis >= rank) {
				return undefined;
			}
			const out = [...input!];
			const parts = inputs.map((s) => s![axis]);
			out[axis] = parts.some((d) => d === undefined) ? undefined : (parts as number[]).reduce((a, b) => a + b, 0);
			return out;
		}
		default:
			return passThrough.has(layer.className) ? input : undefined;
	}
}

function product(shape: Shape, from: number, to: number): number | undefined {
	if (!shape) {
		return undefined;
	}
	let n = 1;
	for (const d of shape.slice(from, to)) {
		if (d === undefined) {
			return undefined;
		}
		n *= d;
	}
	return n;
}

/** A layer's weight by layer name and Keras weight name ('kernel', 'depthwise_kernel', 'pointwise_kernel'). */
export type KerasWeightFinder = (layer: string, weight: string) => TensorRef | undefined;

/** Finds a layer's weight: `conv2d/kernel`, or a nested model's `sequential/conv2d/kernel`. */
export function weightFinder(tensors: readonly TensorRef[]): KerasWeightFinder {
	const byName = new Map<string, TensorRef>();
	for (const tensor of tensors) {
		byName.set(tensor.name.replace(/:\d+$/, ''), tensor);
	}
	return (layer, weight) => {
		const exact = byName.get(`${layer}/${weight}`);
		if (exact) {
			return exact;
		}
		const suffix = `/${layer}/${weight}`;
		for (const [name, tensor] of byName) {
			if (name.endsWith(suffix)) {
				return tensor;
			}
		}
		return undefined;
	};
}

/**
 * The analysed layers of a Keras topology (a TF.js modelTopology, a Keras .h5 model_config or a
 * .keras config.json), with output sizes followed from the input shape; undefined when there is
 * no topology.
 */
export function buildKerasLayers(topology: unknown, find: KerasWeightFinder, inputSize: readonly number[] | undefined, source: ByteSource, warnings: string[]): LayerWeight[] | undefined {
	const parsed = kerasTopology(topology, (what) => corrupt(source, what));
	if (!parsed) {
		return undefined;
	}
	const list = parsed.layers;
	let inputShape = parsed.inputShape;
	if (inputSize) {
		// TF.js is NHWC: [C, H, W] → [H, W, C].
		inputShape = [inputSize[1], inputSize[2], inputSize[0]];
	}
	const shapes = new Map<string, Shape>();
	const layers: LayerWeight[] = [];
	let previous: Shape = inputShape;
	let inputUsed = false;
	let unknownSizes = 0;
	let skipped = 0;
	for (const layer of list) {
		let inputs: Shape[];
		if (layer.inbound && layer.inbound.length > 0) {
			inputs = layer.inbound.map((n) => shapes.get(n));
		} else if (layer.inbound && layer.className === 'InputLayer') {
			inputs = [inputUsed ? shapesFromConfig(layer) : inputShape];
			inputUsed = true;
		} else {
			inputs = [previous];
		}
		const output = layerOutput(layer, inputs);
		shapes.set(layer.name, output);
		previous = output;
		const spatialCount = output && output.length === 3 ? product(output, layer.config.data_format === 'channels_first' ? 1 : 0, layer.config.data_format === 'channels_first' ? 3 : 2) : undefined;
		const conv = (name: string, tensor: TensorRef, groups: number): void => {
			if (spatialCount === undefined) {
				unknownSizes++;
			}
			layers.push({ name, kind: 'conv', layout: 'HWIO', groups, tensor, invocationsPerInference: spatialCount });
		};
		const depthwise = (name: string, tensor: TensorRef): void => {
			// (kh, kw, in, mult) read row-major is (kh, kw, 1, in·mult) with output channel c·mult + m, TF's own
			// depthwise channel order: an HWIO grouped conv with groups = in and one input per group.
			const [kh, kw, channels, multiplier] = tensor.shape;
			conv(name, reshaped(tensor, [kh, kw, 1, channels * multiplier]), channels);
		};
		switch (layer.className) {
			case 'Conv2D': {
				const kernel = find(layer.name, 'kernel');
				if (kernel && kernel.shape.length === 4) {
					const groups = typeof layer.config.groups === 'number' && layer.config.groups > 0 ? layer.config.groups : 1;
					conv(layer.name, kernel, groups);
				}
				break;
			}
			case 'DepthwiseConv2D': {
				const kernel = find(layer.name, 'depthwise_kernel');
				if (kernel && kernel.shape.length === 4) {
					depthwise(layer.name, kernel);
				}
				break;
			}
			case 'SeparableConv2D': {
				const dw = find(layer.name, 'depthwise_kernel');
				const pw = find(layer.name, 'pointwise_kernel');
				if (dw && dw.shape.length === 4) {
					depthwise(`${layer.name}/depthwise`, dw);
				}
				if (pw && pw.shape.length === 4) {
					conv(`${layer.name}/pointwise`, pw, 1);
				}
				break;
			}
			case 'Dense': {
				const kernel = find(layer.name, 'kernel');
				if (kernel && kernel.shape.length === 2) {
					layers.push({ name: layer.name, kind: 'linear', layout: 'IO', groups: 1, tensor: kernel, invocationsPerInference: 1 });
				}
				break;
			}
			case 'Conv1D':
			case 'Conv3D':
			case 'Conv2DTranspose':
			case 'Conv3DTranspose':
			case 'SeparableConv1D':
			case 'DepthwiseConv1D':
				skipped++;
				break;
			default:
				break;
		}
	}
	if (unknownSizes > 0) {
		warnings.push(`${unknownSizes} conv layer(s) have no known output size, so their crossbar activations per inference are unknown: ${inputShape?.every((d) => d !== undefined) ? 'a layer on the way is not one Crossbar Lens follows' : 'the model input has no static height/width; give the input size (C×H×W)'}.`);
	}
	if (skipped > 0) {
		warnings.push(`${skipped} layer(s) that are not 2-D convolutions or Dense (Conv1D, Conv3D, transposed convs) are not analysed.`);
	}
	return layers;
}

function shapesFromConfig(layer: KerasLayer): Shape {
	const batchShape = layer.config.batch_input_shape ?? layer.config.batch_shape;
	return Array.isArray(batchShape) ? batchShape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : undefined)) : undefined;
}

export function checkInputSize(inputSize: readonly number[] | undefined): readonly number[] | undefined {
	if (inputSize !== undefined && (inputSize.length !== 3 || !inputSize.every((d) => Number.isSafeInteger(d) && d > 0))) {
		throw new UsageError(`The input size must be three positive integers C×H×W (got ${inputSize.join('×')}).`);
	}
	return inputSize;
}

/**
 * TF.js layers model: model.json (Keras topology + weightsManifest) and binary weight shards next
 * to it. Conv2D kernels are HWIO; DepthwiseConv2D kernels (kh, kw, in, mult) are exposed as
 * HWIO (kh, kw, 1, in·mult) with groups = in (a free row-major reshape); SeparableConv2D gives two
 * layers, `name/depthwise` and `name/pointwise`; Dense kernels are IO.
 */
export const tfjsReader: FormatReader = {
	id: 'tfjs',
	sniff(name, head) {
		if (!name.toLowerCase().endsWith('.json')) {
			return false;
		}
		const text = new TextDecoder('latin1').decode(head);
		return text.includes('"modelTopology"') || text.includes('"weightsManifest"');
	},
	async open(source, options) {
		const inputSize = checkInputSize(options.inputSize);
		const manifest = await readTfjsManifest(source);
		const opened: ByteSource[] = [];
		try {
			const groups = await openShardGroups(source, manifest, opened);
			throwIfAborted(options.signal);
			const tensors = manifest.weights.map((w) => weightTensor(w, groups[w.group]));
			const warnings = [...manifest.warnings];
			const quantized = manifest.weights.filter((w) => w.stored === 'uint8' || w.stored === 'uint16').length;
			if (quantized > 0) {
				warnings.push(`${quantized} weight(s) are stored quantized (uint8/uint16 with scale and min); they are dequantized on load.`);
			}
			const layers = buildKerasLayers(manifest.json.modelTopology, weightFinder(tensors), inputSize, source, warnings);
			if (!layers) {
				warnings.push('model.json has no modelTopology: only the weights are listed, without layers.');
			}
			return graphOverSources('tfjs', [source, ...opened], tensors, layers ?? [], warnings);
		} catch (ex) {
			await Promise.all(opened.map((s) => s.close()));
			throw ex;
		}
	},
};
