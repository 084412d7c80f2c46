import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/core/errors';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import { toMatrix } from '../../../src/hardware/matrix';
import { pruneGraph } from '../../../src/pruning/pruneModel';
import { memoryGraph, memoryTensor, rng } from '../../helpers/graphs';
import type { ModelGraph } from '../../../src/core/model';

function randomValues(n: number, seed: number): Float32Array {
	const random = rng(seed);
	return new Float32Array(n).map(() => (random() - 0.5) * 2);
}

void describe('pruneGraph (model-level D.U.B. prune)', () => {
	const graph = memoryGraph([
		{ name: 'conv1', shape: [32, 8, 3, 3], values: randomValues(32 * 72, 1) },
		{ name: 'conv2', shape: [40, 32, 3, 3], values: randomValues(40 * 288, 2) },
		{ name: 'fc', shape: [10, 40], values: randomValues(400, 3) },
	]);
	const profile = resolveProfile({ crossbarSize: 16 });

	void it('balances every crossbar it processes and beats unstructured pruning at the same ratios', async () => {
		const outcome = await pruneGraph(graph, profile, { method: 'dub', ratios: { ratios: [60, 80] } });
		assert.deepEqual(outcome.layers.map((l) => [l.name, l.ratio]), [['conv1', 60], ['conv2', 80]]);
		assert.equal(outcome.before.totals.adcEnergyImprovement, 1);
		const dub = outcome.after.totals.adcEnergyImprovement ?? Infinity;
		const base = outcome.unstructured?.totals.adcEnergyImprovement ?? Infinity;
		assert.ok(dub > base, `D.U.B. ${dub} should beat unstructured ${base}`);
		// Re-analysing the updated tensors gives the 'after' statistics.
		const updated: ModelGraph = { ...graph, tensors: [], layers: graph.layers.map((l) => ({ ...l, tensor: memoryTensor(l.tensor.name, [...l.tensor.shape], outcome.updates.get(l.tensor.name)) })) };
		const reanalysis = (await analyzeGraph(updated, profile)).result;
		assert.deepEqual(reanalysis.totals.levelHistogram, outcome.after.totals.levelHistogram);
		assert.deepEqual(reanalysis.layers.map((l) => l.zeros), outcome.after.layers.map((l) => l.zeros));
		// Linear layers are never pruned.
		assert.equal(outcome.updates.has('fc.weight'), false);
		for (const layer of outcome.layers) {
			const values = outcome.updates.get(`${layer.name}.weight`) as Float32Array;
			assert.equal(layer.zerosAfter, values.filter((v) => v === 0).length);
		}
	});

	void it('writes updates back in the tensor\'s own layout (HWIO stays HWIO)', async () => {
		const hwio = randomValues(3 * 3 * 8 * 32, 9);
		const g = memoryGraph([{ name: 'k', shape: [3, 3, 8, 32], values: hwio, layout: 'HWIO' }]);
		const outcome = await pruneGraph(g, profile, { method: 'unstructured', ratios: { ratio: 50 } });
		const updated = outcome.updates.get('k.weight') as Float32Array;
		for (let i = 0; i < hwio.length; i++) {
			assert.ok(updated[i] === 0 || updated[i] === hwio[i]);
		}
		// The same weights are pruned as when pruning the OIHW matrix directly.
		const m = toMatrix(hwio, [3, 3, 8, 32], 'HWIO');
		const prunedMatrix = toMatrix(updated, [3, 3, 8, 32], 'HWIO');
		const threshold = [...m].map(Math.abs).sort((a, b) => a - b)[Math.floor(0.5 * (m.length - 1))];
		for (let i = 0; i < m.length; i++) {
			assert.equal(prunedMatrix[i] === 0, Math.abs(m[i]) <= threshold);
		}
	});

	void it('needs ratios for ratio methods and names the mismatch', async () => {
		await assert.rejects(pruneGraph(graph, profile, { method: 'dub' }), UsageError);
		await assert.rejects(pruneGraph(graph, profile, { method: 'dub', ratios: { ratios: [50] } }), /1 prune ratios for 2 conv layers/);
		await assert.rejects(pruneGraph(graph, profile, { method: 'dub', ratios: { preset: 'vgg11-cifar10' } }), /conv1/);
	});

	void it('dub-tol prunes by threshold and compares against unstructured at the reached sparsity', async () => {
		const outcome = await pruneGraph(graph, profile, { method: 'dub-tol', pruneTol: 0.3 });
		assert.ok(outcome.unstructured);
		outcome.layers.forEach((l, i) => {
			const base = outcome.unstructured?.layers[i];
			assert.ok(base && Math.abs(base.zeros - l.zerosAfter) <= 1, `${l.name}: baseline zeros ${base?.zeros} vs ${l.zerosAfter}`);
		});
	});
});
