import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { pruneDubFixedRatio } from '../../../src/pruning/dub';
import { dubRegularizer } from '../../../src/pruning/regularizer';
import { initTrainingBackend } from '../../../src/training/tfjs/backend';
import { LocalCollective, createSharedBuffer } from '../../../src/training/tfjs/collective';
import { TrainableModel } from '../../../src/training/tfjs/model';
import { scheduledLr } from '../../../src/training/tfjs/pipeline';
import { Trainer, adcMetrics } from '../../../src/training/tfjs/trainer';
import { resolveProfile } from '../../../src/hardware/profile';
import { node, tinyDataset, tinySpec } from './tinyModel';

const backend = 'wasm' as const;

function step(model: TrainableModel, lambda: number, lr = 1) {
	const trainer = new Trainer(model, tinyDataset(), new LocalCollective());
	return trainer.trainEpoch({ lr, momentum: 0, weightDecay: 0, batchSize: 24, trainables: model.trainables(), regularizer: lambda > 0 ? { lambda, crossbarSize: 4, slices: 1 } : undefined, seed: 1, maxSteps: 1 });
}

void describe('tfjs engine: model, trainer, masks', () => {
	before(async () => {
		await initTrainingBackend(backend);
	});

	void it('adds the closed-form D.U.B. gradient to conv weight gradients only (after backprop)', async () => {
		const lambda = 0.05;
		const plain = new TrainableModel(tinySpec());
		const regularized = new TrainableModel(tinySpec());
		const expected = new Map<string, Float32Array>();
		for (const p of regularized.convs) {
			const grad = new Float32Array(p.values.length);
			dubRegularizer({ values: p.values, outChannels: p.outChannels!, fanIn: p.fanIn! }, { crossbarSize: 4, lambda }, grad);
			expected.set(p.name, grad);
		}
		const a = await step(plain, 0);
		const b = await step(regularized, lambda);
		assert.ok(b.regularizerLoss > 0 && a.regularizerLoss === 0);
		for (const p of plain.params) {
			const q = regularized.param(p.name)!;
			const reg = expected.get(p.name);
			for (let i = 0; i < p.values.length; i++) {
				// lr = 1: w_plain − w_reg = g_reg exactly up to float32 rounding of w.
				const diff = p.values[i] - q.values[i];
				const want = reg ? reg[i] : 0;
				assert.ok(Math.abs(diff - want) <= 1e-6 * (1 + Math.abs(want)) + 2e-7, `${p.name}[${i}]: ${diff} vs ${want}`);
			}
		}
		assert.ok([...expected.values()].some((g) => g.some((v) => v !== 0)), 'the test has a non-zero regularizer gradient');
		plain.dispose();
		regularized.dispose();
	});

	void it('keeps masked weights at exactly 0 after every step and trains the rest', async () => {
		const model = new TrainableModel(tinySpec());
		const masks = new Map<string, Uint8Array>();
		for (const p of model.convs) {
			const r = pruneDubFixedRatio({ values: p.values, outChannels: p.outChannels!, fanIn: p.fanIn! }, 60, { crossbarSize: 4, out: p.values });
			masks.set(p.name, r.mask);
		}
		model.upload();
		const before = new Map(model.convs.map((p) => [p.name, Float32Array.from(p.values)]));
		const trainer = new Trainer(model, tinyDataset(), new LocalCollective());
		for (let epoch = 0; epoch < 2; epoch++) {
			await trainer.trainEpoch({ lr: 0.2, momentum: 0.9, weightDecay: 1e-3, batchSize: 6, trainables: model.trainables(), masks, seed: epoch });
			for (const p of model.convs) {
				const mask = masks.get(p.name)!;
				const variable = p.variable.dataSync();
				for (let i = 0; i < mask.length; i++) {
					if (mask[i]) {
						assert.equal(p.values[i], 0);
						assert.equal(variable[i], 0, 'the tf variable is re-zeroed too');
					}
				}
			}
		}
		for (const p of model.convs) {
			const mask = masks.get(p.name)!;
			const old = before.get(p.name)!;
			assert.ok(mask.some((m) => m === 1) && mask.some((m) => m === 0));
			assert.ok(p.values.some((v, i) => !mask[i] && v !== old[i]), `${p.name}: unmasked weights train`);
		}
		model.dispose();
	});

	void it('updates batch-norm running statistics like PyTorch (momentum 0.1, unbiased variance)', async () => {
		const model = new TrainableModel(tinySpec());
		const mean = model.param('bn.running_mean')!;
		const variance = model.param('bn.running_var')!;
		await step(model, 0, 0.01);
		assert.ok(mean.values.some((v) => v !== 0), 'running mean moved');
		assert.ok(variance.values.every((v) => v > 0.9 * 1 - 1e-6), 'running var = 0.9·1 + 0.1·var');
		model.dispose();
	});

	void it('learns: the loss falls over a few epochs', async () => {
		const model = new TrainableModel(tinySpec());
		const trainer = new Trainer(model, tinyDataset(48), new LocalCollective());
		const losses: number[] = [];
		for (let e = 0; e < 6; e++) {
			losses.push((await trainer.trainEpoch({ lr: 0.1, momentum: 0.9, weightDecay: 0, batchSize: 8, trainables: model.trainables(), seed: e })).loss);
		}
		assert.ok(losses[5] < losses[0], losses.join(', '));
		const { accuracy } = trainer.evaluate();
		assert.ok(accuracy >= 0 && accuracy <= 100);
		model.dispose();
	});

	async function dataParallel(batchNorm: boolean) {
		const size = 2;
		const shared = createSharedBuffer(size, 1000); // small slots: exercises the chunked exchange
		const script = join(__dirname, 'dataParallelWorker.ts');
		return Promise.all(Array.from({ length: size }, (_, rank) => new Promise<{ params: Record<string, number[]>; loss: number; error?: string }>((resolve, reject) => {
			const w = new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true, workerData: { shared, rank, size, backend, batchNorm } });
			w.once('message', (m) => { void w.terminate(); resolve(m); });
			w.once('error', reject);
		})));
	}

	void it('two data-parallel workers reach the same weights as one (gradients summed over the global batch)', async () => {
		const results = await dataParallel(false);
		assert.equal(results[0].error, undefined, results[0].error);
		assert.deepEqual(results[0].params, results[1].params, 'both workers hold bit-identical weights');
		const model = new TrainableModel(tinySpec(1, [], false));
		const trainer = new Trainer(model, tinyDataset(), new LocalCollective());
		const single = await trainer.trainEpoch({ lr: 0.1, momentum: 0.9, weightDecay: 1e-3, batchSize: 8, trainables: model.trainables(), regularizer: { lambda: 0.01, crossbarSize: 4, slices: 1 }, seed: 5 });
		for (const p of model.params) {
			const other = results[0].params[p.name];
			for (let i = 0; i < p.values.length; i++) {
				assert.ok(Math.abs(p.values[i] - other[i]) <= 1e-5 * (1 + Math.abs(p.values[i])), `${p.name}[${i}] ${p.values[i]} vs ${other[i]}`);
			}
		}
		assert.ok(Math.abs(single.loss - results[0].loss) < 1e-5);
		model.dispose();
	});

	void it('with batch norm, workers normalise with their own batch statistics (as DDP) but stay identical', async () => {
		const results = await dataParallel(true);
		assert.equal(results[0].error, undefined, results[0].error);
		assert.deepEqual(results[0].params, results[1].params);
		assert.ok(results[0].params['bn.running_mean'].some((v) => v !== 0));
	});

	void it('names an unsupported op and refuses grouped convolutions', () => {
		assert.throws(() => new TrainableModel(tinySpec(1, [node('Resize', ['sum'], 'sum2')])), /cannot train op 'Resize' \(node '\/sum2'\)/);
		const grouped = tinySpec();
		const nodes = grouped.nodes.map((n) => (n.opType === 'Conv' && n.outputs[0] === 'c2' ? { ...n, attributes: new Map([...n.attributes, ['group', { name: 'group', i: 2 }]]) } : n));
		const model = new TrainableModel({ ...grouped, nodes });
		assert.throws(() => tf.tidy(() => model.forward(tf.zeros([1, 6, 6, 1]) as tf.Tensor4D, false)), /Conv node '\/c2' is grouped \(group=2\)/);
		model.dispose();
	});

	void it('reports paper-law ADC figures of the conv weights', () => {
		const model = new TrainableModel(tinySpec());
		const dense = adcMetrics(model.convs, resolveProfile({ crossbarSize: 4 }));
		assert.equal(dense.adcEnergyImprovement, 1);
		model.convs[1].values.fill(0);
		const sparse = adcMetrics(model.convs, resolveProfile({ crossbarSize: 4 }));
		assert.equal(sparse.levelHistogram[sparse.levelHistogram.length - 1], 9, 'conv2: 9 empty crossbars');
		model.dispose();
	});

	void it('schedules the learning rate at milestones (MultiStepLR)', () => {
		assert.equal(scheduledLr(0.1, [2, 4], 0.1, 0), 0.1);
		assert.equal(scheduledLr(0.1, [2, 4], 0.1, 2), 0.1 * 0.1);
		assert.ok(Math.abs(scheduledLr(0.1, [2, 4], 0.1, 5) - 0.001) < 1e-12);
	});
});
