import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../core/errors';

export interface AtomicWriteOptions {
	/** Allows replacing an existing file (never the input). */
	force?: boolean;
	/** The file the data was read from: writing over it is always refused. */
	inputPath?: string;
}

/**
 * The refusals of writeFileAtomic, available before long work starts: the input file (also
 * through another path or a link) and an existing file without `force`. Returns the resolved path.
 */
export async function checkOutputPath(outPath: string, options: AtomicWriteOptions = {}): Promise<string> {
	const target = resolve(outPath);
	const existing = await statOrUndefined(target);
	if (options.inputPath !== undefined) {
		const input = resolve(options.inputPath);
		const inputInfo = await statOrUndefined(input);
		const sameFile = input === target || (existing !== undefined && inputInfo !== undefined && existing.dev === inputInfo.dev && existing.ino === inputInfo.ino);
		if (sameFile) {
			throw new UsageError(`Refusing to write over the input file ${outPath}; choose another output path.`);
		}
	}
	if (existing?.isDirectory()) {
		throw new UsageError(`Cannot write ${outPath}: it is a folder.`);
	}
	if (existing && !options.force) {
		throw new UsageError(`Refusing to overwrite ${outPath}, which already exists; choose another output path or allow overwriting.`);
	}
	return target;
}

/**
 * Writes a file atomically: `write` fills a temp file in the same folder (`.<name>.<random>.tmp`),
 * which is fsynced and then moved to `outPath`. Refuses `outPath` when it is the input file, or
 * an existing file unless `force`. On failure the temp file is removed and `outPath` is untouched.
 */
export async function writeFileAtomic(outPath: string, write: (handle: FileHandle) => Promise<void>, options: AtomicWriteOptions = {}): Promise<void> {
	const target = await checkOutputPath(outPath, options);
	const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
	let handle: FileHandle | undefined;
	try {
		handle = await open(temp, 'wx');
		await write(handle);
		await handle.sync();
		await handle.close();
		handle = undefined;
		if (options.force) {
			await rename(temp, target);
		} else {
			await moveNoClobber(temp, target, outPath);
		}
	} catch (ex) {
		await handle?.close().catch(() => undefined);
		await unlink(temp).catch(() => undefined);
		throw ex;
	}
	await syncFolder(dirname(target));
}

/** rename() replaces silently; link() fails if a file appeared meanwhile, so nothing is lost. */
async function moveNoClobber(temp: string, target: string, shownPath: string): Promise<void> {
	try {
		await link(temp, target);
	} catch (ex) {
		const code = (ex as NodeJS.ErrnoException).code;
		if (code === 'EEXIST') {
			throw new Error(`Refusing to overwrite ${shownPath}, which appeared while it was being written.`);
		}
		// File systems without hard links (FAT, some network mounts): check again, then rename.
		if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EXDEV') {
			if (await statOrUndefined(target)) {
				throw new Error(`Refusing to overwrite ${shownPath}, which appeared while it was being written.`, { cause: ex });
			}
			await rename(temp, target);
			return;
		}
		throw ex;
	}
	await unlink(temp);
}

/** Makes the rename durable; folders cannot be opened for sync on every platform, so best effort. */
async function syncFolder(folder: string): Promise<void> {
	let handle: FileHandle | undefined;
	try {
		handle = await open(folder, 'r');
		await handle.sync();
	} catch {
		// Windows and some file systems refuse fsync on a folder.
	} finally {
		await handle?.close().catch(() => undefined);
	}
}

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
	try {
		return await stat(path);
	} catch (ex) {
		if ((ex as NodeJS.ErrnoException).code === 'ENOENT') {
			return undefined;
		}
		throw ex;
	}
}
