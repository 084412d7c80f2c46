import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adcBitsForLevel, binEdges, levelFromCounts, sparsityBins } from '../../../src/hardware/levels';
import { adcEnergyOf, costOfHistogram, improvement } from '../../../src/hardware/energy';
import type { AdcLaw } from '../../../src/shared/analysis';

/** The network-level improvement of a level histogram, through the analysis's own accounting. */
function improvementFromHistogram(histogram: number[], crossbarSize: number, law: AdcLaw): number | null {
	const cost = costOfHistogram(histogram, crossbarSize, law);
	return improvement(cost.adcEnergyDense, cost.adcEnergy);
}

void describe('sparsity levels (docs/method.md §3, TV1–TV4)', () => {
	void it('TV1: bin edges for T = 4, 32, 64', () => {
		assert.deepEqual(binEdges(4), [0, 0.5, 0.75, 0.875, 1]);
		assert.equal(sparsityBins(4), 4);
		assert.deepEqual(binEdges(32), [0, 0.5, 0.75, 0.875, 0.9375, 0.96875, 0.984375, 1]);
		assert.equal(sparsityBins(32), 7);
		assert.deepEqual(binEdges(64), [...binEdges(32).slice(0, -1), 0.9921875, 1]);
	});

	void it('TV2: bin index at T = 64 from zero counts', () => {
		const bins = sparsityBins(64);
		const levelForZeros = (zeros: number) => levelFromCounts(64 - zeros, 64, bins);
		assert.deepEqual([0, 32, 39, 41, 48, 62, 63, 64].map(levelForZeros), [0, 1, 1, 1, 2, 5, 6, 7]);
	});

	void it('TV3: ADC bits per bin for T = 32, 64, 128, 256', () => {
		const bitsList = (t: number) => Array.from({ length: sparsityBins(t) }, (_, k) => adcBitsForLevel(k, t));
		assert.deepEqual(bitsList(32), [5, 4, 3, 2, 1, 0, 0]);
		assert.deepEqual(bitsList(64), [6, 5, 4, 3, 2, 1, 0, 0]);
		assert.deepEqual(bitsList(128), [7, 6, 5, 4, 3, 2, 1, 0, 0]);
		assert.deepEqual(bitsList(256), [8, 7, 6, 5, 4, 3, 2, 1, 0, 0]);
	});

	void it('TV4: a 16-non-zero LSC at T = 64 is level 2, 4 bits, 2/3 of the dense energy; 20 non-zeros is level 1', () => {
		const k16 = levelFromCounts(16, 64, sparsityBins(64));
		assert.equal(k16, 2);
		assert.equal(adcBitsForLevel(k16, 64), 4);
		assert.equal((adcEnergyOf('paper', 4) / adcEnergyOf('paper', 6)).toFixed(4), '0.6667');
		assert.equal(adcEnergyOf('walden', 4) / adcEnergyOf('walden', 6), 0.25);
		const k20 = levelFromCounts(20, 64, sparsityBins(64));
		assert.equal(k20, 1);
		assert.equal(adcBitsForLevel(k20, 64), 5);
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
	void it('paper law reproduces 7.134× (VGG11/CIFAR-10, T = 32)', () => {
		const value = improvementFromHistogram([61, 646, 827, 86, 767, 5481, 1134], 32, 'paper');
		assert.equal(value, 45010 / 6309);
		assert.equal(value?.toFixed(3), '7.134');
	});

	void it('paper law reproduces 1.2700× (ResNet18/ImageNet, T = 64)', () => {
		const value = improvementFromHistogram([6, 1964, 757, 0, 0, 0, 0, 0], 64, 'paper');
		assert.equal(value, 16362 / 12884);
		assert.equal(value?.toFixed(2), '1.27');
	});

	void it('paper law gives 3.436× for the third TV5 histogram', () => {
		const value = improvementFromHistogram([419, 1470, 393, 1272, 1403, 2242, 1803], 32, 'paper');
		assert.equal(value?.toFixed(3), '3.436');
	});

	void it('walden (×2 per bit) and thermal (×4 per bit) on the CIFAR histogram', () => {
		const hist = [61, 646, 827, 86, 767, 5481, 1134];
		assert.equal(improvementFromHistogram(hist, 32, 'walden')?.toFixed(2), '13.86');
		assert.equal(improvementFromHistogram(hist, 32, 'thermal')?.toFixed(2), '32.32');
	});
});
