// The fuzz corpus: for every format the tool reads, the example files (the bundled examples and
// the fixtures written by real torch / by hand per spec) and seeded mutations of them: bit flips,
// truncations, inflated length fields and spliced blocks. A case is fully determined by
// (format, index, seed base), so a failure replays with the same three numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(__dirname, '..', '..');
const fixture = (...parts: string[]): Uint8Array => readFileSync(join(repo, 'test', 'fixtures', ...parts));
const example = (name: string): Uint8Array => readFileSync(join(repo, 'examples', name));

/** A model on disk: its files by relative name, and the one the CLI is pointed at. */
export interface Sample {
	readonly entry: string;
	readonly files: Readonly<Record<string, Uint8Array>>;
}

function single(entry: string, bytes: Uint8Array): Sample {
	return { entry, files: { [entry]: bytes } };
}

function shardIndex(map: Record<string, string>): Uint8Array {
	const sorted = Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : 1)));
	return new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map: sorted }, null, 2));
}

/** Tensor names in a safetensors header (the sharded samples map them to their shard). */
function safetensorsNames(bytes: Uint8Array): string[] {
	const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
	return Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)))).filter((k) => k !== '__metadata__');
}

/** Every format the readers take, with the example files its mutations start from. */
export const formats: Readonly<Record<string, () => Sample[]>> = {
	'pytorch-zip': () => [single('digits-cnn.pt', example('digits-cnn.pt')), single('wrapped.pth', fixture('pytorch', 'wrapped.pth')), single('deflated.pt', fixture('pytorch', 'deflated.pt'))],
	'pytorch-legacy': () => [single('legacy.pt', fixture('pytorch', 'legacy.pt')), single('legacy4.pt', fixture('pytorch', 'legacy_protocol4.pt')), single('whole_legacy.pt', fixture('pytorch', 'whole_model_legacy.pt'))],
	'pytorch-whole-model': () => [single('whole_model.pt', fixture('pytorch', 'whole_model.pt')), single('pruned_whole_model.pt', fixture('pytorch', 'pruned_whole_model.pt'))],
	'pytorch-prune-masks': () => [single('pruned.pt', fixture('pytorch', 'pruned.pt'))],
	'pytorch-quantized': () => [single('quantized.pt', fixture('pytorch', 'quantized.pt')), single('quantized_pc.pt', fixture('pytorch', 'quantized_per_channel.pt'))],
	'torchscript': () => [single('torchscript.pt', fixture('pytorch', 'torchscript.pt'))],
	'safetensors': () => [single('tiny.safetensors', fixture('safetensors', 'tiny_f32.safetensors')), single('f8.safetensors', fixture('safetensors', 'float8_int8.safetensors'))],
	'sharded-safetensors': () => {
		const a = fixture('safetensors', 'tiny_f32.safetensors');
		const b = fixture('safetensors', 'float8_int8.safetensors');
		const map: Record<string, string> = {};
		for (const name of safetensorsNames(b)) map[name] = 'model-00002-of-00002.safetensors';
		for (const name of safetensorsNames(a)) map[name] = 'model-00001-of-00002.safetensors';
		return [{ entry: 'model.safetensors.index.json', files: { 'model.safetensors.index.json': shardIndex(map), 'model-00001-of-00002.safetensors': a, 'model-00002-of-00002.safetensors': b } }];
	},
	'sharded-bin': () => {
		const map: Record<string, string> = {};
		for (const name of ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']) map[name] = 'pytorch_model-00001-of-00002.bin';
		for (const name of ['conv2.weight', 'conv2.bias', 'fc.weight', 'fc.bias']) map[name] = 'pytorch_model-00002-of-00002.bin';
		return [{ entry: 'pytorch_model.bin.index.json', files: { 'pytorch_model.bin.index.json': shardIndex(map), 'pytorch_model-00001-of-00002.bin': fixture('pytorch', 'bare.pt'), 'pytorch_model-00002-of-00002.bin': fixture('pytorch', 'half.pt') } }];
	},
	'onnx': () => [single('digits-cnn.onnx', example('digits-cnn.onnx'))],
	'tfjs': () => [{ entry: 'seq.json', files: { 'seq.json': fixture('tfjs', 'seq.json'), 'seq-shard1of3.bin': fixture('tfjs', 'seq-shard1of3.bin'), 'seq-shard2of3.bin': fixture('tfjs', 'seq-shard2of3.bin'), 'seq-shard3of3.bin': fixture('tfjs', 'seq-shard3of3.bin') } }],
	'npz': () => [single('weights.npz', fixture('numpy', 'weights.npz')), single('compressed.npz', fixture('numpy', 'weights_compressed.npz'))],
	'keras': () => [single('digits-cnn.keras', example('digits-cnn.keras'))],
	'h5': () => [single('digits-cnn.h5', example('digits-cnn.h5'))],
};

/** mulberry32: small, fast, and the same on every platform. */
export function random(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** The seed of case `index` of `format`: a hash of both, so adding a format changes no other case. */
export function caseSeed(format: string, index: number, base: number): number {
	let h = (2166136261 ^ base) >>> 0;
	for (const c of `${format}#${index}`) {
		h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
	}
	return h;
}

export const mutations = ['bitflip', 'truncate', 'inflate', 'splice'] as const;
export type Mutation = (typeof mutations)[number];

export interface FuzzCase {
	readonly format: string;
	readonly index: number;
	readonly seed: number;
	readonly mutation: Mutation;
	/** Which file of the sample was mutated, and how (for the failure report). */
	readonly detail: string;
	readonly sample: Sample;
}

/** Offsets of fields that hold lengths or offsets: zip headers, pickle string lengths, the safetensors header length. */
function lengthFields(bytes: Uint8Array): { offset: number; width: 4 | 8 }[] {
	const fields: { offset: number; width: 4 | 8 }[] = [{ offset: 0, width: 8 }];
	const scan = Math.min(bytes.length, 1 << 16);
	for (let i = 0; i + 4 <= bytes.length; i++) {
		if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b) {
			const kind = bytes[i + 2] * 256 + bytes[i + 3];
			if (kind === 0x0304) fields.push({ offset: i + 18, width: 4 }, { offset: i + 22, width: 4 }, { offset: i + 26, width: 4 });
			if (kind === 0x0102) fields.push({ offset: i + 20, width: 4 }, { offset: i + 24, width: 4 }, { offset: i + 42, width: 4 });
			if (kind === 0x0506) fields.push({ offset: i + 12, width: 4 }, { offset: i + 16, width: 4 });
			if (kind === 0x0606) fields.push({ offset: i + 40, width: 8 }, { offset: i + 48, width: 8 });
		}
		// Pickle BINUNICODE / BINBYTES lengths and FRAME sizes in the first 64 KiB.
		if (i < scan && (bytes[i] === 0x58 || bytes[i] === 0x42) && i + 5 <= bytes.length) fields.push({ offset: i + 1, width: 4 });
		if (i < scan && bytes[i] === 0x95 && i + 9 <= bytes.length) fields.push({ offset: i + 1, width: 8 });
	}
	return fields.filter((f) => f.offset + f.width <= bytes.length);
}

const hugeValues = [0xffffffffn, 0x7fffffffn, 0x80000000n, 1n << 40n, 1n << 53n, 0xffffffffffffffffn];

/** One mutated copy of `bytes` (a new array; `other` is another file of the same format, for splicing). */
export function mutate(bytes: Uint8Array, mutation: Mutation, next: () => number, other: Uint8Array): { bytes: Uint8Array; detail: string } {
	const pick = (n: number): number => Math.floor(next() * n);
	const out = Uint8Array.from(bytes);
	switch (mutation) {
		case 'bitflip': {
			const flips = 1 + pick(8);
			// Half the flips land in the first 4 KiB, where the headers and the structure are.
			const at: number[] = [];
			for (let k = 0; k < flips; k++) {
				const offset = next() < 0.5 ? pick(Math.min(out.length, 4096)) : pick(out.length);
				out[offset] ^= 1 << pick(8);
				at.push(offset);
			}
			return { bytes: out, detail: `bits flipped at ${at.join(',')}` };
		}
		case 'truncate': {
			const length = pick(bytes.length);
			return { bytes: bytes.slice(0, length), detail: `cut to ${length} of ${bytes.length} bytes` };
		}
		case 'inflate': {
			const fields = lengthFields(bytes);
			const field = next() < 0.8 && fields.length > 0 ? fields[pick(fields.length)] : { offset: pick(Math.max(1, bytes.length - 8)), width: (next() < 0.5 ? 4 : 8) as 4 | 8 };
			const value = hugeValues[pick(hugeValues.length)];
			const view = new DataView(out.buffer);
			if (field.offset + field.width > out.length) return { bytes: out, detail: 'file too short to inflate' };
			if (field.width === 8) view.setBigUint64(field.offset, value, true);
			else view.setUint32(field.offset, Number(value & 0xffffffffn), true);
			return { bytes: out, detail: `${field.width}-byte field at ${field.offset} set to ${value}` };
		}
		case 'splice': {
			const source = next() < 0.5 ? bytes : other;
			const length = 1 + pick(Math.min(512, source.length));
			const from = pick(Math.max(1, source.length - length));
			const to = pick(Math.max(1, bytes.length));
			const block = source.subarray(from, from + length);
			if (next() < 0.5) {
				out.set(block.subarray(0, Math.max(0, out.length - to)), to);
				return { bytes: out, detail: `${length} bytes from ${source === bytes ? 'itself' : 'another file'} at ${from} written over ${to}` };
			}
			const inserted = new Uint8Array(bytes.length + block.length);
			inserted.set(bytes.subarray(0, to));
			inserted.set(block, to);
			inserted.set(bytes.subarray(to), to + block.length);
			return { bytes: inserted, detail: `${length} bytes from ${source === bytes ? 'itself' : 'another file'} at ${from} inserted at ${to}` };
		}
	}
}

const samplesCache = new Map<string, Sample[]>();

/** Case `index` of `format`: the sample, the mutation and its seed cycle through the corpus. */
export function fuzzCase(format: string, index: number, base: number): FuzzCase {
	let samples = samplesCache.get(format);
	if (!samples) {
		samples = formats[format]();
		samplesCache.set(format, samples);
	}
	const seed = caseSeed(format, index, base);
	const next = random(seed);
	const sample = samples[index % samples.length];
	const mutation = mutations[index % mutations.length];
	const names = Object.keys(sample.files);
	// Multi-file models: the entry (index, model.json) half the time, else one of its other files.
	const target = names.length === 1 || next() < 0.5 ? sample.entry : names[1 + Math.floor(next() * (names.length - 1))];
	const others = samples.flatMap((s) => Object.values(s.files)).filter((b) => b !== sample.files[target]);
	const { bytes, detail } = mutate(sample.files[target], mutation, next, others.length > 0 ? others[Math.floor(next() * others.length)] : sample.files[target]);
	return { format, index, seed, mutation, detail: `${target}: ${detail}`, sample: { entry: sample.entry, files: { ...sample.files, [target]: bytes } } };
}
