import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { ModelFormatError } from '../../core/errors';
import type { DType, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { dtypeBytes, encodeFromFloat32, floatDTypes } from '../dtype';
import { crc32, readZipDirectory, readZipEntry, zipDataDescriptorCrcOffset, zipEntryDataOffset } from '../zip';
import type { ZipEntryDetail } from '../zip';
import { rewriteZip, zipCentralHeader, zipEndRecords, zipLocalHeader } from '../zipWriter';
import type { ZipHeaderFields, ZipReplacement } from '../zipWriter';
import { SequentialWriter, copyWithPatches } from '../writers/common';
import { pytorchGraphInfo, pytorchTensorInfo } from './reader';
import type { PytorchTensorInfo, StorageBlob } from './reader';
import { isRowMajorContiguous, swapElementBytes, viewStorageIndices } from './view';

/**
 * Writes a PyTorch checkpoint with some tensors' values replaced (pruned weights). The output
 * keeps data.pkl and every other entry byte-for-byte; only the storages of updated tensors
 * differ (a legacy checkpoint likewise keeps every byte but those storages). For torch's own
 * (stored) archives the file is copied with the new storage bytes and CRC-32 fields patched in
 * place, so names, order, headers and torch's 64-byte data alignment are untouched. An archive
 * whose updated storage is deflated is re-laid out instead: every entry keeps its bytes, updated
 * storages become stored entries aligned like torch aligns them. A whole pickled model is
 * written as a fresh state_dict archive (writeStateDict).
 */

export interface WritePytorchOptions {
	/** Allows replacing an existing output file (never the input). */
	force?: boolean;
	/** The input file's path when `source.name` is only a display name. */
	inputPath?: string;
}


/** torch aligns every entry's data to 64 bytes (caffe2/serialize/inline_container.cc, kFieldAlignment). */
const alignment = 64;

/**
 * Writes `graph` (opened by the PyTorch reader from `source`, not yet closed) to `outPath` with
 * `updates` (tensor name → logical row-major values) scattered into their storages, atomically.
 * Refuses the input path, and an existing file unless `force`. A zip checkpoint keeps its
 * archive, a legacy one its layout (only storage bytes change); a whole pickled model is written
 * as its state_dict (see writeStateDict). Returns notes for the user.
 */
export async function writePytorchCheckpoint(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WritePytorchOptions = {}): Promise<string[]> {
	if (graph.format !== 'pytorch') {
		throw new Error(`${source.name}: writePytorchCheckpoint needs a graph read by the PyTorch reader, not ${graph.format}.`);
	}
	const inputPath = options.inputPath ?? source.name;
	const byName = new Map<string, TensorRef>(graph.tensors.map((t) => [t.name, t]));
	const checked = new Map<string, Write>();
	for (const [name, values] of updates) {
		const tensor = byName.get(name);
		const info = tensor && pytorchTensorInfo(tensor);
		if (!tensor || !info) {
			throw new Error(`${source.name}: has no tensor named '${name}' to update.`);
		}
		if (values.length !== numel(tensor.shape)) {
			throw new Error(`${source.name}: tensor '${name}' has ${numel(tensor.shape)} elements but ${values.length} values were given.`);
		}
		if (!floatDTypes.has(info.dtype) && !info.quantized) {
			throw new Error(`${source.name}: tensor '${name}' is ${info.dtype}; only floating-point tensors can be updated.`);
		}
		checked.set(name, { name, info, values });
	}

	const wholeModel = pytorchGraphInfo(graph)?.wholeModel;
	if (wholeModel) {
		await writeFileAtomic(outPath, (handle) => writeStateDict(source, graph, checked, new SequentialWriter(handle)), { force: options.force, inputPath });
		return [`${source.name} holds a whole pickled model (${wholeModel}); ${outPath} is its state_dict (rewriting a pickled object graph is not safe): load it with model.load_state_dict(torch.load(path)).`];
	}

	// New bytes of every touched storage (shared storages get all their tensors' writes, in order).
	const byBlob = new Map<StorageBlob, Write[]>();
	for (const write of checked.values()) {
		const group = byBlob.get(write.info.blob) ?? [];
		group.push(write);
		byBlob.set(write.info.blob, group);
	}

	if (pytorchGraphInfo(graph)?.legacy) {
		// The legacy layout: every storage is raw bytes at a known offset, so the file is copied with them patched.
		const patches: Patch[] = [];
		for (const [blob, writes] of byBlob) {
			const offset = blob.offset as number;
			patches.push({ offset, bytes: wholeStorageBytes(writes, blob.size) ?? await patchedStorage(await source.read(offset, blob.size), writes) });
		}
		patches.sort((a, b) => a.offset - b.offset);
		await writeFileAtomic(outPath, (handle) => copyWithPatches(source, patches, new SequentialWriter(handle)), { force: options.force, inputPath });
		return [];
	}

	const entries = await readZipDirectory(source);
	const replaced = new Map<ZipEntryDetail, ZipReplacement>();
	for (const [blob, writes] of byBlob) {
		const entry = entries.find((e) => e.name === blob.entry?.name && e.localHeaderOffset === blob.entry.localHeaderOffset);
		if (!entry) {
			throw new Error(`${source.name}: the storage of '${writes[0].name}' is no longer in the archive (the file changed since it was opened?).`);
		}
		const bytes = wholeStorageBytes(writes, entry.size) ?? await patchedStorage((await readZipEntry(source, entry)).slice(), writes);
		replaced.set(entry, { bytes, crc: crc32(bytes) });
	}

	if ([...replaced.keys()].every((e) => e.method === 0)) {
		const patches = await crcAndDataPatches(source, replaced);
		await writeFileAtomic(outPath, (handle) => copyWithPatches(source, patches, new SequentialWriter(handle)), { force: options.force, inputPath });
	} else {
		// A fresh archive: every entry keeps its name, order, method and data bytes, except the
		// replaced storages, written stored; local headers carry sizes (no data descriptors),
		// ZIP64 fields where needed, and torch's 'FB' padding field.
		const rewrite = (handle: FileHandle): Promise<void> => rewriteZip(source, entries, new SequentialWriter(handle), async (entry) => replaced.get(entry), { alignment, alwaysZip64: true });
		await writeFileAtomic(outPath, rewrite, { force: options.force, inputPath });
	}
	return [];
}

interface Write {
	readonly name: string;
	readonly info: PytorchTensorInfo;
	readonly values: Float32Array;
}

/** The legacy storage classes `_rebuild_tensor_v2` names (float8 has none: torch ≥ 2.1 pickles it differently). */
const storageClass: Partial<Record<DType, string>> = {
	float32: 'FloatStorage', float64: 'DoubleStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage',
	int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage', bool: 'BoolStorage',
};

/**
 * A whole pickled model written as the state_dict torch.save(model.state_dict()) would give:
 * data.pkl is an OrderedDict of `_rebuild_tensor_v2` calls (names from the module tree), each
 * tensor in its own contiguous little-endian storage, in the zip layout torch writes (entries
 * under `archive/`, data aligned to 64 bytes). One tensor is in memory at a time.
 */
async function writeStateDict(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Write>, out: SequentialWriter): Promise<void> {
	const tensors = graph.tensors.map((tensor) => ({ tensor, info: pytorchTensorInfo(tensor) as PytorchTensorInfo }));
	const quantized = tensors.find(({ info }) => info.quantized || !storageClass[info.dtype]);
	if (quantized) {
		throw new ModelFormatError('unsupported-format', `${source.name}: a whole pickled model with a ${quantized.info.quantized ? 'quantized' : quantized.info.dtype} tensor ('${quantized.tensor.name}'), which this state_dict writer cannot write. Save model.state_dict() and prune that.`);
	}
	const pickle = new PickleWriter();
	pickle.global('collections', 'OrderedDict').emptyTuple().reduce();
	tensors.forEach(({ tensor, info }, index) => {
		pickle.string(tensor.name).global('torch._utils', '_rebuild_tensor_v2').mark()
			.mark().string('storage').global('torch', storageClass[info.dtype] as string).string(String(index)).string('cpu').int(numel(tensor.shape)).tuple().persistentId()
			.int(0).ints(tensor.shape).ints(contiguousStrides(tensor.shape)).bool(false)
			.global('collections', 'OrderedDict').emptyTuple().reduce()
			.tuple().reduce().setItem();
	});
	const files: { name: string; bytes: () => Promise<Uint8Array> }[] = [
		{ name: 'archive/data.pkl', bytes: async () => pickle.finish() },
		{ name: 'archive/byteorder', bytes: async () => new TextEncoder().encode('little') },
		...tensors.map(({ tensor, info }, index) => ({
			name: `archive/data/${index}`,
			bytes: async () => {
				const bytes = await viewBytes(source, info);
				const update = updates.get(tensor.name);
				if (update) {
					await scatter(bytes, { ...info, offset: 0, stride: contiguousStrides(info.shape), bigEndian: false }, update.values);
				}
				return bytes;
			},
		})),
		{ name: 'archive/version', bytes: async () => new TextEncoder().encode('3\n') },
	];
	const central: Uint8Array[] = [];
	for (const file of files) {
		const bytes = await file.bytes();
		const fields: ZipHeaderFields = { nameBytes: new TextEncoder().encode(file.name), flags: 0, method: 0, time: 0, date: 0x21, crc: crc32(bytes), size: bytes.length, compressedSize: bytes.length };
		const offset = out.position;
		await out.bytes(zipLocalHeader(fields, { offset, alignment }));
		await out.bytes(bytes);
		central.push(zipCentralHeader(fields, offset));
	}
	const directoryOffset = out.position;
	for (const header of central) {
		await out.bytes(header);
	}
	await out.bytes(zipEndRecords(central.length, out.position - directoryOffset, directoryOffset, true));
}

function contiguousStrides(shape: readonly number[]): number[] {
	const strides = new Array<number>(shape.length);
	let step = 1;
	for (let k = shape.length - 1; k >= 0; k--) {
		strides[k] = step;
		step *= shape[k];
	}
	return strides;
}

/** The view's elements as contiguous little-endian bytes of its dtype. */
async function viewBytes(source: ByteSource, info: PytorchTensorInfo): Promise<Uint8Array> {
	const itemBytes = dtypeBytes[info.dtype];
	const count = numel(info.shape);
	if (count === 0) {
		return new Uint8Array(0);
	}
	const first = info.offset;
	const last = info.shape.reduce((at, d, k) => at + (d - 1) * info.stride[k], first);
	const span = (await storageBytesOf(source, info.blob)).subarray(first * itemBytes, (last + 1) * itemBytes);
	const local: PytorchTensorInfo = { ...info, offset: 0 };
	const bytes = gatherBytes(span, local, count, itemBytes).slice();
	if (info.bigEndian) {
		swapElementBytes(bytes, itemBytes);
	}
	return bytes;
}

/** A whole storage's bytes (zip entry, stored or deflated, or a legacy range). */
async function storageBytesOf(source: ByteSource, blob: StorageBlob): Promise<Uint8Array> {
	return blob.entry ? readZipEntry(source, blob.entry) : source.read(blob.offset as number, blob.size);
}

/** Just enough of a pickle writer for a state_dict (protocol 2, the opcodes torch.save uses). */
class PickleWriter {
	private readonly parts: number[] = [0x80, 2];

	private push(...bytes: number[]): this {
		for (const b of bytes) this.parts.push(b);
		return this;
	}

	global(module: string, name: string): this {
		return this.push(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
	}

	string(value: string): this {
		const bytes = new TextEncoder().encode(value);
		return this.push(0x58, ...u32le(bytes.length), ...bytes);
	}

	int(value: number): this {
		if (value >= 0 && value < 0x80000000) {
			return this.push(0x4a, ...u32le(value));
		}
		// LONG1: little-endian two's complement, 8 bytes are enough for any tensor size.
		const bytes = new Uint8Array(8);
		new DataView(bytes.buffer).setBigInt64(0, BigInt(value), true);
		return this.push(0x8a, 8, ...bytes);
	}

	ints(values: readonly number[]): this {
		this.mark();
		for (const v of values) this.int(v);
		return this.tuple();
	}

	bool(value: boolean): this { return this.push(value ? 0x88 : 0x89); }
	mark(): this { return this.push(0x28); }
	tuple(): this { return this.push(0x74); }
	emptyTuple(): this { return this.push(0x29); }
	reduce(): this { return this.push(0x52); }
	persistentId(): this { return this.push(0x51); }
	setItem(): this { return this.push(0x73); }

	finish(): Uint8Array {
		return Uint8Array.from([...this.parts, 0x2e]);
	}
}

/**
 * The new bytes of a storage that one float32 tensor fills exactly, as pruned weights usually
 * do: the values' own memory, with nothing read from the old file or copied.
 */
function wholeStorageBytes(writes: readonly Write[], storageBytes: number): Uint8Array | undefined {
	if (writes.length !== 1) {
		return undefined;
	}
	const { info, values } = writes[0];
	const whole = info.dtype === 'float32' && !info.quantized && !info.bigEndian && endianness() === 'LE' && info.offset === 0
		&& values.byteLength === storageBytes && isRowMajorContiguous(info.shape, info.stride);
	return whole ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : undefined;
}

/** `storage` (the old bytes) with every write scattered into it. */
async function patchedStorage(storage: Uint8Array, writes: readonly Write[]): Promise<Uint8Array> {
	for (const { info, values } of writes) {
		await scatter(storage, info, values);
	}
	return storage;
}

/** Encodes `values` to the storage dtype and writes each element at its place in the view. */
async function scatter(storage: Uint8Array, info: PytorchTensorInfo, values: Float32Array): Promise<void> {
	const itemBytes = dtypeBytes[info.dtype];
	const encoded = info.quantized
		? await quantize(values, info)
		: info.dtype === 'float32' && endianness() === 'LE'
			? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
			: encodeFromFloat32(values, info.dtype, info.dtype === 'float64' && !info.bigEndian ? gatherBytes(storage, info, values.length, itemBytes) : undefined);
	if (info.bigEndian) {
		const own = encoded.slice();
		swapElementBytes(own, itemBytes);
		return scatterBytes(storage, info, own, itemBytes);
	}
	scatterBytes(storage, info, encoded, itemBytes);
}

/**
 * Real values back to a quantized tensor's integers, `round(v / scale) + zero_point` clamped to the
 * storage type: exact for the values pruning keeps (they came from integers), and the zero point
 * where it removed a weight.
 */
async function quantize(values: Float32Array, info: PytorchTensorInfo): Promise<Uint8Array> {
	const { value, scales, zeroPoints } = info.quantized as NonNullable<PytorchTensorInfo['quantized']>;
	const s = scales ? await scales.load() : Float32Array.of(value.scale);
	const z = zeroPoints ? await zeroPoints.load() : Float32Array.of(value.zeroPoint);
	const channels = s.length;
	const inner = value.scheme === 'per_channel' ? info.shape.slice(value.axis + 1).reduce((a, b) => a * b, 1) : 1;
	const [low, high] = info.dtype === 'int8' ? [-128, 127] : info.dtype === 'uint8' ? [0, 255] : [-2147483648, 2147483647];
	const out = new Uint8Array(values.length * dtypeBytes[info.dtype]);
	const view = new DataView(out.buffer);
	for (let i = 0; i < values.length; i++) {
		const c = value.scheme === 'per_channel' ? Math.floor(i / inner) % channels : 0;
		const q = Math.min(high, Math.max(low, Math.round(values[i] / s[c]) + z[c]));
		if (info.dtype === 'int8') view.setInt8(i, q);
		else if (info.dtype === 'uint8') view.setUint8(i, q);
		else view.setInt32(i * 4, q, true);
	}
	return out;
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

