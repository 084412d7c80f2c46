import { ModelFormatError, throwIfAborted } from '../../core/errors';
import type { DType, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { decodeToFloat32, dtypeBytes, float32Target } from '../dtype';
import { markIntegerWeight, namedTensorGraph } from '../stateDict';
import type { FormatReader, OpenOptions } from '../types';
import { readZipDirectory, readZipEntry, zipEntryDataOffset } from '../zip';
import type { ZipEntryDetail } from '../zip';
import { createGlobalResolver, refusalHint, storageTag, TorchQuantized, TorchStorage, TorchTensor, TorchUnsupported } from './globals';
import { readLegacyCheckpoint } from './legacy';
import { PyDict, PyObject, PySet, unpickle } from './pickle';
import { gatherView, isRowMajorContiguous, lastViewIndex, safeNumel, swapElementBytes } from './view';

/**
 * Reads `torch.save` checkpoints: the zip format of torch ≥ 1.6 (`<prefix>/data.pkl` unpickled
 * with a restricted, data-only unpickler; tensors point into `<prefix>/data/<key>` storages) and
 * the legacy format before it (legacy.ts). Tensors load one at a time. A whole pickled model
 * (`torch.save(model)`) is data too: its classes become inert records and the weights come from
 * its `_parameters`/`_buffers`/`_modules` tree. TorchScript archives (torch.jit.save) are read
 * the same way: their data.pkl holds the module tree as plain objects, and their code is never
 * looked at.
 */

/** `torch.save` with `_use_new_zipfile_serialization=False` starts with a pickled magic number. */
const legacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/** The magic number 0x1950a86a20f9469cfc6c as LONG1 (`pickle_protocol` ≥ 4 puts a FRAME before it). */
const legacyNumber = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function isLegacy(head: Uint8Array): boolean {
	if (startsWith(head, legacyMagic)) {
		return true;
	}
	if (head[0] !== 0x80) {
		return false;
	}
	// PROTO n [FRAME u64] LONG1 magic
	const at = head[2] === 0x95 ? 11 : 2;
	return startsWith(head.subarray(at), legacyNumber);
}
const zipMagic = [0x50, 0x4b, 0x03, 0x04];
/** The names torch checkpoints go by (src/formats/registry.ts lists them with the other formats'). */
export const pytorchSuffixes: readonly string[] = ['.pt', '.pth', '.bin', '.ckpt', '.tar'];
/** The pickle holds structure, not weights; one this large is not a checkpoint we should parse. */
const maxPickleBytes = 256 * 1024 * 1024;

/** Keys under which training scripts nest the weights, most specific first. */
const wrapperKeys = ['state_dict', 'model_state_dict', 'model', 'module', 'net', 'network', 'model_ema', 'ema', 'state_dict_ema', 'ema_state_dict', 'params', 'weights'];
/** Entries that hold tensors which are not the model's weights (optimizer momentum, scaler state). */
const nonWeightKey = /optim|sched|scaler|^loops$|^callbacks$/i;

/** What the writer needs to know about a tensor this reader produced. */
export interface PytorchTensorInfo {
	readonly blob: StorageBlob;
	/** The storage's zip entry (undefined in the legacy format). */
	readonly entry?: ZipEntryDetail;
	readonly dtype: DType;
	/** In storage elements. */
	readonly offset: number;
	readonly shape: readonly number[];
	readonly stride: readonly number[];
	readonly bigEndian: boolean;
	/** A torch.ao quantized tensor: its quantizer (writers requantize the values they change). */
	readonly quantized?: { readonly value: TorchQuantized; readonly scales?: TensorRef; readonly zeroPoints?: TensorRef };
}

const tensorInfo = new WeakMap<TensorRef, PytorchTensorInfo>();

/** The storage layout behind a TensorRef this reader produced (undefined for any other). */
export function pytorchTensorInfo(tensor: TensorRef): PytorchTensorInfo | undefined {
	return tensorInfo.get(tensor);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
	return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

export const pytorchReader: FormatReader = {
	id: 'pytorch',
	sniff(name, head) {
		if (isLegacy(head)) {
			return true;
		}
		if (!startsWith(head, zipMagic)) {
			return false;
		}
		const lower = name.toLowerCase();
		if (lower.endsWith('.npz')) {
			return false;
		}
		if (pytorchSuffixes.some((suffix) => lower.endsWith(suffix))) {
			return true;
		}
		// torch writes `<prefix>/data.pkl` first (TorchScript: `<prefix>/data/0`).
		const nameLength = head.length >= 30 ? head[26] | (head[27] << 8) : 0;
		const first = new TextDecoder('latin1').decode(head.subarray(30, Math.min(head.length, 30 + nameLength)));
		return /^[^/]+\/(data\.pkl|data\/|\.data\/|version|byteorder)/.test(first);
	},
	open: openPytorch,
};

/** Where a storage's bytes are: a zip entry, or (legacy format) a range of the file. */
export interface StorageBlob {
	/** Bytes available (the uncompressed entry size, or the legacy range's length). */
	readonly size: number;
	readonly entry?: ZipEntryDetail;
	/** Legacy format: the file offset of the first byte. */
	readonly offset?: number;
}

/** What the writers need to know about a checkpoint this reader produced. */
export interface PytorchGraphInfo {
	/** `torch.save(model)`: the root class; the writers write a state_dict instead. */
	readonly wholeModel?: string;
	/** The legacy (non-zip) format; the writers patch its storages in place. */
	readonly legacy: boolean;
}

const graphInfo = new WeakMap<ModelGraph, PytorchGraphInfo>();

/** How a graph this reader produced was stored (undefined for any other graph). */
export function pytorchGraphInfo(graph: ModelGraph): PytorchGraphInfo | undefined {
	return graphInfo.get(graph);
}

async function openPytorch(source: ByteSource, options: OpenOptions): Promise<ModelGraph> {
	const name = source.name;
	throwIfAborted(options.signal);
	if (source.length === 0) {
		throw new ModelFormatError('empty', `${name}: the file is empty.`);
	}
	const head = await source.read(0, Math.min(source.length, 32));
	const legacy = isLegacy(head);
	if (!legacy && !startsWith(head, zipMagic)) {
		throw new ModelFormatError('bad-magic', head[0] === 0x80
			? `${name}: a bare pickle, not a torch.save checkpoint (which is a zip archive or starts with torch's magic number); refused (nothing was unpickled).`
			: `${name}: not a PyTorch checkpoint (torch.save writes a zip archive starting with 'PK').`);
	}
	const storages = new Map<string, TorchStorage>();
	const corrupt = (what: string): ModelFormatError => new ModelFormatError('corrupt', `${name}: ${what}.`);
	/** Records each storage the pickle names; `entrySize` checks it against its bytes when they are known now. */
	const storageFromPid = (pid: unknown, entrySize: (key: string) => number | undefined): TorchStorage => {
		if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
			throw corrupt('the pickle has a persistent id that is not a storage');
		}
		const tag = storageTag(pid[1]);
		const key = pid[2];
		const numel = pid[4];
		if (!tag || (typeof key !== 'string' && typeof key !== 'number') || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
			throw corrupt('the pickle has a malformed storage id');
		}
		if (pid[5] !== undefined && pid[5] !== null) {
			throw new ModelFormatError('unsupported-format', `${name}: a PyTorch checkpoint with storage views (written by torch < 0.4), which Crossbar Lens does not read.`);
		}
		const cacheKey = `${tag.storageType}\0${key}`;
		let storage = storages.get(cacheKey);
		if (!storage) {
			const size = entrySize(String(key));
			if (tag.dtype && size !== undefined && numel * dtypeBytes[tag.dtype] > size) {
				throw corrupt(`storage '${key}' should hold ${numel} ${tag.storageType} elements but its entry has ${size} bytes`);
			}
			storage = new TorchStorage(String(key), tag.dtype, tag.storageType, String(pid[3]), numel);
			storages.set(cacheKey, storage);
		}
		return storage;
	};

	let root: unknown;
	let bigEndian: boolean;
	let torchScript = false;
	const blobs = new Map<string, StorageBlob>();
	let zipEntries: ZipEntryDetail[] = [];
	if (legacy) {
		const byKey = new Map<string, TorchStorage>();
		const checkpoint = await readLegacyCheckpoint(source, {
			fileName: name,
			resolveGlobal: createGlobalResolver({ fileName: name, copyBudget: Math.min(source.length, maxPickleBytes) * 4 + (1 << 20) }),
			refusalHint,
			persistentLoad(pid) {
				// A whole model's module classes, with their source text (for torch's source-change warning): the class.
				if (Array.isArray(pid) && pid[0] === 'module' && pid.length === 4) {
					return pid[1];
				}
				const storage = storageFromPid(pid, () => undefined);
				const known = byKey.get(storage.key);
				if (known && known !== storage) {
					throw corrupt(`storage '${storage.key}' is named with two types (${known.typeName}, ${storage.typeName})`);
				}
				byKey.set(storage.key, storage);
				return storage;
			},
		}, byKey);
		root = checkpoint.root;
		bigEndian = checkpoint.bigEndian;
		for (const [key, range] of checkpoint.data) {
			blobs.set(key, { size: range.byteLength, offset: range.offset });
		}
	} else {
		zipEntries = await readZipDirectory(source);
		const byName = new Map<string, ZipEntryDetail>();
		for (const entry of zipEntries) {
			if (!byName.has(entry.name)) {
				byName.set(entry.name, entry);
			}
		}
		const pickleEntry = zipEntries
			.filter((e) => /^([^/]*\/)?data\.pkl$/.test(e.name))
			.sort((a, b) => a.name.length - b.name.length)[0];
		if (!pickleEntry) {
			throw new ModelFormatError('unsupported-format', `${name}: a zip archive without data.pkl, so not a torch.save checkpoint.`);
		}
		const prefix = pickleEntry.name.slice(0, -'data.pkl'.length);
		torchScript = byName.has(`${prefix}constants.pkl`) || zipEntries.some((e) => e.name.startsWith(`${prefix}code/`));
		bigEndian = await readByteOrder(source, byName.get(`${prefix}byteorder`));
		if (pickleEntry.size > maxPickleBytes) {
			throw new ModelFormatError('too-large', `${name}: its data.pkl is ${pickleEntry.size} bytes; a checkpoint's pickle holds structure, not data, and this one is too large to parse.`);
		}
		throwIfAborted(options.signal);
		const pickle = await readZipEntry(source, pickleEntry);
		const entryOf = (key: string): ZipEntryDetail => {
			const entry = byName.get(`${prefix}data/${key}`);
			if (!entry) {
				throw corrupt(`the pickle names storage '${key}', but the archive has no entry ${prefix}data/${key}`);
			}
			return entry;
		};
		root = unpickle(pickle, {
			fileName: name,
			resolveGlobal: createGlobalResolver({ fileName: name, torchScript, copyBudget: pickle.length * 4 + (1 << 20) }),
			refusalHint,
			persistentLoad: (pid) => storageFromPid(pid, (key) => entryOf(key).size),
		});
		for (const storage of storages.values()) {
			const entry = entryOf(storage.key);
			blobs.set(storage.key, { size: entry.size, entry });
		}
	}
	throwIfAborted(options.signal);

	const chosen = selectWeights(root);
	const found: Found[] = [];
	collectTensors(chosen.value, '', found, new Set(), 0, true);
	const warnings: string[] = [];
	if (legacy) {
		warnings.push('A checkpoint in the legacy (pre-1.6, non-zip) torch.save format: read with the same restricted unpickler; nothing was run.');
	}
	if (torchScript) {
		warnings.push('A TorchScript archive: the weights were read from its data.pkl module attributes; its code was not run.');
	}
	const wholeModel = chosen.value instanceof PyObject && isModuleRecord(chosen.value) ? chosen.value.className : undefined;
	if (wholeModel && !torchScript) {
		warnings.push(`A whole pickled model (torch.save(model)) of class ${wholeModel}: its weights were read as data from the module tree; no class was imported and nothing was run.`);
	}
	if (chosen.path.length > 0 && root instanceof PyDict) {
		const others = [...root.map.keys()].filter((k) => k !== chosen.path[0]).map(String);
		const shown = others.length > 6 ? `${others.slice(0, 6).join(', ')}, …` : others.join(', ');
		warnings.push(`The weights were taken from the checkpoint's '${chosen.path.join('.')}' entry${shown ? ` (it also holds: ${shown})` : ''}.`);
	}

	const bytesOf = storageReader(source);
	const tensors: TensorRef[] = [];
	const skipped: string[] = [];
	let quantized = 0;
	for (const { name: foundName, value } of found) {
		// torch.save(tensor): the root itself is the one tensor.
		const tensorName = quantizedLinearName(foundName || 'tensor');
		if (value instanceof TorchUnsupported) {
			skipped.push(`'${tensorName}' (${value.what})`);
			continue;
		}
		const data = value instanceof TorchQuantized ? value.data : value;
		if (!data.storage.dtype) {
			skipped.push(`'${tensorName}' (${data.storage.typeName})`);
			continue;
		}
		const plain = tensorRef(tensorName, data, blobs, bigEndian, bytesOf, corrupt);
		if (value instanceof TorchQuantized) {
			const scales = value.scales && tensorRef(`${tensorName} scales`, value.scales, blobs, bigEndian, bytesOf, corrupt);
			const zeroPoints = value.zeroPoints && tensorRef(`${tensorName} zero points`, value.zeroPoints, blobs, bigEndian, bytesOf, corrupt);
			const tensor = dequantizedTensor(plain, value, scales, zeroPoints, corrupt);
			tensorInfo.set(tensor, { ...(tensorInfo.get(plain) as PytorchTensorInfo), quantized: { value, scales, zeroPoints } });
			markIntegerWeight(tensor);
			tensors.push(tensor);
			quantized++;
		} else {
			tensors.push(plain);
		}
	}
	if (quantized > 0) {
		warnings.push(`${quantized} torch.ao quantized tensor${quantized === 1 ? ' was' : 's were'} read as (q − zero point) · scale: a weight is zero where its integer equals the zero point.`);
	}
	if (skipped.length > 0) {
		const shown = skipped.length > 4 ? `${skipped.slice(0, 4).join(', ')}, …` : skipped.join(', ');
		warnings.push(`${skipped.length} tensor${skipped.length === 1 ? ' was' : 's were'} skipped because Crossbar Lens does not decode them: ${shown}.`);
	}
	if (tensors.length === 0) {
		throw new ModelFormatError('no-layers', skipped.length > 0
			? `${name}: none of the checkpoint's tensors can be decoded (${skipped.slice(0, 3).join(', ')}).`
			: chosen.onlyNonWeights
				? `${name}: the checkpoint holds only optimizer or scheduler state, no model weights.`
				: `${name}: the checkpoint holds no tensors.`);
	}
	let graph = namedTensorGraph('pytorch', source, tensors, warnings);
	// DataParallel / DistributedDataParallel prefix every name with `module.`; users know the layers without it.
	if (tensors.every((t) => t.name.startsWith('module.'))) {
		graph = { ...graph, layers: graph.layers.map((layer) => ({ ...layer, name: layer.name.replace(/^module\./, '') })) };
	}
	graphInfo.set(graph, { wholeModel: torchScript ? undefined : wholeModel, legacy });
	return graph;
}

/** torch.ao's quantized Linear keeps its weight as `<module>._packed_params._packed_params.0`. */
function quantizedLinearName(name: string): string {
	return name.replace(/\._packed_params\._packed_params\.0$/, '.weight');
}

/** Reads storage bytes for the TensorRefs of one file, through one reused scratch buffer. */
function storageReader(source: ByteSource): StorageBytes {
	const scratch = new Scratch();
	const dataOffsets = new Map<StorageBlob, Promise<number>>();
	let inflated: { blob: StorageBlob; bytes: Uint8Array } | undefined;
	const dataOffset = (blob: StorageBlob): Promise<number> => {
		if (blob.offset !== undefined) {
			return Promise.resolve(blob.offset);
		}
		let offset = dataOffsets.get(blob);
		if (!offset) {
			offset = zipEntryDataOffset(source, blob.entry as ZipEntryDetail);
			dataOffsets.set(blob, offset);
			offset.catch(() => dataOffsets.delete(blob));
		}
		return offset;
	};
	return {
		source,
		scratch,
		dataOffset,
		async bytes(blob, start, length) {
			if (!blob.entry || blob.entry.method === 0) {
				const bytes = scratch.bytes(length);
				try {
					await source.readInto((await dataOffset(blob)) + start, bytes);
				} catch (ex) {
					scratch.releaseBytes(bytes);
					throw ex;
				}
				return { bytes, release: () => scratch.releaseBytes(bytes) };
			}
			// Deflated storages (re-zipped checkpoints): inflate once, keep the last one for shared storages.
			if (inflated?.blob !== blob) {
				inflated = { blob, bytes: await readZipEntry(source, blob.entry) };
			}
			const copy = scratch.bytes(length);
			copy.set(inflated.bytes.subarray(start, start + length));
			return { bytes: copy, release: () => scratch.releaseBytes(copy) };
		},
	};
}

interface StorageBytes {
	readonly source: ByteSource;
	readonly scratch: Scratch;
	dataOffset(blob: StorageBlob): Promise<number>;
	/** `length` bytes of the storage from byte `start`, in a scratch buffer to release after use. */
	bytes(blob: StorageBlob, start: number, length: number): Promise<{ bytes: Uint8Array; release(): void }>;
}

/** A TensorRef over one view of a storage: checked against the storage's size now, loaded later. */
function tensorRef(tensorName: string, value: TorchTensor, blobs: ReadonlyMap<string, StorageBlob>, bigEndian: boolean, io: StorageBytes, corrupt: (what: string) => ModelFormatError): TensorRef {
	const storage = value.storage;
	const dtype = storage.dtype as DType;
	const blob = blobs.get(storage.key);
	if (!blob) {
		throw corrupt(`tensor '${tensorName}' names storage '${storage.key}', which the file does not hold`);
	}
	const itemBytes = dtypeBytes[dtype];
	const { shape, stride, offset } = value;
	const count = safeNumel(shape);
	const capacity = Math.floor(blob.size / itemBytes);
	const last = count === undefined || count === 0 ? offset - 1 : lastViewIndex(offset, shape, stride);
	if (count === undefined || !Number.isSafeInteger(last) || last >= capacity) {
		throw corrupt(`tensor '${tensorName}' (shape [${shape.join(', ')}], stride [${stride.join(', ')}], offset ${offset}) reaches past its storage of ${capacity} elements`);
	}
	const contiguous = isRowMajorContiguous(shape, stride);
	const stored = !blob.entry || blob.entry.method === 0;
	const tensor: TensorRef = {
		name: tensorName,
		shape,
		dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const target = float32Target(count, into);
			if (count === 0) {
				return target;
			}
			if (contiguous) {
				if (dtype === 'float32' && !bigEndian && stored) {
					// Fast path: the file's bytes land straight in the result.
					await io.source.readInto((await io.dataOffset(blob)) + offset * 4, new Uint8Array(target.buffer, target.byteOffset, count * 4));
					return target;
				}
				const held = await io.bytes(blob, offset * itemBytes, count * itemBytes);
				try {
					if (bigEndian) swapElementBytes(held.bytes, itemBytes);
					decodeToFloat32(held.bytes, dtype, count, target);
				} finally {
					held.release();
				}
				return target;
			}
			// A strided view: read the storage span it touches, decode, gather.
			const span = last - offset + 1;
			const held = await io.bytes(blob, offset * itemBytes, span * itemBytes);
			let floats: Float32Array | undefined;
			try {
				if (bigEndian) swapElementBytes(held.bytes, itemBytes);
				let values: Float32Array;
				if (dtype === 'float32' && held.bytes.byteOffset % 4 === 0) {
					values = new Float32Array(held.bytes.buffer, held.bytes.byteOffset, span);
				} else {
					floats = io.scratch.floats(span);
					decodeToFloat32(held.bytes, dtype, span, floats);
					values = floats;
				}
				gatherView(values, offset, offset, shape, stride, target);
			} finally {
				held.release();
				if (floats) io.scratch.releaseFloats(floats);
			}
			return target;
		},
	};
	tensorInfo.set(tensor, { blob, entry: blob.entry, dtype, offset, shape, stride, bigEndian });
	return tensor;
}

/** The real values of a quantized tensor: its integers, then (q − zero point) · scale per element or channel. */
function dequantizedTensor(data: TensorRef, value: TorchQuantized, scales: TensorRef | undefined, zeroPoints: TensorRef | undefined, corrupt: (what: string) => ModelFormatError): TensorRef {
	const shape = data.shape;
	const channels = value.scheme === 'per_channel' ? shape[value.axis] : 1;
	if (value.scheme === 'per_channel' && (numel(scales?.shape ?? []) !== channels || numel(zeroPoints?.shape ?? []) !== channels)) {
		throw corrupt(`quantized tensor '${data.name}' has ${channels} channels on axis ${value.axis} but ${numel(scales?.shape ?? [])} scales and ${numel(zeroPoints?.shape ?? [])} zero points`);
	}
	// Elements per channel step: channel c of element i is floor(i / inner) mod channels.
	const inner = shape.slice(value.axis + 1).reduce((a, b) => a * b, 1);
	return {
		name: data.name,
		shape,
		dtype: data.dtype,
		async load(into?: Float32Array): Promise<Float32Array> {
			const q = await data.load(into);
			if (value.scheme === 'per_tensor') {
				for (let i = 0; i < q.length; i++) q[i] = (q[i] - value.zeroPoint) * value.scale;
				return q;
			}
			const s = await (scales as TensorRef).load();
			const z = await (zeroPoints as TensorRef).load();
			for (let i = 0; i < q.length; i++) {
				const c = Math.floor(i / inner) % channels;
				q[i] = (q[i] - z[c]) * s[c];
			}
			return q;
		},
	};
}

async function readByteOrder(source: ByteSource, entry: ZipEntryDetail | undefined): Promise<boolean> {
	if (!entry) {
		return false;
	}
	if (entry.size > 64) {
		throw new ModelFormatError('corrupt', `${source.name}: its byteorder entry is ${entry.size} bytes long.`);
	}
	const text = new TextDecoder().decode(await readZipEntry(source, entry)).trim();
	if (text === 'little') {
		return false;
	}
	if (text === 'big') {
		return true;
	}
	throw new ModelFormatError('corrupt', `${source.name}: its byteorder entry says '${text.slice(0, 16)}', not 'little' or 'big'.`);
}

interface Found {
	readonly name: string;
	readonly value: TorchTensor | TorchUnsupported | TorchQuantized;
}

function isTensorValue(value: unknown): value is TorchTensor | TorchUnsupported | TorchQuantized {
	return value instanceof TorchTensor || value instanceof TorchUnsupported || value instanceof TorchQuantized;
}

/** An nn.Module record from a whole pickled model: BUILD gave it `_parameters` and `_modules`. */
function isModuleRecord(value: PyObject): boolean {
	return value.state instanceof PyDict && value.state.map.get('_parameters') instanceof PyDict && value.state.map.get('_modules') instanceof PyDict;
}

/**
 * The tensors of an nn.Module record in `state_dict()` order: its parameters, its persistent
 * buffers, then each child module's under `<child>.`. Plain attributes (a pruned module's
 * computed `weight`, hooks) are not part of the state and are not read.
 */
function collectModule(module: PyObject, prefix: string, out: Found[], seen: Set<object>, depth: number): void {
	const state = module.state as PyDict;
	const join = (key: unknown): string => `${prefix}${keyName(key)}`;
	const nonPersistent = state.map.get('_non_persistent_buffers_set');
	const skip = new Set(nonPersistent instanceof PySet ? nonPersistent.items.map(keyName) : []);
	for (const group of ['_parameters', '_buffers']) {
		const items = state.map.get(group);
		if (!(items instanceof PyDict)) {
			continue;
		}
		for (const [key, item] of items.map) {
			if (isTensorValue(item) && !(group === '_buffers' && skip.has(keyName(key)))) {
				out.push({ name: join(key), value: item });
			}
		}
	}
	for (const [key, child] of (state.map.get('_modules') as PyDict).map) {
		if (child instanceof PyObject && !seen.has(child) && depth < maxDepth) {
			seen.add(child);
			if (isModuleRecord(child)) {
				collectModule(child, `${join(key)}.`, out, seen, depth + 1);
			}
		}
	}
}

/** Containers deeper than this are not a state dict's structure. */
const maxDepth = 64;

function isContainer(value: unknown): boolean {
	return value instanceof PyDict || value instanceof PyObject || Array.isArray(value);
}

function keyName(key: unknown): string {
	return typeof key === 'string' ? key : String(key);
}

/**
 * Appends every tensor under `value` with its dotted path. Each container is walked once
 * (`seen`), so memo references (shared or cyclic) cannot make the walk exponential.
 */
function collectTensors(value: unknown, prefix: string, out: Found[], seen: Set<object>, depth: number, skipNonWeights: boolean): void {
	if (isTensorValue(value)) {
		out.push({ name: prefix, value });
		return;
	}
	if (depth > maxDepth || typeof value !== 'object' || value === null || seen.has(value)) {
		return;
	}
	seen.add(value);
	const join = (key: string): string => (prefix ? `${prefix}.${key}` : key);
	if (value instanceof PyDict) {
		for (const [key, item] of value.map) {
			if (skipNonWeights && isContainer(item) && nonWeightKey.test(keyName(key))) {
				continue;
			}
			collectTensors(item, join(keyName(key)), out, seen, depth + 1, false);
		}
	} else if (Array.isArray(value)) {
		value.forEach((item, index) => collectTensors(item, join(String(index)), out, seen, depth + 1, false));
	} else if (value instanceof PyObject) {
		if (isModuleRecord(value)) {
			collectModule(value, prefix ? `${prefix}.` : '', out, seen, depth + 1);
		} else {
			collectTensors(value.state, prefix, out, seen, depth + 1, false);
		}
	}
}

function countTensors(value: unknown, seen = new Set<object>()): number {
	const found: Found[] = [];
	collectTensors(value, '', found, seen, 0, true);
	return found.length;
}

function hasDirectTensor(value: unknown): boolean {
	const items = value instanceof PyDict ? value.map.values() : Array.isArray(value) ? value.values() : undefined;
	if (!items) {
		return false;
	}
	for (const item of items) {
		if (isTensorValue(item)) {
			return true;
		}
	}
	return false;
}

interface Selection {
	readonly value: unknown;
	/** Keys from the root to the state dict; empty for a bare state dict. */
	readonly path: string[];
	/** Set when the only tensors are optimizer/scheduler state. */
	readonly onlyNonWeights?: boolean;
}

/**
 * Finds the state dict: a wrapper key (`state_dict`, `model`, …) whose value holds tensors,
 * else the dict itself when it holds tensors directly, else the non-optimizer entry holding
 * the most tensors. Nested wrappers (`{'model': {'state_dict': …}}`) are followed.
 */
function selectWeights(value: unknown, depth = 0): Selection {
	if (depth > 8 || !(value instanceof PyDict || Array.isArray(value))) {
		return { value, path: [] };
	}
	const entries: [string, unknown][] = value instanceof PyDict
		? [...value.map].map(([k, v]) => [keyName(k), v])
		: value.map((v, i) => [String(i), v]);
	if (value instanceof PyDict) {
		for (const key of wrapperKeys) {
			const item = value.map.get(key);
			if (isContainer(item) && countTensors(item) > 0) {
				const inner = selectWeights(item, depth + 1);
				return { value: inner.value, path: [key, ...inner.path] };
			}
		}
	}
	if (hasDirectTensor(value)) {
		return { value, path: [] };
	}
	const seen = new Set<object>();
	let best: [string, unknown] | undefined;
	let bestCount = 0;
	let nonWeightTensors = 0;
	for (const [key, item] of entries) {
		if (!isContainer(item)) {
			continue;
		}
		if (nonWeightKey.test(key)) {
			nonWeightTensors += countTensors(item, new Set());
			continue;
		}
		const count = countTensors(item, seen);
		if (count > bestCount) {
			best = [key, item];
			bestCount = count;
		}
	}
	if (best) {
		const inner = selectWeights(best[1], depth + 1);
		return { value: inner.value, path: [best[0], ...inner.path] };
	}
	return { value, path: [], onlyNonWeights: nonWeightTensors > 0 };
}

/** Reusable scratch buffers; a second concurrent load gets fresh ones instead of sharing. */
class Scratch {
	private byteBuffer?: Uint8Array;
	private bytesBusy = false;
	private floatBuffer?: Float32Array;
	private floatsBusy = false;

	bytes(length: number): Uint8Array {
		if (this.bytesBusy) {
			return new Uint8Array(length);
		}
		if (!this.byteBuffer || this.byteBuffer.length < length) {
			this.byteBuffer = new Uint8Array(length);
		}
		this.bytesBusy = true;
		return this.byteBuffer.subarray(0, length);
	}

	releaseBytes(bytes: Uint8Array): void {
		if (bytes.buffer === this.byteBuffer?.buffer) {
			this.bytesBusy = false;
		}
	}

	floats(length: number): Float32Array {
		if (this.floatsBusy) {
			return new Float32Array(length);
		}
		if (!this.floatBuffer || this.floatBuffer.length < length) {
			this.floatBuffer = new Float32Array(length);
		}
		this.floatsBusy = true;
		return this.floatBuffer.subarray(0, length);
	}

	releaseFloats(floats: Float32Array): void {
		if (floats.buffer === this.floatBuffer?.buffer) {
			this.floatsBusy = false;
		}
	}
}
