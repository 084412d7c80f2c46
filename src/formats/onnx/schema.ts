/**
 * ONNX's ModelProto, decoded just enough for crossbar analysis: nodes with attributes, graph
 * inputs/outputs/value_info with shapes, and initializers as byte ranges (payloads stay on disk).
 * Field numbers: onnx/onnx.proto (IR version 9).
 */
import { ModelFormatError } from '../../core/errors';
import type { DType } from '../../core/model';
import { numel } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { dtypeBytes } from '../dtype';
import type { FieldRef, ProtoReader } from './protobuf';
import { WindowedSource, decodeString, fixed32Float, readRepeatedNumbers, wireI32, wireLen, wireVarint } from './protobuf';

/** TensorProto.DataType codes we decode. */
export const onnxDataTypes: Readonly<Record<number, DType>> = {
	1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16',
};
const dataTypeNames: Readonly<Record<number, string>> = {
	0: 'UNDEFINED', 4: 'UINT16', 8: 'STRING', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4',
};

export function dataTypeName(code: number): string {
	return onnxDataTypes[code] ?? dataTypeNames[code] ?? `type ${code}`;
}

// TensorProto fields.
export const tensorField = { dims: 1, dataType: 2, segment: 3, floatData: 4, int32Data: 5, stringData: 6, int64Data: 7, name: 8, rawData: 9, doubleData: 10, uint64Data: 11, docString: 12, externalData: 13, dataLocation: 14 } as const;

/** Where an initializer's elements are. Offsets are absolute in the file (or in `location` for external data). */
export type TensorStorage =
	| { readonly kind: 'raw'; readonly offset: number; readonly length: number }
	/** One packed run of little-endian floats/doubles (float_data, double_data): readable as a plain range. */
	| { readonly kind: 'packed'; readonly offset: number; readonly length: number; readonly elementType: 'float32' | 'float64' }
	/** Varint-packed or unpacked typed fields: decoded by re-reading the TensorProto at load. */
	| { readonly kind: 'fields'; readonly field: number }
	| { readonly kind: 'external'; readonly location: string; readonly offset: number; readonly length: number }
	| { readonly kind: 'empty' };

export interface OnnxTensorInfo {
	readonly name: string;
	readonly dims: readonly number[];
	readonly dataType: number;
	readonly docString?: string;
	/** The initializer field in GraphProto: key offset and payload range of the TensorProto. */
	readonly keyStart: number;
	readonly start: number;
	readonly end: number;
	readonly storage: TensorStorage;
}

export interface OnnxAttribute {
	readonly name: string;
	readonly i?: number;
	readonly f?: number;
	readonly s?: string;
	readonly ints?: readonly number[];
	readonly floats?: readonly number[];
	/** A tensor attribute (Constant's `value`): dims, type and, when small, its values. */
	readonly t?: { readonly dims: readonly number[]; readonly dataType: number; readonly values?: readonly number[] };
}

export interface OnnxNode {
	readonly name: string;
	readonly opType: string;
	readonly domain: string;
	readonly inputs: readonly string[];
	readonly outputs: readonly string[];
	readonly attributes: ReadonlyMap<string, OnnxAttribute>;
}

/** A dimension: a number when static, undefined when symbolic or absent. */
export type Dim = number | undefined;

export interface OnnxValueInfo {
	readonly name: string;
	readonly elemType: number;
	/** undefined when the rank is unknown. */
	readonly dims?: readonly Dim[];
}

export interface OnnxModel {
	readonly irVersion: number;
	readonly producer: string;
	readonly opsetVersion?: number;
	/** The ModelProto.graph field: key offset and payload range. */
	readonly graphKeyStart: number;
	readonly graphStart: number;
	readonly graphEnd: number;
	readonly nodes: readonly OnnxNode[];
	readonly initializers: readonly OnnxTensorInfo[];
	readonly inputs: readonly OnnxValueInfo[];
	readonly outputs: readonly OnnxValueInfo[];
	readonly valueInfo: readonly OnnxValueInfo[];
	/** Sparse initializers are not decoded; their count goes into a warning. */
	readonly sparseInitializers: number;
}

/** Small constant tensors (shapes, axes, pads) are decoded so that shape propagation can use them. */
const smallTensorElements = 64;

function corrupt(source: ByteSource, what: string): never {
	throw new ModelFormatError('corrupt', `${source.name}: ${what} (not a valid ONNX model).`);
}

function checkDim(source: ByteSource, value: number, what: string): number {
	if (!Number.isSafeInteger(value) || value < 0) {
		corrupt(source, `${what} has dimension ${value}`);
	}
	return value;
}

/** Decodes a TensorProto held in memory (attribute tensors): dims, type, and values when small. */
function decodeSmallTensor(reader: ProtoReader, source: ByteSource): OnnxAttribute['t'] {
	const dims: number[] = [];
	let dataType = 0;
	let raw: Uint8Array | undefined;
	const typed: number[] = [];
	for (let ref = reader.next(); ref; ref = reader.next()) {
		switch (ref.field) {
			case tensorField.dims: readRepeatedNumbers(reader, ref, 'varint', dims); break;
			case tensorField.dataType: dataType = ref.value; break;
			case tensorField.rawData: raw = reader.slice(ref); break;
			case tensorField.floatData: readRepeatedNumbers(reader, ref, 'float', typed, smallTensorElements + 1); break;
			case tensorField.doubleData: readRepeatedNumbers(reader, ref, 'double', typed, smallTensorElements + 1); break;
			case tensorField.int32Data:
			case tensorField.int64Data: readRepeatedNumbers(reader, ref, 'varint', typed, smallTensorElements + 1); break;
			default: break;
		}
	}
	dims.forEach((d) => checkDim(source, d, 'a tensor attribute'));
	const count = numel(dims);
	let values: number[] | undefined;
	if (count <= smallTensorElements) {
		const dtype = onnxDataTypes[dataType] as DType | undefined;
		if (raw !== undefined && dtype !== undefined && raw.length === count * dtypeBytes[dtype]) {
			const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
			const read: ((i: number) => number) | undefined = {
				float32: (i: number) => view.getFloat32(i * 4, true),
				float64: (i: number) => view.getFloat64(i * 8, true),
				int64: (i: number) => Number(view.getBigInt64(i * 8, true)),
				int32: (i: number) => view.getInt32(i * 4, true),
			}[dtype as string];
			values = read ? Array.from({ length: count }, (_, i) => read(i)) : undefined;
		} else if (raw === undefined && typed.length === count && dataType !== 10 && dataType !== 16) {
			values = typed;
		}
	}
	return { dims, dataType, values };
}

function decodeAttribute(reader: ProtoReader, source: ByteSource): OnnxAttribute {
	let name = '';
	let i: number | undefined;
	let f: number | undefined;
	let s: string | undefined;
	const ints: number[] = [];
	const floats: number[] = [];
	let t: OnnxAttribute['t'];
	for (let ref = reader.next(); ref; ref = reader.next()) {
		switch (ref.field) {
			case 1: name = decodeString(reader.slice(ref)); break;
			case 2: if (ref.wire === wireI32) f = fixed32Float(reader.bytes, ref.start - reader.base); break;
			case 3: if (ref.wire === wireVarint) i = ref.value; break;
			case 4: if (ref.wire === wireLen) s = decodeString(reader.slice(ref)); break;
			case 5: if (ref.wire === wireLen) t = decodeSmallTensor(reader.sub(ref), source); break;
			case 7: readRepeatedNumbers(reader, ref, 'float', floats); break;
			case 8: readRepeatedNumbers(reader, ref, 'varint', ints); break;
			default: break; // graphs, sparse tensors, type protos: not needed
		}
	}
	return { name, i, f, s, ints: ints.length > 0 ? ints : undefined, floats: floats.length > 0 ? floats : undefined, t };
}

function decodeNode(reader: ProtoReader, source: ByteSource): OnnxNode {
	const inputs: string[] = [];
	const outputs: string[] = [];
	const attributes = new Map<string, OnnxAttribute>();
	let name = '';
	let opType = '';
	let domain = '';
	for (let ref = reader.next(); ref; ref = reader.next()) {
		if (ref.wire !== wireLen) {
			continue;
		}
		switch (ref.field) {
			case 1: inputs.push(decodeString(reader.slice(ref))); break;
			case 2: outputs.push(decodeString(reader.slice(ref))); break;
			case 3: name = decodeString(reader.slice(ref)); break;
			case 4: opType = decodeString(reader.slice(ref)); break;
			case 7: domain = decodeString(reader.slice(ref)); break;
			case 5: {
				const attribute = decodeAttribute(reader.sub(ref), source);
				attributes.set(attribute.name, attribute);
				break;
			}
			default: break;
		}
	}
	return { name, opType, domain, inputs, outputs, attributes };
}

function decodeValueInfo(reader: ProtoReader): OnnxValueInfo {
	let name = '';
	let elemType = 0;
	let dims: Dim[] | undefined;
	for (let ref = reader.next(); ref; ref = reader.next()) {
		if (ref.field === 1 && ref.wire === wireLen) {
			name = decodeString(reader.slice(ref));
		} else if (ref.field === 2 && ref.wire === wireLen) {
			// TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
			const type = reader.sub(ref);
			for (let t = type.next(); t; t = type.next()) {
				if (t.field !== 1 || t.wire !== wireLen) {
					continue;
				}
				const tensorType = type.sub(t);
				for (let tt = tensorType.next(); tt; tt = tensorType.next()) {
					if (tt.field === 1 && tt.wire === wireVarint) {
						elemType = tt.value;
					} else if (tt.field === 2 && tt.wire === wireLen) {
						dims = [];
						const shape = tensorType.sub(tt);
						for (let d = shape.next(); d; d = shape.next()) {
							if (d.field !== 1 || d.wire !== wireLen) {
								continue;
							}
							const dim = shape.sub(d);
							let value: Dim;
							for (let dv = dim.next(); dv; dv = dim.next()) {
								if (dv.field === 1 && dv.wire === wireVarint && Number.isSafeInteger(dv.value) && dv.value >= 0) {
									value = dv.value;
								}
							}
							dims.push(value);
						}
					}
				}
			}
		}
	}
	return { name, elemType, dims };
}

/** Walks an initializer's TensorProto: reads the small fields and records where the data is. */
async function scanTensor(win: WindowedSource, ref: FieldRef): Promise<OnnxTensorInfo> {
	const source = win.source;
	const dims: number[] = [];
	let dataType = 0;
	let name = '';
	let docString: string | undefined;
	let dataLocation = 0;
	const external = new Map<string, string>();
	const dataFields: FieldRef[] = [];
	await win.scan(ref.start, ref.end, async (f) => {
		switch (f.field) {
			case tensorField.dims: {
				const reader = await win.bytes(f.keyStart, f.end);
				readRepeatedNumbers(reader, reader.next()!, 'varint', dims);
				break;
			}
			case tensorField.dataType: dataType = f.value; break;
			case tensorField.name: name = await readString(win, f); break;
			case tensorField.docString: docString = await readString(win, f); break;
			case tensorField.dataLocation: dataLocation = f.value; break;
			case tensorField.externalData: {
				const reader = await win.bytes(f.start, f.end);
				let key = '';
				let value = '';
				for (let e = reader.next(); e; e = reader.next()) {
					if (e.field === 1) key = decodeString(reader.slice(e));
					if (e.field === 2) value = decodeString(reader.slice(e));
				}
				external.set(key, value);
				break;
			}
			case tensorField.rawData:
			case tensorField.floatData:
			case tensorField.int32Data:
			case tensorField.int64Data:
			case tensorField.doubleData:
			case tensorField.uint64Data:
			case tensorField.stringData:
				dataFields.push(f);
				break;
			default: break;
		}
	});
	dims.forEach((d) => checkDim(source, d, `initializer '${name}'`));
	const count = numel(dims);
	const dtype = onnxDataTypes[dataType];
	const what = `initializer '${name}' (${dataTypeName(dataType)} [${dims.join(', ')}])`;
	let storage: TensorStorage;
	if (dataLocation === 1) {
		const location = external.get('location');
		const offset = Number(external.get('offset') ?? '0');
		const bytes = dtype ? count * dtypeBytes[dtype] : Number.NaN;
		const length = external.has('length') ? Number(external.get('length')) : bytes;
		if (!location || !Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
			corrupt(source, `${what} has external data without a valid location/offset/length`);
		}
		if (dtype && length !== bytes) {
			corrupt(source, `${what} needs ${bytes} bytes but its external data has ${length}`);
		}
		storage = { kind: 'external', location, offset, length };
	} else if (dataFields.length === 0) {
		storage = { kind: 'empty' };
		if (count !== 0 && dtype) {
			corrupt(source, `${what} has no data`);
		}
	} else if (dataFields.length === 1 && dataFields[0].field === tensorField.rawData) {
		const f = dataFields[0];
		if (dtype && f.end - f.start !== count * dtypeBytes[dtype]) {
			corrupt(source, `${what} needs ${count * dtypeBytes[dtype]} bytes but raw_data has ${f.end - f.start}`);
		}
		storage = { kind: 'raw', offset: f.start, length: f.end - f.start };
	} else {
		const field = dataFields[0].field;
		if (dataFields.some((f) => f.field !== field)) {
			corrupt(source, `${what} has its data in several different fields`);
		}
		const single = dataFields.length === 1 && dataFields[0].wire === wireLen;
		const f = dataFields[0];
		if (single && field === tensorField.floatData && dtype === 'float32') {
			if (f.end - f.start !== count * 4) {
				corrupt(source, `${what} needs ${count} floats but float_data has ${(f.end - f.start) / 4}`);
			}
			storage = { kind: 'packed', offset: f.start, length: f.end - f.start, elementType: 'float32' };
		} else if (single && field === tensorField.doubleData && dtype === 'float64') {
			if (f.end - f.start !== count * 8) {
				corrupt(source, `${what} needs ${count} doubles but double_data has ${(f.end - f.start) / 8}`);
			}
			storage = { kind: 'packed', offset: f.start, length: f.end - f.start, elementType: 'float64' };
		} else {
			// Every element takes at least one byte on the wire: bounds what a load may allocate.
			const payload = dataFields.reduce((n, d) => n + (d.end - d.keyStart), 0);
			if (count > payload) {
				corrupt(source, `${what} has ${count} elements but only ${payload} bytes of data`);
			}
			storage = { kind: 'fields', field };
		}
	}
	return { name, dims, dataType, docString, keyStart: ref.keyStart, start: ref.start, end: ref.end, storage };
}

async function readString(win: WindowedSource, f: FieldRef): Promise<string> {
	const reader = await win.bytes(f.start, f.end);
	return decodeString(reader.bytes.subarray(reader.pos, reader.end));
}

/**
 * Parses ModelProto → GraphProto from `source` without loading tensor payloads.
 * Throws ModelFormatError ('truncated', 'corrupt', 'bad-magic' when there is no graph at all).
 */
export async function parseOnnxModel(source: ByteSource): Promise<OnnxModel> {
	const win = new WindowedSource(source);
	let irVersion = 0;
	let producer = '';
	let opsetVersion: number | undefined;
	let graph: FieldRef | undefined;
	await win.scan(0, source.length, async (f) => {
		switch (f.field) {
			case 1: if (f.wire === wireVarint) irVersion = f.value; break;
			case 2: if (f.wire === wireLen) producer = await readString(win, f); break;
			case 7:
				if (f.wire !== wireLen || graph !== undefined) {
					corrupt(source, 'ModelProto has a malformed or second graph');
				}
				graph = f;
				break;
			case 8: {
				if (f.wire !== wireLen) break;
				const reader = await win.bytes(f.start, f.end);
				let domain = '';
				let version: number | undefined;
				for (let e = reader.next(); e; e = reader.next()) {
					if (e.field === 1 && e.wire === wireLen) domain = decodeString(reader.slice(e));
					if (e.field === 2 && e.wire === wireVarint) version = e.value;
				}
				if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
				break;
			}
			default: break;
		}
	});
	if (graph === undefined) {
		throw new ModelFormatError('bad-magic', `${source.name}: has no ONNX graph (not an ONNX model).`);
	}
	const g: FieldRef = graph;
	const nodes: OnnxNode[] = [];
	const initializers: OnnxTensorInfo[] = [];
	const inputs: OnnxValueInfo[] = [];
	const outputs: OnnxValueInfo[] = [];
	const valueInfo: OnnxValueInfo[] = [];
	let sparseInitializers = 0;
	await win.scan(g.start, g.end, async (f) => {
		if (f.wire !== wireLen) {
			return;
		}
		switch (f.field) {
			case 1: nodes.push(decodeNode(await win.bytes(f.start, f.end), source)); break;
			case 5: initializers.push(await scanTensor(win, f)); break;
			case 11: inputs.push(decodeValueInfo(await win.bytes(f.start, f.end))); break;
			case 12: outputs.push(decodeValueInfo(await win.bytes(f.start, f.end))); break;
			case 13: valueInfo.push(decodeValueInfo(await win.bytes(f.start, f.end))); break;
			case 15: sparseInitializers++; break;
			default: break;
		}
	});
	return { irVersion, producer, opsetVersion, graphKeyStart: g.keyStart, graphStart: g.start, graphEnd: g.end, nodes, initializers, inputs, outputs, valueInfo, sparseInitializers };
}
