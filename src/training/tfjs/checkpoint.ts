/**
 * The tfjs engine's checkpoint: one small file per job, rewritten atomically after every epoch
 * (src/formats/atomicWrite.ts), so a cancel or a crash leaves the last complete epoch.
 *
 *   "CLTFCKP1" | u32 LE header length | header JSON (UTF-8) | zero padding to 8 | arrays, each 8-aligned
 *
 * The header holds the pipeline state and, per array, its key, dtype, element count and offset
 * (from the start of the array section).
 */

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../formats/atomicWrite';

const magic = 'CLTFCKP1';

export type CheckpointArray = Float32Array | Uint8Array;

export interface CheckpointData<State> {
	/** Identifies the job the checkpoint belongs to (a resume with another job is refused). */
	readonly fingerprint: string;
	readonly state: State;
	readonly arrays: ReadonlyMap<string, CheckpointArray>;
}

interface ArrayEntry {
	readonly key: string;
	readonly dtype: 'float32' | 'uint8';
	readonly length: number;
	readonly offset: number;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Serializes a checkpoint (exported for tests). */
export function encodeCheckpoint<State>(data: CheckpointData<State>): Uint8Array[] {
	const entries: ArrayEntry[] = [];
	let offset = 0;
	for (const [key, array] of data.arrays) {
		entries.push({ key, dtype: array instanceof Float32Array ? 'float32' : 'uint8', length: array.length, offset });
		offset = align8(offset + array.byteLength);
	}
	const header = new TextEncoder().encode(JSON.stringify({ format: 'crossbar-lens/tfjs-checkpoint', version: 1, fingerprint: data.fingerprint, state: data.state, arrays: entries }));
	const prefix = new Uint8Array(align8(12 + header.length));
	prefix.set(new TextEncoder().encode(magic), 0);
	new DataView(prefix.buffer).setUint32(8, header.length, true);
	prefix.set(header, 12);
	const chunks: Uint8Array[] = [prefix];
	for (const [, array] of data.arrays) {
		chunks.push(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
		const pad = align8(array.byteLength) - array.byteLength;
		if (pad) chunks.push(new Uint8Array(pad));
	}
	return chunks;
}

/** Parses a checkpoint; a file that is not one (or is cut short) throws with the path in the message. */
export function decodeCheckpoint<State>(bytes: Uint8Array, name: string): CheckpointData<State> {
	const bad = (why: string) => new Error(`${name}: not a usable tfjs-engine checkpoint (${why}).`);
	if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== magic) {
		throw bad('wrong magic');
	}
	const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
	if (12 + headerLength > bytes.length) {
		throw bad('truncated header');
	}
	let header: { version: number; fingerprint: string; state: State; arrays: ArrayEntry[] };
	try {
		header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
	} catch {
		throw bad('corrupt header');
	}
	if (header.version !== 1) {
		throw bad(`version ${header.version}`);
	}
	const base = align8(12 + headerLength);
	const arrays = new Map<string, CheckpointArray>();
	for (const entry of header.arrays) {
		const size = entry.dtype === 'float32' ? 4 : 1;
		const start = base + entry.offset;
		if (start + entry.length * size > bytes.length) {
			throw bad(`array '${entry.key}' is cut short`);
		}
		const copy = bytes.slice(start, start + entry.length * size);
		arrays.set(entry.key, entry.dtype === 'float32' ? new Float32Array(copy.buffer, 0, entry.length) : copy);
	}
	return { fingerprint: header.fingerprint, state: header.state, arrays };
}

/** Writes the checkpoint atomically, replacing the previous one. */
export async function writeCheckpoint<State>(path: string, data: CheckpointData<State>): Promise<void> {
	const chunks = encodeCheckpoint(data);
	await writeFileAtomic(path, async (handle) => {
		for (const chunk of chunks) {
			let done = 0;
			while (done < chunk.length) {
				const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
				done += bytesWritten;
			}
		}
	}, { force: true });
}

/** Reads a checkpoint; undefined when there is none at `path`. */
export async function readCheckpoint<State>(path: string): Promise<CheckpointData<State> | undefined> {
	let bytes: Buffer;
	try {
		bytes = await readFile(path);
	} catch (ex) {
		if ((ex as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw ex;
	}
	return decodeCheckpoint<State>(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
