import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors';
import type { LabelledImages } from './types';

/** Where Debian's python3-sklearn keeps the 8×8 digits (1797 images). */
export const defaultDigitsPath = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';

/**
 * scikit-learn's digits.csv(.gz): one image per line, 64 pixel values 0..16 (row-major 8×8)
 * then the label 0..9. Images become 1×8×8, scaled by 1/16 as `load_digits().images / 16`.
 */
export function parseDigitsCsv(text: string, name = 'digits.csv'): LabelledImages {
	const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
	const x = new Float32Array(lines.length * 64);
	const y = new Int32Array(lines.length);
	lines.forEach((line, row) => {
		const cells = line.split(',');
		if (cells.length !== 65) {
			throw new DatasetError(`${name}: line ${row + 1} has ${cells.length} values; the digits CSV has 64 pixels and a label.`);
		}
		for (let i = 0; i < 64; i++) {
			const v = Number(cells[i]);
			if (!(v >= 0 && v <= 16)) {
				throw new DatasetError(`${name}: line ${row + 1}, pixel ${i} is '${cells[i]}'; expected 0..16.`);
			}
			x[row * 64 + i] = v / 16;
		}
		const label = Number(cells[64]);
		if (!Number.isInteger(label) || label < 0 || label > 9) {
			throw new DatasetError(`${name}: line ${row + 1} has label '${cells[64]}'; expected 0..9.`);
		}
		y[row] = label;
	});
	return { x, y, count: lines.length, shape: [1, 8, 8] };
}

/** Reads digits.csv.gz (or an uncompressed digits.csv). */
export async function loadDigits(path = defaultDigitsPath): Promise<LabelledImages> {
	let bytes: Buffer;
	try {
		bytes = await readFile(path);
	} catch (ex) {
		const code = (ex as NodeJS.ErrnoException).code;
		throw new DatasetError(code === 'ENOENT'
			? `${path}: not found; the digits dataset ships with scikit-learn (apt install python3-sklearn) or give its path.`
			: `${path}: cannot be read (${(ex as Error).message}).`);
	}
	const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
	return parseDigitsCsv(text, path);
}
