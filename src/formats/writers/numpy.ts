import type { ModelGraph } from '../../core/model';
import { numel } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { dtypeBytes } from '../dtype';
import { fortranToC, parseNpyHeader } from '../numpy';
import type { NpyHeader } from '../numpy';
import { crc32, readZipDirectory, readZipEntry } from '../zip';
import type { ZipEntryDetail } from '../zip';
import { rewriteZip } from '../zipWriter';
import type { ZipReplacement } from '../zipWriter';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates, encodeValues } from './common';

/**
 * Writes C-ordered `src` into `target` in Fortran (column-major) order: the inverse of the
 * reader's fortranToC. A C-ordered array of shape (a, b, c) has the memory of a Fortran-ordered
 * one of shape (c, b, a), its transpose, so reordering that with the shape reversed gives it.
 */
export function cToFortran(src: Float32Array, shape: readonly number[], target: Float32Array): void {
	fortranToC(src, [...shape].reverse(), target);
}

/** The new .npy bytes: the original header byte-for-byte, then the values in the array's own dtype, byte order and memory order. */
function npyBytes(original: Uint8Array, header: NpyHeader, values: Float32Array): Uint8Array {
	let ordered = values;
	if (header.fortranOrder && header.shape.length > 1) {
		ordered = new Float32Array(values.length);
		cToFortran(values, header.shape, ordered);
	}
	const data = encodeValues(ordered, header.dtype, header.bigEndian ? undefined : original.subarray(header.dataStart));
	const out = new Uint8Array(header.dataStart + data.length);
	out.set(original.subarray(0, header.dataStart));
	out.set(data, header.dataStart);
	if (header.bigEndian) {
		const size = dtypeBytes[header.dtype];
		for (let i = header.dataStart; i + size <= out.length; i += size) {
			out.subarray(i, i + size).reverse();
		}
	}
	return out;
}

/**
 * Writes an .npz with some arrays replaced: a new zip in which every entry keeps its name, order,
 * compression and data bytes, except the updated arrays, which are written stored with their
 * original npy header (dtype, byte order and Fortran order kept).
 */
export async function writeNpz(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	if (graph.format !== 'numpy') {
		throw new Error(`${source.name}: writeNpz needs a graph read by the numpy reader, not ${graph.format}.`);
	}
	checkUpdates(source, graph, updates);
	const entries = (await readZipDirectory(source)).sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
	const updated = new Map<ZipEntryDetail, Float32Array>();
	for (const [name, values] of updates) {
		const entry = entries.find((e) => e.name === `${name}.npy`);
		if (!entry) {
			throw new Error(`${source.name}: the array '${name}' is no longer in the archive (the file changed since it was opened?).`);
		}
		updated.set(entry, values);
	}
	// One updated array in memory at a time: rewriteZip asks for its bytes just before writing them.
	const replacement = async (entry: ZipEntryDetail): Promise<ZipReplacement | undefined> => {
		const values = updated.get(entry);
		if (!values) {
			return undefined;
		}
		const original = await readZipEntry(source, entry);
		const { header } = parseNpyHeader(original, entry.name, source.name);
		if (!header || numel(header.shape) !== values.length) {
			throw new Error(`${source.name}: the array '${entry.name}' changed since it was opened.`);
		}
		const bytes = npyBytes(original, header, values);
		return { bytes, crc: crc32(bytes) };
	};
	await writeFileAtomic(outPath, (handle) => rewriteZip(source, entries, new SequentialWriter(handle), replacement), { force: options.force, inputPath: options.inputPath ?? source.name });
}
