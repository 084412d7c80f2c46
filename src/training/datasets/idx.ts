/**
 * IDX, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST: a folder of four files
 * (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte), plain or gzipped. The t10k files are the official test set, so they
 * are the held-out split.
 *
 * A file is `00 00 08 <rank>`, then `rank` big-endian uint32 dimensions, then exactly
 * prod(dims) unsigned bytes. Files are streamed (and gunzipped) into one Uint8Array of the size
 * the header announces; the images stay bytes (Fashion-MNIST: 47 MB rather than 188 MB of
 * floats in every training worker) and become floats one batch at a time (batch.ts).
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './errors';
import type { LabelledImages } from './types';

/** Where Debian's dataset-fashion-mnist puts the four gzipped IDX files. */
export const defaultFashionMnistDir = '/usr/share/datasets/fashion-mnist';

export type IdxRole = 'train-images' | 'train-labels' | 't10k-images' | 't10k-labels';
export const idxRoles: readonly IdxRole[] = ['train-images', 'train-labels', 't10k-images', 't10k-labels'];

/**
 * The official names, with any prefix (EMNIST: `emnist-letters-train-images-idx3-ubyte.gz`),
 * the dotted spelling of some MNIST mirrors (`train-images.idx3-ubyte`) and `test-` for `t10k-`.
 */
const idxName = /(?:^|[-_.])(train|t10k|test)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$/;

const rankOf = (role: IdxRole): 1 | 3 => (role.endsWith('images') ? 3 : 1);
const fileName = (role: IdxRole): string => `${role}-idx${rankOf(role)}-ubyte[.gz]`;

/**
 * The four IDX files of `dir` by role; undefined when it holds none (or is no folder). A folder
 * with some but not all four, or with two files for one role, is a DatasetError naming them.
 */
export function findIdxFiles(dir: string): Record<IdxRole, string> | undefined {
	let names: string[];
	try {
		names = readdirSync(dir).sort();
	} catch {
		return undefined;
	}
	const found = new Map<IdxRole, string[]>();
	for (const name of names) {
		const m = idxName.exec(name);
		if (!m) continue;
		const role = `${m[1] === 'train' ? 'train' : 't10k'}-${m[2]}` as IdxRole;
		if (Number(m[3]) !== rankOf(role) || !isFile(join(dir, name))) continue;
		found.set(role, [...(found.get(role) ?? []), name]);
	}
	if (found.size === 0) return undefined;
	const missing = idxRoles.filter((r) => !found.has(r));
	if (missing.length > 0) {
		throw new DatasetError(`${dir}: an IDX dataset needs four files; ${missing.map(fileName).join(' and ')} ${missing.length === 1 ? 'is' : 'are'} missing.`);
	}
	for (const role of idxRoles) {
		const files = found.get(role)!;
		if (files.length > 1) throw new DatasetError(`${dir}: more than one ${role} file (${files.join(', ')}).`);
	}
	return Object.fromEntries(idxRoles.map((r) => [r, join(dir, found.get(r)![0])])) as Record<IdxRole, string>;
}

function isFile(path: string): boolean {
	try {
		return statSync(path).isFile();
	} catch {
		return false;
	}
}

/** An IDX array: its dimensions and its bytes (row-major). */
export interface IdxArray {
	readonly dims: readonly number[];
	readonly data: Uint8Array;
}

/** Checks the first 4 bytes of an IDX file: two zeros, the type 0x08 (unsigned byte), the rank. */
function checkMagic(header: Uint8Array, rank: 1 | 3, path: string): void {
	if (header.length < 4 || header[0] !== 0 || header[1] !== 0) {
		const shown = Array.from(header.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
		throw new DatasetError(`${path}: not an IDX file (wrong magic ${shown || '(empty)'}; an IDX file starts 00 00 08 0${rank}).`);
	}
	if (header[2] !== 0x08) {
		throw new DatasetError(`${path}: IDX data type 0x${header[2].toString(16).padStart(2, '0')}; image and label files hold unsigned bytes (0x08).`);
	}
	if (header[3] !== rank) {
		throw new DatasetError(`${path}: ${header[3]} dimensions in the IDX header; ${rank === 3 ? 'images (N × rows × columns) have 3' : 'labels (N) have 1'}.`);
	}
}

/** Checks a whole IDX header (4 + 4·rank bytes) and returns its dimensions. */
function parseHeader(header: Uint8Array, rank: 1 | 3, path: string): number[] {
	checkMagic(header, rank, path);
	if (header.length < 4 + 4 * rank) {
		throw new DatasetError(`${path}: the IDX header is cut short (${header.length} bytes).`);
	}
	const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
	return Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
}

const sizeMismatch = (path: string, dims: readonly number[], need: number, has: string): DatasetError =>
	new DatasetError(`${path}: the dimensions ${dims.join(' × ')} need ${need} bytes of data but the file has ${has}.`);

/**
 * Parses an IDX file held in memory (plain, not gzipped): the dimensions and a view of its data.
 * `readIdx` streams files instead; this one serves tests and callers that have the bytes.
 */
export function parseIdx(bytes: Uint8Array, rank: 1 | 3, path = 'IDX'): IdxArray {
	const dims = parseHeader(bytes.subarray(0, 4 + 4 * rank), rank, path);
	const need = dims.reduce((a, b) => a * b, 1);
	const has = bytes.length - (4 + 4 * rank);
	if (has !== need) throw sizeMismatch(path, dims, need, `${has}`);
	return { dims, data: bytes.subarray(4 + 4 * rank) };
}

/**
 * Reads one IDX file of unsigned bytes, plain or gzipped, streaming: the header first, then the
 * data straight into a buffer that grows only as bytes arrive (so a header that claims
 * gigabytes allocates nothing it does not receive). Every way the file can be wrong is one
 * DatasetError naming it: wrong magic, type or rank, data shorter or longer than the dimensions
 * say, a truncated or corrupt gzip.
 */
export async function readIdx(path: string, rank: 1 | 3): Promise<IdxArray> {
	let size: number;
	let gzipped: boolean;
	try {
		const handle = await open(path, 'r');
		try {
			size = (await handle.stat()).size;
			const magic = new Uint8Array(2);
			const { bytesRead } = await handle.read(magic, 0, 2, 0);
			gzipped = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
		} finally {
			await handle.close();
		}
	} catch (ex) {
		throw new DatasetError(`${path}: cannot be read (${(ex as Error).message}).`);
	}
	const headerLength = 4 + 4 * rank;
	const header = new Uint8Array(headerLength);
	let headerFill = 0;
	let dims: number[] | undefined;
	let need = 0;
	let data = new Uint8Array(0);
	let fill = 0;
	const source = createReadStream(path, { highWaterMark: 1 << 20 });
	const stream = gzipped ? pipeline(source, createGunzip(), () => undefined) : source;
	try {
		for await (const chunk of stream as AsyncIterable<Buffer>) {
			let offset = 0;
			if (!dims) {
				const take = Math.min(headerLength - headerFill, chunk.length);
				header.set(chunk.subarray(0, take), headerFill);
				headerFill += take;
				offset = take;
				if (headerFill < headerLength) continue;
				dims = parseHeader(header, rank, path);
				need = dims.reduce((a, b) => a * b, 1);
				if (!gzipped && size - headerLength !== need) throw sizeMismatch(path, dims, need, `${size - headerLength}`);
				data = new Uint8Array(Math.min(need, 1 << 26));
			}
			const rest = chunk.length - offset;
			if (fill + rest > need) {
				throw sizeMismatch(path, dims, need, gzipped ? `more once decompressed (at least ${fill + rest})` : `${fill + rest}`);
			}
			if (fill + rest > data.length) {
				const grown = new Uint8Array(Math.min(need, Math.max(fill + rest, data.length * 2)));
				grown.set(data.subarray(0, fill));
				data = grown;
			}
			data.set(chunk.subarray(offset), fill);
			fill += rest;
		}
	} catch (ex) {
		if (ex instanceof DatasetError) throw ex;
		const error = ex as NodeJS.ErrnoException;
		if (error.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(error.message)) {
			throw new DatasetError(`${path}: truncated gzip (the compressed data ends before its end marker).`);
		}
		if (typeof error.code === 'string' && error.code.startsWith('Z_')) {
			throw new DatasetError(`${path}: not a valid gzip file (${error.message}).`);
		}
		throw new DatasetError(`${path}: cannot be read (${error.message}).`);
	} finally {
		source.destroy();
	}
	if (!dims) {
		parseHeader(header.subarray(0, headerFill), rank, path);
		throw new DatasetError(`${path}: the IDX header is cut short (${headerFill} bytes).`); // not reached: parseHeader throws
	}
	if (fill !== need) throw sizeMismatch(path, dims, need, gzipped ? `${fill} once decompressed` : `${fill}`);
	return { dims, data: data.length === need ? data : data.subarray(0, need) };
}

/** The training images and the official test set of an IDX folder, 1×rows×columns bytes each. */
export async function loadIdx(dir: string): Promise<{ train: LabelledImages; test: LabelledImages }> {
	const files = findIdxFiles(dir);
	if (!files) {
		throw new DatasetError(existsSync(dir)
			? `${dir}: no IDX files (${idxRoles.map(fileName).join(', ')}).`
			: `${dir}: no such folder.`);
	}
	const train = await readPair(files['train-images'], files['train-labels']);
	const test = await readPair(files['t10k-images'], files['t10k-labels']);
	if (test.shape[1] !== train.shape[1] || test.shape[2] !== train.shape[2]) {
		throw new DatasetError(`${files['t10k-images']}: ${test.shape[1]}×${test.shape[2]} images, but the training images are ${train.shape[1]}×${train.shape[2]}.`);
	}
	return { train, test };
}

async function readPair(imagesPath: string, labelsPath: string): Promise<LabelledImages> {
	const images = await readIdx(imagesPath, 3);
	const labels = await readIdx(labelsPath, 1);
	const [count, rows, columns] = images.dims;
	if (labels.dims[0] !== count) {
		throw new DatasetError(`${labelsPath}: ${labels.dims[0]} labels for the ${count} images of ${basename(imagesPath)}.`);
	}
	if (count === 0 || rows === 0 || columns === 0) {
		throw new DatasetError(`${imagesPath}: holds no images (${images.dims.join(' × ')}).`);
	}
	return { x: images.data, y: Int32Array.from(labels.data), count, shape: [1, rows, columns] };
}
