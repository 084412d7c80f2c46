/** Writes IDX files (MNIST's format) for the dataset tests: real headers, deterministic pixels. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** `00 00 08 rank`, the dimensions as big-endian uint32, then the bytes. */
export function idxBytes(dims: readonly number[], data: ArrayLike<number>): Buffer {
	const header = Buffer.alloc(4 + 4 * dims.length);
	header[2] = 0x08;
	header[3] = dims.length;
	dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
	return Buffer.concat([header, Buffer.from(Uint8Array.from(data))]);
}

/** `count` images of rows×columns: pixel (i, p) = (7·i + p) mod 256; label i = i mod 10. */
export function idxImages(count: number, rows: number, columns: number): { images: Buffer; labels: Buffer } {
	const size = rows * columns;
	return {
		images: idxBytes([count, rows, columns], Array.from({ length: count * size }, (_, k) => (7 * Math.floor(k / size) + (k % size)) % 256)),
		labels: idxBytes([count], Array.from({ length: count }, (_, i) => i % 10)),
	};
}

export interface IdxFolderOptions {
	readonly gzip?: boolean;
	readonly train?: number;
	readonly test?: number;
	readonly rows?: number;
	readonly columns?: number;
	/** Replaces one file's bytes (before gzip), by role: 'train-images', 't10k-labels', ... */
	readonly replace?: Readonly<Record<string, Buffer>>;
}

/** A folder with the four official files (train-images-idx3-ubyte[.gz], …); returns the file paths by role. */
export function writeIdxFolder(dir: string, options: IdxFolderOptions = {}): Record<string, string> {
	mkdirSync(dir, { recursive: true });
	const rows = options.rows ?? 4;
	const columns = options.columns ?? 3;
	const train = idxImages(options.train ?? 30, rows, columns);
	const test = idxImages(options.test ?? 10, rows, columns);
	const files: Record<string, Buffer> = {
		'train-images': train.images, 'train-labels': train.labels, 't10k-images': test.images, 't10k-labels': test.labels,
	};
	const paths: Record<string, string> = {};
	for (const [role, bytes] of Object.entries(files)) {
		const name = `${role}-idx${role.endsWith('images') ? 3 : 1}-ubyte${options.gzip ? '.gz' : ''}`;
		const content = options.replace?.[role] ?? bytes;
		paths[role] = join(dir, name);
		writeFileSync(paths[role], options.gzip ? gzipSync(content) : content);
	}
	return paths;
}
