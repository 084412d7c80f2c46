import { ModelFormatError } from '../../core/errors';
import { float16Value } from '../../core/bytes';
import type { DType } from '../../core/model';
import { PyCallable, PyDict, PyObject, PySet } from './pickle';
import type { PyBuildable } from './pickle';

/**
 * The allow-list of Python globals a plain torch checkpoint may name, each mapped to a JS
 * factory that builds plain data. It mirrors what torch's own `weights_only=True` unpickler
 * accepts (torch/_weights_only_unpickler.py) plus numpy scalars and argparse.Namespace, which
 * training scripts commonly store beside the weights. Nothing outside it resolves.
 */

/** A storage named by a persistent id: bytes in the zip entry `<prefix>/data/<key>`. */
export class TorchStorage {
	constructor(
		readonly key: string,
		/** Element type; undefined for storages this tool cannot decode (complex, quantized). */
		readonly dtype: DType | undefined,
		/** The storage class as pickled, e.g. `FloatStorage` (for messages). */
		readonly typeName: string,
		readonly location: string,
		/** Element count declared by the pickle. */
		readonly numel: number,
	) {}
}

/** A tensor view: `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`. */
export class TorchTensor {
	constructor(
		readonly storage: TorchStorage,
		/** In elements of the storage. */
		readonly offset: number,
		readonly shape: readonly number[],
		readonly stride: readonly number[],
		readonly requiresGrad: boolean,
	) {}
}

/** A tensor kind this tool does not decode (sparse, meta, …): kept only to say so. */
export class TorchUnsupported {
	constructor(readonly what: string) {}
}

/**
 * A torch.ao quantized tensor (`_rebuild_qtensor`): integer values in `data` and the affine
 * quantizer that maps them to reals, `(q − zero_point) · scale`, per tensor or per channel
 * along `axis`. A weight is zero exactly where q equals its zero point.
 */
export class TorchQuantized {
	constructor(
		readonly data: TorchTensor,
		readonly scheme: 'per_tensor' | 'per_channel',
		/** Per tensor: the scale and zero point. */
		readonly scale: number,
		readonly zeroPoint: number,
		/** Per channel: float and integer tensors of the channel count, along `axis`. */
		readonly scales?: TorchTensor,
		readonly zeroPoints?: TorchTensor,
		readonly axis = 0,
	) {}
}

/** A torch dtype object (`torch.float32`), e.g. the argument of `_rebuild_tensor_v3`. */
export interface TorchDTypeTag {
	readonly torchDtype: string;
	readonly dtype: DType | undefined;
}

interface StorageTag {
	readonly storageType: string;
	readonly dtype: DType | undefined;
}

export function storageTag(value: unknown): StorageTag | undefined {
	return value instanceof PyCallable && isStorageTag(value.tag) ? value.tag : undefined;
}

function isStorageTag(tag: unknown): tag is StorageTag {
	return typeof tag === 'object' && tag !== null && 'storageType' in tag;
}

/** numpy.dtype(descr, align, copy) + BUILD (version, byteorder, …). */
export class NumpyDType implements PyBuildable {
	byteorder = '=';

	constructor(readonly descr: string) {}

	setState(state: unknown): void {
		if (Array.isArray(state) && typeof state[1] === 'string') {
			this.byteorder = state[1];
		}
	}
}

/** numpy.ndarray via _reconstruct + BUILD (version, shape, dtype, is_fortran, raw data). */
export class NumpyArray implements PyBuildable {
	shape: readonly unknown[] = [];
	dtype: unknown;
	data: unknown;

	setState(state: unknown): void {
		if (Array.isArray(state) && state.length >= 5) {
			this.shape = Array.isArray(state[1]) ? state[1] : [];
			this.dtype = state[2];
			this.data = state[4];
		}
	}
}

/** argparse.Namespace and dict subclasses whose BUILD state is their attributes: kept as a dict. */
class PyNamespace extends PyDict implements PyBuildable {
	setState(state: unknown): void {
		const entries = Array.isArray(state) ? state[0] : state;
		if (entries instanceof PyDict) {
			for (const [key, value] of entries.map) {
				this.map.set(key, value);
			}
		}
	}
}

const storageDtypes: Record<string, DType | undefined> = {
	FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
	LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
	UntypedStorage: 'uint8', _UntypedStorage: 'uint8',
	// torch.ao quantized storages hold the integer values (read through TorchQuantized).
	QInt8Storage: 'int8', QUInt8Storage: 'uint8', QInt32Storage: 'int32',
	Float8_e4m3fnStorage: 'float8_e4m3fn', Float8_e5m2Storage: 'float8_e5m2',
};

/** Element sizes of storages whose values are not decoded (legacy checkpoints lay every storage out by size). */
export const undecodedStorageBytes: Record<string, number> = {
	ComplexFloatStorage: 8, ComplexDoubleStorage: 16, ComplexHalfStorage: 4, QUInt4x2Storage: 1, QUInt2x4Storage: 1,
};

const torchDtypeNames: Record<string, DType | undefined> = {
	float32: 'float32', float: 'float32', float64: 'float64', double: 'float64', float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
	int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
	complex32: undefined, complex64: undefined, complex128: undefined, cfloat: undefined, cdouble: undefined, chalf: undefined,
	qint8: undefined, quint8: undefined, qint32: undefined, quint4x2: undefined, quint2x4: undefined,
	float8_e4m3fn: 'float8_e4m3fn', float8_e5m2: 'float8_e5m2', float8_e4m3fnuz: undefined, float8_e5m2fnuz: undefined,
	uint16: undefined, uint32: undefined, uint64: undefined, bits8: undefined, bits16: undefined,
};

/** Layouts, memory formats and quantization schemes: plain tokens. */
const torchTokens = new Set([
	'strided', 'sparse_coo', 'sparse_csr', 'sparse_csc', 'sparse_bsr', 'sparse_bsc', '_mkldnn',
	'contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format',
	'per_tensor_affine', 'per_channel_affine', 'per_tensor_symmetric', 'per_channel_symmetric', 'per_channel_affine_float_qparams',
]);

const unsupportedTorchRebuilds: Record<string, string> = {
	'torch._utils._rebuild_sparse_tensor': 'a sparse tensor',
	'torch._utils._rebuild_sparse_csr_tensor': 'a sparse tensor',
	'torch._utils._rebuild_device_tensor_from_numpy': 'a device tensor saved through numpy',
	'torch._utils._rebuild_meta_tensor_no_storage': 'a meta tensor (no data)',
	'torch._utils._rebuild_wrapper_subclass': 'a tensor subclass',
	'torch._utils._rebuild_nested_tensor': 'a nested tensor',
	'torch._utils._rebuild_xla_tensor': 'an XLA tensor',
	'torch._utils._rebuild_mlc_tensor': 'an MLC tensor',
	'torch.storage._load_from_bytes': 'a storage saved with the legacy serializer',
};

const attributeDictClasses = new Set([
	'argparse.Namespace',
	'pytorch_lightning.utilities.parsing.AttributeDict',
	'lightning.pytorch.utilities.parsing.AttributeDict',
	'lightning_fabric.utilities.data.AttributeDict',
	'lightning.fabric.utilities.data.AttributeDict',
]);

const python2Modules: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

export interface GlobalOptions {
	readonly fileName: string;
	/** TorchScript archives: `__torch__.*` classes become opaque objects holding their attributes. */
	readonly torchScript?: boolean;
	/**
	 * How many items or bytes the factories may copy in all (list(x), dict(x), str → bytes):
	 * without it a pickle could copy one big memoized value once per few bytes, quadratic work.
	 */
	readonly copyBudget: number;
}

/** Returns the allow-list resolver for one file. */
export function createGlobalResolver(options: GlobalOptions): (module: string, name: string) => PyCallable | undefined {
	const file = options.fileName;
	const corrupt = (what: string): ModelFormatError => new ModelFormatError('corrupt', `${file}: the pickle (data.pkl) ${what}.`);
	let copyBudget = options.copyBudget;
	const spend = (n: number): void => {
		copyBudget -= n;
		if (copyBudget < 0) {
			throw corrupt('copies more data than it holds (a hostile pickle?)');
		}
	};
	const token = (qualified: string, tag?: unknown): PyCallable =>
		new PyCallable(qualified, () => {
			throw corrupt(`calls ${qualified}, which is not callable`);
		}, undefined, tag);
	const int = (value: unknown, what: string): number => {
		if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
			throw corrupt(`gives a tensor ${what} that is not a non-negative integer`);
		}
		return value;
	};
	const ints = (value: unknown, what: string): number[] => {
		if (!Array.isArray(value)) {
			throw corrupt(`gives a tensor ${what} that is not a tuple`);
		}
		return value.map((v) => int(v, what));
	};
	const rebuildTensor = (args: readonly unknown[], dtypeArg?: unknown): TorchTensor | TorchUnsupported => {
		const [storage, offset, size, stride, requiresGrad] = args;
		if (storage instanceof TorchUnsupported) {
			return storage;
		}
		if (!(storage instanceof TorchStorage)) {
			throw corrupt('rebuilds a tensor from something that is not a storage');
		}
		const shape = ints(size, 'size');
		const strides = ints(stride, 'stride');
		if (shape.length !== strides.length) {
			throw corrupt(`gives a tensor ${shape.length} sizes but ${strides.length} strides`);
		}
		let viewStorage = storage;
		if (dtypeArg instanceof PyCallable && isDtypeTag(dtypeArg.tag) && dtypeArg.tag.dtype !== storage.dtype) {
			// _rebuild_tensor_v3: an untyped storage viewed with an explicit dtype.
			viewStorage = new TorchStorage(storage.key, dtypeArg.tag.dtype, dtypeArg.tag.torchDtype, storage.location, storage.numel);
		}
		return new TorchTensor(viewStorage, int(offset, 'storage offset'), shape, strides, requiresGrad === true);
	};
	/** `_rebuild_qtensor(storage, offset, size, stride, quantizer_params, requires_grad, hooks)`. */
	const rebuildQuantized = (args: readonly unknown[]): TorchQuantized | TorchUnsupported => {
		const data = rebuildTensor([args[0], args[1], args[2], args[3], args[5]]);
		if (data instanceof TorchUnsupported) {
			return data;
		}
		const params: unknown[] = Array.isArray(args[4]) ? args[4] : [];
		const scheme = params[0] instanceof PyCallable ? params[0].qualifiedName.replace(/^torch\./, '') : '';
		if (!data.storage.dtype || !['int8', 'uint8', 'int32'].includes(data.storage.dtype)) {
			return new TorchUnsupported(`a quantized tensor stored as ${data.storage.typeName}`);
		}
		if (scheme === 'per_tensor_affine' && typeof params[1] === 'number' && typeof params[2] === 'number') {
			return new TorchQuantized(data, 'per_tensor', params[1], params[2]);
		}
		if (scheme === 'per_channel_affine' && params[1] instanceof TorchTensor && params[2] instanceof TorchTensor && typeof params[3] === 'number') {
			const axis = int(params[3], 'quantization axis');
			if (axis >= data.shape.length) {
				throw corrupt(`gives a quantized tensor of rank ${data.shape.length} the channel axis ${axis}`);
			}
			return new TorchQuantized(data, 'per_channel', 1, 0, params[1], params[2], axis);
		}
		return new TorchUnsupported(`a quantized tensor with the ${scheme || 'unknown'} scheme`);
	};
	const firstTensor = (args: readonly unknown[]): unknown => {
		const data = args[0];
		if (data instanceof TorchTensor || data instanceof TorchUnsupported || data instanceof TorchQuantized) {
			return data;
		}
		return new TorchUnsupported('a tensor subclass');
	};
	const bytesFrom = (args: readonly unknown[]): Uint8Array => {
		const [value, encoding] = args;
		if (value === undefined) {
			return new Uint8Array(0);
		}
		if (value instanceof Uint8Array) {
			return value;
		}
		if (typeof value === 'string') {
			spend(value.length);
			return encodeString(value, typeof encoding === 'string' ? encoding : 'latin1', corrupt);
		}
		if (Array.isArray(value)) {
			spend(value.length);
			if (value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256)) {
				return Uint8Array.from(value as number[]);
			}
		}
		// bytearray(n) would allocate from a number in the pickle: not something a checkpoint needs.
		throw corrupt('builds bytes from something that is not bytes, a string or a list of bytes');
	};
	const items = (value: unknown): unknown[] => {
		if (value === undefined) return [];
		if (Array.isArray(value)) return value;
		if (value instanceof PySet) return value.items;
		if (value instanceof PyDict) {
			spend(value.map.size);
			return [...value.map.keys()];
		}
		throw corrupt('builds a collection from something that is not a collection');
	};

	return (rawModule, name) => {
		// Protocol 0–2 pickles written by Python 3 keep Python 2's module names (`__builtin__.set`).
		const module = python2Modules[rawModule] ?? rawModule;
		const qualified = `${module}.${name}`;
		switch (qualified) {
			case 'collections.OrderedDict':
			case 'builtins.dict':
			case 'collections.defaultdict': {
				const make = (args: readonly unknown[]): PyDict => {
					const dict = new PyDict(name);
					const init = qualified === 'collections.defaultdict' ? undefined : args[0];
					if (init instanceof PyDict) {
						spend(init.map.size);
						for (const [k, v] of init.map) dict.map.set(k, v);
					} else if (Array.isArray(init)) {
						spend(init.length);
						for (const pair of init) {
							if (!Array.isArray(pair) || pair.length !== 2) throw corrupt(`builds a ${name} from something that is not pairs`);
							dict.map.set(pair[0], pair[1]);
						}
					}
					return dict;
				};
				return new PyCallable(qualified, make);
			}
			case 'builtins.set':
			case 'builtins.frozenset':
				return new PyCallable(qualified, (args) => new PySet(items(args[0]), name === 'frozenset'));
			case 'builtins.list':
			case 'builtins.tuple':
				return new PyCallable(qualified, (args) => items(args[0]));
			case 'builtins.slice':
			case 'builtins.complex':
			case 'builtins.range':
				return new PyCallable(qualified, (args) => new PyObject(qualified, args));
			case 'builtins.bytearray':
			case 'builtins.bytes':
				return new PyCallable(qualified, bytesFrom);
			case '_codecs.encode':
				return new PyCallable(qualified, bytesFrom);
			case 'builtins.int':
			case 'builtins.float':
			case 'builtins.bool':
			case 'builtins.str':
				return new PyCallable(qualified, (args) => convertScalar(name, args[0], corrupt));
			case 'builtins.object':
				return token(qualified);
			case 'copyreg._reconstructor':
				return new PyCallable(qualified, (args) => {
					const [cls, base, state] = args;
					if (!(cls instanceof PyCallable) || !(base instanceof PyCallable)) {
						throw corrupt('reconstructs an object of a class that is not allowed');
					}
					const made = (cls.construct ?? cls.call)([]);
					if (state !== null && state !== undefined && made instanceof PyNamespace) {
						made.setState(state);
					}
					return made;
				});
			case 'torch._utils._rebuild_tensor':
			case 'torch._utils._rebuild_tensor_v2':
				return new PyCallable(qualified, (args) => rebuildTensor(args));
			case 'torch._utils._rebuild_tensor_v3':
				return new PyCallable(qualified, (args) => rebuildTensor(args, args[6]));
			case 'torch._utils._rebuild_qtensor':
				return new PyCallable(qualified, (args) => rebuildQuantized(args));
			case 'torch._utils._rebuild_parameter':
			case 'torch._utils._rebuild_parameter_with_state':
			case 'torch._utils._rebuild_parameter_v2':
				return new PyCallable(qualified, firstTensor);
			case 'torch._tensor._rebuild_from_type':
			case 'torch._tensor._rebuild_from_type_v2':
				return new PyCallable(qualified, (args) => {
					const [fn, , fnArgs] = args;
					if (!(fn instanceof PyCallable) || !Array.isArray(fnArgs)) {
						throw corrupt(`calls ${qualified} with something that is not an allowed function`);
					}
					return fn.call(fnArgs);
				});
			case 'torch.nn.parameter.Parameter':
			case 'torch.nn.parameter.Buffer':
			case 'torch.nn.parameter.UninitializedParameter':
			case 'torch.Tensor':
			case 'torch._tensor.Tensor':
				return new PyCallable(qualified, firstTensor);
			case 'torch.Size':
				return new PyCallable(qualified, (args) => items(args[0]));
			case 'torch.device':
				return new PyCallable(qualified, (args) => args.length > 1 && args[1] !== null ? `${String(args[0])}:${String(args[1])}` : String(args[0]));
			case 'torch.serialization._get_layout':
				return new PyCallable(qualified, (args) => `torch.${String(args[0]).replace(/^torch\./, '')}`);
			case 'torch.jit._pickle.build_intlist':
			case 'torch.jit._pickle.build_tensorlist':
			case 'torch.jit._pickle.build_doublelist':
			case 'torch.jit._pickle.build_boollist':
			case 'torch.jit._pickle.build_genericlist':
			case 'torch.jit._pickle.restore_type_tag':
				return new PyCallable(qualified, (args) => args[0]);
			case 'numpy.core.multiarray.scalar':
			case 'numpy._core.multiarray.scalar':
				return new PyCallable(qualified, (args) => numpyScalar(args, corrupt));
			case 'numpy.core.multiarray._reconstruct':
			case 'numpy._core.multiarray._reconstruct':
				return new PyCallable(qualified, () => new NumpyArray());
			case 'numpy.core.numeric._frombuffer':
			case 'numpy._core.numeric._frombuffer':
				return new PyCallable(qualified, (args) => {
					const array = new NumpyArray();
					array.setState([1, args[2], args[1], false, args[0]]);
					return array;
				});
			case 'numpy.ndarray':
				return new PyCallable(qualified, () => new NumpyArray());
			case 'numpy.dtype':
				return new PyCallable(qualified, (args) => new NumpyDType(String(args[0])));
		}
		if (Object.hasOwn(unsupportedTorchRebuilds, qualified)) {
			const what = unsupportedTorchRebuilds[qualified];
			return new PyCallable(qualified, () => new TorchUnsupported(what));
		}
		if (attributeDictClasses.has(qualified)) {
			return new PyCallable(qualified, () => new PyNamespace(qualified));
		}
		if (module === 'torch' || module === 'torch.storage') {
			if (Object.hasOwn(storageDtypes, name) || /^[A-Z][A-Za-z0-9]*Storage$/.test(name)) {
				const tag: StorageTag = { storageType: name, dtype: storageDtypes[name] };
				return token(qualified, tag);
			}
		}
		if (module === 'torch') {
			if (Object.hasOwn(torchDtypeNames, name)) {
				const tag: TorchDTypeTag = { torchDtype: name, dtype: torchDtypeNames[name] };
				return token(qualified, tag);
			}
			if (torchTokens.has(name)) {
				return token(qualified);
			}
		}
		if (options.torchScript && (module === '__torch__' || module.startsWith('__torch__.'))) {
			// A TorchScript class: an opaque object whose BUILD state holds its attributes.
			return new PyCallable(qualified, (args) => new PyObject(qualified, args));
		}
		return undefined;
	};
}

function isDtypeTag(tag: unknown): tag is TorchDTypeTag {
	return typeof tag === 'object' && tag !== null && 'torchDtype' in tag;
}

/**
 * A hint for the refusal message when the call looks like part of a pickled model rather than an
 * attack: whole models read as data, but a class with its own __reduce__ pickles itself as a call.
 */
export function refusalHint(qualified: string): string {
	if (/^(torch\.nn\.|__main__\.|torchvision\.|timm\.|transformers\.|models?\.|ultralytics\.)/.test(qualified)) {
		return 'A whole pickled model (torch.save(model)) is read as data, but this class pickles itself as a call; save model.state_dict() instead.';
	}
	return '';
}

function encodeString(value: string, encoding: string, corrupt: (what: string) => Error): Uint8Array {
	const normalized = encoding.toLowerCase().replace(/[-_]/g, '');
	if (normalized === 'latin1' || normalized === 'iso88591') {
		const out = new Uint8Array(value.length);
		for (let i = 0; i < value.length; i++) {
			const code = value.charCodeAt(i);
			if (code > 255) {
				throw corrupt('encodes a non-latin-1 string as latin-1');
			}
			out[i] = code;
		}
		return out;
	}
	if (normalized === 'utf8') {
		return new TextEncoder().encode(value);
	}
	throw corrupt(`encodes a string as '${encoding}'`);
}

function convertScalar(type: string, value: unknown, corrupt: (what: string) => Error): unknown {
	if (value === undefined) {
		return type === 'str' ? '' : type === 'bool' ? false : 0;
	}
	if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'bigint') {
		throw corrupt(`converts something that is not a scalar with builtins.${type}`);
	}
	switch (type) {
		case 'str': return String(value);
		case 'bool': return Boolean(value);
		default: return typeof value === 'bigint' ? value : Number(value);
	}
}

/** numpy.core.multiarray.scalar(dtype, raw bytes) → a JS number (or bigint/boolean). */
function numpyScalar(args: readonly unknown[], corrupt: (what: string) => Error): unknown {
	const [dtype, raw] = args;
	if (!(dtype instanceof NumpyDType)) {
		throw corrupt('builds a numpy scalar without a numpy dtype');
	}
	if (dtype.descr === 'O') {
		return raw;
	}
	if (!(raw instanceof Uint8Array)) {
		throw corrupt('builds a numpy scalar from something that is not bytes');
	}
	const match = /^([fiub])(\d+)$/.exec(dtype.descr);
	if (!match || Number(match[2]) !== raw.length) {
		return new PyObject(`numpy.${dtype.descr}`, [raw]);
	}
	const bytes = dtype.byteorder === '>' ? raw.slice().reverse() : raw;
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const kind = match[1];
	switch (`${kind}${bytes.length}`) {
		case 'f8': return view.getFloat64(0, true);
		case 'f4': return view.getFloat32(0, true);
		case 'f2': return float16Value(view.getUint16(0, true));
		case 'i8': return safeBig(view.getBigInt64(0, true));
		case 'u8': return safeBig(view.getBigUint64(0, true));
		case 'i4': return view.getInt32(0, true);
		case 'u4': return view.getUint32(0, true);
		case 'i2': return view.getInt16(0, true);
		case 'u2': return view.getUint16(0, true);
		case 'i1': return view.getInt8(0);
		case 'u1': return view.getUint8(0);
		case 'b1': return view.getUint8(0) !== 0;
		default: return new PyObject(`numpy.${dtype.descr}`, [raw]);
	}
}

function safeBig(value: bigint): number | bigint {
	return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
