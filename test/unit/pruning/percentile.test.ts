import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Float32Scratch, absKeyHistogram, numpyLerp, percentileLinear, percentileOfAbs, selectNth, selectNthKey } from '../../../src/pruning/percentile';
import { countColumnNonZeros } from '../../../src/hardware/columnCounts';
import { awkwardFloats, randomInt, randomNormal, seededRandom } from './random';
import { vectors } from '../../helpers/testVectors';

/** numpy 'linear' percentile on a full sort (the slow, obvious way). */
function sortedPercentile(values: Float32Array, p: number): number {
	const sorted = Float32Array.from(values).sort();
	const n = sorted.length;
	const index = (n - 1) * (p / 100);
	if (index >= n - 1) return sorted[n - 1];
	const below = Math.floor(index);
	return numpyLerp(sorted[below], sorted[below + 1], index - below, true);
}

void describe('percentileLinear (numpy.percentile, method linear)', () => {
	void it('matches a full sort on random data, with duplicates, sorted and reversed input', () => {
		const random = seededRandom(99);
		const scratch = new Float32Scratch();
		for (let trial = 0; trial < 300; trial++) {
			const n = randomInt(random, 1, trial < 250 ? 300 : 20000);
			let values = randomNormal(n, trial);
			const shape = trial % 5;
			if (shape === 1) values = values.map((v) => Math.round(v * 4) / 4); // many ties
			if (shape === 2) values.sort();
			if (shape === 3) values.sort().reverse();
			if (shape === 4) values.fill(0, 0, Math.floor(n * 0.9)); // a pruned layer: mostly zeros
			const p = [0, 100, 50, random() * 100, 2.37, 99.86][trial % 6];
			const copy = Float32Array.from(values);
			// + 0: a selection may return −0 where a sort returns 0 (equal for every comparison).
			assert.equal(percentileLinear(values, p, scratch) + 0, sortedPercentile(values, p) + 0, `n=${n} p=${p} shape=${shape}`);
			assert.deepEqual(values, copy, 'input left unchanged');
		}
	});

	void it('large arrays (radix selection path) match a full sort, signed and absolute', () => {
		const random = seededRandom(123);
		for (let trial = 0; trial < 24; trial++) {
			const n = randomInt(random, 1 << 14, 200000);
			let values = randomNormal(n, 7000 + trial, 10 ** (random() * 6 - 4));
			if (trial % 4 === 1) values = values.map((v) => Math.round(v * 1e3) / 1e3); // ties across buckets
			if (trial % 4 === 2) values.fill(0, 0, Math.floor(n * 0.97)); // 97 % zeros: one huge bucket
			if (trial % 4 === 3) values = values.map((v) => 1 + Math.abs(v) * 1e-6); // all in one or two buckets
			const p = [0, 100, 50, 2.37, 99.86, 99.99, random() * 100][trial % 7];
			assert.equal(percentileLinear(values, p) + 0, sortedPercentile(values, p) + 0, `signed n=${n} p=${p} trial=${trial}`);
			assert.equal(percentileOfAbs(values, p), sortedPercentile(values.map(Math.abs), p), `abs n=${n} p=${p} trial=${trial}`);
		}
	});

	void it('numbers and Float64Array use float64 interpolation', () => {
		// TV16's layer threshold: |W| = 1..10 at p = 70 is 7.3, exactly as numpy computes it in float64.
		const { absValues, ratio, threshold } = vectors.TV16.layer;
		assert.equal(percentileLinear(absValues, ratio), threshold);
		assert.equal(percentileLinear(Float64Array.from([3, 1, 2]), 50), 2);
		assert.equal(percentileLinear([5], 37), 5);
	});

	void it('percentileOfAbs is the percentile of |values|', () => {
		const values = randomNormal(1001, 3);
		assert.equal(percentileOfAbs(values, 70), sortedPercentile(values.map(Math.abs), 70));
	});

	void it('rejects empty input and p outside [0, 100]', () => {
		assert.throws(() => percentileLinear(new Float32Array(0), 50), RangeError);
		assert.throws(() => percentileLinear([1, 2], 101), RangeError);
		assert.throws(() => percentileLinear([1, 2], Number.NaN), RangeError);
	});

	void it('selectNth places the k-th value like a sort and partitions around it', () => {
		const random = seededRandom(8);
		for (let trial = 0; trial < 100; trial++) {
			const n = randomInt(random, 1, 5000);
			const a = randomNormal(n, 1000 + trial).map((v) => (trial % 2 ? Math.round(v) : v));
			const sorted = Float32Array.from(a).sort();
			const k = randomInt(random, 0, n - 1);
			selectNth(a, k);
			assert.equal(a[k] + 0, sorted[k] + 0);
			for (let i = 0; i < k; i++) assert.ok(a[i] <= a[k]);
			for (let i = k + 1; i < n; i++) assert.ok(a[i] >= a[k]);
		}
	});

	void it('the radix selection matches a full sort with ties, −0, denormals and infinities', () => {
		const random = seededRandom(77);
		for (let trial = 0; trial < 40; trial++) {
			const n = randomInt(random, 1 << 14, 120000);
			const values = awkwardFloats(n, 500 + trial);
			const p = [0, 100, 50, 70, 2.37, 99.86, 99.999, random() * 100][trial % 8];
			const abs = values.map(Math.abs);
			assert.equal(percentileOfAbs(values, p) + 0, sortedPercentile(abs, p) + 0, `abs n=${n} p=${p} trial=${trial}`);
			assert.equal(percentileLinear(values, p) + 0, sortedPercentile(values, p) + 0, `signed n=${n} p=${p} trial=${trial}`);
		}
	});

	void it('a histogram filled by the analysis pass gives the same layer percentile, small layers too', () => {
		const random = seededRandom(78);
		for (let trial = 0; trial < 30; trial++) {
			const rows = randomInt(random, 1, 40);
			const cols = randomInt(random, 1, 700);
			const values = awkwardFloats(rows * cols, 900 + trial);
			const histogram = new Uint32Array(1 << 16);
			const counts = countColumnNonZeros(values, rows, cols, 16, trial % 3 === 0 ? 0.01 : 0, undefined, histogram);
			assert.deepEqual(histogram, absKeyHistogram(values), 'the analysis pass counts what absKeyHistogram counts');
			assert.equal(counts.nanCount, 0);
			const p = [0, 100, 60, random() * 100][trial % 4];
			assert.equal(percentileOfAbs(values, p, new Float32Scratch(), histogram), sortedPercentile(values.map(Math.abs), p), `${rows}×${cols} p=${p}`);
		}
	});

	void it('selectNthKey places the k-th key like a sort, on runs of ties and sub-ranges', () => {
		const random = seededRandom(79);
		for (let trial = 0; trial < 400; trial++) {
			const n = randomInt(random, 1, trial < 300 ? 130 : 5000);
			const distinct = [1, 2, 3, 17, 1 << 30][trial % 5];
			const a = Int32Array.from({ length: n }, () => Math.floor(random() * distinct));
			if (trial % 7 === 0) a.sort();
			if (trial % 7 === 1) a.sort().reverse();
			const lo = randomInt(random, 0, n - 1);
			const hi = randomInt(random, lo, n - 1);
			const k = randomInt(random, lo, hi);
			const outside = [...a.subarray(0, lo), ...a.subarray(hi + 1)];
			const sorted = Int32Array.from(a.subarray(lo, hi + 1)).sort();
			selectNthKey(a, k, lo, hi);
			assert.equal(a[k], sorted[k - lo], `n=${n} lo=${lo} hi=${hi} k=${k}`);
			for (let i = lo; i < k; i++) assert.ok(a[i] <= a[k]);
			for (let i = k + 1; i <= hi; i++) assert.ok(a[i] >= a[k]);
			assert.deepEqual(Int32Array.from(a.subarray(lo, hi + 1)).sort(), sorted, 'a permutation of the range');
			assert.deepEqual([...a.subarray(0, lo), ...a.subarray(hi + 1)], outside, 'nothing outside the range moves');
		}
	});
});

