import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossbarGeometry, crossbarGrid } from '../../../src/hardware/geometry';
import { binEdges, levelFromCounts, sparsityBins } from '../../../src/hardware/levels';
import { checkMatrix } from '../../../src/hardware/matrix';
import { vectors } from '../../helpers/testVectors';

void describe('crossbar geometry and levels (docs/method.md §1–§3, A17)', () => {
	void it('TV1: bins and edges', () => {
		for (const { T, B, edges } of vectors.TV1.cases) {
			assert.equal(sparsityBins(T), B, `B at T = ${T}`);
			assert.deepEqual(binEdges(T), edges, `edges at T = ${T}`);
		}
		// Any size the pruning math accepts: B = ⌈log2 T⌉ + 2.
		assert.deepEqual([128, 256, 27, 48, 1].map(sparsityBins), [9, 10, 7, 8, 2]);
	});

	void it('TV2: level at T = 64 from zero counts', () => {
		const { T, cases } = vectors.TV2;
		assert.deepEqual(cases.map(({ zeros }) => levelFromCounts(T - zeros, T, sparsityBins(T))), cases.map(({ k }) => k));
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
		const { vgg11Cifar, resnet18 } = vectors.TV17;
		const count = (shapes: number[][], T: number) => shapes.map(([o, c, kh, kw]) => crossbarGrid(o, c * kh * kw, crossbarGeometry(T)).count);
		const total = (shapes: number[][], T: number) => count(shapes, T).reduce((s, x) => s + x, 0);
		for (const net of [vgg11Cifar, resnet18]) {
			assert.deepEqual(count(net.shapes, 64), net.perLayerAt64);
			for (const [T, crossbars] of Object.entries(net.crossbars)) assert.equal(total(net.shapes, Number(T)), crossbars, `T = ${T}`);
		}
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
