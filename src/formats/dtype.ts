import { float16Value } from '../core/bytes';
import type { DType } from '../core/model';

/** Bytes per element of each stored dtype. */
export const dtypeBytes: Record<DType, number> = {
	float64: 8, float32: 4, float16: 2, bfloat16: 2, float8_e4m3fn: 1, float8_e5m2: 1, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** The floating-point dtypes: layers, and the only tensors writers update. */
export const floatDTypes: ReadonlySet<DType> = new Set<DType>(['float64', 'float32', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2']);

const float8Tables: Partial<Record<DType, Float32Array>> = {};

/** The 256 values of a float8 type, by code (built once on first use). */
function float8Table(dtype: 'float8_e4m3fn' | 'float8_e5m2'): Float32Array {
	let table = float8Tables[dtype];
	if (!table) {
		table = new Float32Array(256);
		for (let b = 0; b < 256; b++) {
			const sign = b & 0x80 ? -1 : 1;
			if (dtype === 'float8_e5m2') {
				// E5M2 is the top byte of an IEEE half: 5 exponent bits (bias 15), 2 mantissa bits.
				const exponent = (b >> 2) & 0x1f;
				const mantissa = b & 0x3;
				table[b] = exponent === 0 ? sign * mantissa * 2 ** -16 : exponent === 31 ? (mantissa ? NaN : sign * Infinity) : sign * (1 + mantissa / 4) * 2 ** (exponent - 15);
			} else {
				// E4M3FN: 4 exponent bits (bias 7), 3 mantissa bits, no infinities; S.1111.111 is NaN.
				const exponent = (b >> 3) & 0xf;
				const mantissa = b & 0x7;
				table[b] = exponent === 15 && mantissa === 7 ? NaN : exponent === 0 ? sign * mantissa * 2 ** -9 : sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
			}
		}
		float8Tables[dtype] = table;
	}
	return table;
}

/** The float8 code nearest to `value` (ties to the even code, NaN to a NaN code, beyond the range to the largest finite). */
function encodeFloat8(value: number, dtype: 'float8_e4m3fn' | 'float8_e5m2'): number {
	const table = float8Table(dtype);
	if (Number.isNaN(value)) {
		return 0x7f; // S.1111.111 in E4M3FN, S.11111.11 in E5M2
	}
	const sign = value < 0 || Object.is(value, -0) ? 0x80 : 0;
	const magnitude = Math.abs(value);
	let best = 0;
	let bestError = Infinity;
	// Codes 0..0x7f are the non-negative values in increasing order (NaN/Inf codes at the top).
	for (let code = 0; code < 0x80; code++) {
		const v = table[code];
		if (!Number.isFinite(v)) {
			if (v === Infinity && magnitude === Infinity) return sign | code;
			continue;
		}
		const error = Math.abs(v - magnitude);
		if (error < bestError || (error === bestError && (code & 1) === 0)) {
			best = code;
			bestError = error;
		}
	}
	return sign | best;
}

// float16 → float32 by table: 65536 entries, built once on first use.
let halfTable: Float32Array | undefined;

function buildHalfTable(): Float32Array {
	const table = new Float32Array(65536);
	for (let h = 0; h < 65536; h++) table[h] = float16Value(h);
	return table;
}

/** Returns a Float32Array view of `count` elements, reusing `into` when it is big enough. */
export function float32Target(count: number, into?: Float32Array): Float32Array {
	return into && into.length >= count ? into.subarray(0, count) : new Float32Array(count);
}

/**
 * Decodes `count` little-endian elements of `dtype` starting at byte 0 of `bytes` into
 * `target[0..count)`. float64 rounds to float32 (a weight under ~1e-45 becomes exactly 0).
 * Elements are read and written in index order, one at a time, so `bytes` may be the end of
 * `target`'s own memory for types of at most 4 bytes (widening in place).
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: DType, count: number, target: Float32Array): void {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	switch (dtype) {
		case 'float32': {
			if (bytes.byteOffset % 4 === 0) {
				target.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
			} else {
				for (let i = 0; i < count; i++) target[i] = view.getFloat32(i * 4, true);
			}
			return;
		}
		case 'float16': {
			halfTable ??= buildHalfTable();
			const table = halfTable;
			if (bytes.byteOffset % 2 === 0) {
				const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
				for (let i = 0; i < count; i++) target[i] = table[u16[i]];
			} else {
				for (let i = 0; i < count; i++) target[i] = table[view.getUint16(i * 2, true)];
			}
			return;
		}
		case 'bfloat16': {
			// bfloat16 is the top half of a float32.
			const out = new Uint32Array(target.buffer, target.byteOffset, count);
			if (bytes.byteOffset % 2 === 0) {
				const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
				for (let i = 0; i < count; i++) out[i] = u16[i] << 16;
			} else {
				for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, true) << 16;
			}
			return;
		}
		case 'float64':
			for (let i = 0; i < count; i++) target[i] = view.getFloat64(i * 8, true);
			return;
		case 'int64':
			for (let i = 0; i < count; i++) target[i] = Number(view.getBigInt64(i * 8, true));
			return;
		case 'int32':
			for (let i = 0; i < count; i++) target[i] = view.getInt32(i * 4, true);
			return;
		case 'int16':
			for (let i = 0; i < count; i++) target[i] = view.getInt16(i * 2, true);
			return;
		case 'int8':
			for (let i = 0; i < count; i++) target[i] = view.getInt8(i);
			return;
		case 'uint8':
		case 'bool':
			for (let i = 0; i < count; i++) target[i] = bytes[i];
			return;
		case 'float8_e4m3fn':
		case 'float8_e5m2': {
			const table = float8Table(dtype);
			for (let i = 0; i < count; i++) target[i] = table[bytes[i]];
			return;
		}
	}
}

/**
 * Encodes float32 values back into `dtype` (writers). Round-to-nearest-even for halves and float8. For
 * float64, `original` (the element's old little-endian bytes, same order) keeps every old value
 * whose float32 rounding is the new value, so pruning a float64 checkpoint does not round the
 * weights it keeps.
 */
export function encodeFromFloat32(values: Float32Array, dtype: DType, original?: Uint8Array): Uint8Array {
	const out = new Uint8Array(values.length * dtypeBytes[dtype]);
	const view = new DataView(out.buffer);
	if (dtype === 'float64' && original && original.length === out.length) {
		const old = new DataView(original.buffer, original.byteOffset, original.byteLength);
		for (let i = 0; i < values.length; i++) {
			const before = old.getFloat64(i * 8, true);
			const kept = Math.fround(before) === values[i] || (Number.isNaN(before) && Number.isNaN(values[i]));
			view.setFloat64(i * 8, kept ? before : values[i], true);
		}
		return out;
	}
	const f = new Float32Array(1);
	const u = new Uint32Array(f.buffer);
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		switch (dtype) {
			case 'float32': view.setFloat32(i * 4, v, true); break;
			case 'float64': view.setFloat64(i * 8, v, true); break;
			case 'bfloat16': {
				f[0] = v;
				const bits = u[0];
				const rounded = Number.isNaN(v) ? 0x7fc0 : ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
				view.setUint16(i * 2, rounded, true);
				break;
			}
			case 'float16': view.setUint16(i * 2, float32ToHalf(v), true); break;
			case 'float8_e4m3fn':
			case 'float8_e5m2': view.setUint8(i, encodeFloat8(v, dtype)); break;
			// int8 weights (safetensors I8): the pruned values are the old integers or 0.
			case 'int8': view.setInt8(i, Math.max(-128, Math.min(127, Math.round(v)))); break;
			default: throw new Error(`encodeFromFloat32: ${dtype} is not a float type`);
		}
	}
	return out;
}

function float32ToHalf(value: number): number {
	const f = new Float32Array([value]);
	const x = new Uint32Array(f.buffer)[0];
	const sign = (x >>> 16) & 0x8000;
	const exp = (x >>> 23) & 0xff;
	let mant = x & 0x7fffff;
	if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
	let e = exp - 127 + 15;
	if (e >= 0x1f) return sign | 0x7c00;
	if (e <= 0) {
		if (e < -10) return sign;
		mant |= 0x800000;
		const shift = 14 - e;
		let half = mant >>> shift;
		const rem = mant & ((1 << shift) - 1);
		const halfway = 1 << (shift - 1);
		if (rem > halfway || (rem === halfway && (half & 1))) half++;
		return sign | half;
	}
	let half = (e << 10) | (mant >>> 13);
	const rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
	e = half;
	return sign | e;
}
