import type { FormatId, LayerWeight, ModelGraph, TensorRef } from '../core/model';
import type { ByteSource } from './byteSource';

const floatTypes = new Set(['float64', 'float32', 'float16', 'bfloat16']);

/**
 * Layer discovery for formats that hold only named tensors (PyTorch state_dict, safetensors,
 * npz): every floating-point 4-D tensor is a conv weight in OIHW order and every 2-D one a
 * linear weight (out, in), in file order, which for torch is module registration order.
 * Names ending in `.weight` give the module name users know (`layer1.0.conv1`).
 */
export function layersFromNamedTensors(tensors: readonly TensorRef[]): LayerWeight[] {
	const layers: LayerWeight[] = [];
	for (const tensor of tensors) {
		if (!floatTypes.has(tensor.dtype)) {
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

/** Builds a ModelGraph over named tensors; the graph closes `source` (and `extra`) on close(). */
export function namedTensorGraph(format: FormatId, source: ByteSource, tensors: TensorRef[], warnings: string[] = [], extra: ByteSource[] = []): ModelGraph {
	return graphOverSources(format, [source, ...extra], tensors, layersFromNamedTensors(tensors), warnings);
}
