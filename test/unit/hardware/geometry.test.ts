import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossbarGeometry, crossbarGrid } from '../../../src/hardware/geometry';
import { binEdges, levelFromCounts, sparsityBins } from '../../../src/hardware/levels';
import { checkMatrix } from '../../../src/pruning/weightMatrix';

void describe('crossbar geometry and levels (docs/method.md §1–§3, A17)', () => {
	void it('TV1: bins and edges', () => {
		assert.equal(sparsityBins(4), 4);
		assert.deepEqual(binEdges(4), [0, 0.5, 0.75, 0.875, 1]);
		assert.equal(sparsityBins(32), 7);
		assert.deepEqual(binEdges(32), [0, 0.5, 0.75, 0.875, 0.9375, 0.96875, 0.984375, 1]);
		assert.equal(sparsityBins(64), 8);
		assert.deepEqual(binEdges(64), [0, 0.5, 0.75, 0.875, 0.9375, 0.96875, 0.984375, 0.9921875, 1]);
		// Any size the pruning math accepts: B = ⌈log2 T⌉ + 2.
		assert.deepEqual([128, 256, 27, 48, 1].map(sparsityBins), [9, 10, 7, 8, 2]);
	});

	void it('TV2: level at T = 64 from zero counts', () => {
		const level = (zeros: number) => levelFromCounts(64 - zeros, 64, 8);
		assert.deepEqual([0, 32, 39, 41, 48, 62, 63, 64].map(level), [0, 1, 1, 1, 2, 5, 6, 7]);
	});

	void it('A17 agrees with np.histogram on the float fraction for every count, T ≤ 256', () => {
		for (const T of [4, 8, 16, 32, 64, 128, 256]) {
			const bins = sparsityBins(T);
			const edges = binEdges(T);
			for (let n = 1; n <= T; n++) {
				for (let zeros = 0; zeros <= n; zeros++) {
					const s = Math.fround(zeros / n); // the reference divides in float32
					let k = 0;
					for (let j = 0; j < bins; j++) if (s >= edges[j]) k = j;
					assert.equal(levelFromCounts(n - zeros, n, bins), k, `T=${T} n=${n} zeros=${zeros}`);
				}
			}
		}
	});

	void it('TV17: tile counts of VGG11 and ResNet18', () => {
		const vgg = [[64, 27], [128, 576], [256, 1152], [256, 2304], [512, 2304], [512, 4608], [512, 4608], [512, 4608]];
		const count = (layers: number[][], T: number) => layers.map(([o, k]) => crossbarGrid(o, k, crossbarGeometry(T)).count);
		assert.deepEqual(count(vgg, 64), [1, 18, 72, 144, 288, 576, 576, 576]);
		const total = (T: number) => count(vgg, T).reduce((s, x) => s + x, 0);
		assert.deepEqual([32, 64, 128, 256].map(total), [9002, 2251, 564, 144]);
		const resnet = [
			[64, 147], [64, 576], [64, 576], [64, 576], [64, 576],
			[128, 576], [128, 1152], [128, 64], [128, 1152], [128, 1152],
			[256, 1152], [256, 2304], [256, 128], [256, 2304], [256, 2304],
			[512, 2304], [512, 4608], [512, 256], [512, 4608], [512, 4608],
		];
		assert.deepEqual(count(resnet, 64), [3, 9, 9, 9, 9, 18, 36, 2, 36, 36, 72, 144, 8, 144, 144, 288, 576, 32, 576, 576]);
		assert.equal(count(resnet, 64).reduce((s, x) => s + x, 0), 2727);
	});

	void it('geometry: R = floor(T/q); bad sizes and matrices are rejected', () => {
		assert.deepEqual(crossbarGeometry(4, 2), { crossbarSize: 4, slices: 2, channelsPerCrossbar: 2, bins: 4 });
		assert.deepEqual(crossbarGrid(5, 9, crossbarGeometry(4, 2)), { inputBlocks: 3, channelGroups: 3, count: 9 });
		assert.throws(() => crossbarGeometry(0), RangeError);
		assert.throws(() => crossbarGeometry(8, 16), RangeError);
		assert.throws(() => crossbarGeometry(8.5), RangeError);
		assert.throws(() => checkMatrix({ values: new Float32Array(5), outChannels: 2, fanIn: 3 }), /needs 6 values/);
	});
});
