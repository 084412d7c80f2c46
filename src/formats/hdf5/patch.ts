import { ModelFormatError } from '../../core/errors';
import { numel } from '../../core/model';
import { checkOutputPath, writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { SequentialWriter, copyWithPatches } from '../writers/common';
import type { WriteOptions } from '../writers/common';
import { describeType, encodeNumbers } from './datatype';
import type { Hdf5Dataset, Hdf5File } from './api';
import { lookup3 } from './io';
import { chunkRuns } from './layout';

/** New bytes for one range of the file (absolute offset). */
export interface Hdf5PatchRange {
	readonly offset: number;
	readonly bytes: Uint8Array;
}

/** Where {@link writePatchedHdf5} appends (writers/common.ts SequentialWriter and zipWriter's ZipOutput fit). */
export interface Hdf5PatchOutput {
	bytes(bytes: Uint8Array): Promise<void>;
	copy(source: ByteSource, offset: number, length: number): Promise<void>;
}

/**
 * Works out, for `updates` (dataset path → row-major float32 values), the byte ranges of the file
 * that change: the raw data of compact, contiguous and unfiltered chunked datasets, encoded in the
 * dataset's own float type and byte order (float64 values whose float32 rounding is unchanged keep
 * their exact old bits). Compact data in a version 2 object header gets the header chunk's new
 * checksum. Refuses unknown paths, wrong lengths and non-float datasets (Error), and compressed,
 * filtered or unwritten datasets ('unsupported-format'), before anything is written.
 */
export async function planHdf5Patch(file: Hdf5File, updates: ReadonlyMap<string, Float32Array>): Promise<Hdf5PatchRange[]> {
	const { source } = file;
	const ranges: Hdf5PatchRange[] = [];
	for (const [path, values] of updates) {
		const dataset = await file.get(path);
		if (dataset?.kind !== 'dataset') throw new Error(`${source.name}: has no dataset '${path}' to update.`);
		if (values.length !== numel(dataset.shape)) {
			throw new Error(`${source.name}: dataset '${path}' has ${numel(dataset.shape)} elements but ${values.length} values were given.`);
		}
		if (dataset.type.class !== 'float' || !dataset.dtype) {
			throw new Error(`${source.name}: dataset '${path}' is ${describeType(dataset.type)}; only floating-point datasets can be updated.`);
		}
		// float64 keeps the exact old value wherever the float32 value is its rounding.
		const original = dataset.type.size === 8 ? await dataset.readRaw() : new Uint8Array(0);
		ranges.push(...await datasetRanges(source, dataset, encodeNumbers(values, dataset.type, original)));
	}
	ranges.sort((a, b) => a.offset - b.offset);
	for (let i = 1; i < ranges.length; i++) {
		if (ranges[i].offset < ranges[i - 1].offset + ranges[i - 1].bytes.length) {
			throw new ModelFormatError('corrupt', `${source.name}: two updated datasets share bytes (the same dataset under two paths?).`);
		}
	}
	return ranges;
}

async function datasetRanges(source: ByteSource, dataset: Hdf5Dataset, encoded: Uint8Array): Promise<Hdf5PatchRange[]> {
	const refuse = (why: string): ModelFormatError => new ModelFormatError('unsupported-format', `${source.name}: dataset '${dataset.path}' ${why} and cannot be rewritten in place.`);
	const { storage, type } = dataset;
	if (dataset.filters.length > 0) {
		throw refuse(`is ${dataset.filters.some((f) => f.id === 1) ? 'compressed' : 'filtered'} (HDF5 filters ${dataset.filters.map((f) => f.id).join(', ')})`);
	}
	if (encoded.length === 0) return [];
	if (storage.kind === 'compact' && storage.checksummed) {
		const { start, end } = storage.checksummed;
		const chunk = new Uint8Array(end - start + 4);
		await source.readInto(start, chunk.subarray(0, end - start));
		chunk.set(encoded, storage.offset - start);
		new DataView(chunk.buffer).setUint32(end - start, lookup3(chunk.subarray(0, end - start)), true);
		return [{ offset: start, bytes: chunk }];
	}
	const range = dataset.rawRange;
	if (range) return [{ offset: range.offset, bytes: encoded }];
	if (storage.kind !== 'chunked') throw refuse('has never been written (no storage allocated)');
	const chunks = await dataset.chunks();
	const expected = dataset.shape.reduce((n, d, i) => n * Math.ceil(d / storage.chunk[i]), 1);
	if (chunks.length < expected) throw refuse(`has ${expected - chunks.length} unwritten chunks`);
	const ranges: Hdf5PatchRange[] = [];
	for (const chunk of chunks) {
		// Bytes outside the dataset's extent (edge chunks) keep their old values.
		const bytes = await source.read(chunk.offset, chunk.size);
		chunkRuns(dataset.shape, storage.chunk, chunk.coords, (inChunk, inDataset, n) => {
			bytes.set(encoded.subarray(inDataset * type.size, (inDataset + n) * type.size), inChunk * type.size);
		});
		ranges.push({ offset: chunk.offset, bytes });
	}
	return ranges;
}

/** Writes `source` to `out` byte for byte, with `ranges` (sorted, disjoint) in place of the old bytes. */
export async function writePatchedHdf5(source: ByteSource, ranges: readonly Hdf5PatchRange[], out: Hdf5PatchOutput): Promise<void> {
	await copyWithPatches(source, ranges, out);
}

/**
 * The whole patched file in memory (for a model.weights.h5 put back into a .keras zip: hand it to
 * zipWriter's rewriteZip as a ZipReplacement with zip.ts's crc32).
 */
export async function patchedHdf5Bytes(file: Hdf5File, updates: ReadonlyMap<string, Float32Array>): Promise<Uint8Array> {
	const ranges = await planHdf5Patch(file, updates);
	const bytes = await file.source.read(0, file.source.length);
	for (const range of ranges) {
		bytes.set(range.bytes, range.offset);
	}
	return bytes;
}

/**
 * Writes a copy of `file` with `updates` applied to `outPath`, atomically. Refuses the input
 * itself (`options.inputPath`, else `file.source.name`) and, without `force`, an existing file.
 */
export async function patchHdf5(file: Hdf5File, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	const atomic = { force: options.force, inputPath: options.inputPath ?? file.source.name };
	await checkOutputPath(outPath, atomic);
	const ranges = await planHdf5Patch(file, updates);
	await writeFileAtomic(outPath, (handle) => writePatchedHdf5(file.source, ranges, new SequentialWriter(handle)), atomic);
}
