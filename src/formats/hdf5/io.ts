import { ModelFormatError } from '../../core/errors';
import type { ModelFormatReason } from '../../core/errors';
import type { ByteSource } from '../byteSource';

/** The undefined address (all bits set in the file). */
export const UNDEF = -1;

/** Largest metadata structure read in one piece (heap, B-tree node, header chunk, string). */
const maxMetadataBytes = 256 * 1024 * 1024;

/**
 * What every HDF5 structure reader shares: the source, the superblock's field sizes and base
 * address, the error helpers and the caches of parsed structures (keyed by kind and address).
 */
export class H5Context {
	offsetSize = 8;
	lengthSize = 8;
	base = 0;
	rootAddress = UNDEF;
	readonly cache = new Map<string, Promise<unknown>>();

	constructor(readonly source: ByteSource) {}

	fail(reason: ModelFormatReason, what: string): ModelFormatError {
		return new ModelFormatError(reason, `${this.source.name}: ${what}`);
	}

	corrupt(what: string): ModelFormatError {
		return this.fail('corrupt', `${what} (the HDF5 file is corrupt).`);
	}

	unsupported(what: string): ModelFormatError {
		return this.fail('unsupported-format', `${what}; this HDF5 feature is not supported.`);
	}

	/** The absolute file offset of `address`, checked to lie inside the file. */
	abs(address: number, what: string): number {
		if (address < 0) throw this.corrupt(`${what} has an undefined address`);
		return this.inFile(this.base + address, 0, what);
	}

	/** Checks that `length` bytes at absolute offset `at` lie inside the file; returns `at`. */
	inFile(at: number, length: number, what: string): number {
		if (at + length > this.source.length) {
			throw this.fail('truncated', `${what} needs bytes ${at}..${at + length} but the file has ${this.source.length} bytes (truncated or corrupt).`);
		}
		return at;
	}

	/** Reads `length` metadata bytes at file address `address` as a cursor. */
	async cursor(address: number, length: number, what: string): Promise<Cursor> {
		if (length > maxMetadataBytes) throw this.corrupt(`${what} at ${address} claims ${length} bytes`);
		const at = this.inFile(this.abs(address, what), length, what);
		return new Cursor(this, await this.source.read(at, length), what, at);
	}

	/** Memoises `make` under `key` (headers, heaps); a failure is not cached. */
	cached<T>(key: string, make: () => Promise<T>): Promise<T> {
		let hit = this.cache.get(key) as Promise<T> | undefined;
		if (!hit) {
			hit = make();
			hit.catch(() => this.cache.delete(key));
			this.cache.set(key, hit);
		}
		return hit;
	}
}

/** A bounds-checked little-endian reader over bytes; running off the end is 'corrupt'. */
export class Cursor {
	pos = 0;

	constructor(readonly ctx: H5Context, readonly bytes: Uint8Array, readonly what: string, readonly fileOffset = 0) {}

	get left(): number {
		return this.bytes.length - this.pos;
	}

	need(n: number): void {
		if (!(n >= 0) || this.pos + n > this.bytes.length) throw this.ctx.corrupt(`${this.what} is cut short`);
	}

	skip(n: number): this {
		this.need(n);
		this.pos += n;
		return this;
	}

	u8(): number {
		this.need(1);
		return this.bytes[this.pos++];
	}

	u16(): number {
		return this.uint(2);
	}

	u32(): number {
		return this.uint(4);
	}

	/** An unsigned little-endian integer of `n` ≤ 8 bytes; over 2^53 is corrupt. */
	uint(n: number): number {
		this.need(n);
		let value = 0;
		for (let i = n - 1; i >= 0; i--) {
			value = value * 256 + this.bytes[this.pos + i];
		}
		this.pos += n;
		if (value > Number.MAX_SAFE_INTEGER) throw this.ctx.corrupt(`${this.what} holds an impossible value`);
		return value;
	}

	/** A file address (UNDEF when all bits are set). */
	offset(): number {
		const n = this.ctx.offsetSize;
		this.need(n);
		if (this.bytes.subarray(this.pos, this.pos + n).every((b) => b === 0xff)) {
			this.pos += n;
			return UNDEF;
		}
		return this.uint(n);
	}

	/** A length field. */
	length(): number {
		return this.uint(this.ctx.lengthSize);
	}

	take(n: number): Uint8Array {
		this.need(n);
		this.pos += n;
		return this.bytes.subarray(this.pos - n, this.pos);
	}

	/** Checks a 4-character signature such as 'OHDR'. */
	signature(expected: string): this {
		const got = String.fromCharCode(...this.take(4));
		if (got !== expected) throw this.ctx.corrupt(`${this.what} at ${this.fileOffset - this.ctx.base} lacks its '${expected}' signature`);
		return this;
	}

	/** A sub-cursor over the next `n` bytes (message bodies). */
	sub(n: number, what = this.what): Cursor {
		const at = this.fileOffset + this.pos;
		return new Cursor(this.ctx, this.take(n), what, at);
	}
}

/** Bit length of a positive integer minus one (floor(log2 n)), exact for any safe integer. */
export function log2(n: number): number {
	return n < 1 ? 0 : Math.floor(n).toString(2).length - 1;
}

/** Jenkins lookup3 hashlittle with seed 0: HDF5's metadata checksum (H5_checksum_lookup3). */
export function lookup3(k: Uint8Array): number {
	let length = k.length;
	let a = (0xdeadbeef + length) >>> 0;
	let b = a;
	let c = a;
	const rot = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
	let p = 0;
	const word = (i: number): number => k[i] | (k[i + 1] << 8) | (k[i + 2] << 16) | (k[i + 3] << 24);
	while (length > 12) {
		a = (a + word(p)) | 0; b = (b + word(p + 4)) | 0; c = (c + word(p + 8)) | 0;
		a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0;
		b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0;
		c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0;
		a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0;
		b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0;
		c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0;
		length -= 12;
		p += 12;
	}
	if (length === 0) return c >>> 0;
	const tail = [0, 0, 0];
	for (let i = 0; i < length; i++) {
		tail[i >> 2] += k[p + i] << ((i & 3) * 8);
	}
	a = (a + tail[0]) | 0; b = (b + tail[1]) | 0; c = (c + tail[2]) | 0;
	c ^= b; c = (c - rot(b, 14)) | 0;
	a ^= c; a = (a - rot(c, 11)) | 0;
	b ^= a; b = (b - rot(a, 25)) | 0;
	c ^= b; c = (c - rot(b, 16)) | 0;
	a ^= c; a = (a - rot(c, 4)) | 0;
	b ^= a; b = (b - rot(a, 14)) | 0;
	c ^= b; c = (c - rot(b, 24)) | 0;
	return c >>> 0;
}

/** Checks the 4-byte lookup3 checksum that follows `bytes[0..end)`. */
export function checkChecksum(ctx: H5Context, bytes: Uint8Array, end: number, what: string): void {
	const stored = (bytes[end] | (bytes[end + 1] << 8) | (bytes[end + 2] << 16) | (bytes[end + 3] << 24)) >>> 0;
	if (lookup3(bytes.subarray(0, end)) !== stored) throw ctx.corrupt(`${what} fails its checksum`);
}

/** Runs `work`, turning stray errors (RangeError from a corrupt field) into 'corrupt'. */
export async function guard<T>(ctx: H5Context, work: () => Promise<T>): Promise<T> {
	try {
		return await work();
	} catch (ex) {
		if (ModelFormatError.is(ex)) throw ex;
		throw ctx.corrupt(`unreadable structure (${ex instanceof Error ? ex.message.split('\n')[0] : String(ex)})`);
	}
}
