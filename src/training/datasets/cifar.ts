import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './errors';
import type { LabelledImages } from './types';

/** One CIFAR-10 binary record: a label byte, then 3×32×32 pixel bytes (R, G, B planes). */
const recordBytes = 1 + 3 * 32 * 32;

/** Parses CIFAR-10 binary batches (data_batch_N.bin / test_batch.bin) into 3×32×32 images scaled by 1/255. */
export function parseCifar10(buffers: readonly Uint8Array[], name = 'CIFAR-10'): LabelledImages {
	let count = 0;
	for (const b of buffers) {
		if (b.length % recordBytes !== 0) {
			throw new DatasetError(`${name}: a batch file has ${b.length} bytes, not a multiple of the ${recordBytes}-byte CIFAR-10 record.`);
		}
		count += b.length / recordBytes;
	}
	const size = recordBytes - 1;
	const x = new Float32Array(count * size);
	const y = new Int32Array(count);
	let i = 0;
	for (const b of buffers) {
		for (let off = 0; off < b.length; off += recordBytes, i++) {
			const label = b[off];
			if (label > 9) {
				throw new DatasetError(`${name}: record ${i} has label ${label}; CIFAR-10 labels are 0..9 (is this CIFAR-100?).`);
			}
			y[i] = label;
			const base = i * size;
			for (let p = 0; p < size; p++) x[base + p] = b[off + 1 + p] / 255;
		}
	}
	return { x, y, count, shape: [3, 32, 32] };
}

/** Reads `dir`/data_batch_*.bin (training) and `dir`/test_batch.bin (held-out). */
export async function loadCifar10(dir: string): Promise<{ train: LabelledImages; test: LabelledImages }> {
	let files: string[];
	try {
		files = await readdir(dir);
	} catch (ex) {
		throw new DatasetError(`${dir}: cannot list the CIFAR-10 folder (${(ex as Error).message}).`);
	}
	const trainFiles = files.filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
	if (trainFiles.length === 0 || !files.includes('test_batch.bin')) {
		throw new DatasetError(`${dir}: expected the CIFAR-10 binary version (data_batch_1.bin … data_batch_5.bin and test_batch.bin).`);
	}
	const train = parseCifar10(await Promise.all(trainFiles.map((f) => readFile(join(dir, f)))), dir);
	const test = parseCifar10([await readFile(join(dir, 'test_batch.bin'))], dir);
	return { train, test };
}
