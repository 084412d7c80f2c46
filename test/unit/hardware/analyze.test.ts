import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { countColumnNonZeros } from '../../../src/hardware/columnCounts';
import { fromMatrix, toMatrix } from '../../../src/hardware/matrix';
import { resolveProfile } from '../../../src/hardware/profile';
import { memoryGraph, rng } from '../../helpers/graphs';
import { flat, vectors } from '../../helpers/testVectors';

void describe('crossbar mapping (docs/method.md §2)', () => {
	const tv10 = vectors.TV10;
	const [o, c, kh, kw] = tv10.weightShape;

	void it('TV10: conv weight (2,2,1,2) flattens to M = [[1,0,2,1],[1,2,0,3]] and tiles M[:,0:2], M[:,2:4]', async () => {
		const w = Float32Array.from(flat(tv10.weight)); // OIHW, row-major
		const { result } = await analyzeGraph(memoryGraph([{ name: 'conv', shape: tv10.weightShape, values: w }]), resolveProfile({ crossbarSize: tv10.T }), { keepColumnCounts: true });
		const layer = result.layers[0];
		const M = tv10.expected.matrix;
		assert.deepEqual(layer.matrix, [M.length, M[0].length]);
		assert.equal(layer.tiles, tv10.expected.tiles.length);
		// One crossbar per block of T inputs (grid rows), both output channels in one group (grid column).
		assert.deepEqual([layer.grid.inputBlocks, layer.grid.channelGroups], [tv10.expected.tiles.length, 1]);
		// Each tile's least-sparse column: the most non-zeros of one output channel in that block.
		assert.deepEqual(layer.grid.lscNonZeros, tv10.expected.tiles.map((tile) => Math.max(...tile.map((column) => column.filter((v) => v !== 0).length))));
		assert.equal(layer.zeros, flat(M).filter((v) => v === 0).length);
		// The tiles are M[:, b·T:(b+1)·T].
		tv10.expected.tiles.forEach((tile, b) => assert.deepEqual(tile, M.map((row) => row.slice(b * tv10.T, (b + 1) * tv10.T))));
		assert.deepEqual(Array.from(toMatrix(w, tv10.weightShape, 'OIHW')), flat(M));
	});

	void it('TV10 in HWIO (TF.js/Keras) gives the same matrix as OIHW', () => {
		const oihw = Float32Array.from(flat(tv10.weight));
		const hwio = new Float32Array(oihw.length);
		for (let a = 0; a < o; a++) for (let b = 0; b < c; b++) for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) {
			hwio[((h * kw + w) * c + b) * o + a] = oihw[((a * c + b) * kh + h) * kw + w];
		}
		assert.deepEqual(Array.from(toMatrix(hwio, [kh, kw, c, o], 'HWIO')), flat(tv10.expected.matrix));
		assert.deepEqual(Array.from(fromMatrix(toMatrix(hwio, [kh, kw, c, o], 'HWIO'), [kh, kw, c, o], 'HWIO')), Array.from(hwio));
		assert.deepEqual(Array.from(toMatrix(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2], 'IO')), [1, 3, 5, 2, 4, 6]);
	});

	for (const [id, net, names] of [['VGG11-CIFAR', vectors.TV17.vgg11Cifar, (i: number) => `features.${i}`], ['torchvision ResNet18', vectors.TV17.resnet18, (i: number) => vectors.TV17.resnet18.names?.[i] ?? `conv${i}`]] as const) {
		void it(`TV17: ${id} occupies ${Object.entries(net.crossbars).map(([T, n]) => `${n} crossbars at T = ${T}`).join(', ')}, per layer as the reference`, async () => {
			const graph = memoryGraph(net.shapes.map((shape, i) => ({ name: names(i), shape })));
			for (const [T, crossbars] of Object.entries(net.crossbars)) {
				const { result } = await analyzeGraph(graph, resolveProfile({ crossbarSize: Number(T) }));
				assert.equal(result.totals.tiles, crossbars, `T = ${T}`);
				assert.equal(result.totals.weights, net.weights);
				if (T === '64') {
					assert.deepEqual(result.layers.map((l) => l.tiles), net.perLayerAt64);
				}
			}
		});
	}

	void it('slices: with q = 2 a 64-row crossbar holds 32 output channels', async () => {
		const { result } = await analyzeGraph(memoryGraph([{ name: 'c', shape: [64, 64, 1, 1] }]), resolveProfile({ crossbarSize: 64, slices: 2 }));
		assert.deepEqual([result.layers[0].grid.inputBlocks, result.layers[0].grid.channelGroups], [1, 2]);
	});
});

void describe('tile statistics', () => {
	void it('per-column counts match a plain loop on random sparse matrices, with and without tol', () => {
		const random = rng(7);
		for (const [rows, cols, block] of [[5, 70, 16], [33, 27, 64], [64, 129, 32], [3, 1, 4]]) {
			const m = new Float32Array(rows * cols).map(() => (random() < 0.4 ? 0 : (random() - 0.5) * 0.01));
			m[0] = -0;
			for (const tol of [0, 1e-3]) {
				const got = countColumnNonZeros(m, rows, cols, block, tol);
				const blocks = Math.ceil(cols / block);
				for (let o = 0; o < rows; o++) for (let b = 0; b < blocks; b++) {
					let n = 0;
					for (let i = b * block; i < Math.min(cols, (b + 1) * block); i++) n += Math.abs(m[o * cols + i]) > tol ? 1 : 0;
					assert.equal(got.counts[o * blocks + b], n);
				}
				assert.equal(got.nanCount, 0);
			}
		}
	});

	void it('a D.U.B.-shaped tile (every column 16 of 64) is level 2 and costs 4 of 6 bits', async () => {
		const m = new Float32Array(64 * 64);
		for (let o = 0; o < 64; o++) for (let j = 0; j < 16; j++) m[o * 64 + ((o + j * 4) % 64)] = 0.5;
		const { result } = await analyzeGraph(memoryGraph([{ name: 'c', shape: [64, 64, 1, 1], values: m }]), resolveProfile({ crossbarSize: 64 }));
		assert.deepEqual(result.layers[0].levelHistogram, [0, 0, 1, 0, 0, 0, 0, 0]);
		assert.equal(result.totals.adcBits, 4);
		assert.equal(result.totals.adcEnergyImprovement, 1.5);
	});

	void it('one column denser than the rest sets the crossbar level (least-sparse column)', async () => {
		const m = new Float32Array(64 * 64);
		for (let o = 0; o < 64; o++) for (let j = 0; j < (o === 5 ? 40 : 4); j++) m[o * 64 + j] = 1;
		const { result } = await analyzeGraph(memoryGraph([{ name: 'c', shape: [64, 64, 1, 1], values: m }]), resolveProfile({ crossbarSize: 64 }));
		assert.equal(result.layers[0].grid.lscNonZeros[0], 40);
		assert.deepEqual(result.layers[0].levelHistogram, [1, 0, 0, 0, 0, 0, 0, 0]);
	});

	void it('NaN weights stop the analysis with reason nan-weights', async () => {
		const m = new Float32Array(64).fill(1);
		m[17] = NaN;
		await assert.rejects(analyzeGraph(memoryGraph([{ name: 'bad', shape: [4, 16, 1, 1], values: m }]), resolveProfile({ crossbarSize: 16 })),
			(ex) => ModelFormatError.is(ex, 'nan-weights') && /bad/.test(ex.message));
	});

	void it('linear layers count only on request, and their omission is a warning', async () => {
		const graph = memoryGraph([{ name: 'conv', shape: [8, 1, 3, 3] }, { name: 'fc', shape: [10, 72] }]);
		const convOnly = (await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }))).result;
		assert.deepEqual(convOnly.layers.map((l) => l.name), ['conv']);
		assert.match(convOnly.warnings.join(' '), /1 linear layer is not counted/);
		const all = (await analyzeGraph(graph, resolveProfile({ crossbarSize: 16, includeLinear: true }))).result;
		assert.deepEqual(all.layers.map((l) => [l.name, l.kind, l.tiles]), [['conv', 'conv', 1], ['fc', 'linear', 5]]);
	});

	void it('per-inference energy weights each crossbar by how often it fires', async () => {
		// Two dense layers of one crossbar each; one fires 100 times, the other once.
		const sparse = new Float32Array(16 * 16);
		for (let o = 0; o < 16; o++) sparse[o * 16 + o] = 1; // one non-zero per column → 0 bits
		const graph = memoryGraph([{ name: 'big', shape: [16, 16, 1, 1], invocations: 100 }, { name: 'small', shape: [16, 16, 1, 1], values: sparse, invocations: 1 }]);
		const { result } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
		assert.equal(result.totals.adcEnergyImprovement, 2); // per crossbar: (4 + 4) / (4 + 0)
		assert.equal(result.totals.perInference?.adcEnergyImprovement, 101 / 100);
		assert.equal(result.totals.perInference?.crossbarActivations, 101);
	});
});
