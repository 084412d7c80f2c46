import { UsageError } from '../../core/errors';
import { stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { endianness } from 'node:os';
import type { DType, ModelGraph, TensorRef } from '../../core/model';
import { numel } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { encodeFromFloat32, floatDTypes } from '../dtype';

/** Options every writer takes. */
export interface WriteOptions {
	/** Allows replacing an existing output file (never the input). */
	force?: boolean;
	/** The input file's path when `source.name` is only a display name (refused as an output). */
	inputPath?: string;
}


/**
 * Checks `updates` against the graph: every name is a tensor of it, holds a floating-point
 * dtype and gets exactly numel values. Returns the tensors by name.
 */
export function checkUpdates(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>): Map<string, TensorRef> {
	const byName = new Map<string, TensorRef>(graph.tensors.map((t) => [t.name, t]));
	const found = new Map<string, TensorRef>();
	for (const [name, values] of updates) {
		const tensor = byName.get(name);
		if (!tensor) {
			throw new Error(`${source.name}: has no tensor named '${name}' to update.`);
		}
		if (values.length !== numel(tensor.shape)) {
			throw new Error(`${source.name}: tensor '${name}' has ${numel(tensor.shape)} elements but ${values.length} values were given.`);
		}
		if (!floatDTypes.has(tensor.dtype) && !(tensor.dtype === 'int8' && values.every(Number.isInteger))) {
			throw new Error(`${source.name}: tensor '${name}' is ${tensor.dtype}; only floating-point tensors (and int8 weights given integers) can be updated.`);
		}
		found.set(name, tensor);
	}
	return found;
}

/**
 * Little-endian bytes of `values` in `dtype` (float32 on a little-endian host: a view, no copy).
 * `original` (the old bytes, same order) lets float64 tensors keep their unchanged values exactly.
 */
export function encodeValues(values: Float32Array, dtype: DType, original?: Uint8Array): Uint8Array {
	if (dtype === 'float32' && endianness() === 'LE') {
		return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
	}
	return encodeFromFloat32(values, dtype, original);
}

const copyChunkBytes = 8 * 1024 * 1024;

/** Appends bytes to a file handle at a running position; copies ranges of a source in chunks. */
export class SequentialWriter {
	position = 0;
	private chunk: Uint8Array | undefined;

	constructor(private readonly handle: FileHandle) {}

	async bytes(bytes: Uint8Array): Promise<void> {
		let done = 0;
		while (done < bytes.length) {
			const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position + done);
			done += bytesWritten;
		}
		this.position += bytes.length;
	}

	/** Copies `length` bytes of `source` from `offset`, 8 MiB at a time. */
	async copy(source: ByteSource | { readInto(offset: number, target: Uint8Array): Promise<void> }, offset: number, length: number): Promise<void> {
		this.chunk ??= new Uint8Array(copyChunkBytes);
		for (let done = 0; done < length;) {
			const take = Math.min(this.chunk.length, length - done);
			const part = this.chunk.subarray(0, take);
			await source.readInto(offset + done, part);
			await this.bytes(part);
			done += take;
		}
	}
}

/** Writes `source` to `out` byte for byte, with `patches` (sorted by offset, disjoint) in place of the old bytes. */
export async function copyWithPatches(source: ByteSource, patches: readonly { readonly offset: number; readonly bytes: Uint8Array }[], out: { bytes(bytes: Uint8Array): Promise<void>; copy(source: ByteSource, offset: number, length: number): Promise<void> }): Promise<void> {
	let position = 0;
	for (const patch of patches) {
		await out.copy(source, position, patch.offset - position);
		await out.bytes(patch.bytes);
		position = patch.offset + patch.bytes.length;
	}
	await out.copy(source, position, source.length - position);
}

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
	try {
		return await stat(path);
	} catch {
		return undefined;
	}
}

/**
 * Refuses, before anything is written, an output that is the input file itself (writers that
 * write several files check this first, so that no companion file is left behind).
 */
export async function refuseInputAsOutput(outPath: string, inputPath: string): Promise<void> {
	const out = resolve(outPath);
	const input = resolve(inputPath);
	const [a, b] = await Promise.all([statOrUndefined(out), statOrUndefined(input)]);
	if (out === input || (a && b && a.dev === b.dev && a.ino === b.ino)) {
		throw new UsageError(`Refusing to write over the input file ${outPath}; choose another output path.`);
	}
}

/** True when something exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
	return (await statOrUndefined(path)) !== undefined;
}
