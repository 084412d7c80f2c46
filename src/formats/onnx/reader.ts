import { ModelFormatError, UsageError, throwIfAborted } from '../../core/errors';
import type { DType, LayerWeight, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { decodeToFloat32, float32Target } from '../dtype';
import { rangeTensor } from '../safetensors';
import type { FormatReader, OpenOptions } from '../types';
import { ProtoReader, wireI32, wireI64, wireLen, wireVarint } from './protobuf';
import type { FieldRef } from './protobuf';
import { propagateShapes, spatialSize } from './shapes';
import type { Shape } from './shapes';
import { dataTypeName, onnxDataTypes, parseOnnxModel, tensorField } from './schema';
import type { OnnxModel, OnnxNode, OnnxTensorInfo } from './schema';

/** ModelProto field keys that can follow `ir_version` (field 1) at the start of a file. */
const secondKeys = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

/** The usual first bytes of an ONNX file: ir_version (1..15), then producer/graph/opset. */
function looksLikeOnnx(head: Uint8Array): boolean {
	return head.length >= 3 && head[0] === 0x08 && head[1] >= 1 && head[1] <= 15 && secondKeys.has(head[2]);
}

/**
 * Decodes int32_data/int64_data/float_data/double_data (packed or not) of a TensorProto held in
 * `reader` straight into `target`: no intermediate arrays of JS numbers for big tensors.
 */
function decodeTypedFields(reader: ProtoReader, field: number, dtype: DType, count: number, target: Float32Array, name: string): void {
	const halves = dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(count) : undefined;
	let n = 0;
	const push = (value: number): void => {
		if (n >= count) {
			reader.fail('corrupt', `initializer '${name}' has more than its ${count} elements`);
		}
		if (halves) {
			halves[n++] = value & 0xffff;
		} else {
			target[n++] = dtype === 'bool' ? (value ? 1 : 0) : value;
		}
	};
	const view = new DataView(reader.bytes.buffer, reader.bytes.byteOffset, reader.bytes.byteLength);
	for (let ref: FieldRef | undefined = reader.next(); ref; ref = reader.next()) {
		if (ref.field !== field) {
			continue;
		}
		const at = ref.start - reader.base;
		if (ref.wire === wireLen) {
			const sub = reader.sub(ref);
			if (field === tensorField.floatData) {
				for (let p = at; p + 4 <= ref.end - reader.base; p += 4) push(view.getFloat32(p, true));
			} else if (field === tensorField.doubleData) {
				for (let p = at; p + 8 <= ref.end - reader.base; p += 8) push(view.getFloat64(p, true));
			} else {
				while (!sub.done) push(sub.int64());
			}
		} else if (ref.wire === wireVarint) {
			push(ref.value);
		} else if (ref.wire === wireI32) {
			push(view.getFloat32(at, true));
		} else if (ref.wire === wireI64) {
			push(view.getFloat64(at, true));
		}
	}
	if (n !== count) {
		reader.fail('corrupt', `initializer '${name}' has ${n} elements where its dims say ${count}`);
	}
	if (halves) {
		decodeToFloat32(new Uint8Array(halves.buffer), dtype, count, target);
	}
}

type SiblingOpener = (location: string, tensor: string) => Promise<ByteSource>;

async function initializerTensor(source: ByteSource, info: OnnxTensorInfo, dtype: DType, sibling: SiblingOpener): Promise<TensorRef> {
	const { storage, name, dims } = info;
	const count = numel(dims);
	switch (storage.kind) {
		case 'raw':
			return rangeTensor(source, name, dims, dtype, storage.offset);
		case 'packed':
			return rangeTensor(source, name, dims, storage.elementType, storage.offset);
		case 'external': {
			const file = await sibling(storage.location, name);
			if (storage.offset + storage.length > file.length) {
				throw new ModelFormatError('truncated', `${source.name}: initializer '${name}' needs bytes ${storage.offset}..${storage.offset + storage.length} of '${storage.location}', which has ${file.length} (truncated).`);
			}
			return rangeTensor(file, name, dims, dtype, storage.offset);
		}
		case 'empty':
			return { name, shape: dims, dtype, load: async (into) => float32Target(0, into) };
		case 'fields':
			return {
				name, shape: dims, dtype,
				async load(into?: Float32Array): Promise<Float32Array> {
					const target = float32Target(count, into);
					const bytes = await source.read(info.start, info.end - info.start);
					decodeTypedFields(new ProtoReader(bytes, source.name, info.start), storage.field, dtype, count, target, name);
					return target;
				},
			};
	}
}

/**
 * The module path torch.onnx.export (>= 1.13) encodes in node names: `/layer1/layer1.0/conv1/Conv`
 * → `layer1.0.conv1`. Empty for `/MatMul`; undefined when the name is not in that form.
 */
export function torchScopePath(nodeName: string): string | undefined {
	const match = /^\/(.*)\/[^/]+$/.exec(nodeName) ?? (/^\/[^/]+$/.test(nodeName) ? ['', ''] : null);
	if (!match) {
		return undefined;
	}
	// A child of a Sequential/ModuleList is named after its container: `downsample` then `downsample.0`.
	const components: string[] = [];
	for (const segment of match[1].split('/').filter((s) => s !== '')) {
		const last = components.length - 1;
		if (last >= 0 && segment.startsWith(components[last] + '.')) {
			components[last] = segment;
		} else {
			components.push(segment);
		}
	}
	return components.join('.');
}

/** The name users know for a weight: `features.0.weight` → `features.0`, else the torch scope, the node or the weight name. */
function layerName(node: OnnxNode, weight: string, index: number): string {
	if (/[./]weight$/.test(weight)) {
		return weight.replace(/[./]weight$/, '');
	}
	const scope = torchScopePath(node.name);
	if (scope) {
		return scope;
	}
	if (scope === undefined && node.name !== '') {
		return node.name;
	}
	if (weight !== '' && !weight.includes('::')) {
		return weight;
	}
	return `${node.opType}_${index}`;
}

function checkInputSize(inputSize: readonly number[] | undefined): readonly number[] | undefined {
	if (inputSize !== undefined && (inputSize.length !== 3 || !inputSize.every((d) => Number.isSafeInteger(d) && d > 0))) {
		throw new UsageError(`The input size must be three positive integers C×H×W (got ${inputSize.join('×')}).`);
	}
	return inputSize;
}

const floatTypes = new Set<DType>(['float32', 'float16', 'bfloat16', 'float64']);
/** Constant inputs shape propagation reads (Reshape's shape, Unsqueeze's axes, Pad's pads, Resize's scales). */
const constantInputOps = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Pad', 'Resize', 'Upsample']);

async function buildGraph(source: ByteSource, model: OnnxModel, options: OpenOptions): Promise<ModelGraph> {
	const inputSize = checkInputSize(options.inputSize);
	const warnings: string[] = [];
	const siblings = new Map<string, ByteSource>();
	const openSibling: SiblingOpener = async (location, tensor) => {
		let file = siblings.get(location);
		if (!file) {
			try {
				file = await source.openSibling(location);
			} catch (ex) {
				if (ModelFormatError.is(ex)) {
					throw new ModelFormatError(ex.reason, `${source.name}: initializer '${tensor}' keeps its data in '${location}': ${ex.message}`, { cause: ex });
				}
				throw ex;
			}
			siblings.set(location, file);
		}
		return file;
	};
	const closeAll = async (): Promise<void> => {
		await Promise.all([source, ...siblings.values()].map((s) => s.close()));
	};

	try {
		const tensors: TensorRef[] = [];
		const byName = new Map<string, TensorRef>();
		const skipped: string[] = [];
		for (const info of model.initializers) {
			const dtype = onnxDataTypes[info.dataType];
			if (!dtype) {
				skipped.push(`${info.name} (${dataTypeName(info.dataType)})`);
				continue;
			}
			const tensor = await initializerTensor(source, info, dtype, openSibling);
			tensors.push(tensor);
			byName.set(info.name, tensor);
		}
		if (skipped.length > 0) {
			warnings.push(`${skipped.length} initializer(s) with types Crossbar Lens does not decode were skipped: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', ...' : ''}.`);
		}
		if (model.sparseInitializers > 0) {
			warnings.push(`${model.sparseInitializers} sparse initializer(s) are not read.`);
		}
		throwIfAborted(options.signal);

		// Shapes: initializers, graph inputs (inputSize overrides the first image input), small constants.
		const shapes = new Map<string, Shape>();
		for (const info of model.initializers) {
			shapes.set(info.name, info.dims);
		}
		let overridden = inputSize === undefined;
		let dynamicInput: string | undefined;
		for (const input of model.inputs) {
			if (shapes.has(input.name) || !input.dims) {
				continue;
			}
			if (!overridden && inputSize && (input.dims.length === 4 || input.dims.length === 0)) {
				shapes.set(input.name, [input.dims[0] ?? 1, ...inputSize]);
				overridden = true;
				continue;
			}
			if (input.dims.length === 4 && input.dims.slice(1).some((d) => d === undefined)) {
				dynamicInput ??= input.name;
			}
			shapes.set(input.name, input.dims);
		}
		if (!overridden) {
			warnings.push(`The input size ${inputSize!.join('×')} was not applied: the graph has no 4-D (NCHW) input.`);
		}
		const constants = new Map<string, readonly number[]>();
		for (const node of model.nodes) {
			if (!constantInputOps.has(node.opType)) {
				continue;
			}
			for (const name of node.inputs.slice(1)) {
				const tensor = byName.get(name);
				if (tensor && !constants.has(name) && numel(tensor.shape) <= 64) {
					constants.set(name, Array.from(await tensor.load()));
				}
			}
		}
		propagateShapes(model.nodes, shapes, constants);
		const declared = new Map<string, Shape>();
		for (const info of [...model.valueInfo, ...model.outputs]) {
			if (info.dims) {
				declared.set(info.name, info.dims);
			}
		}

		// Layers, in node order: Conv with an initializer weight (through Identity), Gemm, MatMul.
		const alias = new Map<string, string>();
		const resolve = (name: string): string => alias.get(name) ?? name;
		const layers: LayerWeight[] = [];
		const usedNames = new Map<string, number>();
		let unknownSizes = 0;
		let computedWeights = 0;
		let otherRanks = 0;
		for (const [index, node] of model.nodes.entries()) {
			if (node.opType === 'Identity' && node.inputs[0] && node.outputs[0] && byName.has(resolve(node.inputs[0]))) {
				alias.set(node.outputs[0], resolve(node.inputs[0]));
				continue;
			}
			const isConv = node.opType === 'Conv';
			if ((!isConv && node.opType !== 'Gemm' && node.opType !== 'MatMul') || (node.domain !== '' && node.domain !== 'ai.onnx') || !node.inputs[1]) {
				continue;
			}
			const weightName = resolve(node.inputs[1]);
			const tensor = byName.get(weightName);
			if (!tensor) {
				if (isConv) {
					computedWeights++;
				}
				continue;
			}
			if (!floatTypes.has(tensor.dtype) || tensor.shape.some((d) => d === 0)) {
				continue;
			}
			if (tensor.shape.length !== (isConv ? 4 : 2)) {
				otherRanks += isConv ? 1 : 0;
				continue;
			}
			let name = layerName(node, weightName, index);
			const seen = usedNames.get(name) ?? 0;
			usedNames.set(name, seen + 1);
			if (seen > 0) {
				name = `${name}#${seen + 1}`;
			}
			if (isConv) {
				const output = node.outputs[0];
				const invocations = spatialSize(shapes.get(output)) ?? spatialSize(declared.get(output));
				if (invocations === undefined) {
					unknownSizes++;
				}
				const groups = node.attributes.get('group')?.i ?? 1;
				layers.push({ name, kind: 'conv', layout: 'OIHW', groups: groups > 0 ? groups : 1, tensor, invocationsPerInference: invocations });
			} else {
				const transposed = node.opType === 'Gemm' && (node.attributes.get('transB')?.i ?? 0) === 1;
				layers.push({ name, kind: 'linear', layout: transposed ? 'OI' : 'IO', groups: 1, tensor, invocationsPerInference: 1 });
			}
		}
		if (unknownSizes > 0) {
			const why = dynamicInput !== undefined && inputSize === undefined
				? `the graph input '${dynamicInput}' has dynamic height/width; give the input size (C×H×W) to count them`
				: 'the graph\'s shapes could not be followed to them';
			warnings.push(`${unknownSizes} conv layer(s) have no known output size, so their crossbar activations per inference are unknown: ${why}.`);
		}
		if (computedWeights > 0) {
			warnings.push(`${computedWeights} Conv node(s) take their weight from a computed value (for example DequantizeLinear) and are not analysed.`);
		}
		if (otherRanks > 0) {
			warnings.push(`${otherRanks} Conv node(s) are not 2-D convolutions (1-D or 3-D weights) and are not analysed.`);
		}

		let closed = false;
		return {
			format: 'onnx',
			file: source.name,
			tensors,
			layers,
			warnings,
			async close() {
				if (!closed) {
					closed = true;
					await closeAll();
				}
			},
		};
	} catch (ex) {
		// The caller still owns `source` on failure; only the siblings we opened are ours to close.
		await Promise.all([...siblings.values()].map((s) => s.close()));
		throw ex;
	}
}

/**
 * ONNX (ModelProto, protobuf): a hand-written decoder walks the file once, recording where each
 * initializer's data lies (raw_data, typed fields, or external data in a sibling file).
 * Layers: Conv with an initializer weight (OIHW, `group`), Gemm (transB=1 → OI, else IO) and
 * MatMul (IO) in node order; conv output sizes come from static shape propagation.
 */
export const onnxReader: FormatReader = {
	id: 'onnx',
	sniff(name, head) {
		return name.toLowerCase().endsWith('.onnx') || looksLikeOnnx(head);
	},
	async open(source, options) {
		let model: OnnxModel;
		try {
			model = await parseOnnxModel(source);
		} catch (ex) {
			const head = await source.read(0, Math.min(16, source.length));
			if (ModelFormatError.is(ex) && !looksLikeOnnx(head)) {
				throw new ModelFormatError('bad-magic', `${source.name}: does not look like an ONNX model (first bytes ${Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}).`, { cause: ex });
			}
			throw ex;
		}
		throwIfAborted(options.signal);
		return buildGraph(source, model, options);
	},
};
