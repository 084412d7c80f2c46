import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TilePruneResult } from '../../../src/pruning/dub';
import { TileAction, pruneDubAtThreshold, pruneDubFixedRatio, pruneDubTol, pruneWholeTiles } from '../../../src/pruning/dub';
import { percentileLinear } from '../../../src/pruning/percentile';
import type { WeightMatrix } from '../../../src/pruning/tiles';
import { tileGeometry } from '../../../src/pruning/tiles';
import { pruneUnstructured } from '../../../src/pruning/unstructured';
import { distinctMagnitudes, randomInt, seededRandom } from './random';

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

// TV11 (dub-method.md §11): rows of M = output channels = crossbar columns.
const tv11 = [
	[0.05, 0.5, -0.3, 0.02],
	[0.9, -0.08, 0.04, 0.01],
	[0.2, 0.3, -0.06, 0.7],
	[0.03, -0.02, 0.6, 0.01],
];

void describe('D.U.B. pruning test vectors (dub-method.md §11, TV11–TV16)', () => {
	void it('TV11: forced tile at T = 4, θ = 0.1 keeps 2 per column', () => {
		const result = pruneDubAtThreshold(matrix(tv11), 0.1, { tileSize: 4 });
		assert.deepEqual(rowsOf(result.values, 4), f32Rows([
			[0, 0.5, -0.3, 0],
			[0.9, -0.08, 0, 0],
			[0, 0.3, 0, 0.7],
			[0.03, 0, 0.6, 0],
		]));
		assert.equal(result.tiles.levelBefore[0], 0);
		assert.equal(result.tiles.action[0], TileAction.forced);
		assert.equal(result.tiles.levelAfter[0], 1);
		assert.equal(result.prunedCount, 8);
		assert.equal(result.zeroCount, 8);
		assert.deepEqual(Array.from(result.mask), Array.from(result.values, (v) => (v === 0 ? 1 : 0)));
	});

	void it('TV12: loosened to level 0 prunes each column minimum (quirk), or nothing with skipLevel0Loosening', () => {
		const rows = tv11.map((row) => [...row]);
		rows[2][2] = -0.16;
		const result = pruneDubAtThreshold(matrix(rows), 0.1, { tileSize: 4 });
		assert.deepEqual(rowsOf(result.values, 4), f32Rows([
			[0.05, 0.5, -0.3, 0],
			[0.9, -0.08, 0.04, 0],
			[0.2, 0.3, 0, 0.7],
			[0.03, -0.02, 0.6, 0],
		]));
		assert.equal(result.tiles.action[0], TileAction.loosened);
		assert.deepEqual([result.tiles.levelBefore[0], result.tiles.levelAfter[0]], [0, 0]);

		const skipped = pruneDubAtThreshold(matrix(rows), 0.1, { tileSize: 4, skipLevel0Loosening: true });
		assert.deepEqual(rowsOf(skipped.values, 4), f32Rows(rows));
		assert.equal(skipped.tiles.action[0], TileAction.skipped);
		assert.equal(skipped.prunedCount, 0);
	});

	const tv13 = [
		[0.05, 0.5, -0.03, 0.02],
		[0.9, -0.08, 0.04, 0.01],
		[0.02, 0.03, -0.06, 0.7],
		[0.03, -0.02, 0.6, 0.01],
	];

	void it('TV13: k = B−2, fixed variant keeps the largest per column', () => {
		const result = pruneDubAtThreshold(matrix(tv13), 0.1, { tileSize: 4 });
		assert.equal(result.tiles.levelBefore[0], 2);
		assert.equal(result.tiles.action[0], TileAction.keptOne);
		assert.deepEqual(rowsOf(result.values, 4), f32Rows([
			[0, 0.5, 0, 0],
			[0.9, 0, 0, 0],
			[0, 0, 0, 0.7],
			[0, 0, 0.6, 0],
		]));
		assert.equal(result.tiles.levelAfter[0], 2);
	});

	void it('TV13: k = B−2, tol variant zeroes the whole tile', () => {
		const result = pruneDubTol(matrix(tv13), { tileSize: 4, tol: 0.1 });
		assert.equal(result.tiles.action[0], TileAction.zeroed);
		assert.ok(result.values.every((v) => v === 0));
		assert.equal(result.tiles.levelAfter[0], 3);
		assert.equal(result.zeroCount, 16);
	});

	void it('TV14: an all-almost-zero tile is zeroed (k = B−1)', () => {
		const result = pruneDubAtThreshold(matrix([[0.05, 0.01, -0.03, 0.02], [0.09, -0.08, 0.04, 0.01]]), 0.1, { tileSize: 4 });
		assert.equal(result.tiles.levelBefore[0], 3);
		assert.equal(result.tiles.action[0], TileAction.zeroed);
		assert.ok(result.values.every((v) => v === 0));
		assert.equal(result.tiles.levelAfter[0], 3);
	});

	void it('TV15: forced at T = 8 (s = mid), the .12 above θ is pruned', () => {
		const input = [[0.5, 0.01, 0.02, -0.4, 0.03, 0.04, 0.05, 0.06], [0.3, -0.2, 0.05, 0.01, 0.02, 0.03, 0.04, 0.12]];
		const result = pruneDubAtThreshold(matrix(input), 0.1, { tileSize: 8 });
		assert.equal(result.tiles.action[0], TileAction.forced);
		assert.deepEqual(rowsOf(result.values, 8), f32Rows([[0.5, 0, 0, -0.4, 0, 0, 0, 0], [0.3, -0.2, 0, 0, 0, 0, 0, 0]]));
		assert.deepEqual([result.tiles.levelBefore[0], result.tiles.levelAfter[0]], [1, 2]);
	});

	void it('TV16: numpy linear percentile counting', () => {
		const prunedBy = (n: number, quantile: number) => {
			const column = distinctMagnitudes(n, n).map(Math.abs);
			const tau = Math.fround(percentileLinear(column, quantile * 100));
			return column.filter((v) => v <= tau).length;
		};
		assert.deepEqual([0.5, 0.75, 0.875, 0].map((q) => prunedBy(64, q)), [32, 48, 56, 1]);
		assert.deepEqual([0.5, 0].map((q) => prunedBy(27, q)), [14, 1]);
		assert.equal(prunedBy(32, 0.96875), 31);
		// n = 27, q* = .5: position 13.0 is an exact element.
		const ramp = Float32Array.from({ length: 27 }, (_, i) => i + 1);
		assert.equal(percentileLinear(ramp, 50), 14);

		const layer = Float32Array.from([3, -1, 7, 10, -5, 2, 9, -8, 4, 6]);
		const result = pruneUnstructured(layer, 70);
		assert.ok(Math.abs(result.threshold - 7.3) < 1e-12);
		assert.equal(result.prunedCount, 7);
		assert.deepEqual(Array.from(result.values, (v) => v + 0), [0, 0, 0, 10, 0, 0, 9, -8, 0, 0]);
	});
});

void describe('D.U.B. pruning mechanics', () => {
	void it('fixed ratio: θ is numpy.percentile(|W|, p) and counts almost-zeros with ≤', () => {
		const m = matrix([[1, -2, 3, -4], [5, -6, 7, -8]]);
		const result = pruneDubFixedRatio(m, 50, { tileSize: 4 });
		assert.equal(result.threshold, 4.5);
		// z = [4, 0] → s = 0, k = 0, loosened to q* = 0: each column loses its minimum.
		assert.equal(result.tiles.action[0], TileAction.loosened);
		assert.deepEqual(rowsOf(result.values, 4), [[0, -2, 3, -4], [0, -6, 7, -8]]);
	});

	void it('column thresholds are compared in float32, as torch compares a float32 tensor with a Python float', () => {
		// Sorted |w| has 0.5 and the next float32 above it at positions 3 and 4; q* = .75 on n_b = 6
		// gives τ = 0.5 + 0.75 ulp < next, which torch rounds up to next: it is pruned too
		// (checked against the reference's code under torch 1.13).
		const next = Math.fround(0.5 + 2 ** -24);
		const result = pruneDubTol(matrix([[0.1, -0.2, 0.3, 0.5, -next, 0.9]]), { tileSize: 8, tol: 0.5 });
		assert.equal(result.tiles.action[0], TileAction.forced);
		assert.deepEqual(rowsOf(result.values, 6), f32Rows([[0, 0, 0, 0, 0, 0.9]]));
	});

	void it('mask includes pre-existing zeros; in-place and out= give the same result', () => {
		const m = matrix([[0, 0.5, -0.3, 0.02, 0.4, 0.05], [0.9, -0.08, 0, 0.01, 0.3, 0], [0.2, 0.3, -0.06, 0.7, 0, 0.11]]);
		const copy = pruneDubAtThreshold(m, 0.1, { tileSize: 4 });
		assert.deepEqual(Array.from(copy.mask), Array.from(copy.values, (v) => (v === 0 ? 1 : 0)));
		assert.equal(copy.zeroCount, copy.mask.reduce((s, v) => s + v, 0));
		const before = m.values.filter((v) => v === 0).length;
		assert.equal(copy.zeroCount, before + copy.prunedCount);

		const out = new Float32Array(m.values.length);
		const mask = new Uint8Array(m.values.length);
		const viaOut = pruneDubAtThreshold(m, 0.1, { tileSize: 4, out, mask });
		assert.equal(viaOut.values, out);
		assert.equal(viaOut.mask, mask);
		assert.deepEqual(out, copy.values);

		const inPlace = { ...m, values: Float32Array.from(m.values) };
		const result = pruneDubAtThreshold(inPlace, 0.1, { tileSize: 4, out: inPlace.values });
		assert.equal(result.values, inPlace.values);
		assert.deepEqual(inPlace.values, copy.values);
	});

	void it('edge tiles: partial columns use n_b, missing output channels do not exist', () => {
		// O = 3 with T = 4, q = 2 → R = 2: tiles (0,0),(0,1),(1,0),(1,1); the second block has n_b = 2.
		const m = matrix([[0.05, 0.5, -0.3, 0.02, 0.4, 0.05], [0.9, -0.08, 0.04, 0.01, 0.3, 0.2], [0.2, 0.3, -0.06, 0.7, 0.01, 0.11]]);
		const result = pruneDubAtThreshold(m, 0.1, { tileSize: 4, slices: 2 });
		assert.deepEqual([result.tiles.grid.tileRows, result.tiles.grid.tileCols], [2, 2]);
		// Tile (0,1): columns [.4,.05] and [.3,.2]: z = [1, 0], s = 0 → loosened to q* = 0, each column's minimum goes.
		// Tile (1,1): column [.01,.11]: z = 1, n_b = 2, s = .5 → k = 1 = B−3; s < mid .625 → loosened to .5: the .01 goes.
		assert.deepEqual(rowsOf(result.values, 6).map((row) => row.slice(4)), f32Rows([[0.4, 0], [0.3, 0], [0, 0.11]]));
		// Tile (0,0): z = [2, 3], s = .5 → k = 1, loosened; tile (1,0): z = 1, s = .25 = mid → forced to .5.
		assert.deepEqual(Array.from(result.tiles.levelBefore), [1, 0, 0, 1]);
		assert.deepEqual(Array.from(result.tiles.action), [TileAction.loosened, TileAction.loosened, TileAction.forced, TileAction.loosened]);
		assert.deepEqual(rowsOf(result.values, 6)[2].slice(0, 4), f32Rows([[0, 0.3, 0, 0.7]])[0]);
	});
});

// ---- Property tests: random layers, every tile checked against an independent reading of §6.

interface Case {
	tileSize: number;
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
		const tileSize = [4, 8, 16, 32, 64][c % 5];
		const slices = random() < 0.3 ? 2 : 1;
		const r = tileSize / slices;
		const ratio = random() < 0.1 ? [0, 100, 50][randomInt(random, 0, 2)] : random() * 100;
		cases.push({
			tileSize,
			slices,
			outChannels: randomInt(random, 1, 3 * r + 3),
			fanIn: randomInt(random, 1, 3 * tileSize + 5),
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

function checkTiles(m: WeightMatrix, result: TilePruneResult, tileSize: number, slices: number, variant: 'fixed' | 'tol'): void {
	const { channelsPerTile: r, bins } = tileGeometry(tileSize, slices);
	const theta = Math.fround(result.threshold);
	const { tileRows, tileCols } = result.tiles.grid;
	assert.equal(tileRows, Math.ceil(m.outChannels / r));
	assert.equal(tileCols, Math.ceil(m.fanIn / tileSize));
	for (let a = 0; a < tileRows; a++) {
		for (let b = 0; b < tileCols; b++) {
			const t = a * tileCols + b;
			const o0 = a * r;
			const o1 = Math.min(m.outChannels, o0 + r);
			const k0 = b * tileSize;
			const n = Math.min(m.fanIn, k0 + tileSize) - k0;
			const columns = [];
			for (let o = o0; o < o1; o++) {
				const start = o * m.fanIn + k0;
				columns.push({ before: Array.from(m.values.subarray(start, start + n)), after: Array.from(result.values.subarray(start, start + n)) });
			}
			const zeros = Math.min(...columns.map((c) => c.before.filter((v) => Math.abs(v) <= theta).length));
			const k = histogramLevel(zeros, n, bins);
			const where = `tile (${a},${b}) of ${m.outChannels}×${m.fanIn}, T=${tileSize}, q=${slices}`;
			assert.equal(result.tiles.levelBefore[t], k, where);
			const s = zeros / n;
			let quantile: number | undefined;
			let expectedAction: number;
			if (k === bins - 1 || (k === bins - 2 && variant === 'tol')) {
				expectedAction = TileAction.zeroed;
			} else if (k === bins - 2) {
				expectedAction = TileAction.keptOne;
				quantile = 1 - 2 ** -(bins - 2);
			} else if (s >= (1 - 2 ** -k + 1 - 2 ** -(k + 1)) / 2) {
				expectedAction = TileAction.forced;
				quantile = 1 - 2 ** -(k + 1);
			} else {
				expectedAction = TileAction.loosened;
				quantile = 1 - 2 ** -k;
			}
			assert.equal(result.tiles.action[t], expectedAction, where);
			if (quantile === undefined) {
				for (const c of columns) assert.ok(c.after.every((v) => v === 0), where);
				continue;
			}
			// Distinct magnitudes: each column keeps n − (floor(q*(n−1)) + 1) weights (§6.1) ...
			const keep = n - (Math.floor(quantile * (n - 1)) + 1);
			if (n === tileSize && quantile > 0) {
				assert.equal(keep, tileSize * (1 - quantile), where); // ... = T·2^−k for full tiles
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
			assert.equal(result.tiles.levelAfter[t], level, where);
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
	const r = c.tileSize / c.slices;
	for (let o0 = 0; o0 < c.outChannels; o0 += r) {
		for (let k0 = 0; k0 < c.fanIn; k0 += c.tileSize) {
			const density = random() < 0.2 ? 0 : random() ** 3;
			for (let o = o0; o < Math.min(c.outChannels, o0 + r); o++) {
				for (let k = k0; k < Math.min(c.fanIn, k0 + c.tileSize); k++) {
					if (random() >= density) values[o * c.fanIn + k] *= 2 ** -20;
				}
			}
		}
	}
	return values;
}

void describe('D.U.B. pruning properties (random layers, seeded)', () => {
	for (const c of randomCases(60, 20240318)) {
		void it(`fixed ratio ${c.ratio} % on ${c.outChannels}×${c.fanIn}, T=${c.tileSize}, q=${c.slices}`, () => {
			for (const values of [distinctMagnitudes(c.outChannels * c.fanIn, c.seed), structuredLayer(c)]) {
				const m = { values, outChannels: c.outChannels, fanIn: c.fanIn };
				const result = pruneDubFixedRatio(m, c.ratio, { tileSize: c.tileSize, slices: c.slices });
				checkTiles(m, result, c.tileSize, c.slices, 'fixed');
			}
		});
	}

	void it('tol variant on random layers', () => {
		for (const c of randomCases(20, 7)) {
			const values = distinctMagnitudes(c.outChannels * c.fanIn, c.seed);
			const m = { values, outChannels: c.outChannels, fanIn: c.fanIn };
			const result = pruneDubTol(m, { tileSize: c.tileSize, slices: c.slices, tol: c.ratio / 100 });
			checkTiles(m, result, c.tileSize, c.slices, 'tol');
		}
	});

	void it('whole-tile pruning zeroes exactly the tiles that are entirely ≤ θ', () => {
		for (const c of randomCases(20, 11)) {
			const m = { values: distinctMagnitudes(c.outChannels * c.fanIn, c.seed), outChannels: c.outChannels, fanIn: c.fanIn };
			const result = pruneWholeTiles(m, { ratio: c.ratio }, { tileSize: c.tileSize, slices: c.slices });
			const theta = Math.fround(result.threshold);
			const r = c.tileSize / c.slices;
			for (let o = 0; o < c.outChannels; o++) {
				for (let k = 0; k < c.fanIn; k++) {
					const a = Math.floor(o / r);
					const b = Math.floor(k / c.tileSize);
					let allBelow = true;
					for (let oo = a * r; oo < Math.min(c.outChannels, (a + 1) * r); oo++) {
						for (let kk = b * c.tileSize; kk < Math.min(c.fanIn, (b + 1) * c.tileSize); kk++) {
							if (Math.abs(m.values[oo * c.fanIn + kk]) > theta) allBelow = false;
						}
					}
					const i = o * c.fanIn + k;
					assert.equal(result.values[i], allBelow ? 0 : m.values[i]);
					assert.equal(result.tiles.action[a * result.tiles.grid.tileCols + b], allBelow ? TileAction.zeroed : TileAction.untouched);
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
