import { ModelFormatError } from '../core/errors';
import type { DType, TensorRef } from '../core/model';
import { numel } from '../core/model';
import type { ByteSource } from './byteSource';
import { decodeToFloat32, dtypeBytes, float32Target } from './dtype';
import { markIntegerWeight, namedTensorGraph } from './stateDict';
import type { FormatReader } from './types';

/** The reference implementation refuses JSON headers over 100 MB (safetensors/src/tensor.rs MAX_HEADER_SIZE). */
const maxHeaderBytes = 100_000_000;

/** safetensors dtype codes we decode; other codes (U16, U32, U64, F8_E8M0, F4, …) are listed in a warning and skipped. */
const dtypeCodes: Readonly<Record<string, DType>> = {
	F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2',
	I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** Where one tensor's bytes lie in a safetensors file (absolute offsets). */
export interface SafetensorsEntry {
	readonly name: string;
	readonly dtype: DType;
	readonly shape: readonly number[];
	readonly offset: number;
	readonly byteLength: number;
}

/**
 * A TensorRef over `numel(shape)` little-endian, C-ordered elements stored contiguously at
 * `offset` of `source`. float32 is read straight into the caller's buffer.
 */
export function rangeTensor(source: ByteSource, name: string, shape: readonly number[], dtype: DType, offset: number): TensorRef {
	const count = numel(shape);
	return {
		name,
		shape,
		dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const target = float32Target(count, into);
			const bytes = count * dtypeBytes[dtype];
			if (dtype === 'float32') {
				// Little-endian hosts only (every platform VS Code and Node ship on).
				await source.readInto(offset, new Uint8Array(target.buffer, target.byteOffset, bytes));
			} else if (bytes <= count * 4) {
				// Narrower types are read into the end of the target and widened in place, front to
				// back: element i is written over bytes 4i…4i+3, which only held elements < i.
				const stored = new Uint8Array(target.buffer, target.byteOffset + count * 4 - bytes, bytes);
				await source.readInto(offset, stored);
				decodeToFloat32(stored, dtype, count, target);
			} else {
				decodeToFloat32(await source.read(offset, bytes), dtype, count, target);
			}
			return target;
		},
		async readStored(into?: Uint8Array): Promise<Uint8Array> {
			const bytes = count * dtypeBytes[dtype];
			const target = into && into.length >= bytes ? into.subarray(0, bytes) : new Uint8Array(bytes);
			await source.readInto(offset, target);
			return target;
		},
	};
}

/** Reads the 8-byte little-endian header length and checks it before anything is allocated from it. */
async function readHeaderLength(source: ByteSource): Promise<number> {
	if (source.length < 8) {
		throw new ModelFormatError('truncated', `${source.name}: ${source.length} bytes is too short for a safetensors file (8-byte header length first).`);
	}
	const bytes = await source.read(0, 8);
	const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
	if (value > BigInt(maxHeaderBytes)) {
		throw new ModelFormatError('corrupt', `${source.name}: the safetensors header claims ${value} bytes (more than the 100 MB limit): not a safetensors file, or corrupt.`);
	}
	const headerBytes = Number(value);
	if (8 + headerBytes > source.length) {
		throw new ModelFormatError('truncated', `${source.name}: the safetensors header claims ${headerBytes} bytes but the file has only ${source.length - 8} after the length (truncated).`);
	}
	return headerBytes;
}

function isShape(value: unknown): value is number[] {
	return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Parses and validates a safetensors header: every entry's data_offsets lie inside the data
 * section and match shape × dtype. Returns the entries in file (offset) order, plus warnings.
 */
export async function readSafetensorsHeader(source: ByteSource): Promise<{ entries: SafetensorsEntry[]; skipped: string[]; dataStart: number; metadata?: Record<string, string> }> {
	const headerBytes = await readHeaderLength(source);
	const raw = await source.read(8, headerBytes);
	if (raw[0] !== 0x7b) {
		throw new ModelFormatError('bad-magic', `${source.name}: the safetensors header does not start with '{' (not a safetensors file).`);
	}
	let header: unknown;
	try {
		header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
	} catch (ex) {
		throw new ModelFormatError('corrupt', `${source.name}: the safetensors header is not valid JSON (${(ex as Error).message}).`);
	}
	if (typeof header !== 'object' || header === null || Array.isArray(header)) {
		throw new ModelFormatError('corrupt', `${source.name}: the safetensors header is not a JSON object.`);
	}
	const dataStart = 8 + headerBytes;
	const dataLength = source.length - dataStart;
	const entries: SafetensorsEntry[] = [];
	const skipped: string[] = [];
	let metadata: Record<string, string> | undefined;
	for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
		if (name === '__metadata__') {
			if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
				metadata = Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
			}
			continue;
		}
		const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
		const offsets = entry?.data_offsets;
		if (typeof entry !== 'object' || entry === null || typeof entry.dtype !== 'string' || !isShape(entry.shape)
			|| !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
			throw new ModelFormatError('corrupt', `${source.name}: tensor '${name}' in the safetensors header needs dtype, shape and data_offsets [begin, end].`);
		}
		const [begin, end] = offsets as number[];
		if (begin > end || end > dataLength) {
			throw new ModelFormatError(end > dataLength ? 'truncated' : 'corrupt', `${source.name}: tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataLength}-byte data section.`);
		}
		const dtype = dtypeCodes[entry.dtype];
		if (dtype === undefined) {
			skipped.push(`${name} (${entry.dtype})`);
			continue;
		}
		const count = numel(entry.shape);
		if (count * dtypeBytes[dtype] !== end - begin) {
			throw new ModelFormatError('corrupt', `${source.name}: tensor '${name}' (${entry.dtype} [${entry.shape.join(', ')}]) needs ${count * dtypeBytes[dtype]} bytes but data_offsets span ${end - begin}.`);
		}
		entries.push({ name, dtype, shape: entry.shape, offset: dataStart + begin, byteLength: end - begin });
	}
	entries.sort((a, b) => a.offset - b.offset);
	return { entries, skipped, dataStart, metadata };
}

/** Compares names with their digit runs as numbers: `features.2` < `features.10`. */
export function naturalCompare(a: string, b: string): number {
	const pa = a.split(/(\d+)/);
	const pb = b.split(/(\d+)/);
	for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
		if (pa[i] === pb[i]) {
			continue;
		}
		// split() with one capture group alternates text and digits, so odd indexes are numbers.
		if (i % 2 === 1) {
			const diff = Number(pa[i]) - Number(pb[i]);
			if (diff !== 0) {
				return diff;
			}
		}
		return pa[i] < pb[i] ? -1 : 1;
	}
	return pa.length - pb.length;
}

/** Position of each dtype in the reference implementation's `Dtype` enum (its writer sorts by it, descending). */
const writerDtypeRank: Readonly<Record<DType, number>> = {
	bool: 0, uint8: 1, int8: 2, float8_e5m2: 3, float8_e4m3fn: 4, int16: 5, float16: 7, bfloat16: 8, int32: 9, float32: 11, float64: 12, int64: 13,
};

/**
 * True when the file order is the reference writer's (dtype descending, then names sorted) or
 * plainly sorted by name: the module order is lost anyway, and natural order lists `features.2`
 * before `features.10`.
 */
function isWriterSorted(entries: readonly SafetensorsEntry[]): boolean {
	const byName = entries.every((e, i) => i === 0 || entries[i - 1].name <= e.name);
	const byDtypeThenName = entries.every((e, i) => {
		if (i === 0) {
			return true;
		}
		const previous = entries[i - 1];
		const rankDiff = writerDtypeRank[previous.dtype] - writerDtypeRank[e.dtype];
		return rankDiff > 0 || (rankDiff === 0 && previous.name <= e.name);
	});
	return byName || byDtypeThenName;
}

/**
 * safetensors (Hugging Face): `u64 LE header length | JSON header | data`. Tensors load lazily from
 * their data_offsets; layers follow state-dict naming (4-D → conv OIHW, 2-D → linear OI).
 */
export const safetensorsReader: FormatReader = {
	id: 'safetensors',
	sniff(name, head) {
		if (name.toLowerCase().endsWith('.safetensors')) {
			return true;
		}
		// Header length below 4 GiB and the JSON object starting right after it.
		return head.length >= 10 && head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0 && head[8] === 0x7b && head[9] === 0x22;
	},
	async open(source) {
		const { entries, skipped } = await readSafetensorsHeader(source);
		const ordered = entries.length > 1 && isWriterSorted(entries) ? [...entries].sort((a, b) => naturalCompare(a.name, b.name)) : entries;
		const tensors = ordered.map((e) => rangeTensor(source, e.name, e.shape, e.dtype, e.offset));
		const warnings = skipped.length > 0 ? [`${skipped.length} tensor(s) with dtypes Crossbar Lens does not decode were skipped: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', ...' : ''}.`] : [];
		// int8 weights (quantized checkpoints keep their scales in other tensors): zero is the integer 0.
		const integer = tensors.filter((t) => t.dtype === 'int8' && /(^|[./])weight$/.test(t.name));
		integer.forEach(markIntegerWeight);
		if (integer.length > 0) {
			warnings.push(`${integer.length} int8 weight tensor(s) were read as their integers (symmetric quantization: a weight is zero where its integer is 0).`);
		}
		const float8 = tensors.filter((t) => t.dtype === 'float8_e4m3fn' || t.dtype === 'float8_e5m2').length;
		if (float8 > 0) {
			warnings.push(`${float8} float8 tensor(s) (F8_E4M3 / F8_E5M2) were read as their stored values; any per-tensor scale is not applied, which leaves zeros as they are.`);
		}
		return namedTensorGraph('safetensors', source, tensors, warnings);
	},
};
