import type { ModelGraph } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../core/errors';
import { checkOutputPath, writeFileAtomic } from '../atomicWrite';
import { shardedModel } from '../sharded';
import type { ShardedModel } from '../sharded';
import { reparametrisedParts } from '../stateDict';
import { SequentialWriter, copyWithPatches } from './common';
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
	const shards = shardedModel(graph);
	if (shards) {
		return [...notes, ...await writeSharded(shards, expanded, outPath, options)];
	}
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
 * A sharded model: a new index at `outPath` (a copy of the input's) and every shard under its
 * own name in the index's folder, each written by its format's writer with the updates of the
 * tensors it holds. The output folder must differ from the input's (the shard names are the
 * same); every output is checked before anything is written.
 */
async function writeSharded(model: ShardedModel, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions): Promise<string[]> {
	if (!outPath.toLowerCase().endsWith('.index.json')) {
		throw new UsageError(`${model.index.name} is a sharded model: give --out <folder>/<name>.index.json; its shards are written next to the new index under their own names.`);
	}
	const folder = dirname(resolve(outPath));
	const inputFolder = dirname(resolve(options.inputPath ?? model.index.name));
	if (folder === inputFolder) {
		throw new UsageError(`${outPath}: the shards of a sharded model keep their names, so the output index must be in another folder than ${model.index.name}.`);
	}
	const shardOut = (file: string): string => join(folder, file);
	for (const shard of model.shards) {
		await checkOutputPath(shardOut(shard.file), { force: options.force });
	}
	await checkOutputPath(outPath, { force: options.force, inputPath: options.inputPath ?? model.index.name });
	// Once every output is known to be free: a new folder for the copy is made, an existing one used.
	await mkdir(folder, { recursive: true });
	const notes: string[] = [];
	for (const shard of model.shards) {
		const own = new Map([...updates].filter(([name]) => model.shardOf.get(name) === shard));
		notes.push(...await writeModel(shard.source, shard.graph, own, shardOut(shard.file), { force: options.force }));
	}
	await writeFileAtomic(outPath, (handle) => copyWithPatches(model.index, [], new SequentialWriter(handle)), { force: options.force, inputPath: options.inputPath ?? model.index.name });
	notes.push(`${outPath}: a sharded model; its ${model.shards.length} shard${model.shards.length === 1 ? ' was' : 's were'} written next to it (${model.shards.map((s) => s.file).slice(0, 3).join(', ')}${model.shards.length > 3 ? ', …' : ''}).`);
	return notes;
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
