import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { DType, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { dtypeBytes, encodeFromFloat32 } from '../dtype';
import { crc32, readZipDirectory, readZipEntry, zipDataDescriptorCrcOffset, zipEntryDataOffset } from '../zip';
import type { ZipEntryDetail } from '../zip';
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
	const replaced = new Map<ZipEntryDetail, { bytes: Uint8Array; crc: number }>();
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
		await writeFileAtomic(outPath, (handle) => rebuildArchive(source, entries, replaced, handle), { force: options.force, inputPath });
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
async function crcAndDataPatches(source: ByteSource, replaced: Map<ZipEntryDetail, { bytes: Uint8Array; crc: number }>): Promise<Patch[]> {
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
		await writeAll(handle, chunk, position);
	}
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
	let done = 0;
	while (done < bytes.length) {
		const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
		done += bytesWritten;
	}
}

/** torch aligns every entry's data to 64 bytes (caffe2/serialize/inline_container.cc, kFieldAlignment). */
const alignment = 64;
const u32Max = 0xffffffff;

/**
 * Writes a fresh archive: every entry in its original order with its original name, method and
 * data bytes, except the replaced storages, which are written stored. Local headers carry sizes
 * (no data descriptors), ZIP64 fields where needed, and torch's 'FB' padding field.
 */
async function rebuildArchive(source: ByteSource, entries: readonly ZipEntryDetail[], replaced: Map<ZipEntryDetail, { bytes: Uint8Array; crc: number }>, handle: FileHandle): Promise<void> {
	let position = 0;
	const emit = async (bytes: Uint8Array): Promise<void> => {
		await writeAll(handle, bytes, position);
		position += bytes.length;
	};
	const ordered = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
	const central: Uint8Array[] = [];
	for (const entry of ordered) {
		const header = await source.read(entry.localHeaderOffset, 30);
		const view = new DataView(header.buffer, header.byteOffset, 30);
		const nameBytes = await source.read(entry.localHeaderOffset + 30, view.getUint16(26, true));
		const time = view.getUint16(10, true);
		const date = view.getUint16(12, true);
		const update = replaced.get(entry);
		const method = update ? 0 : entry.method;
		const crc = update ? update.crc : entry.crc32;
		const size = update ? update.bytes.length : entry.size;
		const compressedSize = update ? update.bytes.length : entry.compressedSize;
		const zip64 = size >= u32Max || compressedSize >= u32Max || position >= u32Max;
		const localZip64 = size >= u32Max || compressedSize >= u32Max ? 20 : 0;
		const unpadded = position + 30 + nameBytes.length + localZip64 + 4;
		const pad = (alignment - (unpadded % alignment)) % alignment;
		const local = new Uint8Array(30 + nameBytes.length + localZip64 + 4 + pad);
		const lv = new DataView(local.buffer);
		lv.setUint32(0, 0x04034b50, true);
		lv.setUint16(4, zip64 ? 45 : 20, true);
		lv.setUint16(6, entry.flags & 0x0800, true);
		lv.setUint16(8, method, true);
		lv.setUint16(10, time, true);
		lv.setUint16(12, date, true);
		lv.setUint32(14, crc, true);
		lv.setUint32(18, localZip64 ? u32Max : compressedSize, true);
		lv.setUint32(22, localZip64 ? u32Max : size, true);
		lv.setUint16(26, nameBytes.length, true);
		lv.setUint16(28, localZip64 + 4 + pad, true);
		local.set(nameBytes, 30);
		let e = 30 + nameBytes.length;
		if (localZip64) {
			lv.setUint16(e, 0x0001, true);
			lv.setUint16(e + 2, 16, true);
			lv.setBigUint64(e + 4, BigInt(size), true);
			lv.setBigUint64(e + 12, BigInt(compressedSize), true);
			e += 20;
		}
		lv.setUint16(e, 0x4246, true); // 'FB'
		lv.setUint16(e + 2, pad, true);
		local.fill(0x5a, e + 4); // 'Z'
		const localOffset = position;
		await emit(local);
		if (update) {
			await emit(update.bytes);
		} else {
			const dataOffset = await zipEntryDataOffset(source, entry);
			const chunk = new Uint8Array(Math.min(copyChunkBytes, Math.max(1, entry.compressedSize)));
			for (let done = 0; done < entry.compressedSize; done += chunk.length) {
				const part = chunk.subarray(0, Math.min(chunk.length, entry.compressedSize - done));
				await source.readInto(dataOffset + done, part);
				await emit(part);
			}
		}
		central.push(centralHeader(nameBytes, entry.flags & 0x0800, method, time, date, crc, size, compressedSize, localOffset));
	}
	const directoryOffset = position;
	for (const header of central) {
		await emit(header);
	}
	const directorySize = position - directoryOffset;
	const zip64EndOffset = position;
	const end = new Uint8Array(56 + 20 + 22);
	const ev = new DataView(end.buffer);
	ev.setUint32(0, 0x06064b50, true);
	ev.setBigUint64(4, 44n, true);
	ev.setUint16(12, 45, true);
	ev.setUint16(14, 45, true);
	ev.setBigUint64(24, BigInt(central.length), true);
	ev.setBigUint64(32, BigInt(central.length), true);
	ev.setBigUint64(40, BigInt(directorySize), true);
	ev.setBigUint64(48, BigInt(directoryOffset), true);
	ev.setUint32(56, 0x07064b50, true);
	ev.setBigUint64(64, BigInt(zip64EndOffset), true);
	ev.setUint32(72, 1, true);
	ev.setUint32(76, 0x06054b50, true);
	ev.setUint16(84, Math.min(central.length, 0xffff), true);
	ev.setUint16(86, Math.min(central.length, 0xffff), true);
	ev.setUint32(88, Math.min(directorySize, u32Max), true);
	ev.setUint32(92, Math.min(directoryOffset, u32Max), true);
	await emit(end);
}

function centralHeader(nameBytes: Uint8Array, flags: number, method: number, time: number, date: number, crc: number, size: number, compressedSize: number, localOffset: number): Uint8Array {
	const zip64 = size >= u32Max || compressedSize >= u32Max || localOffset >= u32Max;
	const extra = zip64 ? 28 : 0;
	const out = new Uint8Array(46 + nameBytes.length + extra);
	const v = new DataView(out.buffer);
	v.setUint32(0, 0x02014b50, true);
	v.setUint16(4, 45, true);
	v.setUint16(6, zip64 ? 45 : 20, true);
	v.setUint16(8, flags, true);
	v.setUint16(10, method, true);
	v.setUint16(12, time, true);
	v.setUint16(14, date, true);
	v.setUint32(16, crc, true);
	v.setUint32(20, zip64 ? u32Max : compressedSize, true);
	v.setUint32(24, zip64 ? u32Max : size, true);
	v.setUint16(28, nameBytes.length, true);
	v.setUint16(30, extra, true);
	v.setUint32(42, zip64 ? u32Max : localOffset, true);
	out.set(nameBytes, 46);
	if (zip64) {
		const e = 46 + nameBytes.length;
		v.setUint16(e, 0x0001, true);
		v.setUint16(e + 2, 24, true);
		v.setBigUint64(e + 4, BigInt(size), true);
		v.setBigUint64(e + 12, BigInt(compressedSize), true);
		v.setBigUint64(e + 20, BigInt(localOffset), true);
	}
	return out;
}
