import type { ModelGraph } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { reparametrisedParts } from '../stateDict';
import { writePytorchCheckpoint } from '../pytorch/writer';
import type { WriteOptions } from './common';
import { writeNpz } from './numpy';
import { writeOnnx } from './onnx';
import { writeSafetensors } from './safetensors';
import { writeTfjs } from './tfjs';
import { writeKeras } from './keras';

export type { WriteOptions } from './common';
export { writeNpz } from './numpy';
export { writeOnnx } from './onnx';
export { writeSafetensors } from './safetensors';
export { writeTfjs } from './tfjs';
export { writeKeras } from './keras';

/**
 * Writes `graph` (opened from `source`) to `outPath` in its own format with `updates` (tensor
 * name → logical row-major float32 values, as TensorRef.load returns them) replacing those
 * tensors, atomically; everything else is kept as the format allows. Returns notes for the user
 * (one sentence each) about the form the output took.
 */
export async function writeModel(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<string[]> {
	const { updates: expanded, notes } = await keepPruneMasks(graph, updates);
	switch (graph.format) {
		case 'pytorch': return [...notes, ...await writePytorchCheckpoint(source, graph, expanded, outPath, options)];
		case 'safetensors': await writeSafetensors(source, graph, expanded, outPath, options); return notes;
		case 'onnx': await writeOnnx(source, graph, expanded, outPath, options); return notes;
		case 'tfjs': await writeTfjs(source, graph, expanded, outPath, options); return notes;
		case 'numpy': await writeNpz(source, graph, expanded, outPath, options); return notes;
		case 'keras': await writeKeras(source, graph, expanded, outPath, options); return notes;
		default: throw new Error(`${source.name}: writing ${graph.format} models is not supported.`);
	}
}

/**
 * Updates of a layer that torch.nn.utils.prune re-parametrised (`X_orig`, `X_mask`, read as
 * their product) become updates of both tensors, so that the output loads into the same pruned
 * model: the new mask is the old mask ∧ the new pruning mask (a weight is kept where its new
 * value is non-zero), and `X_orig` is zero wherever the mask is.
 */
async function keepPruneMasks(graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>): Promise<{ updates: Map<string, Float32Array>; notes: string[] }> {
	const out = new Map(updates);
	const kept: string[] = [];
	for (const layer of graph.layers) {
		const values = updates.get(layer.tensor.name);
		const parts = reparametrisedParts(layer.tensor);
		if (!values || !parts) {
			continue;
		}
		const orig = Float32Array.from(await parts.orig.load());
		const mask = Float32Array.from(await parts.mask.load());
		for (let i = 0; i < values.length; i++) {
			if (mask[i] === 0 || values[i] === 0) {
				mask[i] = 0;
				orig[i] = 0;
			} else {
				orig[i] = values[i] / mask[i];
			}
		}
		out.delete(layer.tensor.name);
		out.set(parts.orig.name, orig);
		out.set(parts.mask.name, mask);
		kept.push(layer.tensor.name);
	}
	const shown = kept.length > 4 ? `${kept.slice(0, 4).join(', ')}, …` : kept.join(', ');
	return {
		updates: out,
		notes: kept.length === 0 ? [] : [`${shown}: kept in torch.nn.utils.prune form: X_mask is the old mask ∧ the new pruning mask, and X_orig is zero wherever X_mask is.`],
	};
}
