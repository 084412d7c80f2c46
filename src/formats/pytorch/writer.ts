import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { DType, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { dtypeBytes, encodeFromFloat32 } from '../dtype';
import { crc32, readZipDirectory, readZipEntry, zipDataDescriptorCrcOffset, zipEntryDataOffset } from '../zip';
import type { ZipEntryDetail } from '../zip';
import { rewriteZip } from '../zipWriter';
import type { ZipReplacement } from '../zipWriter';
import { SequentialWriter } from '../writers/common';
import { pytorchTensorInfo } from './reader';
import type { PytorchTensorInfo } from './reader';
import { isRowMajorContiguous, swapElementBytes, viewStorageIndices } from './view';

/**
 * Writes a PyTorch checkpoint with some tensors' values replaced (pruned weights). The output
 * keeps data.pkl and every other entry byte-for-byte; only the storages of updated tensors
 * differ. For torch's own (stored) archives the file is copied with the new storage bytes and
 * CRC-32 fields patched in place, so names, order, headers and torch's 64-byte data alignment
 * are untouched. An archive whose updated storage is deflated is re-laid out instead: every
 * entry keeps its bytes, updated storages become stored entries aligned like torch aligns them.
 */

export interface WritePytorchOptions {
	/** Allows replacing an existing output file (never the input). */
	force?: boolean;
	/** The input file's path when `source.name` is only a display name. */
	inputPath?: string;
}

const floatTypes: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** torch aligns every entry's data to 64 bytes (caffe2/serialize/inline_container.cc, kFieldAlignment). */
const alignment = 64;

/**
 * Writes `graph` (opened by the PyTorch reader from `source`, not yet closed) to `outPath` with
 * `updates` (tensor name → logical row-major values) scattered into their storages, atomically.
 * Refuses the input path, and an existing file unless `force`.
 */
export async function writePytorchCheckpoint(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WritePytorchOptions = {}): Promise<void> {
	if (graph.format !== 'pytorch') {
		throw new Error(`${source.name}: writePytorchCheckpoint needs a graph read by the PyTorch reader, not ${graph.format}.`);
	}
	const byName = new Map<string, TensorRef>(graph.tensors.map((t) => [t.name, t]));
	const entries = await readZipDirectory(source);
	const byEntry = new Map<string, { entry: ZipEntryDetail; writes: { info: PytorchTensorInfo; values: Float32Array }[] }>();
	for (const [name, values] of updates) {
		const tensor = byName.get(name);
		const info = tensor && pytorchTensorInfo(tensor);
		if (!tensor || !info) {
			throw new Error(`${source.name}: has no tensor named '${name}' to update.`);
		}
		if (values.length !== numel(tensor.shape)) {
			throw new Error(`${source.name}: tensor '${name}' has ${numel(tensor.shape)} elements but ${values.length} values were given.`);
		}
		if (!floatTypes.has(info.dtype)) {
			throw new Error(`${source.name}: tensor '${name}' is ${info.dtype}; only floating-point tensors can be updated.`);
		}
		const entry = entries.find((e) => e.name === info.entry.name && e.localHeaderOffset === info.entry.localHeaderOffset);
		if (!entry) {
			throw new Error(`${source.name}: the storage of '${name}' is no longer in the archive (the file changed since it was opened?).`);
		}
		let group = byEntry.get(entry.name);
		if (!group) {
			group = { entry, writes: [] };
			byEntry.set(entry.name, group);
		}
		group.writes.push({ info, values });
	}

	// New bytes of every touched storage (shared storages get all their tensors' writes, in order).
	const replaced = new Map<ZipEntryDetail, ZipReplacement>();
	for (const { entry, writes } of byEntry.values()) {
		const bytes = (await readZipEntry(source, entry)).slice();
		for (const { info, values } of writes) {
			scatter(bytes, info, values);
		}
		replaced.set(entry, { bytes, crc: crc32(bytes) });
	}

	const inputPath = options.inputPath ?? source.name;
	if ([...replaced.keys()].every((e) => e.method === 0)) {
		const patches = await crcAndDataPatches(source, replaced);
		await writeFileAtomic(outPath, (handle) => copyWithPatches(source, handle, patches), { force: options.force, inputPath });
	} else {
		// A fresh archive: every entry keeps its name, order, method and data bytes, except the
		// replaced storages, written stored; local headers carry sizes (no data descriptors),
		// ZIP64 fields where needed, and torch's 'FB' padding field.
		const rewrite = (handle: FileHandle): Promise<void> => rewriteZip(source, entries, new SequentialWriter(handle), async (entry) => replaced.get(entry), { alignment, alwaysZip64: true });
		await writeFileAtomic(outPath, rewrite, { force: options.force, inputPath });
	}
}

/** Encodes `values` to the storage dtype and writes each element at its place in the view. */
function scatter(storage: Uint8Array, info: PytorchTensorInfo, values: Float32Array): void {
	const itemBytes = dtypeBytes[info.dtype];
	const encoded = info.dtype === 'float32' && endianness() === 'LE'
		? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
		: encodeFromFloat32(values, info.dtype, info.dtype === 'float64' && !info.bigEndian ? gatherBytes(storage, info, values.length, itemBytes) : undefined);
	if (info.bigEndian) {
		const own = encoded.slice();
		swapElementBytes(own, itemBytes);
		return scatterBytes(storage, info, own, itemBytes);
	}
	scatterBytes(storage, info, encoded, itemBytes);
}

/** The view's current element bytes, in logical order (so float64 updates can keep old values exactly). */
function gatherBytes(storage: Uint8Array, info: PytorchTensorInfo, count: number, itemBytes: number): Uint8Array {
	if (isRowMajorContiguous(info.shape, info.stride)) {
		return storage.subarray(info.offset * itemBytes, (info.offset + count) * itemBytes);
	}
	const out = new Uint8Array(count * itemBytes);
	const indices = viewStorageIndices(info.offset, info.shape, info.stride, count);
	for (let i = 0; i < count; i++) {
		out.set(storage.subarray(indices[i] * itemBytes, (indices[i] + 1) * itemBytes), i * itemBytes);
	}
	return out;
}

function scatterBytes(storage: Uint8Array, info: PytorchTensorInfo, encoded: Uint8Array, itemBytes: number): void {
	const count = encoded.length / itemBytes;
	if (isRowMajorContiguous(info.shape, info.stride)) {
		storage.set(encoded, info.offset * itemBytes);
		return;
	}
	const indices = viewStorageIndices(info.offset, info.shape, info.stride, count);
	for (let i = 0; i < count; i++) {
		const to = indices[i] * itemBytes;
		const from = i * itemBytes;
		for (let b = 0; b < itemBytes; b++) {
			storage[to + b] = encoded[from + b];
		}
	}
}

interface Patch {
	readonly offset: number;
	readonly bytes: Uint8Array;
}

function u32le(value: number): Uint8Array {
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, value >>> 0, true);
	return out;
}

/** Where the new data and CRC-32 go: the data itself, the local header, the data descriptor and the central directory. */
async function crcAndDataPatches(source: ByteSource, replaced: Map<ZipEntryDetail, ZipReplacement>): Promise<Patch[]> {
	const patches: Patch[] = [];
	for (const [entry, { bytes, crc }] of replaced) {
		const dataOffset = await zipEntryDataOffset(source, entry);
		patches.push({ offset: dataOffset, bytes });
		const crcBytes = u32le(crc);
		patches.push({ offset: entry.centralHeaderOffset + 16, bytes: crcBytes });
		const local = await source.read(entry.localHeaderOffset + 14, 4);
		const localCrc = new DataView(local.buffer, local.byteOffset, 4).getUint32(0, true);
		// With a data descriptor (flag bit 3) the local CRC is 0 by the spec; keep it so.
		if (!(entry.flags & 0x8) || localCrc !== 0) {
			patches.push({ offset: entry.localHeaderOffset + 14, bytes: crcBytes });
		}
		const descriptor = await zipDataDescriptorCrcOffset(source, entry, dataOffset);
		if (descriptor !== undefined) {
			patches.push({ offset: descriptor, bytes: crcBytes });
		}
	}
	return patches.sort((a, b) => a.offset - b.offset);
}

const copyChunkBytes = 8 * 1024 * 1024;

/** Copies the whole source to `handle`, with `patches` laid over the copied bytes. */
async function copyWithPatches(source: ByteSource, handle: FileHandle, patches: readonly Patch[]): Promise<void> {
	const out = new SequentialWriter(handle);
	const buffer = new Uint8Array(Math.min(copyChunkBytes, Math.max(1, source.length)));
	for (let position = 0; position < source.length; position += buffer.length) {
		const chunk = buffer.subarray(0, Math.min(buffer.length, source.length - position));
		await source.readInto(position, chunk);
		const chunkEnd = position + chunk.length;
		for (const patch of patches) {
			const start = Math.max(patch.offset, position);
			const end = Math.min(patch.offset + patch.bytes.length, chunkEnd);
			if (start < end) {
				chunk.set(patch.bytes.subarray(start - patch.offset, end - patch.offset), start - position);
			}
		}
		await out.bytes(chunk);
	}
}
