import * as zlib from 'node:zlib';
import { ModelFormatError, throwIfAborted } from '../core/errors';
import type { DType, TensorRef } from '../core/model';
import { numel } from '../core/model';
import type { ByteSource } from './byteSource';
import { decodeToFloat32, dtypeBytes, float32Target } from './dtype';
import { namedTensorGraph } from './stateDict';
import type { FormatReader } from './types';
import { readZipDirectory, readZipEntry, zipEntryDataOffset } from './zip';
import type { ZipEntry } from './zip';

/** numpy writes headers of a few hundred bytes; version 2 allows 4 GB, which no real array needs. */
const maxHeaderBytes = 1 << 20;

/** numpy type codes (after the byte-order character) we decode. */
const npyTypes: Readonly<Record<string, DType>> = {
	f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', b1: 'bool',
};

/** The parsed header of one .npy array. */
export interface NpyHeader {
	readonly descr: string;
	readonly dtype: DType;
	readonly bigEndian: boolean;
	readonly fortranOrder: boolean;
	readonly shape: readonly number[];
	/** Bytes before the array data (magic, version, length, header text). */
	readonly dataStart: number;
}

/** Why one .npy cannot be read (an object array, a dtype we do not decode, ...), as a reason and a phrase. */
export class NpyRefusal {
	constructor(readonly reason: 'unsupported-dtype', readonly what: string) {}
}

/**
 * A tiny parser for the header dict numpy writes (`{'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), }`): strings, True/False, tuples of integers. Never evaluates anything.
 */
export function parseNpyDict(text: string): Record<string, string | boolean | number[]> | undefined {
	let p = 0;
	const skip = (): void => {
		while (p < text.length && /\s/.test(text[p])) p++;
	};
	const value = (): string | boolean | number[] | undefined => {
		skip();
		const c = text[p];
		if (c === "'" || c === '"') {
			const end = text.indexOf(c, p + 1);
			if (end < 0) return undefined;
			const s = text.slice(p + 1, end);
			p = end + 1;
			return s;
		}
		if (text.startsWith('True', p)) {
			p += 4;
			return true;
		}
		if (text.startsWith('False', p)) {
			p += 5;
			return false;
		}
		if (c === '(' || c === '[') {
			const close = c === '(' ? ')' : ']';
			p++;
			const items: number[] = [];
			for (;;) {
				skip();
				if (text[p] === close) {
					p++;
					return items;
				}
				const m = /^(\d+)L?/.exec(text.slice(p, p + 32));
				if (!m) return undefined;
				items.push(Number(m[1]));
				p += m[0].length;
				skip();
				if (text[p] === ',') p++;
			}
		}
		return undefined;
	};
	skip();
	if (text[p] !== '{') return undefined;
	p++;
	const out: Record<string, string | boolean | number[]> = {};
	for (;;) {
		skip();
		if (text[p] === '}') return out;
		const key = value();
		if (typeof key !== 'string') return undefined;
		skip();
		if (text[p] !== ':') return undefined;
		p++;
		const v = value();
		if (v === undefined) return undefined;
		out[key] = v;
		skip();
		if (text[p] === ',') p++;
		else if (text[p] !== '}') return undefined;
	}
}

/**
 * Parses an npy header from the first bytes of the array file. Returns undefined when more
 * bytes are needed (`needed` says how many), throws ModelFormatError on a bad file and returns
 * NpyRefusal for arrays that are valid but not decodable (object arrays are never unpickled).
 */
export function parseNpyHeader(bytes: Uint8Array, name: string, file: string): { header?: NpyHeader; refusal?: NpyRefusal; needed?: number } {
	if (bytes.length < 10) {
		return { needed: 10 };
	}
	const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
	if (!magic.every((b, i) => bytes[i] === b)) {
		throw new ModelFormatError('bad-magic', `${file}: '${name}' does not start with the npy magic \\x93NUMPY.`);
	}
	const major = bytes[6];
	if (major < 1 || major > 3) {
		throw new ModelFormatError('unsupported-format', `${file}: '${name}' is npy format version ${major}.${bytes[7]}; versions 1 to 3 are read.`);
	}
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const lengthBytes = major === 1 ? 2 : 4;
	if (bytes.length < 8 + lengthBytes) {
		return { needed: 8 + lengthBytes };
	}
	const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
	if (headerLength > maxHeaderBytes) {
		throw new ModelFormatError('corrupt', `${file}: '${name}' declares a ${headerLength}-byte npy header.`);
	}
	const dataStart = 8 + lengthBytes + headerLength;
	if (bytes.length < dataStart) {
		return { needed: dataStart };
	}
	// Versions 1 and 2 are latin1; version 3 is utf-8.
	const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));
	const dict = parseNpyDict(text);
	const descr = dict?.descr;
	const shape = dict?.shape;
	if (!dict || !Array.isArray(shape) || typeof dict.fortran_order !== 'boolean' || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
		if (dict && typeof dict.descr !== 'string' && dict.descr !== undefined) {
			return { refusal: new NpyRefusal('unsupported-dtype', `'${name}' (structured dtype)`) };
		}
		throw new ModelFormatError('corrupt', `${file}: '${name}' has an npy header numpy would not write: ${JSON.stringify(text.trim().slice(0, 80))}.`);
	}
	if (typeof descr !== 'string') {
		return { refusal: new NpyRefusal('unsupported-dtype', `'${name}' (structured dtype)`) };
	}
	const order = descr[0];
	const code = '<>|='.includes(order) ? descr.slice(1) : descr;
	const dtype = npyTypes[code];
	if (!dtype) {
		const kind = code.startsWith('O') ? 'object array: never unpickled' : `dtype '${descr}'`;
		return { refusal: new NpyRefusal('unsupported-dtype', `'${name}' (${kind})`) };
	}
	return { header: { descr, dtype, bigEndian: order === '>' && dtypeBytes[dtype] > 1, fortranOrder: dict.fortran_order, shape, dataStart } };
}

/** Reverses the byte order of each `size`-byte element in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
	for (let i = 0; i + size <= bytes.length; i += size) {
		for (let a = i, b = i + size - 1; a < b; a++, b--) {
			const t = bytes[a];
			bytes[a] = bytes[b];
			bytes[b] = t;
		}
	}
}

/** Writes Fortran-ordered `src` (column-major) into `target` in C (row-major) order. */
export function fortranToC(src: Float32Array, shape: readonly number[], target: Float32Array): void {
	const rank = shape.length;
	const count = src.length;
	if (rank === 2) {
		const [rows, cols] = shape;
		for (let i = 0; i < rows; i++) {
			for (let j = 0; j < cols; j++) {
				target[i * cols + j] = src[j * rows + i];
			}
		}
		return;
	}
	// Odometer over the C-order index, with the matching Fortran offset kept incrementally.
	const fStride: number[] = [];
	let stride = 1;
	for (let k = 0; k < rank; k++) {
		fStride.push(stride);
		stride *= shape[k];
	}
	const index = new Array<number>(rank).fill(0);
	let f = 0;
	for (let c = 0; c < count; c++) {
		target[c] = src[f];
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

/** Converts raw npy data (any byte order or memory order) to float32 C order in `target`. */
function decodeNpyData(data: Uint8Array, header: NpyHeader, count: number, target: Float32Array): void {
	const size = dtypeBytes[header.dtype];
	if (header.bigEndian) {
		swapBytes(data, size);
	}
	if (header.fortranOrder && header.shape.length > 1) {
		const column = new Float32Array(count);
		decodeToFloat32(data, header.dtype, count, column);
		fortranToC(column, header.shape, target);
	} else {
		decodeToFloat32(data, header.dtype, count, target);
	}
}

/** Inflates a deflate prefix; 'too-large' when it would give more than `cap` bytes. */
function inflatePrefix(compressed: Uint8Array, cap: number, source: ByteSource, entry: ZipEntry): Uint8Array | 'too-large' {
	try {
		// Z_SYNC_FLUSH: a cut stream yields what it decodes so far instead of failing.
		return zlib.inflateRawSync(compressed, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: cap });
	} catch (ex) {
		if ((ex as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || ex instanceof RangeError) {
			return 'too-large';
		}
		throw new ModelFormatError('corrupt', `${source.name}: zip entry '${entry.name}' does not inflate (${(ex as Error).message}).`);
	}
}

/**
 * The first `want` uncompressed bytes of an entry: stored ones read directly, deflated ones by
 * inflating only a prefix. Work and memory stay bounded by the header cap whatever the stream
 * holds: at most ~2 MB of compressed input is read and at most `want` + 64 KiB is produced.
 */
async function entryPrefix(source: ByteSource, entry: ZipEntry, dataOffset: number, want: number): Promise<Uint8Array> {
	const length = Math.min(want, entry.size);
	if (entry.method === 0) {
		return source.read(dataOffset, length);
	}
	if (entry.method !== 8) {
		throw new ModelFormatError('unsupported-format', `${source.name}: zip entry '${entry.name}' uses compression method ${entry.method}; only stored and deflate are supported.`);
	}
	// Deflate needs at most ~1% more input than output for the header's bytes (stored blocks).
	const maxTake = Math.min(entry.compressedSize, 2 * maxHeaderBytes + 65536);
	const cap = length + 65536;
	// Output grows monotonically with the input prefix, by at most a few KB per input byte, so a
	// bisection between "too little" (lo) and "too much" (hi) always finds a prefix in range.
	let lo = 0;
	let hi = Number.POSITIVE_INFINITY;
	let take = Math.min(maxTake, length + 4096);
	for (let round = 0; round < 64; round++) {
		const result = inflatePrefix(await source.read(dataOffset, take), cap, source, entry);
		if (result === 'too-large') {
			hi = take;
		} else if (result.length >= length || take >= entry.compressedSize) {
			return result.subarray(0, length);
		} else if (take >= maxTake) {
			break;
		} else {
			lo = take;
		}
		const next = hi === Number.POSITIVE_INFINITY ? Math.min(maxTake, take * 4) : Math.floor((lo + hi) / 2);
		if (next <= lo || next >= hi) {
			break;
		}
		take = next;
	}
	throw new ModelFormatError('corrupt', `${source.name}: zip entry '${entry.name}' does not inflate to an npy header.`);
}

async function readHeader(source: ByteSource, entry: ZipEntry, dataOffset: number, name: string): Promise<{ header?: NpyHeader; refusal?: NpyRefusal }> {
	let want = 1024;
	for (;;) {
		const prefix = await entryPrefix(source, entry, dataOffset, want);
		const result = parseNpyHeader(prefix, name, source.name);
		if (result.needed === undefined) {
			return result;
		}
		if (prefix.length < Math.min(want, entry.size) || result.needed > entry.size) {
			throw new ModelFormatError('truncated', `${source.name}: '${name}' ends inside its npy header (truncated).`);
		}
		want = Math.max(result.needed, want * 2);
	}
}

function npyTensor(source: ByteSource, entry: ZipEntry, dataOffset: number, name: string, header: NpyHeader): TensorRef {
	const count = numel(header.shape);
	const byteLength = count * dtypeBytes[header.dtype];
	const plain = entry.method === 0 && !header.bigEndian && !(header.fortranOrder && header.shape.length > 1);
	return {
		name,
		shape: header.shape,
		dtype: header.dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const target = float32Target(count, into);
			if (plain && header.dtype === 'float32') {
				await source.readInto(dataOffset + header.dataStart, new Uint8Array(target.buffer, target.byteOffset, byteLength));
				return target;
			}
			let data: Uint8Array;
			if (entry.method === 0) {
				data = await source.read(dataOffset + header.dataStart, byteLength);
			} else {
				const whole = await readZipEntry(source, entry);
				data = whole.subarray(header.dataStart, header.dataStart + byteLength);
			}
			decodeNpyData(data, header, count, target);
			return target;
		},
	};
}

function isZip(head: Uint8Array): boolean {
	return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/**
 * NumPy .npz: a zip of `name.npy` arrays (np.savez stored, np.savez_compressed deflated). Headers
 * are read at open (deflated entries only partially inflated); data loads lazily, converting byte
 * order and Fortran order to float32 C order. Object arrays are never unpickled: they are skipped
 * with a warning, and a file of nothing else is refused ('unsupported-dtype').
 */
export const numpyReader: FormatReader = {
	id: 'numpy',
	sniff(name, head) {
		if (name.toLowerCase().endsWith('.npz')) {
			return true;
		}
		// A zip whose first entry is an .npy file.
		if (!isZip(head) || head.length < 30) {
			return false;
		}
		const nameLength = head[26] | (head[27] << 8);
		const first = new TextDecoder('latin1').decode(head.subarray(30, Math.min(head.length, 30 + nameLength)));
		return first.endsWith('.npy');
	},
	async open(source, options) {
		const head = await source.read(0, Math.min(4, source.length));
		if (!isZip(head)) {
			throw new ModelFormatError('bad-magic', `${source.name}: is not a zip archive (an .npz file is a zip of .npy arrays).`);
		}
		const entries = await readZipDirectory(source);
		const tensors: TensorRef[] = [];
		const refused: NpyRefusal[] = [];
		const others: string[] = [];
		for (const entry of entries) {
			throwIfAborted(options.signal);
			if (!entry.name.endsWith('.npy')) {
				if (!entry.name.endsWith('/')) {
					others.push(entry.name);
				}
				continue;
			}
			const name = entry.name.slice(0, -'.npy'.length);
			const dataOffset = await zipEntryDataOffset(source, entry);
			const { header, refusal } = await readHeader(source, entry, dataOffset, entry.name);
			if (refusal) {
				refused.push(refusal);
				continue;
			}
			const needed = header!.dataStart + numel(header!.shape) * dtypeBytes[header!.dtype];
			if (needed > entry.size) {
				throw new ModelFormatError('truncated', `${source.name}: '${entry.name}' (${header!.descr} [${header!.shape.join(', ')}]) needs ${needed} bytes but the entry has ${entry.size} (truncated).`);
			}
			tensors.push(npyTensor(source, entry, dataOffset, name, header!));
		}
		if (tensors.length === 0) {
			if (refused.length > 0) {
				throw new ModelFormatError('unsupported-dtype', `${source.name}: holds no array Crossbar Lens can read: ${refused.map((r) => r.what).join(', ')}.`);
			}
			throw new ModelFormatError('bad-magic', `${source.name}: is a zip archive without .npy arrays (not an .npz file).`);
		}
		const warnings: string[] = [];
		if (refused.length > 0) {
			warnings.push(`${refused.length} array(s) were skipped: ${refused.slice(0, 5).map((r) => r.what).join(', ')}${refused.length > 5 ? ', ...' : ''}.`);
		}
		if (others.length > 0) {
			warnings.push(`${others.length} zip entr${others.length === 1 ? 'y is' : 'ies are'} not .npy arrays and were ignored (${others.slice(0, 3).join(', ')}).`);
		}
		return namedTensorGraph('numpy', source, tensors, warnings);
	},
};
