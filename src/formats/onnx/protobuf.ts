/**
 * A small protobuf wire-format decoder (and the few encoders the ONNX writer needs): enough to walk
 * ONNX's ModelProto without generated code or a dependency. Big payloads are never copied: the
 * async scanner reports each field's byte range in the file and the caller decides what to read.
 */
import { ModelFormatError } from '../../core/errors';
import type { ModelFormatReason } from '../../core/errors';
import type { ByteSource } from '../byteSource';
import { concatBytes } from '../../core/bytes';

export const wireVarint = 0;
export const wireI64 = 1;
export const wireLen = 2;
export const wireI32 = 5;

/** One field of a message: `start..end` is the payload (LEN) or the value bytes (others), absolute. */
export interface FieldRef {
	readonly field: number;
	readonly wire: number;
	/** Absolute offset of the field's key (where a writer would cut). */
	readonly keyStart: number;
	readonly start: number;
	readonly end: number;
	/** Varint value (wire 0), as a JS number (exact up to 2^53, signed 64-bit interpretation). */
	readonly value: number;
}

/** Decodes protobuf fields from bytes held in memory; offsets it reports are `base + index`. */
export class ProtoReader {
	pos: number;

	constructor(readonly bytes: Uint8Array, private readonly fileName: string, readonly base = 0, start = 0, readonly end = bytes.length) {
		this.pos = start;
	}

	get done(): boolean {
		return this.pos >= this.end;
	}

	fail(reason: ModelFormatReason, what: string): never {
		throw new ModelFormatError(reason, `${this.fileName}: ${what} at byte ${this.base + this.pos} (not a valid ONNX protobuf).`);
	}

	/**
	 * A varint as a number: exact up to 2^49 (7 bytes); longer ones are read as signed 64-bit
	 * (how int64/int32 fields encode negatives), losing precision past 2^53 (callers range-check).
	 */
	varint(): number {
		let result = 0;
		let scale = 1;
		for (let i = 0; i < 10; i++) {
			if (this.pos >= this.end) {
				this.fail('truncated', 'a varint runs past the end of its message');
			}
			const b = this.bytes[this.pos++];
			if (i < 7) {
				result += (b & 0x7f) * scale;
			} else {
				return this.bigVarintTail(result, b, i);
			}
			if (b < 0x80) {
				return result;
			}
			scale *= 128;
		}
		return this.fail('corrupt', 'a varint is longer than 10 bytes');
	}

	/** Continues a varint longer than 7 bytes with BigInt, interpreting it as signed 64-bit (int64 fields, negative values). */
	private bigVarintTail(low: number, byte: number, index: number): number {
		let value = BigInt(low);
		let b = byte;
		let shift = BigInt(7 * index);
		for (let i = index; ; i++) {
			value |= BigInt(b & 0x7f) << shift;
			if (b < 0x80) {
				return Number(BigInt.asIntN(64, value));
			}
			if (i >= 9) {
				this.fail('corrupt', 'a varint is longer than 10 bytes');
			}
			if (this.pos >= this.end) {
				this.fail('truncated', 'a varint runs past the end of its message');
			}
			b = this.bytes[this.pos++];
			shift += 7n;
		}
	}

	/** An int64/int32 field's value (negatives are 10-byte varints). */
	int64(): number {
		return this.varint();
	}

	/** A LEN field's length prefix: a non-negative safe integer. */
	length(): number {
		const length = this.varint();
		if (!Number.isSafeInteger(length) || length < 0) {
			this.fail('corrupt', `length prefix ${length}`);
		}
		return length;
	}

	key(): { field: number; wire: number } {
		const key = this.varint();
		const wire = key % 8;
		const field = Math.floor(key / 8);
		if (!(field >= 1 && field <= 0x1fffffff)) {
			this.fail('corrupt', `field number ${field}`);
		}
		return { field, wire };
	}

	/** Reads the value of a field whose key was just read and returns its range. */
	field(field: number, wire: number, keyStart: number): FieldRef {
		let value = 0;
		let start = this.pos;
		switch (wire) {
			case wireVarint:
				value = this.varint();
				break;
			case wireI64:
				this.advance(8);
				break;
			case wireI32:
				this.advance(4);
				break;
			case wireLen: {
				const length = this.length();
				start = this.pos;
				this.advance(length);
				break;
			}
			default:
				this.fail('corrupt', `wire type ${wire} (groups are not used by ONNX)`);
		}
		return { field, wire, keyStart: this.base + keyStart, start: this.base + start, end: this.base + this.pos, value };
	}

	/** Next field, or undefined at the end of the message. */
	next(): FieldRef | undefined {
		if (this.done) {
			return undefined;
		}
		const keyStart = this.pos;
		const { field, wire } = this.key();
		return this.field(field, wire, keyStart);
	}

	private advance(length: number): void {
		if (length > this.end - this.pos) {
			this.fail(this.base + this.end >= this.fileLength ? 'truncated' : 'corrupt', `a field of ${length} bytes runs past the end of its message`);
		}
		this.pos += length;
	}

	/** Total file length when known (set by callers reading whole-file ranges), to tell truncation from corruption. */
	fileLength = Number.POSITIVE_INFINITY;

	/** The bytes of a field range produced by this reader. */
	slice(ref: FieldRef): Uint8Array {
		return this.bytes.subarray(ref.start - this.base, ref.end - this.base);
	}

	/** A reader over a LEN field's payload (a nested message). */
	sub(ref: FieldRef): ProtoReader {
		const reader = new ProtoReader(this.bytes, this.fileName, this.base, ref.start - this.base, ref.end - this.base);
		reader.fileLength = this.fileLength;
		return reader;
	}
}

const utf8 = new TextDecoder('utf-8');

export function decodeString(bytes: Uint8Array): string {
	return utf8.decode(bytes);
}

/** float32 of a wire-5 field. */
export function fixed32Float(bytes: Uint8Array, offset: number): number {
	return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getFloat32(0, true);
}

/** Values of a repeated scalar field, packed (wire 2) or not, appended to `out`. */
export function readRepeatedNumbers(reader: ProtoReader, ref: FieldRef, kind: 'varint' | 'float' | 'double', out: number[], limit = Number.POSITIVE_INFINITY): void {
	if (ref.wire === wireLen) {
		const sub = reader.sub(ref);
		const view = new DataView(sub.bytes.buffer, sub.bytes.byteOffset);
		while (!sub.done && out.length < limit) {
			if (kind === 'varint') {
				out.push(sub.int64());
			} else if (kind === 'float') {
				if (sub.end - sub.pos < 4) {
					sub.fail('corrupt', 'a packed float run is not a multiple of 4 bytes');
				}
				out.push(view.getFloat32(sub.pos, true));
				sub.pos += 4;
			} else {
				if (sub.end - sub.pos < 8) {
					sub.fail('corrupt', 'a packed double run is not a multiple of 8 bytes');
				}
				out.push(view.getFloat64(sub.pos, true));
				sub.pos += 8;
			}
		}
	} else if (ref.wire === wireVarint && kind === 'varint') {
		out.push(ref.value);
	} else if (ref.wire === wireI32 && kind === 'float') {
		out.push(fixed32Float(reader.bytes, ref.start - reader.base));
	} else if (ref.wire === wireI64 && kind === 'double') {
		out.push(new DataView(reader.bytes.buffer, reader.bytes.byteOffset + ref.start - reader.base, 8).getFloat64(0, true));
	} else {
		reader.fail('corrupt', `field ${ref.field} has wire type ${ref.wire}`);
	}
}

/**
 * Reads a file through a sliding window so that walking thousands of small field headers costs
 * a few large reads, and skipping a big payload costs nothing.
 */
export class WindowedSource {
	private buffer: Uint8Array = new Uint8Array(0);
	private bufferStart = 0;

	constructor(readonly source: ByteSource, private readonly windowBytes = 1 << 16) {}

	/** Bytes from `offset`, at least `length` of them (fewer only at end of file: callers check). */
	async at(offset: number, length: number): Promise<{ bytes: Uint8Array; base: number }> {
		const end = offset + length;
		if (offset >= this.bufferStart && end <= this.bufferStart + this.buffer.length) {
			return { bytes: this.buffer, base: this.bufferStart };
		}
		const available = this.source.length - offset;
		const size = Math.min(Math.max(length, this.windowBytes), available);
		if (size < 0 || offset < 0) {
			throw new ModelFormatError('truncated', `${this.source.name}: needs byte ${offset} but the file has ${this.source.length} bytes (truncated).`);
		}
		this.buffer = await this.source.read(offset, size);
		this.bufferStart = offset;
		return { bytes: this.buffer, base: offset };
	}

	/**
	 * Walks the fields of the message at [start, end) of the file, reading only field headers;
	 * `visit` gets each field's range. A field running past `end` is 'truncated' when `end` is
	 * the end of the file, else 'corrupt'.
	 */
	async scan(start: number, end: number, visit: (ref: FieldRef) => Promise<void> | void): Promise<void> {
		let pos = start;
		while (pos < end) {
			// A key and a length prefix take at most 20 bytes.
			const { bytes, base } = await this.at(pos, Math.min(20, end - pos));
			const headerEnd = Math.min(end, base + bytes.length);
			const reader = new ProtoReader(bytes, this.source.name, base, pos - base, headerEnd - base);
			reader.fileLength = end >= this.source.length ? end : Number.POSITIVE_INFINITY;
			const { field, wire } = reader.key();
			let ref: FieldRef;
			if (wire === wireLen) {
				const length = reader.length();
				const payloadStart = base + reader.pos;
				if (length > end - payloadStart) {
					const reason: ModelFormatReason = end >= this.source.length ? 'truncated' : 'corrupt';
					throw new ModelFormatError(reason, `${this.source.name}: a field of ${length} bytes at byte ${payloadStart} runs past the end of its ${reason === 'truncated' ? 'file (truncated)' : 'message (corrupt)'}.`);
				}
				ref = { field, wire, keyStart: pos, start: payloadStart, end: payloadStart + length, value: 0 };
			} else {
				const need = wire === wireI64 ? 8 : wire === wireI32 ? 4 : 10;
				if (wire !== wireVarint && base + reader.pos + need > end) {
					throw new ModelFormatError(end >= this.source.length ? 'truncated' : 'corrupt', `${this.source.name}: a field at byte ${pos} runs past the end of its message.`);
				}
				ref = reader.field(field, wire, pos - base);
			}
			await visit(ref);
			pos = ref.end;
		}
	}

	/** The bytes of [start, end) (a small message read whole). */
	async bytes(start: number, end: number): Promise<ProtoReader> {
		const length = end - start;
		if (length <= this.windowBytes) {
			const { bytes, base } = await this.at(start, length);
			const reader = new ProtoReader(bytes, this.source.name, base, start - base, end - base);
			reader.fileLength = this.source.length;
			return reader;
		}
		const reader = new ProtoReader(await this.source.read(start, length), this.source.name, start);
		reader.fileLength = this.source.length;
		return reader;
	}
}

// ---------------------------------------------------------------- encoding (writer)

/** Bytes of an unsigned varint (non-negative safe integers). */
export function encodeVarint(value: number): Uint8Array {
	if (!Number.isSafeInteger(value) || value < 0) {
		throw new RangeError(`encodeVarint: ${value}`);
	}
	const out: number[] = [];
	let v = value;
	while (v >= 0x80) {
		out.push((v % 128) | 0x80);
		v = Math.floor(v / 128);
	}
	out.push(v);
	return Uint8Array.from(out);
}

export function encodeKey(field: number, wire: number): Uint8Array {
	return encodeVarint(field * 8 + wire);
}

/** key + length prefix of a LEN field whose payload is `length` bytes. */
export function encodeLenPrefix(field: number, length: number): Uint8Array {
	return concatBytes([encodeKey(field, wireLen), encodeVarint(length)]);
}

