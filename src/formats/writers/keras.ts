import type { ModelGraph } from '../../core/model';
import { checkOutputPath, writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { patchHdf5, patchedHdf5Bytes } from '../hdf5';
import { openKerasParts } from '../keras';
import { crc32 } from '../zip';
import { rewriteZip } from '../zipWriter';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates } from './common';

/**
 * Writes a Keras model with some weights replaced, in place in the HDF5 data: a .h5 is copied
 * byte for byte except the updated datasets' bytes; a .keras archive gets a new model.weights.h5
 * entry patched the same way, and every other entry (config.json, metadata.json) as it was.
 * Datasets stored compressed (HDF5 filters) are refused: they cannot be rewritten in place.
 */
export async function writeKeras(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	if (graph.format !== 'keras') {
		throw new Error(`${source.name}: writeKeras needs a graph read by the Keras reader, not ${graph.format}.`);
	}
	checkUpdates(source, graph, updates);
	const atomic = { force: options.force, inputPath: options.inputPath ?? source.name };
	await checkOutputPath(outPath, atomic);
	const parts = await openKerasParts(source);
	if (!parts.entry || !parts.entries) {
		await patchHdf5(parts.h5, updates, outPath, options);
		return;
	}
	const weights = parts.entry;
	const bytes = await patchedHdf5Bytes(parts.h5, updates);
	await writeFileAtomic(outPath, (handle) => rewriteZip(source, parts.entries!, new SequentialWriter(handle), async (entry) => (entry === weights ? { bytes, crc: crc32(bytes) } : undefined)), atomic);
}
