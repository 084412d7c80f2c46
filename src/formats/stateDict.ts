import type { FormatId, LayerWeight, ModelGraph, TensorRef } from '../core/model';
import type { ByteSource } from './byteSource';
import { float32Target, floatDTypes } from './dtype';

/**
 * Integer tensors that are layer weights all the same: torch.ao quantized weights (load() gives
 * their real values) and int8 weights in safetensors files (their integers; zero is zero).
 */
const integerWeights = new WeakSet<TensorRef>();

export function markIntegerWeight(tensor: TensorRef): void {
	integerWeights.add(tensor);
}

/**
 * A parameter that `torch.nn.utils.prune` re-parametrised: the file holds `X_orig` and `X_mask`
 * in place of `X`, and the module's forward uses `X = X_orig ⊙ X_mask`.
 */
export interface Reparametrised {
	readonly orig: TensorRef;
	readonly mask: TensorRef;
}

const reparametrised = new WeakMap<TensorRef, Reparametrised>();

/** The `_orig`/`_mask` pair behind a tensor that layersFromNamedTensors combined (undefined for others). */
export function reparametrisedParts(tensor: TensorRef): Reparametrised | undefined {
	return reparametrised.get(tensor);
}

/** `X = orig ⊙ mask`, loaded the way PyTorch's forward pre-hook computes it. */
function maskedTensor(name: string, orig: TensorRef, mask: TensorRef): TensorRef {
	const tensor: TensorRef = {
		name,
		shape: orig.shape,
		dtype: orig.dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const values = await orig.load(float32Target(orig.shape.reduce((a, b) => a * b, 1), into));
			const gate = await mask.load();
			for (let i = 0; i < values.length; i++) {
				values[i] *= gate[i];
			}
			return values;
		},
	};
	reparametrised.set(tensor, { orig, mask });
	return tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
	return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The tensors as the model's forward sees them: each `X_orig` with a `X_mask` of the same shape
 * becomes one tensor `X` (at the place of `X_orig`), and the mask is dropped. Returns the names
 * of the combined tensors.
 */
export function applyPruneMasks(tensors: readonly TensorRef[]): { tensors: TensorRef[]; combined: string[] } {
	const byName = new Map(tensors.map((t) => [t.name, t]));
	const masks = new Set<TensorRef>();
	const out: TensorRef[] = [];
	const combined: string[] = [];
	for (const tensor of tensors) {
		const match = /^(.*)_orig$/.exec(tensor.name);
		const mask = match ? byName.get(`${match[1]}_mask`) : undefined;
		if (match && mask && !byName.has(match[1]) && floatDTypes.has(tensor.dtype) && sameShape(mask.shape, tensor.shape)) {
			out.push(maskedTensor(match[1], tensor, mask));
			masks.add(mask);
			combined.push(match[1]);
		} else {
			out.push(tensor);
		}
	}
	return { tensors: out.filter((t) => !masks.has(t)), combined };
}

/**
 * Layer discovery for formats that hold only named tensors (PyTorch state_dict, safetensors,
 * npz): every floating-point 4-D tensor is a conv weight in OIHW order and every 2-D one a
 * linear weight (out, in), in file order, which for torch is module registration order.
 * Names ending in `.weight` give the module name users know (`layer1.0.conv1`). A
 * `torch.nn.utils.prune` pair `X_orig`/`X_mask` is one layer over `X_orig ⊙ X_mask`.
 */
export function layersFromNamedTensors(tensors: readonly TensorRef[]): LayerWeight[] {
	return layersFromEffective(applyPruneMasks(tensors).tensors);
}

function layersFromEffective(tensors: readonly TensorRef[]): LayerWeight[] {
	const layers: LayerWeight[] = [];
	for (const tensor of tensors) {
		if (!floatDTypes.has(tensor.dtype) && !integerWeights.has(tensor)) {
			continue;
		}
		// Names that are plainly not layer weights even when 2-D or 4-D.
		if (/(^|[._])(running_mean|running_var|num_batches_tracked|bias|embed|embedding|embeddings|pos_embed|position_ids)$/i.test(tensor.name)) {
			continue;
		}
		const rank = tensor.shape.length;
		if (rank !== 4 && rank !== 2) {
			continue;
		}
		if (tensor.shape.some((d) => d === 0)) {
			continue;
		}
		const name = tensor.name.replace(/[./]weight$/, '');
		layers.push(rank === 4
			? { name, kind: 'conv', layout: 'OIHW', groups: 1, tensor }
			: { name, kind: 'linear', layout: 'OI', groups: 1, tensor });
	}
	return layers;
}

/** The warning for the tensors applyPruneMasks combined, or undefined when there are none. */
function pruneMaskWarning(combined: readonly string[]): string | undefined {
	if (combined.length === 0) {
		return undefined;
	}
	const shown = combined.length > 4 ? `${combined.slice(0, 4).join(', ')}, …` : combined.join(', ');
	return `${combined.length} parameter${combined.length === 1 ? ' was' : 's were'} pruned with torch.nn.utils.prune (${shown}): analysed as X_orig ⊙ X_mask, the weights the model's forward uses.`;
}

/** A ModelGraph over `sources` (the model file first): close() closes every source, once. */
export function graphOverSources(format: FormatId, sources: readonly ByteSource[], tensors: readonly TensorRef[], layers: readonly LayerWeight[], warnings: string[]): ModelGraph {
	let closed = false;
	return {
		format,
		file: sources[0].name,
		tensors,
		layers,
		warnings,
		async close() {
			if (!closed) {
				closed = true;
				await Promise.all(sources.map((s) => s.close()));
			}
		},
	};
}

/** The layers of named tensors (layersFromNamedTensors) and the warnings they call for. */
export function namedTensorLayers(tensors: readonly TensorRef[]): { layers: LayerWeight[]; warnings: string[] } {
	const effective = applyPruneMasks(tensors);
	const masked = pruneMaskWarning(effective.combined);
	return { layers: layersFromEffective(effective.tensors), warnings: masked ? [masked] : [] };
}

/** Builds a ModelGraph over named tensors; the graph closes `source` (and `extra`) on close(). */
export function namedTensorGraph(format: FormatId, source: ByteSource, tensors: TensorRef[], warnings: string[] = [], extra: ByteSource[] = []): ModelGraph {
	const found = namedTensorLayers(tensors);
	return graphOverSources(format, [source, ...extra], tensors, found.layers, [...warnings, ...found.warnings]);
}
