import type { ModelGraph } from '../../core/model';
import { numel } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { dtypeBytes } from '../dtype';
import { parseNpyHeader } from '../numpy';
import type { NpyHeader } from '../numpy';
import { crc32, readZipDirectory, readZipEntry, zipEntryDataOffset } from '../zip';
import type { ZipEntryDetail } from '../zip';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates, encodeValues } from './common';

const u32Max = 0xffffffff;

/** Writes C-ordered `src` into `target` in Fortran (column-major) order: the inverse of numpy.ts fortranToC. */
export function cToFortran(src: Float32Array, shape: readonly number[], target: Float32Array): void {
	const rank = shape.length;
	const fStride: number[] = [];
	let stride = 1;
	for (let k = 0; k < rank; k++) {
		fStride.push(stride);
		stride *= shape[k];
	}
	const index = new Array<number>(rank).fill(0);
	let f = 0;
	for (let c = 0; c < src.length; c++) {
		target[f] = src[c];
		for (let k = rank - 1; k >= 0; k--) {
			index[k]++;
			f += fStride[k];
			if (index[k] < shape[k]) {
				break;
			}
			f -= fStride[k] * shape[k];
			index[k] = 0;
		}
	}
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
	// One updated array in memory at a time: its bytes are built just before they are written.
	const newBytes = async (entry: ZipEntryDetail, values: Float32Array): Promise<Uint8Array> => {
		const original = await readZipEntry(source, entry);
		const { header } = parseNpyHeader(original, entry.name, source.name);
		if (!header || numel(header.shape) !== values.length) {
			throw new Error(`${source.name}: the array '${entry.name}' changed since it was opened.`);
		}
		return npyBytes(original, header, values);
	};
	await writeFileAtomic(outPath, async (handle) => {
		const out = new SequentialWriter(handle);
		const central: Uint8Array[] = [];
		for (const entry of entries) {
			const local = await source.read(entry.localHeaderOffset, 30);
			const view = new DataView(local.buffer, local.byteOffset, 30);
			const nameBytes = await source.read(entry.localHeaderOffset + 30, view.getUint16(26, true));
			const time = view.getUint16(10, true);
			const date = view.getUint16(12, true);
			const values = updated.get(entry);
			const update = values ? await newBytes(entry, values) : undefined;
			const method = update ? 0 : entry.method;
			const crc = update ? crc32(update) : entry.crc32;
			const size = update ? update.length : entry.size;
			const compressedSize = update ? update.length : entry.compressedSize;
			const offset = out.position;
			await out.bytes(localHeader(nameBytes, entry.flags & 0x0800, method, time, date, crc, size, compressedSize));
			if (update) {
				await out.bytes(update);
			} else {
				await out.copy(source, await zipEntryDataOffset(source, entry), entry.compressedSize);
			}
			central.push(centralHeader(nameBytes, entry.flags & 0x0800, method, time, date, crc, size, compressedSize, offset));
		}
		const directoryOffset = out.position;
		for (const header of central) {
			await out.bytes(header);
		}
		await out.bytes(endRecords(central.length, out.position - directoryOffset, directoryOffset));
	}, { force: options.force, inputPath: options.inputPath ?? source.name });
}

function localHeader(nameBytes: Uint8Array, flags: number, method: number, time: number, date: number, crc: number, size: number, compressedSize: number): Uint8Array {
	const zip64 = size >= u32Max || compressedSize >= u32Max;
	const extra = zip64 ? 20 : 0;
	const out = new Uint8Array(30 + nameBytes.length + extra);
	const v = new DataView(out.buffer);
	v.setUint32(0, 0x04034b50, true);
	v.setUint16(4, zip64 ? 45 : 20, true);
	v.setUint16(6, flags, true);
	v.setUint16(8, method, true);
	v.setUint16(10, time, true);
	v.setUint16(12, date, true);
	v.setUint32(14, crc, true);
	v.setUint32(18, zip64 ? u32Max : compressedSize, true);
	v.setUint32(22, zip64 ? u32Max : size, true);
	v.setUint16(26, nameBytes.length, true);
	v.setUint16(28, extra, true);
	out.set(nameBytes, 30);
	if (zip64) {
		const e = 30 + nameBytes.length;
		v.setUint16(e, 0x0001, true);
		v.setUint16(e + 2, 16, true);
		v.setBigUint64(e + 4, BigInt(size), true);
		v.setBigUint64(e + 12, BigInt(compressedSize), true);
	}
	return out;
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

/** End of central directory, preceded by the ZIP64 end record and locator when a field overflows. */
function endRecords(count: number, directorySize: number, directoryOffset: number): Uint8Array {
	const zip64 = count >= 0xffff || directorySize >= u32Max || directoryOffset >= u32Max;
	const out = new Uint8Array((zip64 ? 56 + 20 : 0) + 22);
	const v = new DataView(out.buffer);
	let e = 0;
	if (zip64) {
		const zip64EndOffset = directoryOffset + directorySize;
		v.setUint32(0, 0x06064b50, true);
		v.setBigUint64(4, 44n, true);
		v.setUint16(12, 45, true);
		v.setUint16(14, 45, true);
		v.setBigUint64(24, BigInt(count), true);
		v.setBigUint64(32, BigInt(count), true);
		v.setBigUint64(40, BigInt(directorySize), true);
		v.setBigUint64(48, BigInt(directoryOffset), true);
		v.setUint32(56, 0x07064b50, true);
		v.setBigUint64(64, BigInt(zip64EndOffset), true);
		v.setUint32(72, 1, true);
		e = 76;
	}
	v.setUint32(e, 0x06054b50, true);
	v.setUint16(e + 8, Math.min(count, 0xffff), true);
	v.setUint16(e + 10, Math.min(count, 0xffff), true);
	v.setUint32(e + 12, Math.min(directorySize, u32Max), true);
	v.setUint32(e + 16, Math.min(directoryOffset, u32Max), true);
	return out;
}
