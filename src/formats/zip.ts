import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { ModelFormatError } from '../core/errors';
import type { ByteSource } from './byteSource';

/**
 * A small zip reader over a ByteSource (PKWARE APPNOTE 6.3): the central directory, ZIP64
 * records and extra fields, stored (0) and deflated (8) entries. Every size and offset the
 * archive declares is checked against the file length before anything is read or allocated,
 * so a hostile archive costs at most one pass over its central directory.
 */

export interface ZipEntry {
	readonly name: string;
	/** 0 = stored, 8 = deflate; others are refused on read. */
	readonly method: number;
	readonly compressedSize: number;
	/** Uncompressed size, as the central directory declares it. */
	readonly size: number;
	readonly crc32: number;
	readonly localHeaderOffset: number;
}

/** What readZipDirectory knows beyond ZipEntry (writers patch CRCs in place with it). */
export interface ZipEntryDetail extends ZipEntry {
	/** General-purpose flags; bit 3 = sizes and CRC follow the data in a data descriptor. */
	readonly flags: number;
	/** Offset of this entry's central directory header. */
	readonly centralHeaderOffset: number;
}

const sigLocal = 0x04034b50;
const sigCentral = 0x02014b50;
const sigEnd = 0x06054b50;
const sigZip64End = 0x06064b50;
const sigZip64Locator = 0x07064b50;
const sigDataDescriptor = 0x08074b50;

const endRecordBytes = 22;
const centralHeaderBytes = 46;
const localHeaderBytes = 30;
/** The EOCD comment is at most 65535 bytes, so the record starts in the last 64 KiB + 22. */
const maxEndSearch = 0xffff + endRecordBytes;
/** A central directory larger than this is not a model checkpoint (1M entries of ~500 bytes). */
const maxCentralDirectoryBytes = 512 * 1024 * 1024;
/** Deflate cannot expand by more than ~1032:1; a larger declared ratio is a lie. */
const maxDeflateRatio = 1032;

function u16(b: Uint8Array, o: number): number {
	return b[o] | (b[o + 1] << 8);
}

function u32(b: Uint8Array, o: number): number {
	return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** A little-endian u64 as a number; values past 2^53 become Infinity so range checks fail. */
function u64(b: Uint8Array, o: number): number {
	const high = u32(b, o + 4);
	if (high >= 0x200000) {
		return Infinity;
	}
	return high * 0x100000000 + u32(b, o);
}

function corrupt(source: ByteSource, what: string): ModelFormatError {
	return new ModelFormatError('corrupt', `${source.name}: ${what} (the zip archive is corrupt).`);
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/**
 * Reads the central directory. Finds the end record in the last 64 KiB + 22 bytes, follows
 * the ZIP64 locator when present, and checks every entry's ranges against `source.length`.
 */
export async function readZipDirectory(source: ByteSource): Promise<ZipEntryDetail[]> {
	const length = source.length;
	if (length < endRecordBytes) {
		throw new ModelFormatError('truncated', `${source.name}: ${length} bytes is too short for a zip archive (truncated?).`);
	}
	const tailLength = Math.min(length, maxEndSearch);
	const tailStart = length - tailLength;
	const tail = await source.read(tailStart, tailLength);
	// The record whose comment ends exactly at EOF; a comment may itself contain 'PK\x05\x06'.
	// Failing that, accept trailing bytes after the comment (some tools append padding).
	let end = -1;
	for (const exact of [true, false]) {
		for (let i = tail.length - endRecordBytes; i >= 0 && end < 0; i--) {
			const recordEnd = i + endRecordBytes + (u32(tail, i) === sigEnd ? u16(tail, i + 20) : Infinity);
			if (exact ? recordEnd === tail.length : recordEnd <= tail.length) {
				end = i;
			}
		}
	}
	if (end < 0) {
		throw new ModelFormatError('truncated', `${source.name}: no zip end-of-central-directory record in the last ${tailLength} bytes (the file is truncated or not a zip archive).`);
	}
	const endOffset = tailStart + end;
	let count = u16(tail, end + 10);
	let cdSize = u32(tail, end + 12);
	let cdOffset = u32(tail, end + 16);
	const disk = u16(tail, end + 4);
	const directoryDisk = u16(tail, end + 6);
	if ((disk !== 0 && disk !== 0xffff) || (directoryDisk !== 0 && directoryDisk !== 0xffff)) {
		throw new ModelFormatError('unsupported-format', `${source.name}: a multi-part (split) zip archive is not supported.`);
	}
	let directoryEnd = endOffset;
	const locator = endOffset - 20;
	const locatorBytes = locator < 0 ? undefined : locator >= tailStart ? tail.subarray(locator - tailStart, end) : await source.read(locator, 20);
	if (locatorBytes && u32(locatorBytes, 0) === sigZip64Locator) {
		const zip64EndOffset = u64(locatorBytes, 8);
		if (!(zip64EndOffset + 56 <= locator)) {
			throw corrupt(source, `the ZIP64 end record offset ${zip64EndOffset} is outside the file`);
		}
		const record = await source.read(zip64EndOffset, 56);
		if (u32(record, 0) !== sigZip64End) {
			throw corrupt(source, `no ZIP64 end record at offset ${zip64EndOffset}`);
		}
		count = u64(record, 32);
		cdSize = u64(record, 40);
		cdOffset = u64(record, 48);
		directoryEnd = zip64EndOffset;
	} else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
		throw corrupt(source, 'the end record asks for ZIP64 but there is no ZIP64 locator');
	}
	if (!(cdOffset + cdSize <= directoryEnd)) {
		throw new ModelFormatError('truncated', `${source.name}: the zip central directory (${cdSize} bytes at ${cdOffset}) lies past the end of the file (${length} bytes; truncated?).`);
	}
	if (cdSize > maxCentralDirectoryBytes) {
		throw new ModelFormatError('too-large', `${source.name}: the zip central directory is ${cdSize} bytes, more than a model checkpoint needs.`);
	}
	if (count * centralHeaderBytes > cdSize) {
		throw corrupt(source, `the end record declares ${count} entries but the central directory has only ${cdSize} bytes`);
	}
	const cd = await source.read(cdOffset, cdSize);
	const entries: ZipEntryDetail[] = [];
	let p = 0;
	for (let index = 0; index < count; index++) {
		if (p + centralHeaderBytes > cd.length || u32(cd, p) !== sigCentral) {
			throw corrupt(source, `central directory entry ${index} is missing or malformed`);
		}
		const flags = u16(cd, p + 8);
		const method = u16(cd, p + 10);
		const crc32 = u32(cd, p + 16);
		let compressedSize = u32(cd, p + 20);
		let size = u32(cd, p + 24);
		const nameLength = u16(cd, p + 28);
		const extraLength = u16(cd, p + 30);
		const commentLength = u16(cd, p + 32);
		let localHeaderOffset = u32(cd, p + 42);
		const next = p + centralHeaderBytes + nameLength + extraLength + commentLength;
		if (next > cd.length) {
			throw corrupt(source, `central directory entry ${index} runs past the directory`);
		}
		const nameBytes = cd.subarray(p + centralHeaderBytes, p + centralHeaderBytes + nameLength);
		const name = (flags & 0x800 ? utf8 : latin1).decode(nameBytes);
		if (size === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
			// ZIP64 extended information: only the fields whose 32-bit value is saturated, in order.
			let e = p + centralHeaderBytes + nameLength;
			const extraEnd = e + extraLength;
			let found = false;
			while (e + 4 <= extraEnd) {
				const id = u16(cd, e);
				const fieldLength = u16(cd, e + 2);
				if (e + 4 + fieldLength > extraEnd) {
					break;
				}
				if (id === 0x0001) {
					let f = e + 4;
					const take = (): number => {
						if (f + 8 > e + 4 + fieldLength) {
							throw corrupt(source, `the ZIP64 field of '${name}' is too short`);
						}
						const value = u64(cd, f);
						f += 8;
						return value;
					};
					if (size === 0xffffffff) size = take();
					if (compressedSize === 0xffffffff) compressedSize = take();
					if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
					found = true;
					break;
				}
				e += 4 + fieldLength;
			}
			if (!found) {
				throw corrupt(source, `entry '${name}' has saturated sizes but no ZIP64 field`);
			}
		}
		if (!(localHeaderOffset + localHeaderBytes + compressedSize <= length)) {
			throw corrupt(source, `entry '${name}' (${compressedSize} bytes at offset ${localHeaderOffset}) lies past the end of the file (${length} bytes)`);
		}
		if (!Number.isSafeInteger(size)) {
			throw corrupt(source, `entry '${name}' declares an impossible size`);
		}
		if (method === 0 && size !== compressedSize) {
			throw corrupt(source, `stored entry '${name}' declares ${size} bytes but holds ${compressedSize}`);
		}
		if (method === 8 && size > compressedSize * maxDeflateRatio + 1024) {
			throw corrupt(source, `deflated entry '${name}' declares ${size} bytes from ${compressedSize} compressed bytes, more than deflate can produce`);
		}
		entries.push({ name, method, compressedSize, size, crc32, localHeaderOffset, flags, centralHeaderOffset: cdOffset + p });
		p = next;
	}
	return entries;
}

/**
 * Offset of an entry's data: reads and checks its local header (signature, name length,
 * method) and that the data lies inside the file.
 */
export async function zipEntryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
	if (entry.localHeaderOffset + localHeaderBytes > source.length) {
		throw new ModelFormatError('truncated', `${source.name}: zip entry '${entry.name}' starts past the end of the file (truncated?).`);
	}
	const header = await source.read(entry.localHeaderOffset, localHeaderBytes);
	if (u32(header, 0) !== sigLocal) {
		throw corrupt(source, `no local header for '${entry.name}' at offset ${entry.localHeaderOffset}`);
	}
	if (u16(header, 8) !== entry.method) {
		throw corrupt(source, `the local header of '${entry.name}' says method ${u16(header, 8)}, the central directory ${entry.method}`);
	}
	const dataOffset = entry.localHeaderOffset + localHeaderBytes + u16(header, 26) + u16(header, 28);
	if (dataOffset + entry.compressedSize > source.length) {
		throw new ModelFormatError('truncated', `${source.name}: zip entry '${entry.name}' needs bytes ${dataOffset}..${dataOffset + entry.compressedSize} but the file has ${source.length} (truncated?).`);
	}
	return dataOffset;
}

/**
 * Reads one entry's uncompressed bytes. Stored entries are read straight into `into` when it
 * is large enough (the result is then a view of it); deflated ones are inflated with the
 * output capped at the declared size, so a size that lies is 'corrupt', never a huge buffer.
 */
export async function readZipEntry(source: ByteSource, entry: ZipEntry, into?: Uint8Array): Promise<Uint8Array> {
	const dataOffset = await zipEntryDataOffset(source, entry);
	if (entry.method === 0) {
		if (entry.size !== entry.compressedSize) {
			throw corrupt(source, `stored entry '${entry.name}' declares ${entry.size} bytes but holds ${entry.compressedSize}`);
		}
		if (into && into.length >= entry.size) {
			const target = into.subarray(0, entry.size);
			await source.readInto(dataOffset, target);
			return target;
		}
		return source.read(dataOffset, entry.size);
	}
	if (entry.method !== 8) {
		throw new ModelFormatError('unsupported-format', `${source.name}: zip entry '${entry.name}' uses compression method ${entry.method}; only stored and deflate are supported.`);
	}
	if (entry.size > bufferConstants.MAX_LENGTH || entry.size > entry.compressedSize * maxDeflateRatio + 1024) {
		throw corrupt(source, `deflated entry '${entry.name}' declares ${entry.size} bytes, more than deflate can produce from ${entry.compressedSize}`);
	}
	const compressed = await source.read(dataOffset, entry.compressedSize);
	let inflated: Uint8Array;
	try {
		// maxOutputLength must be ≥ 1; an empty entry inflates to nothing or fails below.
		inflated = zlib.inflateRawSync(compressed, { maxOutputLength: Math.max(1, entry.size) });
	} catch (ex) {
		const code = (ex as NodeJS.ErrnoException).code;
		if (code === 'ERR_BUFFER_TOO_LARGE' || ex instanceof RangeError) {
			throw corrupt(source, `deflated entry '${entry.name}' inflates to more than its declared ${entry.size} bytes`);
		}
		throw corrupt(source, `deflated entry '${entry.name}' does not inflate (${(ex as Error).message})`);
	}
	if (inflated.length !== entry.size) {
		throw corrupt(source, `deflated entry '${entry.name}' inflates to ${inflated.length} bytes, not the declared ${entry.size}`);
	}
	if (into && into.length >= entry.size) {
		const target = into.subarray(0, entry.size);
		target.set(inflated);
		return target;
	}
	return inflated;
}

/**
 * Offset of the CRC-32 field of an entry's data descriptor (flag bit 3), or undefined when the
 * entry has none. The signature of the descriptor is optional in the format.
 */
export async function zipDataDescriptorCrcOffset(source: ByteSource, entry: ZipEntryDetail, dataOffset: number): Promise<number | undefined> {
	if (!(entry.flags & 0x8)) {
		return undefined;
	}
	const at = dataOffset + entry.compressedSize;
	if (at + 12 > source.length) {
		throw corrupt(source, `the data descriptor of '${entry.name}' lies past the end of the file`);
	}
	const head = await source.read(at, 4);
	return u32(head, 0) === sigDataDescriptor ? at + 4 : at;
}

/** CRC-32 (IEEE) of `data`, continuing from `value`. */
export function crc32(data: Uint8Array, value = 0): number {
	if (typeof zlib.crc32 === 'function') {
		return zlib.crc32(data, value) >>> 0;
	}
	crcTable ??= buildCrcTable();
	let c = ~value >>> 0;
	for (let i = 0; i < data.length; i++) {
		c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
	}
	return ~c >>> 0;
}

let crcTable: Uint32Array | undefined;

function buildCrcTable(): Uint32Array {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) {
			c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		}
		table[n] = c >>> 0;
	}
	return table;
}
