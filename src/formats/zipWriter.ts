import type { ByteSource } from './byteSource';
import { zipEntryDataOffset } from './zip';
import type { ZipEntryDetail } from './zip';

// Zip writing shared by the PyTorch checkpoint writer and the npz writer (the reader is zip.ts).
// Only what rewriting an existing archive needs: headers without data descriptors, ZIP64 fields
// where a value overflows 32 bits, and the end-of-central-directory records.

const u32Max = 0xffffffff;

/** The fields an entry's local and central headers both carry. */
export interface ZipHeaderFields {
	/** The entry name, as stored in the original archive. */
	readonly nameBytes: Uint8Array;
	/** General-purpose bit flags (rewriters keep only bit 11, UTF-8 names). */
	readonly flags: number;
	/** Compression method: 0 stored, 8 deflate. */
	readonly method: number;
	/** MS-DOS time and date, as in the original header. */
	readonly time: number;
	readonly date: number;
	readonly crc: number;
	/** Uncompressed and compressed sizes in bytes. */
	readonly size: number;
	readonly compressedSize: number;
}

/** How {@link zipLocalHeader} places the header. */
export interface ZipLocalHeaderOptions {
	/**
	 * Where the header will be written. With it, an offset of 4 GiB or more also raises "version
	 * needed" to 4.5 (as the PyTorch writer's headers always did); `alignment` needs it.
	 */
	readonly offset?: number;
	/**
	 * Pads the header with torch's 'FB' extra field (filled with 'Z') so that the entry's data
	 * starts at a multiple of this many bytes; the field is written even when no padding is needed.
	 */
	readonly alignment?: number;
}

/**
 * A local file header with sizes (no data descriptor follows), a ZIP64 extra field when a size
 * does not fit 32 bits, and torch's alignment padding when `options.alignment` is given.
 */
export function zipLocalHeader(fields: ZipHeaderFields, options: ZipLocalHeaderOptions = {}): Uint8Array {
	const { nameBytes, size, compressedSize } = fields;
	const offset = options.offset ?? 0;
	const zip64Extra = size >= u32Max || compressedSize >= u32Max ? 20 : 0;
	const padField = options.alignment === undefined ? 0 : 4;
	const unpadded = offset + 30 + nameBytes.length + zip64Extra + padField;
	const pad = options.alignment === undefined ? 0 : (options.alignment - (unpadded % options.alignment)) % options.alignment;
	const out = new Uint8Array(30 + nameBytes.length + zip64Extra + padField + pad);
	const v = new DataView(out.buffer);
	v.setUint32(0, 0x04034b50, true);
	v.setUint16(4, zip64Extra || offset >= u32Max ? 45 : 20, true);
	v.setUint16(6, fields.flags, true);
	v.setUint16(8, fields.method, true);
	v.setUint16(10, fields.time, true);
	v.setUint16(12, fields.date, true);
	v.setUint32(14, fields.crc, true);
	v.setUint32(18, zip64Extra ? u32Max : compressedSize, true);
	v.setUint32(22, zip64Extra ? u32Max : size, true);
	v.setUint16(26, nameBytes.length, true);
	v.setUint16(28, zip64Extra + padField + pad, true);
	out.set(nameBytes, 30);
	let e = 30 + nameBytes.length;
	if (zip64Extra) {
		v.setUint16(e, 0x0001, true);
		v.setUint16(e + 2, 16, true);
		v.setBigUint64(e + 4, BigInt(size), true);
		v.setBigUint64(e + 12, BigInt(compressedSize), true);
		e += 20;
	}
	if (padField) {
		v.setUint16(e, 0x4246, true); // 'FB'
		v.setUint16(e + 2, pad, true);
		out.fill(0x5a, e + 4); // 'Z'
	}
	return out;
}

/** A central directory header for an entry whose local header is at `localOffset`, with ZIP64 fields when anything overflows. */
export function zipCentralHeader(fields: ZipHeaderFields, localOffset: number): Uint8Array {
	const { nameBytes, size, compressedSize } = fields;
	const zip64 = size >= u32Max || compressedSize >= u32Max || localOffset >= u32Max;
	const extra = zip64 ? 28 : 0;
	const out = new Uint8Array(46 + nameBytes.length + extra);
	const v = new DataView(out.buffer);
	v.setUint32(0, 0x02014b50, true);
	v.setUint16(4, 45, true);
	v.setUint16(6, zip64 ? 45 : 20, true);
	v.setUint16(8, fields.flags, true);
	v.setUint16(10, fields.method, true);
	v.setUint16(12, fields.time, true);
	v.setUint16(14, fields.date, true);
	v.setUint32(16, fields.crc, true);
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

/**
 * The end-of-central-directory record for `count` entries whose directory of `directorySize`
 * bytes starts at `directoryOffset` and ends where these records go; preceded by the ZIP64 end
 * record and its locator when a field overflows, or always with `alwaysZip64` (as torch writes).
 */
export function zipEndRecords(count: number, directorySize: number, directoryOffset: number, alwaysZip64 = false): Uint8Array {
	const zip64 = alwaysZip64 || count >= 0xffff || directorySize >= u32Max || directoryOffset >= u32Max;
	const out = new Uint8Array((zip64 ? 56 + 20 : 0) + 22);
	const v = new DataView(out.buffer);
	let e = 0;
	if (zip64) {
		v.setUint32(0, 0x06064b50, true);
		v.setBigUint64(4, 44n, true);
		v.setUint16(12, 45, true);
		v.setUint16(14, 45, true);
		v.setBigUint64(24, BigInt(count), true);
		v.setBigUint64(32, BigInt(count), true);
		v.setBigUint64(40, BigInt(directorySize), true);
		v.setBigUint64(48, BigInt(directoryOffset), true);
		v.setUint32(56, 0x07064b50, true);
		v.setBigUint64(64, BigInt(directoryOffset + directorySize), true);
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

/** Where {@link rewriteZip} writes: appends at `position` (writers/common.ts SequentialWriter is one). */
export interface ZipOutput {
	readonly position: number;
	bytes(bytes: Uint8Array): Promise<void>;
	/** Appends `length` bytes of `source` read from `offset`. */
	copy(source: ByteSource, offset: number, length: number): Promise<void>;
}

/** New data for an entry, written stored; `crc` is its CRC-32. */
export interface ZipReplacement {
	readonly bytes: Uint8Array;
	readonly crc: number;
}

/** How {@link rewriteZip} lays the archive out. */
export interface RewriteZipOptions {
	/** Aligns every entry's data to this many bytes with torch's 'FB' padding field (torch uses 64). */
	readonly alignment?: number;
	/** Always writes the ZIP64 end record and locator. */
	readonly alwaysZip64?: boolean;
}

/**
 * Writes a fresh archive to `out`: every entry of `entries` in its original order (by local
 * header offset), with its name, time, date, UTF-8 flag, method and data bytes, except those for
 * which `replacement` gives new bytes, which are written stored. `replacement` is called just
 * before an entry is written, so only one new entry need be in memory at a time. Local headers
 * carry sizes (no data descriptors) and ZIP64 fields where needed.
 */
export async function rewriteZip(source: ByteSource, entries: readonly ZipEntryDetail[], out: ZipOutput, replacement: (entry: ZipEntryDetail) => Promise<ZipReplacement | undefined>, options: RewriteZipOptions = {}): Promise<void> {
	const ordered = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
	const central: Uint8Array[] = [];
	for (const entry of ordered) {
		const header = await source.read(entry.localHeaderOffset, 30);
		const view = new DataView(header.buffer, header.byteOffset, 30);
		const nameBytes = await source.read(entry.localHeaderOffset + 30, view.getUint16(26, true));
		const update = await replacement(entry);
		const fields: ZipHeaderFields = {
			nameBytes,
			flags: entry.flags & 0x0800,
			method: update ? 0 : entry.method,
			time: view.getUint16(10, true),
			date: view.getUint16(12, true),
			crc: update ? update.crc : entry.crc32,
			size: update ? update.bytes.length : entry.size,
			compressedSize: update ? update.bytes.length : entry.compressedSize,
		};
		const offset = out.position;
		await out.bytes(zipLocalHeader(fields, options.alignment === undefined ? {} : { offset, alignment: options.alignment }));
		if (update) {
			await out.bytes(update.bytes);
		} else {
			await out.copy(source, await zipEntryDataOffset(source, entry), entry.compressedSize);
		}
		central.push(zipCentralHeader(fields, offset));
	}
	const directoryOffset = out.position;
	for (const header of central) {
		await out.bytes(header);
	}
	await out.bytes(zipEndRecords(central.length, out.position - directoryOffset, directoryOffset, options.alwaysZip64));
}
