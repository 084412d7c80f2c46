import { dirname } from 'node:path';
import { ModelFormatError, throwIfAborted } from '../core/errors';
import type { ModelGraph, TensorRef } from '../core/model';
import type { ByteSource } from './byteSource';
import { naturalCompare } from './safetensors';
import { namedTensorLayers } from './stateDict';
import type { OpenOptions } from './types';

/**
 * Sharded checkpoints as Hugging Face writes them: `model.safetensors.index.json` (or
 * `pytorch_model.bin.index.json`) maps every tensor name to the shard file that holds it
 * (`{"metadata": {...}, "weight_map": {"name": "model-00001-of-00002.safetensors", …}}`).
 * The shards, in the index's folder, are read by their own readers and the tensors listed in
 * the index form one model; each still loads lazily from its shard, one at a time.
 */

/** An index is JSON; one this large is not an index. */
const maxIndexBytes = 64 * 1024 * 1024;

/** True for a file that looks like a shard index (by name, or a JSON object with a weight_map). */
export function isShardIndex(name: string, head: Uint8Array): boolean {
	if (name.toLowerCase().endsWith('.index.json')) {
		return true;
	}
	const text = new TextDecoder('latin1').decode(head.subarray(0, 4096));
	return /^\s*\{/.test(text) && text.includes('"weight_map"');
}

interface Shard {
	/** As the index names it (relative to the index's folder). */
	readonly file: string;
	readonly source: ByteSource;
	readonly graph: ModelGraph;
}

/** What the writers need to rewrite a sharded model: the index and each shard's reader graph. */
export interface ShardedModel {
	readonly index: ByteSource;
	readonly shards: readonly Shard[];
	/** Tensor name → the shard that holds it. */
	readonly shardOf: ReadonlyMap<string, Shard>;
}

const sharded = new WeakMap<ModelGraph, ShardedModel>();

/** The shards behind a graph openShardedModel produced (undefined for any other graph). */
export function shardedModel(graph: ModelGraph): ShardedModel | undefined {
	return sharded.get(graph);
}

/**
 * Opens the index in `source` and every shard it names with `openShard` (the registry, so each
 * shard gets its own reader). A missing or unreadable shard is one error naming it.
 */
export async function openShardedModel(source: ByteSource, options: OpenOptions, openShard: (shard: ByteSource) => Promise<ModelGraph>): Promise<ModelGraph> {
	const name = source.name;
	const shards: Shard[] = [];
	try {
		const weightMap = await readWeightMap(source);
		const files = [...new Set(weightMap.values())];
		for (const file of files) {
			throwIfAborted(options.signal);
			const shardSource = await source.openSibling(file).catch((ex: unknown) => {
				throw shardError(name, file, ex);
			});
			try {
				shards.push({ file, source: shardSource, graph: await openShard(shardSource) });
			} catch (ex) {
				throw shardError(name, file, ex);
			}
		}
		const byFile = new Map(shards.map((s) => [s.file, s]));
		const shardOf = new Map<string, Shard>();
		const listed: TensorRef[] = [];
		for (const [tensorName, file] of weightMap) {
			const shard = byFile.get(file) as Shard;
			const tensor = shard.graph.tensors.find((t) => t.name === tensorName);
			if (!tensor) {
				throw new ModelFormatError('corrupt', `${name}: the index puts '${tensorName}' in shard ${file}, which does not hold it.`);
			}
			listed.push(tensor);
			shardOf.set(tensorName, shard);
		}
		// Hugging Face writes the weight_map sorted by name: natural order then lists `layers.2` before `layers.10`.
		const sorted = listed.every((t, i) => i === 0 || listed[i - 1].name <= t.name);
		const tensors = sorted ? [...listed].sort((a, b) => naturalCompare(a.name, b.name)) : listed;
		const warnings = [`A sharded model: ${shards.length} shard${shards.length === 1 ? '' : 's'} (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}) read as one model through its index.`];
		for (const shard of shards) {
			for (const warning of shard.graph.warnings) {
				if (!warnings.includes(warning) && !/pruned with torch\.nn\.utils\.prune/.test(warning)) {
					warnings.push(warning);
				}
			}
		}
		const found = namedTensorLayers(tensors);
		warnings.push(...found.warnings);
		const folder = dirname(name);
		let closed = false;
		const graph: ModelGraph = {
			format: shards[0].graph.format,
			// The panel and the report name a sharded model by its folder, as Hugging Face does.
			file: folder === '.' ? name : folder,
			tensors,
			layers: found.layers,
			warnings,
			async close() {
				if (!closed) {
					closed = true;
					await Promise.all([source.close(), ...shards.map((s) => s.graph.close())]);
				}
			},
		};
		sharded.set(graph, { index: source, shards, shardOf });
		return graph;
	} catch (ex) {
		await Promise.all([source.close(), ...shards.map((s) => s.graph.close())]);
		throw ex;
	}
}

function shardError(index: string, file: string, ex: unknown): unknown {
	if (!ModelFormatError.is(ex)) {
		return ex;
	}
	// One line: the index, then the shard's own message (which starts with the shard's name).
	return new ModelFormatError(ex.reason, `${index}: shard ${/^\S*:/.test(ex.message) ? ex.message : `${file}: ${ex.message}`}`, { cause: ex });
}

/** The index's weight_map, tensor name → shard file, in the index's order. */
async function readWeightMap(source: ByteSource): Promise<Map<string, string>> {
	const name = source.name;
	if (source.length > maxIndexBytes) {
		throw new ModelFormatError('too-large', `${name}: ${source.length} bytes is too large for a shard index (JSON).`);
	}
	let index: unknown;
	try {
		index = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(0, source.length)));
	} catch (ex) {
		if (ModelFormatError.is(ex)) {
			throw ex;
		}
		throw new ModelFormatError('corrupt', `${name}: a shard index that is not valid JSON (${(ex as Error).message}).`);
	}
	const weightMap = typeof index === 'object' && index !== null ? (index as { weight_map?: unknown }).weight_map : undefined;
	if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
		throw new ModelFormatError('bad-magic', `${name}: a JSON file without a "weight_map" object, so not a sharded checkpoint's index.`);
	}
	const entries = Object.entries(weightMap as Record<string, unknown>);
	if (entries.length === 0) {
		throw new ModelFormatError('no-layers', `${name}: a shard index whose weight_map is empty.`);
	}
	const map = new Map<string, string>();
	for (const [tensor, file] of entries) {
		if (typeof file !== 'string' || file === '') {
			throw new ModelFormatError('corrupt', `${name}: the weight_map gives '${tensor}' a shard that is not a file name.`);
		}
		map.set(tensor, file);
	}
	return map;
}
