import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { ModelFormatError } from '../core/errors';

/** Random access to a model file's bytes; readers never load a whole file at once. */
export interface ByteSource {
	/** The path or name used in messages. */
	readonly name: string;
	readonly length: number;
	/** Reads exactly `length` bytes at `offset` into a new buffer; past EOF is 'truncated'. */
	read(offset: number, length: number): Promise<Uint8Array>;
	/** Fills `target` exactly from `offset` (lets callers reuse one large buffer). */
	readInto(offset: number, target: Uint8Array): Promise<void>;
	/**
	 * Opens another file of the same model (TF.js weight shards), resolved against this file's
	 * folder; a path that leaves that folder is refused.
	 */
	openSibling(relativePath: string): Promise<ByteSource>;
	close(): Promise<void>;
}

function checkRange(name: string, size: number, offset: number, length: number): void {
	if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
		throw new ModelFormatError('truncated', `${name}: needs bytes ${offset}..${offset + length} but the file has ${size} bytes (truncated or corrupt).`);
	}
}

const readChunkBytes = 8 * 1024 * 1024;

class FileSource implements ByteSource {
	private closed = false;

	constructor(readonly name: string, readonly length: number, private readonly path: string, private readonly handle: FileHandle) {}

	async read(offset: number, length: number): Promise<Uint8Array> {
		checkRange(this.name, this.length, offset, length);
		const target = new Uint8Array(length);
		await this.readInto(offset, target);
		return target;
	}

	async readInto(offset: number, target: Uint8Array): Promise<void> {
		checkRange(this.name, this.length, offset, target.length);
		// 8 MiB pieces, all asked for at once: the thread pool copies them in parallel and goes on
		// while JavaScript is busy (a chain of reads would wait for the event loop between pieces),
		// and each page-cache copy stays in the CPU caches (one 90 MB read took 2.5× as long here
		// as the same bytes in 8 MiB reads, bench/large_model.mjs).
		const pieces: Promise<void>[] = [];
		for (let start = 0; start < target.length; start += readChunkBytes) {
			pieces.push(this.readPiece(offset + start, target.subarray(start, Math.min(target.length, start + readChunkBytes))));
		}
		// Every piece settles before an error is thrown: none may write into `target` afterwards.
		const failed = (await Promise.allSettled(pieces)).find((p): p is PromiseRejectedResult => p.status === 'rejected');
		if (failed) {
			throw failed.reason;
		}
	}

	private async readPiece(offset: number, target: Uint8Array): Promise<void> {
		let done = 0;
		while (done < target.length) {
			const { bytesRead } = await this.handle.read(target, done, target.length - done, offset + done);
			if (bytesRead === 0) {
				throw new ModelFormatError('truncated', `${this.name}: the file ended while reading (it changed on disk?).`);
			}
			done += bytesRead;
		}
	}

	async openSibling(relativePath: string): Promise<ByteSource> {
		const folder = dirname(this.path);
		const target = resolve(folder, relativePath);
		if (!target.startsWith(folder + sep)) {
			throw new ModelFormatError('corrupt', `${this.name}: refers to '${relativePath}', which is outside the model's folder.`);
		}
		return openFileSource(target, `${dirname(this.name) === '.' ? '' : dirname(this.name) + '/'}${relativePath}`);
	}

	async close(): Promise<void> {
		if (!this.closed) {
			this.closed = true;
			await this.handle.close();
		}
	}
}

/** Opens a file for random access. Missing or unreadable files are ModelFormatErrors. */
export async function openFileSource(path: string, displayName: string = path): Promise<ByteSource> {
	let handle: FileHandle;
	try {
		const info = await stat(path);
		if (info.isDirectory()) {
			throw new ModelFormatError('unreadable', `${displayName}: is a folder, not a model file.`);
		}
		handle = await open(path, 'r');
	} catch (ex) {
		if (ModelFormatError.is(ex)) {
			throw ex;
		}
		const code = (ex as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') {
			throw new ModelFormatError('not-found', `${displayName}: no such file.`);
		}
		throw new ModelFormatError('unreadable', `${displayName}: cannot be opened (${code ?? String(ex)}).`);
	}
	try {
		const { size } = await handle.stat();
		return new FileSource(displayName, size, resolve(path), handle);
	} catch (ex) {
		await handle.close();
		throw new ModelFormatError('unreadable', `${displayName}: cannot be read (${(ex as NodeJS.ErrnoException).code ?? String(ex)}).`);
	}
}

/** A ByteSource over bytes in memory (tests, the webview host's previews). */
export function bufferSource(bytes: Uint8Array, name: string, siblings: Record<string, Uint8Array> = {}): ByteSource {
	return {
		name,
		length: bytes.length,
		async read(offset, length) {
			checkRange(name, bytes.length, offset, length);
			return bytes.slice(offset, offset + length);
		},
		async readInto(offset, target) {
			checkRange(name, bytes.length, offset, target.length);
			target.set(bytes.subarray(offset, offset + target.length));
		},
		async openSibling(relativePath) {
			const sibling = siblings[relativePath];
			if (!sibling) {
				throw new ModelFormatError('not-found', `${name}: refers to '${relativePath}', which does not exist.`);
			}
			return bufferSource(sibling, relativePath);
		},
		async close() {},
	};
}

/**
 * The bytes `offset .. offset + length` of `parent` as a ByteSource of their own (a stored zip
 * entry read in place). Closing it leaves `parent` open.
 */
export function windowSource(parent: ByteSource, offset: number, length: number, name: string): ByteSource {
	checkRange(parent.name, parent.length, offset, length);
	return {
		name,
		length,
		async read(at, count) {
			checkRange(name, length, at, count);
			return parent.read(offset + at, count);
		},
		async readInto(at, target) {
			checkRange(name, length, at, target.length);
			return parent.readInto(offset + at, target);
		},
		openSibling: (relativePath) => parent.openSibling(relativePath),
		async close() {},
	};
}
