import type { DType } from '../../core/model';
import { decodeToFloat32, encodeFromFloat32 } from '../dtype';
import { globalHeapObject } from './heaps';
import { Cursor } from './io';
import type { H5Context } from './io';

/**
 * An HDF5 element type, reduced to what Keras files hold. Enums decode as their base integer
 * type (h5py stores numpy bools as an int8 enum); compound, array, reference, opaque, bitfield
 * and variable-length sequences are 'other' (listed, never decoded).
 */
export type Hdf5Type =
	| { readonly class: 'int'; readonly size: number; readonly signed: boolean; readonly bigEndian: boolean }
	| { readonly class: 'float'; readonly size: number; readonly bigEndian: boolean; readonly bfloat16: boolean }
	| { readonly class: 'string'; readonly size: number; readonly padding: number }
	| { readonly class: 'vlen-string'; readonly size: number }
	| { readonly class: 'other'; readonly size: number; readonly code: number };

/** A decoded attribute: a scalar, the flat row-major elements of an array, or null (empty). */
export type Hdf5Value = number | string | null | readonly (number | string)[];

const classNames = ['fixed-point', 'floating-point', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'variable-length', 'array'];

/** Decodes a datatype message (the bytes of a 0x0003 message or an attribute's datatype field). */
export function parseDatatype(c: Cursor, depth = 0): Hdf5Type {
	const head = c.u8();
	const code = head & 0x0f;
	const bits = c.u8() | (c.u8() << 8) | (c.u8() << 16);
	const size = c.u32();
	if (size === 0 || size > 1 << 24) throw c.ctx.corrupt(`a datatype of ${size} bytes`);
	switch (code) {
		case 0:
			return { class: 'int', size, signed: (bits & 8) !== 0, bigEndian: (bits & 1) !== 0 };
		case 1: {
			c.skip(5);
			const exponentBits = c.u8();
			// IEEE half/single/double and bfloat16 in either byte order; VAX order and custom layouts are 'other'.
			const ieee = ({ 2: [5, 8], 4: [8], 8: [11] } as Record<number, number[]>)[size]?.includes(exponentBits);
			if (bits & 0x40 || !ieee) return { class: 'other', size, code };
			return { class: 'float', size, bigEndian: (bits & 1) !== 0, bfloat16: size === 2 && exponentBits === 8 };
		}
		case 3:
			return { class: 'string', size, padding: bits & 0x0f };
		case 8: {
			if (depth > 4) throw c.ctx.corrupt('a datatype nests too deeply');
			const base = parseDatatype(c, depth + 1);
			return base.class === 'int' ? base : { class: 'other', size, code };
		}
		case 9:
			return (bits & 0x0f) === 1 ? { class: 'vlen-string', size } : { class: 'other', size, code };
		default:
			return { class: 'other', size, code };
	}
}

/** A readable name for messages: `float32 (big-endian)`, `variable-length string`. */
export function describeType(type: Hdf5Type): string {
	switch (type.class) {
		case 'int': return `${type.signed ? '' : 'u'}int${type.size * 8}${type.bigEndian ? ' (big-endian)' : ''}`;
		case 'float': return `${type.bfloat16 ? 'bfloat16' : `float${type.size * 8}`}${type.bigEndian ? ' (big-endian)' : ''}`;
		case 'string': return `fixed-length string of ${type.size} bytes`;
		case 'vlen-string': return 'variable-length string';
		default: return `HDF5 ${classNames[type.code] ?? `class ${type.code}`} type`;
	}
}

/**
 * The repo's DType for numeric types; undefined for strings, 'other' and unsigned integers wider
 * than a byte (which load() still converts).
 */
export function dtypeOf(type: Hdf5Type): DType | undefined {
	if (type.class === 'float') return type.bfloat16 ? 'bfloat16' : ({ 2: 'float16', 4: 'float32', 8: 'float64' } as Record<number, DType>)[type.size];
	if (type.class === 'int') {
		return type.signed ? ({ 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' } as Record<number, DType>)[type.size] : type.size === 1 ? 'uint8' : undefined;
	}
	return undefined;
}

/** Dataspace dimensions: [] for a scalar, null for an empty (H5S_NULL) dataspace. */
export function parseDataspace(c: Cursor): number[] | null {
	const version = c.u8();
	const rank = c.u8();
	c.skip(1); // flags: bit 0 = maximum dimensions follow the dimensions
	if (version === 1) {
		c.skip(5);
	} else if (version === 2) {
		if (c.u8() === 2) return null;
	} else {
		throw c.ctx.unsupported(`dataspace version ${version}`);
	}
	if (rank > 32) throw c.ctx.corrupt(`a dataspace of rank ${rank}`);
	const dims: number[] = [];
	for (let i = 0; i < rank; i++) {
		dims.push(c.length());
	}
	return dims;
}

/** Bytes in host (little-endian) order: a byte-swapped copy for big-endian types. */
export function toLittleEndian(bytes: Uint8Array, size: number, bigEndian: boolean): Uint8Array {
	if (!bigEndian || size === 1) return bytes;
	const out = new Uint8Array(bytes.length);
	for (let i = 0; i + size <= bytes.length; i += size) {
		for (let j = 0; j < size; j++) {
			out[i + j] = bytes[i + size - 1 - j];
		}
	}
	return out;
}

/** Whether elements of `type` are numbers this reader converts (integers of 1-8 bytes, IEEE floats). */
export function isNumeric(type: Hdf5Type): type is Extract<Hdf5Type, { class: 'int' | 'float' }> {
	return type.class === 'int' ? [1, 2, 4, 8].includes(type.size) : dtypeOf(type) !== undefined;
}

/** Whether attribute values of `type` decode (numbers and strings). */
export function isDecodable(type: Hdf5Type): boolean {
	return type.class === 'string' || type.class === 'vlen-string' || isNumeric(type);
}

/** One little-endian numeric element as a JS number (exact, except int64 beyond 2^53). */
function numberAt(v: DataView, at: number, type: Extract<Hdf5Type, { class: 'int' | 'float' }>): number {
	if (type.class === 'float') {
		if (type.size > 2) return type.size === 4 ? v.getFloat32(at, true) : v.getFloat64(at, true);
		const one = new Float32Array(1);
		decodeToFloat32(new Uint8Array(v.buffer, v.byteOffset + at, 2), type.bfloat16 ? 'bfloat16' : 'float16', 1, one);
		return one[0];
	}
	switch (type.size) {
		case 1: return type.signed ? v.getInt8(at) : v.getUint8(at);
		case 2: return type.signed ? v.getInt16(at, true) : v.getUint16(at, true);
		case 4: return type.signed ? v.getInt32(at, true) : v.getUint32(at, true);
		default: return Number(type.signed ? v.getBigInt64(at, true) : v.getBigUint64(at, true));
	}
}

/** Converts `count` numeric elements of `type` to float32 into `target`. */
export function decodeNumbers(ctx: H5Context, bytes: Uint8Array, type: Hdf5Type, count: number, target: Float32Array): void {
	if (!isNumeric(type)) throw ctx.fail('unsupported-dtype', `elements of ${describeType(type)} cannot be loaded as numbers.`);
	const le = toLittleEndian(bytes, type.size, type.bigEndian);
	const dtype = dtypeOf(type);
	if (dtype) {
		decodeToFloat32(le, dtype, count, target);
		return;
	}
	const view = new DataView(le.buffer, le.byteOffset, le.byteLength);
	for (let i = 0; i < count; i++) {
		target[i] = numberAt(view, i * type.size, type);
	}
}

/** Encodes float32 values as a float `type` (own byte order); `original` keeps float64 values exactly. */
export function encodeNumbers(values: Float32Array, type: Hdf5Type, original: Uint8Array): Uint8Array {
	const dtype = dtypeOf(type);
	if (type.class !== 'float' || !dtype) throw new Error(`encodeNumbers: ${describeType(type)} is not a float type`);
	const le = encodeFromFloat32(values, dtype, toLittleEndian(original, type.size, type.bigEndian));
	return toLittleEndian(le, type.size, type.bigEndian);
}

const utf8 = new TextDecoder('utf-8');

/** Decodes `count` elements of an attribute's raw data to JS numbers and strings. */
export async function decodeValues(ctx: H5Context, data: Uint8Array, type: Hdf5Type, count: number): Promise<(number | string)[]> {
	const size = type.class === 'vlen-string' ? 4 + ctx.offsetSize + 4 : type.size;
	if (data.length < count * size) throw ctx.corrupt(`an attribute holds ${data.length} bytes for ${count} elements of ${size} bytes`);
	if (isNumeric(type)) {
		const le = toLittleEndian(data.subarray(0, count * size), size, type.bigEndian);
		const view = new DataView(le.buffer, le.byteOffset, le.byteLength);
		return Array.from({ length: count }, (_, i) => numberAt(view, i * size, type));
	}
	const out: (number | string)[] = [];
	for (let i = 0; i < count; i++) {
		const at = i * size;
		switch (type.class) {
			case 'string': {
				let bytes = data.subarray(at, at + size);
				const nul = bytes.indexOf(0);
				if (nul >= 0 && type.padding !== 2) {
					bytes = bytes.subarray(0, nul);
				}
				const text = utf8.decode(bytes);
				out.push(type.padding === 2 ? text.replace(/ +$/, '') : text);
				break;
			}
			case 'vlen-string': {
				const c = new Cursor(ctx, data.subarray(at, at + size), 'a variable-length string');
				const length = c.u32();
				const heap = c.offset();
				const index = c.u32();
				out.push(length === 0 ? '' : utf8.decode((await globalHeapObject(ctx, heap, index)).subarray(0, length)));
				break;
			}
			default:
				throw ctx.fail('unsupported-dtype', `an attribute of ${describeType(type)} cannot be decoded.`);
		}
	}
	return out;
}
