import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelFormatError, UsageError } from '../../../src/core/errors';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { countColumnNonZeros } from '../../../src/hardware/columnCounts';
import { resolveProfile } from '../../../src/hardware/profile';
import { mergeBlocks, sweepGraph } from '../../../src/hardware/sweep';
import type { AdcLaw } from '../../../src/shared/analysis';
import { memoryGraph, rng } from '../../helpers/graphs';

/** Weights with a sparsity that changes from block to block, so that every level occurs. */
function sparseValues(n: number, seed: number): Float32Array {
	const random = rng(seed);
	const out = new Float32Array(n);
	let density = random();
	for (let i = 0; i < n; i++) {
		if (i % 37 === 0) density = random() ** 2;
		out[i] = random() < density ? random() - 0.5 : 0;
	}
	return out;
}

const laws: AdcLaw[] = ['paper', 'walden', 'thermal'];

void describe('sweepGraph: the design space from one read', () => {
	const graph = memoryGraph([
		{ name: 'conv1', shape: [24, 3, 3, 3], values: sparseValues(24 * 27, 1), invocations: 1024 },
		{ name: 'conv2', shape: [70, 24, 3, 3], values: sparseValues(70 * 216, 2), invocations: 256 },
		{ name: 'conv3', shape: [130, 70, 1, 1], values: sparseValues(130 * 70, 3), invocations: 64 },
		{ name: 'fc', shape: [10, 130], values: sparseValues(1300, 4), invocations: 1 },
	]);

	for (const base of [{}, { includeLinear: true }, { tol: 0.2 }, { includeLinear: true, inputBits: 4, adcEnergyPjAt8Bits: 3 }]) {
		void it(`every setting's totals equal a separate analysis (${JSON.stringify(base)})`, async () => {
			const profile = resolveProfile(base);
			const sweep = await sweepGraph(graph, profile, { crossbarSizes: [128, 4, 16, 8, 512, 32, 64, 256], slices: [2, 1, 4], adcLaws: laws });
			assert.equal(sweep.points.length, 8 * 3 * 3);
			assert.deepEqual(sweep.crossbarSizes, [4, 8, 16, 32, 64, 128, 256, 512]);
			for (const point of sweep.points) {
				const single = (await analyzeGraph(graph, resolveProfile({ ...base, crossbarSize: point.crossbarSize, slices: point.slices, adcLaw: point.adcLaw }))).result;
				assert.deepEqual(point.totals, single.totals, `T=${point.crossbarSize} q=${point.slices} ${point.adcLaw}`);
				assert.equal(point.channelsPerCrossbar, single.profile.channelsPerCrossbar);
			}
			// One line per law and slicing, crossbar sizes ascending along it.
			assert.deepEqual(sweep.points.slice(0, 8).map((p) => [p.adcLaw, p.slices, p.crossbarSize]), sweep.crossbarSizes.map((t) => ['paper', 1, t]));
		});
	}

	void it('sizes and slicings that skip a step (×4, ×8) merge as well', async () => {
		const profile = resolveProfile({ includeLinear: true });
		const sweep = await sweepGraph(graph, profile, { crossbarSizes: [8, 64, 512], slices: [1, 8], adcLaws: ['thermal'] });
		for (const point of sweep.points) {
			const single = (await analyzeGraph(graph, resolveProfile({ includeLinear: true, crossbarSize: point.crossbarSize, slices: point.slices, adcLaw: 'thermal' }))).result;
			assert.deepEqual(point.totals, single.totals, `T=${point.crossbarSize} q=${point.slices}`);
		}
	});

	void it('per-inference energy is there when every layer\'s output size is known, with analyze\'s note when not', async () => {
		const sweep = await sweepGraph(graph, resolveProfile({ includeLinear: true }), { crossbarSizes: [16, 64], slices: [1], adcLaws: ['walden'] });
		assert.ok(sweep.points.every((p) => p.totals.perInference !== undefined && p.totals.perInference.adcEnergyPj > 0));
		const partial = memoryGraph([{ name: 'a', shape: [8, 4, 3, 3], invocations: 4 }, { name: 'b', shape: [8, 8, 3, 3] }]);
		const without = await sweepGraph(partial, resolveProfile({}), { crossbarSizes: [16, 32], slices: [1], adcLaws: ['paper'] });
		assert.ok(without.points.every((p) => p.totals.perInference === undefined));
		const single = (await analyzeGraph(partial, resolveProfile({ crossbarSize: 16 }))).result;
		assert.deepEqual(without.warnings, single.warnings, 'the same notes as analyze, once');
	});

	void it('mergeBlocks sums neighbouring blocks into the counts of a larger crossbar', () => {
		const random = rng(9);
		for (let trial = 0; trial < 50; trial++) {
			const rows = 1 + Math.floor(random() * 9);
			const cols = 1 + Math.floor(random() * 300);
			const values = sparseValues(rows * cols, 100 + trial);
			const small = countColumnNonZeros(values, rows, cols, 4, 0);
			for (const factor of [2, 4, 16, 128]) {
				assert.deepEqual(mergeBlocks(small, factor), countColumnNonZeros(values, rows, cols, 4 * factor, 0), `${rows}×${cols} ×${factor}`);
			}
		}
	});

	void it('a setting the profile does not allow is a usage error naming it, before the file is read', async () => {
		let loaded = false;
		const watched = { ...graph, layers: graph.layers.map((l) => ({ ...l, tensor: { ...l.tensor, load: async () => { loaded = true; return new Float32Array(0); } } })) };
		await assert.rejects(sweepGraph(watched, resolveProfile({}), { crossbarSizes: [16, 48], slices: [1], adcLaws: ['paper'] }), (ex) => ex instanceof UsageError && /T=48/.test(ex.message));
		await assert.rejects(sweepGraph(watched, resolveProfile({}), { crossbarSizes: [2, 16], slices: [4], adcLaws: ['paper'] }), (ex) => ex instanceof UsageError && /T=2, q=4/.test(ex.message));
		await assert.rejects(sweepGraph(watched, resolveProfile({}), { crossbarSizes: [], slices: [1], adcLaws: ['paper'] }), UsageError);
		assert.equal(loaded, false);
	});

	void it('NaN weights are the analysis\'s error; progress per layer; a cancelled sweep stops', async () => {
		const nan = memoryGraph([{ name: 'bad', shape: [4, 2, 3, 3], values: new Float32Array(72).fill(Number.NaN) }]);
		await assert.rejects(sweepGraph(nan, resolveProfile({}), { crossbarSizes: [16], slices: [1], adcLaws: ['paper'] }), (ex) => ModelFormatError.is(ex) && ex.reason === 'nan-weights');
		const seen: string[] = [];
		await sweepGraph(graph, resolveProfile({}), { crossbarSizes: [16], slices: [1], adcLaws: ['paper'] }, { onProgress: (done, total, layer) => seen.push(`${done}/${total} ${layer}`) });
		assert.deepEqual(seen, ['1/3 conv1', '2/3 conv2', '3/3 conv3']);
		const abort = new AbortController();
		abort.abort();
		await assert.rejects(sweepGraph(graph, resolveProfile({}), { crossbarSizes: [16], slices: [1], adcLaws: ['paper'] }, { signal: abort.signal }), /abort|cancel/i);
	});
});
