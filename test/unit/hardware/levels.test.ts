import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adcBitsForLevel, binEdges, levelFromCounts, sparsityBins } from '../../../src/hardware/levels';
import { adcEnergyOf, costOfHistogram, improvement as improvementOf } from '../../../src/hardware/energy';
import type { AdcLaw } from '../../../src/shared/analysis';
import { vectors } from '../../helpers/testVectors';

/** The network-level improvement of a level histogram, through the analysis's own accounting. */
function improvementFromHistogram(histogram: number[], crossbarSize: number, law: AdcLaw): number | null {
	const cost = costOfHistogram(histogram, crossbarSize, law);
	return improvementOf(cost.adcEnergyDense, cost.adcEnergy);
}

void describe('sparsity levels (docs/method.md §3, TV1–TV4)', () => {
	void it('TV1: bin edges for T = 4, 32, 64', () => {
		for (const { T, B, edges } of vectors.TV1.cases) {
			assert.equal(sparsityBins(T), B, `B at T = ${T}`);
			assert.deepEqual(binEdges(T), edges, `edges at T = ${T}`);
		}
	});

	void it('TV2: bin index at T = 64 from zero counts', () => {
		const { T, cases } = vectors.TV2;
		const bins = sparsityBins(T);
		assert.deepEqual(cases.map(({ zeros }) => levelFromCounts(T - zeros, T, bins)), cases.map(({ k }) => k));
	});

	void it('TV3: ADC bits per bin for T = 32, 64, 128, 256', () => {
		for (const { T, bits } of vectors.TV3.cases) {
			assert.deepEqual(Array.from({ length: sparsityBins(T) }, (_, k) => adcBitsForLevel(k, T)), bits, `T = ${T}`);
		}
	});

	void it('TV4: a 16-non-zero LSC at T = 64 is level 2, 4 bits, 2/3 of the dense energy; 20 non-zeros is level 1', () => {
		const { T, cases } = vectors.TV4;
		const denseBits = adcBitsForLevel(0, T);
		for (const c of cases) {
			const k = levelFromCounts(c.lscNonZeros, T, sparsityBins(T));
			assert.equal(k, c.k, `k for ${c.lscNonZeros} non-zeros`);
			assert.equal(adcBitsForLevel(k, T), c.bits, `bits for ${c.lscNonZeros} non-zeros`);
			assert.equal(binEdges(T)[k] <= c.s && c.s < binEdges(T)[k + 1], true, `s = ${c.s} lies in bin ${k}`);
			if (c.relativeEnergy && c.relativeEnergyTolerance) {
				for (const law of ['paper', 'walden'] as const) {
					const relative = adcEnergyOf(law, c.bits) / adcEnergyOf(law, denseBits);
					assert.ok(Math.abs(relative - c.relativeEnergy[law]) <= c.relativeEnergyTolerance[law], `${law}: ${relative} vs ${c.relativeEnergy[law]}`);
				}
			}
		}
	});

	void it('partial columns use their own length (a dense 27-row tile at T = 64 still costs 6 bits)', () => {
		assert.equal(levelFromCounts(27, 27, 8), 0);
		assert.equal(adcBitsForLevel(0, 64), 6);
		assert.equal(levelFromCounts(13, 27, 8), 1);
		assert.equal(levelFromCounts(14, 27, 8), 0);
	});

	void it('agrees with the numpy-histogram rule on every count at T = 64', () => {
		const edges = binEdges(64);
		for (let nonZeros = 0; nonZeros <= 64; nonZeros++) {
			const s = (64 - nonZeros) / 64;
			let expected = edges.length - 2;
			for (let k = 0; k < edges.length - 1; k++) {
				if (s >= edges[k] && s < edges[k + 1]) {
					expected = k;
					break;
				}
			}
			assert.equal(levelFromCounts(nonZeros, 64, 8), expected, `N = ${nonZeros}`);
		}
	});
});

void describe('ADC energy laws (docs/method.md §5, TV5)', () => {
	void it('TV5: the paper law reproduces 7.134× (VGG11/CIFAR-10, T = 32), 1.27× (ResNet18/ImageNet, T = 64) and 3.436×', () => {
		for (const { T, histogram, dense, current, improvement, decimals } of vectors.TV5.cases) {
			assert.equal(histogram.reduce((sum, n) => sum + n * adcBitsForLevel(0, T), 0), dense, `dense bits of ${histogram}`);
			assert.equal(histogram.reduce((sum, n, k) => sum + n * adcBitsForLevel(k, T), 0), current, `bits of ${histogram}`);
			const cost = costOfHistogram(histogram, T, 'paper');
			assert.deepEqual([cost.adcBitsDense, cost.adcBits], [dense, current], `${histogram}`);
			const value = improvementFromHistogram(histogram, T, 'paper');
			assert.equal(value, dense / current, `${histogram}`);
			assert.equal(value?.toFixed(decimals), improvement.toFixed(decimals), `${histogram}`);
		}
	});

	void it('walden (×2 per bit) and thermal (×4 per bit) on the CIFAR histogram', () => {
		const hist = [61, 646, 827, 86, 767, 5481, 1134];
		assert.equal(improvementFromHistogram(hist, 32, 'walden')?.toFixed(2), '13.86');
		assert.equal(improvementFromHistogram(hist, 32, 'thermal')?.toFixed(2), '32.32');
	});

	void it('levelFromCounts is the largest k ≤ B−2 with N·2^k ≤ n, B−1 when empty, for every count up to T = 4096', () => {
		const byLoop = (lsc: number, n: number, bins: number) => {
			if (lsc === 0) return bins - 1;
			let k = 0;
			while (k < bins - 2 && lsc * 2 ** (k + 1) <= n) k++;
			return k;
		};
		for (const T of [2, 4, 16, 64, 4096]) {
			const bins = sparsityBins(T);
			for (let n = 1; n <= T; n += n < 300 ? 1 : 37) {
				for (let lsc = 0; lsc <= n; lsc++) assert.equal(levelFromCounts(lsc, n, bins), byLoop(lsc, n, bins), `N=${lsc} n=${n} T=${T}`);
			}
		}
	});
});

