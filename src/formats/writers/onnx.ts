import { UsageError } from '../../core/errors';
import { basename, dirname, join, resolve } from 'node:path';
import type { DType, ModelGraph } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { concatBytes } from '../../core/bytes';
import { encodeKey, encodeLenPrefix, encodeVarint, wireVarint } from '../onnx/protobuf';
import { onnxDataTypes, parseOnnxModel, tensorField } from '../onnx/schema';
import type { OnnxTensorInfo } from '../onnx/schema';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates, encodeValues, pathExists, refuseInputAsOutput } from './common';

type Readable = { readInto(offset: number, target: Uint8Array): Promise<void> };
type Piece = { readonly from: Readable; readonly offset: number; readonly length: number } | { readonly bytes: Uint8Array; readonly length: number };

const utf8 = new TextEncoder();

function bytesPiece(bytes: Uint8Array): Piece {
	return { bytes, length: bytes.length };
}

function lenField(field: number, payload: Uint8Array): Uint8Array {
	return concatBytes([encodeLenPrefix(field, payload.length), payload]);
}

/** TensorProto name, dims, data_type and doc_string: everything but the data. */
function tensorHeader(info: OnnxTensorInfo): Uint8Array {
	const parts: Uint8Array[] = [];
	for (const d of info.dims) {
		parts.push(encodeKey(tensorField.dims, wireVarint), encodeVarint(d));
	}
	parts.push(encodeKey(tensorField.dataType, wireVarint), encodeVarint(info.dataType));
	parts.push(lenField(tensorField.name, utf8.encode(info.name)));
	if (info.docString !== undefined) {
		parts.push(lenField(tensorField.docString, utf8.encode(info.docString)));
	}
	return concatBytes(parts);
}

function externalFields(location: string, offset: number, length: number): Uint8Array {
	const entry = (key: string, value: string): Uint8Array => lenField(tensorField.externalData, concatBytes([lenField(1, utf8.encode(key)), lenField(2, utf8.encode(value))]));
	return concatBytes([
		entry('location', location), entry('offset', String(offset)), entry('length', String(length)),
		encodeKey(tensorField.dataLocation, wireVarint), encodeVarint(1),
	]);
}

async function writePieces(out: SequentialWriter, pieces: readonly Piece[]): Promise<void> {
	for (const piece of pieces) {
		if ('bytes' in piece) {
			await out.bytes(piece.bytes);
		} else {
			await out.copy(piece.from, piece.offset, piece.length);
		}
	}
}

/**
 * Writes an ONNX model with some initializers replaced. The file is copied field by field: only
 * the updated initializers' TensorProtos are re-encoded (same name, dims and data type, the
 * values as raw_data) and the graph's length prefix is adjusted. A model with external data
 * gets a new data file `<outPath name>.data` next to it holding every external tensor (updated
 * ones replaced), so the output never points into the input's data file.
 */
export async function writeOnnx(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	if (graph.format !== 'onnx') {
		throw new Error(`${source.name}: writeOnnx needs a graph read by the ONNX reader, not ${graph.format}.`);
	}
	checkUpdates(source, graph, updates);
	const model = await parseOnnxModel(source);
	const target = resolve(outPath);
	const inputPath = resolve(options.inputPath ?? source.name);
	await refuseInputAsOutput(target, inputPath);
	const dataName = `${basename(target)}.data`;
	const dataPath = join(dirname(target), dataName);
	const siblings = new Map<string, ByteSource>();
	try {
		const graphPieces: Piece[] = [];
		const dataPieces: Piece[] = [];
		let dataLength = 0;
		let cursor = model.graphStart;
		for (const info of [...model.initializers].sort((a, b) => a.keyStart - b.keyStart)) {
			const values = updates.get(info.name);
			const storage = info.storage;
			if (!values && storage.kind !== 'external') {
				continue;
			}
			graphPieces.push({ from: source, offset: cursor, length: info.keyStart - cursor });
			cursor = info.end;
			const dtype = onnxDataTypes[info.dataType] as DType | undefined;
			let payload: Piece;
			if (values) {
				payload = bytesPiece(encodeValues(values, dtype!));
			} else if (storage.kind === 'external') {
				let file = siblings.get(storage.location);
				if (!file) {
					file = await source.openSibling(storage.location);
					siblings.set(storage.location, file);
				}
				payload = { from: file, offset: storage.offset, length: storage.length };
			} else {
				continue;
			}
			const header = tensorHeader(info);
			if (storage.kind === 'external') {
				const tensor = concatBytes([header, externalFields(dataName, dataLength, payload.length)]);
				graphPieces.push(bytesPiece(lenField(5, tensor)));
				dataPieces.push(payload);
				dataLength += payload.length;
			} else {
				const rawPrefix = encodeLenPrefix(tensorField.rawData, payload.length);
				const prefix = concatBytes([encodeLenPrefix(5, header.length + rawPrefix.length + payload.length), header, rawPrefix]);
				graphPieces.push(bytesPiece(prefix), payload);
			}
		}
		graphPieces.push({ from: source, offset: cursor, length: model.graphEnd - cursor });
		const graphLength = graphPieces.reduce((n, p) => n + p.length, 0);
		const filePieces: Piece[] = [
			{ from: source, offset: 0, length: model.graphKeyStart },
			bytesPiece(encodeLenPrefix(7, graphLength)),
			...graphPieces,
			{ from: source, offset: model.graphEnd, length: source.length - model.graphEnd },
		];

		if (dataPieces.length > 0) {
			const inputData = new Set([...siblings.keys()].map((l) => resolve(dirname(inputPath), l)));
			if (inputData.has(dataPath) || dataPath === inputPath) {
				throw new UsageError(`Refusing to write ${dataPath}: it is a file of the input model; choose another output name.`);
			}
			if (!options.force && (await pathExists(target))) {
				throw new UsageError(`Refusing to overwrite ${outPath}, which already exists; choose another output path or allow overwriting.`);
			}
			await writeFileAtomic(dataPath, (handle) => writePieces(new SequentialWriter(handle), dataPieces), { force: options.force, inputPath });
		}
		await writeFileAtomic(target, (handle) => writePieces(new SequentialWriter(handle), filePieces), { force: options.force, inputPath });
	} finally {
		await Promise.all([...siblings.values()].map((s) => s.close()));
	}
}
