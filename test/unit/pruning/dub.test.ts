import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adcBitsForLevel } from '../../../src/hardware/levels';
import type { CrossbarPruneResult } from '../../../src/pruning/dub';
import { CrossbarAction, pruneDubAtThreshold, pruneDubFixedRatio, pruneDubTol, pruneWholeCrossbars } from '../../../src/pruning/dub';
import { numpyLerp, percentileLinear } from '../../../src/pruning/percentile';
import { countColumnNonZeros } from '../../../src/hardware/columnCounts';
import { crossbarGeometry } from '../../../src/hardware/geometry';
import type { WeightMatrix } from '../../../src/hardware/matrix';
import { pruneBelowThreshold, pruneUnstructured } from '../../../src/pruning/unstructured';
import { awkwardFloats, distinctMagnitudes, randomInt, seededRandom } from './random';
import { vectors } from '../../helpers/testVectors';

function matrix(rows: number[][]): WeightMatrix {
	return { values: Float32Array.from(rows.flat()), outChannels: rows.length, fanIn: rows[0].length };
}

function rowsOf(values: Float32Array, fanIn: number): number[][] {
	const rows: number[][] = [];
	for (let i = 0; i < values.length; i += fanIn) rows.push(Array.from(values.subarray(i, i + fanIn), (v) => v + 0));
	return rows;
}

/** Expected rows as float32 (the inputs are float32 too); `+ 0` folds −0 into 0. */
function f32Rows(rows: number[][]): number[][] {
	return rows.map((row) => row.map((v) => Math.fround(v) + 0));
}

const { TV2, TV4, TV11, TV12, TV13, TV14, TV15, TV16 } = vectors;
const nonZerosOf = (rows: number[][]) => rows.flat().filter((v) => v !== 0).length;

/** One crossbar column of T inputs: `zeros` almost-zeros (|w| = .01) and the rest well above θ = .1. */
function column(T: number, zeros: number): WeightMatrix {
	return { values: Float32Array.from({ length: T }, (_, i) => (i < zeros ? 0.01 : 0.5 + i / T)), outChannels: 1, fanIn: T };
}

void describe('D.U.B. pruning test vectors (docs/method.md §11, TV11–TV16)', () => {
	void it('TV11: forced tile at T = 4, θ = 0.1 keeps 2 per column', () => {
		const { T, theta, input, expected } = TV11;
		const result = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T });
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.output));
		assert.equal(result.crossbars.levelBefore[0], expected.k);
		assert.equal(result.crossbars.action[0], CrossbarAction[expected.decision]);
		assert.equal(result.crossbars.levelAfter[0], expected.kAfter);
		assert.equal(adcBitsForLevel(result.crossbars.levelAfter[0], T), expected.bitsAfter);
		assert.equal(result.prunedCount, nonZerosOf(input) - nonZerosOf(expected.output));
		assert.equal(result.zeroCount, input.flat().length - nonZerosOf(expected.output));
		assert.deepEqual(Array.from(result.mask), Array.from(result.values, (v) => (v === 0 ? 1 : 0)));
	});

	void it('TV12: loosened to level 0 prunes each column minimum (quirk), or nothing with skipLevel0Loosening', () => {
		const { T, theta, input, expected } = TV12;
		const result = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T });
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.output));
		assert.equal(result.crossbars.action[0], CrossbarAction[expected.decision]);
		assert.deepEqual([result.crossbars.levelBefore[0], result.crossbars.levelAfter[0]], [expected.k, expected.kAfter]);
		assert.equal(adcBitsForLevel(result.crossbars.levelAfter[0], T), expected.bitsAfter);

		const skipped = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T, skipLevel0Loosening: true });
		assert.deepEqual(rowsOf(skipped.values, T), f32Rows(input));
		assert.equal(skipped.crossbars.action[0], CrossbarAction.skipped);
		assert.equal(skipped.prunedCount, 0);
	});

	void it('TV13: k = B−2, fixed variant keeps the largest per column', () => {
		const { T, theta, input, expected } = TV13;
		const result = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T });
		assert.equal(result.crossbars.levelBefore[0], expected.k);
		assert.equal(expected.k, crossbarGeometry(T).bins - 2);
		assert.equal(result.crossbars.action[0], CrossbarAction.keptOne);
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.fixedOutput));
		assert.equal(result.crossbars.levelAfter[0], expected.k);
	});

	void it('TV13: k = B−2, tol variant zeroes the whole tile', () => {
		const { T, theta, input, expected } = TV13;
		const result = pruneDubTol(matrix(input), { crossbarSize: T, tol: theta });
		assert.equal(result.crossbars.action[0], CrossbarAction.zeroed);
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.tolOutput));
		assert.equal(result.crossbars.levelAfter[0], crossbarGeometry(T).bins - 1);
		assert.equal(result.zeroCount, input.flat().length - nonZerosOf(expected.tolOutput));
	});

	void it('TV14: an all-almost-zero tile is zeroed (k = B−1)', () => {
		const { T, theta, input, expected } = TV14;
		const result = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T });
		assert.equal(result.crossbars.levelBefore[0], expected.k);
		assert.equal(expected.k, crossbarGeometry(T).bins - 1);
		assert.equal(result.crossbars.action[0], CrossbarAction.zeroed);
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.output));
		assert.equal(result.crossbars.levelAfter[0], expected.k);
		assert.equal(adcBitsForLevel(result.crossbars.levelAfter[0], T), expected.bitsAfter);
	});

	void it('TV15: forced at T = 8 (s = mid), the .12 above θ is pruned', () => {
		const { T, theta, input, expected } = TV15;
		const result = pruneDubAtThreshold(matrix(input), theta, { crossbarSize: T });
		assert.equal(result.crossbars.action[0], CrossbarAction[expected.decision]);
		assert.deepEqual(rowsOf(result.values, T), f32Rows(expected.output));
		assert.deepEqual([result.crossbars.levelBefore[0], result.crossbars.levelAfter[0]], [expected.k, expected.kAfter]);
		assert.equal(adcBitsForLevel(result.crossbars.levelAfter[0], T), expected.bitsAfter);
	});

	void it('TV16: numpy linear percentile counting', () => {
		const prunedBy = (n: number, quantile: number) => {
			const values = distinctMagnitudes(n, n).map(Math.abs);
			const tau = Math.fround(percentileLinear(values, quantile * 100));
			return values.filter((v) => v <= tau).length;
		};
		for (const { n, qStar, pruned, position } of TV16.columns) {
			assert.equal(prunedBy(n, qStar), pruned, `n = ${n}, q* = ${qStar}`);
			if (position !== undefined) {
				// The virtual index (n − 1)·q* is a whole position: the percentile is that element itself.
				assert.equal((n - 1) * qStar, position);
				const ramp = Float32Array.from({ length: n }, (_, i) => i + 1);
				assert.equal(percentileLinear(ramp, qStar * 100), position + 1);
			}
		}

		const { absValues, ratio, threshold, pruned, tolerance } = TV16.layer;
		const layer = Float32Array.from([3, -1, 7, 10, -5, 2, 9, -8, 4, 6]);
		assert.deepEqual(Array.from(layer, Math.abs).sort((x, y) => x - y), absValues);
		const result = pruneUnstructured(layer, ratio);
		assert.ok(Math.abs(result.threshold - threshold) <= tolerance);
		assert.equal(result.prunedCount, pruned);
		assert.deepEqual(Array.from(result.values, (v) => v + 0), [0, 0, 0, 10, 0, 0, 9, -8, 0, 0]);
	});

	void it('TV2: the forced/loosened decisions at T = 64 (mid of the two edges)', () => {
		for (const { zeros, k, decision } of TV2.cases) {
			if (decision === undefined) continue;
			const result = pruneDubAtThreshold(column(TV2.T, zeros), 0.1, { crossbarSize: TV2.T });
			assert.equal(result.crossbars.levelBefore[0], k, `${zeros} zeros`);
			assert.equal(result.crossbars.action[0], CrossbarAction[decision], `${zeros} zeros`);
		}
	});

	void it('TV4: an unpruned least-sparse column of 20 non-zeros at T = 64 is forced to 16', () => {
		for (const { lscNonZeros, k, prunedTo } of TV4.cases) {
			if (prunedTo === undefined) continue;
			const result = pruneDubAtThreshold(column(TV4.T, TV4.T - lscNonZeros), 0.1, { crossbarSize: TV4.T });
			assert.equal(result.crossbars.levelBefore[0], k);
			assert.equal(result.crossbars.action[0], CrossbarAction.forced);
			assert.equal(result.values.filter((v) => v !== 0).length, prunedTo);
		}
	});
});

void describe('D.U.B. pruning mechanics', () => {
	void it('fixed ratio: θ is numpy.percentile(|W|, p) and counts almost-zeros with ≤', () => {
		const m = matrix([[1, -2, 3, -4], [5, -6, 7, -8]]);
		const result = pruneDubFixedRatio(m, 50, { crossbarSize: 4 });
		assert.equal(result.threshold, 4.5);
		// z = [4, 0] → s = 0, k = 0, loosened to q* = 0: each column loses its minimum.
		assert.equal(result.crossbars.action[0], CrossbarAction.loosened);
		assert.deepEqual(rowsOf(result.values, 4), [[0, -2, 3, -4], [0, -6, 7, -8]]);
	});

	void it('column thresholds are compared in float32, as torch compares a float32 tensor with a Python float', () => {
		// Sorted |w| has 0.5 and the next float32 above it at positions 3 and 4; q* = .75 on n_b = 6
		// gives τ = 0.5 + 0.75 ulp < next, which torch rounds up to next: it is pruned too
		// (checked against the reference's code under torch 1.13).
		const next = Math.fround(0.5 + 2 ** -24);
		const result = pruneDubTol(matrix([[0.1, -0.2, 0.3, 0.5, -next, 0.9]]), { crossbarSize: 8, tol: 0.5 });
		assert.equal(result.crossbars.action[0], CrossbarAction.forced);
		assert.deepEqual(rowsOf(result.values, 6), f32Rows([[0, 0, 0, 0, 0, 0.9]]));
	});

	void it('mask includes pre-existing zeros; in-place and out= give the same result', () => {
		const m = matrix([[0, 0.5, -0.3, 0.02, 0.4, 0.05], [0.9, -0.08, 0, 0.01, 0.3, 0], [0.2, 0.3, -0.06, 0.7, 0, 0.11]]);
		const copy = pruneDubAtThreshold(m, 0.1, { crossbarSize: 4 });
		assert.deepEqual(Array.from(copy.mask), Array.from(copy.values, (v) => (v === 0 ? 1 : 0)));
		assert.equal(copy.zeroCount, copy.mask.reduce((s, v) => s + v, 0));
		const before = m.values.filter((v) => v === 0).length;
		assert.equal(copy.zeroCount, before + copy.prunedCount);

		const out = new Float32Array(m.values.length);
		const mask = new Uint8Array(m.values.length);
		const viaOut = pruneDubAtThreshold(m, 0.1, { crossbarSize: 4, out, mask });
		assert.equal(viaOut.values, out);
		assert.equal(viaOut.mask, mask);
		assert.deepEqual(out, copy.values);

		const inPlace = { ...m, values: Float32Array.from(m.values) };
		const result = pruneDubAtThreshold(inPlace, 0.1, { crossbarSize: 4, out: inPlace.values });
		assert.equal(result.values, inPlace.values);
		assert.deepEqual(inPlace.values, copy.values);
	});

	void it('edge tiles: partial columns use n_b, missing output channels do not exist', () => {
		// O = 3 with T = 4, q = 2 → R = 2: tiles (0,0),(0,1),(1,0),(1,1); the second block has n_b = 2.
		const m = matrix([[0.05, 0.5, -0.3, 0.02, 0.4, 0.05], [0.9, -0.08, 0.04, 0.01, 0.3, 0.2], [0.2, 0.3, -0.06, 0.7, 0.01, 0.11]]);
		const result = pruneDubAtThreshold(m, 0.1, { crossbarSize: 4, slices: 2 });
		assert.deepEqual([result.crossbars.grid.channelGroups, result.crossbars.grid.inputBlocks], [2, 2]);
		// Tile (0,1): columns [.4,.05] and [.3,.2]: z = [1, 0], s = 0 → loosened to q* = 0, each column's minimum goes.
		// Tile (1,1): column [.01,.11]: z = 1, n_b = 2, s = .5 → k = 1 = B−3; s < mid .625 → loosened to .5: the .01 goes.
		assert.deepEqual(rowsOf(result.values, 6).map((row) => row.slice(4)), f32Rows([[0.4, 0], [0.3, 0], [0, 0.11]]));
		// Tile (0,0): z = [2, 3], s = .5 → k = 1, loosened; tile (1,0): z = 1, s = .25 = mid → forced to .5.
		// Reports run block-major (block · channelGroups + group): tiles (0,0), (1,0), (0,1), (1,1).
		assert.deepEqual(Array.from(result.crossbars.levelBefore), [1, 0, 0, 1]);
		assert.deepEqual(Array.from(result.crossbars.action), [CrossbarAction.loosened, CrossbarAction.forced, CrossbarAction.loosened, CrossbarAction.loosened]);
		assert.deepEqual(rowsOf(result.values, 6)[2].slice(0, 4), f32Rows([[0, 0.3, 0, 0.7]])[0]);
	});
});

// ---- Property tests: random layers, every tile checked against an independent reading of §6.

interface Case {
	crossbarSize: number;
	slices: number;
	outChannels: number;
	fanIn: number;
	ratio: number;
	seed: number;
}

function randomCases(count: number, seed: number): Case[] {
	const random = seededRandom(seed);
	const cases: Case[] = [];
	for (let c = 0; c < count; c++) {
		const crossbarSize = [4, 8, 16, 32, 64][c % 5];
		const slices = random() < 0.3 ? 2 : 1;
		const r = crossbarSize / slices;
		const ratio = random() < 0.1 ? [0, 100, 50][randomInt(random, 0, 2)] : random() * 100;
		cases.push({
			crossbarSize,
			slices,
			outChannels: randomInt(random, 1, 3 * r + 3),
			fanIn: randomInt(random, 1, 3 * crossbarSize + 5),
			ratio: Math.round(ratio * 100) / 100,
			seed: c + 1,
		});
	}
	return cases;
}

/** Level from the float fraction and the bin edges, as np.histogram would place it (T ≤ 64). */
function histogramLevel(zeros: number, n: number, bins: number): number {
	const s = zeros / n;
	if (s === 1) return bins - 1;
	let k = 0;
	for (let j = 0; j < bins - 1; j++) if (s >= 1 - 2 ** -j) k = j;
	return k;
}

function checkTiles(m: WeightMatrix, result: CrossbarPruneResult, crossbarSize: number, slices: number, variant: 'fixed' | 'tol'): void {
	const { channelsPerCrossbar: r, bins } = crossbarGeometry(crossbarSize, slices);
	const theta = Math.fround(result.threshold);
	const { channelGroups, inputBlocks } = result.crossbars.grid;
	assert.equal(channelGroups, Math.ceil(m.outChannels / r));
	assert.equal(inputBlocks, Math.ceil(m.fanIn / crossbarSize));
	for (let a = 0; a < channelGroups; a++) {
		for (let b = 0; b < inputBlocks; b++) {
			const t = b * channelGroups + a;
			const o0 = a * r;
			const o1 = Math.min(m.outChannels, o0 + r);
			const k0 = b * crossbarSize;
			const n = Math.min(m.fanIn, k0 + crossbarSize) - k0;
			const columns = [];
			for (let o = o0; o < o1; o++) {
				const start = o * m.fanIn + k0;
				columns.push({ before: Array.from(m.values.subarray(start, start + n)), after: Array.from(result.values.subarray(start, start + n)) });
			}
			const zeros = Math.min(...columns.map((c) => c.before.filter((v) => Math.abs(v) <= theta).length));
			const k = histogramLevel(zeros, n, bins);
			const where = `tile (${a},${b}) of ${m.outChannels}×${m.fanIn}, T=${crossbarSize}, q=${slices}`;
			assert.equal(result.crossbars.levelBefore[t], k, where);
			const s = zeros / n;
			let quantile: number | undefined;
			let expectedAction: number;
			if (k === bins - 1 || (k === bins - 2 && variant === 'tol')) {
				expectedAction = CrossbarAction.zeroed;
			} else if (k === bins - 2) {
				expectedAction = CrossbarAction.keptOne;
				quantile = 1 - 2 ** -(bins - 2);
			} else if (s >= (1 - 2 ** -k + 1 - 2 ** -(k + 1)) / 2) {
				expectedAction = CrossbarAction.forced;
				quantile = 1 - 2 ** -(k + 1);
			} else {
				expectedAction = CrossbarAction.loosened;
				quantile = 1 - 2 ** -k;
			}
			assert.equal(result.crossbars.action[t], expectedAction, where);
			if (quantile === undefined) {
				for (const c of columns) assert.ok(c.after.every((v) => v === 0), where);
				continue;
			}
			// Distinct magnitudes: each column keeps n − (floor(q*(n−1)) + 1) weights (§6.1) ...
			const keep = n - (Math.floor(quantile * (n - 1)) + 1);
			if (n === crossbarSize && quantile > 0) {
				assert.equal(keep, crossbarSize * (1 - quantile), where); // ... = T·2^−k for full tiles
			}
			for (const c of columns) {
				const kept = c.after.filter((v) => v !== 0);
				assert.equal(kept.length, keep, where); // B: every column at the same L0
				// U: each column keeps its own largest magnitudes, unchanged.
				const largest = [...c.before].sort((x, y) => Math.abs(y) - Math.abs(x)).slice(0, keep);
				assert.deepEqual(kept.slice().sort((x, y) => x - y), largest.sort((x, y) => x - y), where);
				c.after.forEach((v, i) => assert.ok(v === 0 || v === c.before[i], where));
			}
			const maxNonZeros = keep;
			let level = maxNonZeros === 0 ? bins - 1 : 0;
			while (level < bins - 2 && maxNonZeros * 2 ** (level + 1) <= n) level++;
			assert.equal(result.crossbars.levelAfter[t], level, where);
		}
	}
	assert.deepEqual(Array.from(result.mask), Array.from(result.values, (v) => (v === 0 ? 1 : 0)));
}

/**
 * Distinct magnitudes where each tile gets its own density d: an entry stays large with
 * probability d, else it is scaled by 2^−20. Tiles then straddle θ in every way, which reaches
 * every level; magnitudes stay distinct (the ramp has fewer than 2^20 steps).
 */
function structuredLayer(c: Case): Float32Array {
	const values = distinctMagnitudes(c.outChannels * c.fanIn, c.seed);
	const random = seededRandom(c.seed * 31 + 7);
	const r = c.crossbarSize / c.slices;
	for (let o0 = 0; o0 < c.outChannels; o0 += r) {
		for (let k0 = 0; k0 < c.fanIn; k0 += c.crossbarSize) {
			const density = random() < 0.2 ? 0 : random() ** 3;
			for (let o = o0; o < Math.min(c.outChannels, o0 + r); o++) {
				for (let k = k0; k < Math.min(c.fanIn, k0 + c.crossbarSize); k++) {
					if (random() >= density) values[o * c.fanIn + k] *= 2 ** -20;
				}
			}
		}
	}
	return values;
}

void describe('D.U.B. pruning properties (random layers, seeded)', () => {
	for (const c of randomCases(60, 20240318)) {
		void it(`fixed ratio ${c.ratio} % on ${c.outChannels}×${c.fanIn}, T=${c.crossbarSize}, q=${c.slices}`, () => {
			for (const values of [distinctMagnitudes(c.outChannels * c.fanIn, c.seed), structuredLayer(c)]) {
				const m = { values, outChannels: c.outChannels, fanIn: c.fanIn };
				const result = pruneDubFixedRatio(m, c.ratio, { crossbarSize: c.crossbarSize, slices: c.slices });
				checkTiles(m, result, c.crossbarSize, c.slices, 'fixed');
			}
		});
	}

	void it('tol variant on random layers', () => {
		for (const c of randomCases(20, 7)) {
			const values = distinctMagnitudes(c.outChannels * c.fanIn, c.seed);
			const m = { values, outChannels: c.outChannels, fanIn: c.fanIn };
			const result = pruneDubTol(m, { crossbarSize: c.crossbarSize, slices: c.slices, tol: c.ratio / 100 });
			checkTiles(m, result, c.crossbarSize, c.slices, 'tol');
		}
	});

	void it('whole-crossbar pruning zeroes exactly the crossbars that are entirely ≤ θ', () => {
		for (const c of randomCases(20, 11)) {
			const m = { values: distinctMagnitudes(c.outChannels * c.fanIn, c.seed), outChannels: c.outChannels, fanIn: c.fanIn };
			const result = pruneWholeCrossbars(m, { ratio: c.ratio }, { crossbarSize: c.crossbarSize, slices: c.slices });
			const theta = Math.fround(result.threshold);
			const r = c.crossbarSize / c.slices;
			for (let o = 0; o < c.outChannels; o++) {
				for (let k = 0; k < c.fanIn; k++) {
					const a = Math.floor(o / r);
					const b = Math.floor(k / c.crossbarSize);
					let allBelow = true;
					for (let oo = a * r; oo < Math.min(c.outChannels, (a + 1) * r); oo++) {
						for (let kk = b * c.crossbarSize; kk < Math.min(c.fanIn, (b + 1) * c.crossbarSize); kk++) {
							if (Math.abs(m.values[oo * c.fanIn + kk]) > theta) allBelow = false;
						}
					}
					const i = o * c.fanIn + k;
					assert.equal(result.values[i], allBelow ? 0 : m.values[i]);
					assert.equal(result.crossbars.action[b * result.crossbars.grid.channelGroups + a], allBelow ? CrossbarAction.zeroed : CrossbarAction.untouched);
				}
			}
		}
	});

	void it('unstructured prune removes exactly floor(p·(n−1)/100) + 1 distinct magnitudes', () => {
		const random = seededRandom(5);
		for (let trial = 0; trial < 40; trial++) {
			const n = randomInt(random, 1, 3000);
			const ratio = Math.round(random() * 10000) / 100;
			const values = distinctMagnitudes(n, trial);
			const result = pruneUnstructured(values, ratio);
			const expected = Math.min(n, Math.floor((ratio / 100) * (n - 1)) + 1);
			assert.equal(result.prunedCount, expected, `n=${n} p=${ratio}`);
			const theta = Math.fround(result.threshold);
			result.values.forEach((v, i) => assert.equal(v, Math.abs(values[i]) <= theta ? 0 : values[i]));
		}
	});
});

// ---- The selections against the obvious way: a full sort of each column (and of the layer).

/** numpy.percentile(|values|, p), 'linear', by sorting (float32 neighbours, as the reference's arrays). */
function sortedAbsPercentile(values: ArrayLike<number>, p: number): number {
	const sorted = Float32Array.from(values, Math.abs).sort();
	const index = (sorted.length - 1) * (p / 100);
	if (index >= sorted.length - 1) return sorted[sorted.length - 1];
	const below = Math.floor(index);
	return numpyLerp(sorted[below], sorted[below + 1], index - below, true);
}

/** §6 written plainly: per tile the level from ≤ θ counts, per column τ from a sorted copy. */
function sortReferencePrune(m: WeightMatrix, ratio: number, crossbarSize: number, slices: number): Float32Array {
	const { channelsPerCrossbar: r, bins } = crossbarGeometry(crossbarSize, slices);
	const theta = Math.fround(sortedAbsPercentile(m.values, ratio));
	const out = Float32Array.from(m.values);
	for (let o0 = 0; o0 < m.outChannels; o0 += r) {
		for (let k0 = 0; k0 < m.fanIn; k0 += crossbarSize) {
			const rows = Array.from({ length: Math.min(r, m.outChannels - o0) }, (_, i) => o0 + i);
			const n = Math.min(crossbarSize, m.fanIn - k0);
			const column = (o: number) => Array.from(m.values.subarray(o * m.fanIn + k0, o * m.fanIn + k0 + n));
			const zeros = Math.min(...rows.map((o) => column(o).filter((v) => Math.abs(v) <= theta).length));
			const s = zeros / n;
			let k = 0;
			for (let j = 0; j < bins - 1; j++) if (s >= 1 - 2 ** -j) k = j;
			if (s === 1) k = bins - 1;
			const prune = (o: number, tau: number) => {
				for (let i = 0; i < n; i++) if (Math.abs(out[o * m.fanIn + k0 + i]) <= tau) out[o * m.fanIn + k0 + i] = 0;
			};
			if (k === bins - 1) {
				rows.forEach((o) => prune(o, theta));
				continue;
			}
			const mid = (1 - 2 ** -k + 1 - 2 ** -(k + 1)) / 2;
			const quantile = k === bins - 2 ? 1 - 2 ** -(bins - 2) : s >= mid ? 1 - 2 ** -(k + 1) : 1 - 2 ** -k;
			rows.forEach((o) => prune(o, Math.fround(sortedAbsPercentile(column(o), quantile * 100))));
		}
	}
	return out;
}

const bitsOf = (values: Float32Array) => Array.from(new Int32Array(values.buffer, values.byteOffset, values.length));

void describe('the selections against a full sort (ties, −0, denormals; NaN-free)', () => {
	void it('fixed-ratio D.U.B. gives the weights, bit for bit, of a sort-based prune, and the counts it reports', () => {
		const random = seededRandom(2024);
		for (let trial = 0; trial < 60; trial++) {
			const crossbarSize = [4, 8, 16, 32, 64][trial % 5];
			const slices = trial % 3 === 0 ? 2 : 1;
			const outChannels = randomInt(random, 1, 2 * crossbarSize + 3);
			const fanIn = randomInt(random, 1, 3 * crossbarSize + 5);
			const values = awkwardFloats(outChannels * fanIn, 40 + trial).map((v) => (Number.isFinite(v) ? v : 0.5));
			const ratio = [0, 100, 50, 70, 90, Math.round(random() * 10000) / 100][trial % 6];
			const m = { values, outChannels, fanIn };
			const blocks = Math.ceil(fanIn / crossbarSize);
			const counts = { nonZerosAfter: new Int32Array(outChannels * blocks), aboveThreshold: new Int32Array(outChannels * blocks) };
			const result = pruneDubFixedRatio(m, ratio, { crossbarSize, slices, counts });
			const where = `${outChannels}×${fanIn}, T=${crossbarSize}, q=${slices}, p=${ratio}`;
			assert.equal(result.threshold, sortedAbsPercentile(values, ratio), where);
			assert.deepEqual(bitsOf(result.values), bitsOf(sortReferencePrune(m, ratio, crossbarSize, slices)), where);
			assert.deepEqual(Array.from(result.mask), Array.from(result.values, (v) => +(v === 0)), where);
			assert.equal(result.zeroCount, result.values.filter((v) => v === 0).length, where);
			assert.equal(result.prunedCount, values.filter((v, i) => v !== 0 && result.values[i] === 0).length, where);
			assert.deepEqual(counts.nonZerosAfter, countColumnNonZeros(result.values, outChannels, fanIn, crossbarSize, 0).counts, where);
			const theta = Math.fround(result.threshold);
			assert.deepEqual(counts.aboveThreshold, countColumnNonZeros(values, outChannels, fanIn, crossbarSize, Math.max(theta, 0)).counts, where);
		}
	});

	void it('pruning in place gives the same weights as pruning into a new array', () => {
		const values = awkwardFloats(37 * 70, 3).map((v) => (Number.isFinite(v) ? v : -2));
		const m = { values, outChannels: 37, fanIn: 70 };
		const copy = pruneDubFixedRatio(m, 65, { crossbarSize: 16 });
		const inPlace = pruneDubFixedRatio({ ...m, values: Float32Array.from(values) }, 65, { crossbarSize: 16, out: undefined });
		const own = Float32Array.from(values);
		pruneDubFixedRatio({ ...m, values: own }, 65, { crossbarSize: 16, out: own });
		assert.deepEqual(bitsOf(own), bitsOf(copy.values));
		assert.deepEqual(bitsOf(inPlace.values), bitsOf(copy.values));
	});

	void it('a negative θ has no almost-zeros: every crossbar is loosened to level 0 and the counts stay right', () => {
		const values = awkwardFloats(20 * 40, 5).map((v) => (Number.isFinite(v) ? v : 1));
		const counts = { nonZerosAfter: new Int32Array(20 * 3), aboveThreshold: new Int32Array(20 * 3) };
		const result = pruneDubAtThreshold({ values, outChannels: 20, fanIn: 40 }, -1, { crossbarSize: 16, counts });
		assert.ok(Array.from(result.crossbars.action).every((a) => a === CrossbarAction.loosened));
		assert.deepEqual(counts.nonZerosAfter, countColumnNonZeros(result.values, 20, 40, 16, 0).counts);
		assert.deepEqual(Array.from(counts.aboveThreshold), Array.from({ length: 60 }, (_, i) => (i % 3 === 2 ? 8 : 16)));
		assert.equal(result.zeroCount, result.values.filter((v) => v === 0).length);
	});

	void it('unstructured pruning keeps exactly |w| > fround(θ), −0 becoming +0', () => {
		for (let trial = 0; trial < 20; trial++) {
			const values = awkwardFloats(1000 + trial * 997, 70 + trial);
			const ratio = [0, 100, 50, 99.9, 12.5][trial % 5];
			const result = pruneUnstructured(values, ratio);
			const theta = Math.fround(result.threshold);
			const expected = values.map((v) => (Math.abs(v) > theta ? v : 0));
			assert.deepEqual(bitsOf(result.values), bitsOf(expected), `trial ${trial}`);
			assert.equal(result.threshold + 0, sortedAbsPercentile(values, ratio) + 0);
		}
		// A negative θ prunes nothing but zeros (−0 becomes +0); a NaN one prunes everything.
		assert.deepEqual(bitsOf(pruneBelowThreshold(Float32Array.of(-0, 1, -2), -1).values), bitsOf(Float32Array.of(0, 1, -2)));
		assert.deepEqual(bitsOf(pruneBelowThreshold(Float32Array.of(-0, 1, -2), Number.NaN).values), [0, 0, 0]);
	});
});

