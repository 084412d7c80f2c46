import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countColumnNonZeros, countHalfNonZeros } from '../../../src/hardware/columnCounts';
import { decodeToFloat32 } from '../../../src/formats/dtype';
import { rng } from '../../helpers/graphs';

/** Random half-precision bits: zeros of both signs, subnormals, normals, ±∞ and (when asked) NaNs. */
function randomHalves(count: number, seed: number, format: 'float16' | 'bfloat16', nans: boolean): Uint16Array {
	const random = rng(seed);
	const infinity = format === 'float16' ? 0x7c00 : 0x7f80;
	const out = new Uint16Array(count);
	for (let i = 0; i < count; i++) {
		const r = random();
		const sign = random() < 0.5 ? 0x8000 : 0;
		out[i] = r < 0.3 ? sign : r < 0.4 ? sign | Math.floor(random() * 8) : r < 0.42 ? sign | infinity : r < 0.43 && nans ? infinity + 1 + Math.floor(random() * 100) : sign | Math.floor(random() * infinity);
	}
	return out;
}

void describe('countHalfNonZeros: counts on float16/bfloat16 bits, without decoding', () => {
	for (const format of ['float16', 'bfloat16'] as const) {
		void it(`${format}: the same counts and NaNs as decoding to float32 first, for tol 0 and tol > 0, even and odd shapes`, () => {
			const random = rng(format === 'float16' ? 1 : 2);
			for (let trial = 0; trial < 120; trial++) {
				const rows = 1 + Math.floor(random() * 9);
				const cols = 1 + Math.floor(random() * 300);
				const blockSize = [2, 4, 16, 64, 128][trial % 5];
				const tol = [0, 0, 1e-7, 0.001, 0.5, 3, 70000][trial % 7];
				const storage = new Uint16Array(rows * cols + 1);
				// An odd start (trial % 3 === 1) takes the element-by-element path.
				const halves = storage.subarray(trial % 3 === 1 ? 1 : 0, (trial % 3 === 1 ? 1 : 0) + rows * cols);
				halves.set(randomHalves(rows * cols, 50 + trial, format, trial % 4 === 0));
				const floats = new Float32Array(rows * cols);
				decodeToFloat32(new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength), format, rows * cols, floats);
				const expected = countColumnNonZeros(floats, rows, cols, blockSize, tol);
				const actual = countHalfNonZeros(halves, format, rows, cols, blockSize, tol);
				const where = `${rows}×${cols} T=${blockSize} tol=${tol}`;
				assert.equal(actual.nanCount, expected.nanCount, where);
				if (expected.nanCount === 0) {
					assert.deepEqual(actual.counts, expected.counts, where);
				}
			}
		});
	}
});
