import type { ModelGraph } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { readSafetensorsHeader } from '../safetensors';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates, copyWithPatches, encodeValues } from './common';

/**
 * Writes a safetensors file with some tensors' values replaced: the header and every other byte
 * stay as they are; only the updated tensors' data ranges differ (same dtype, same size).
 */
export async function writeSafetensors(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	if (graph.format !== 'safetensors') {
		throw new Error(`${source.name}: writeSafetensors needs a graph read by the safetensors reader, not ${graph.format}.`);
	}
	checkUpdates(source, graph, updates);
	const { entries } = await readSafetensorsHeader(source);
	const byName = new Map(entries.map((e) => [e.name, e]));
	const patches = await Promise.all([...updates].map(async ([name, values]) => {
		const entry = byName.get(name)!;
		const original = entry.dtype === 'float64' ? await source.read(entry.offset, values.length * 8) : undefined;
		return { offset: entry.offset, bytes: encodeValues(values, entry.dtype, original) };
	}));
	patches.sort((a, b) => a.offset - b.offset);
	await writeFileAtomic(outPath, (handle) => copyWithPatches(source, patches, new SequentialWriter(handle)), { force: options.force, inputPath: options.inputPath ?? source.name });
}
