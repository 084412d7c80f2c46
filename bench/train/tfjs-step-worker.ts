/** One data-parallel worker of bench/train/tfjs-step.ts: times training steps of a CIFAR model on synthetic images. */

import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../../src/training/datasets/rng';
import type { Dataset } from '../../src/training/datasets/types';
import { initTrainingBackend } from '../../src/training/tfjs/backend';
import { LocalCollective, SharedMemoryCollective } from '../../src/training/tfjs/collective';
import { TrainableModel } from '../../src/training/tfjs/model';
import { Trainer } from '../../src/training/tfjs/trainer';
import { resnet18Cifar, vgg11Cifar } from './tfjs-models';

export interface StepWorkerInput {
	readonly model: 'vgg11' | 'resnet18';
	readonly batch: number;
	readonly steps: number;
	readonly warmup: number;
	readonly crossbarSize: number;
	readonly rank: number;
	readonly size: number;
	readonly shared?: SharedArrayBuffer;
}

async function main(): Promise<void> {
	const input = workerData as StepWorkerInput;
	const backend = await initTrainingBackend('wasm');
	const spec = input.model === 'vgg11' ? vgg11Cifar() : resnet18Cifar();
	const model = new TrainableModel(spec);
	const count = input.batch * Math.max(input.steps, input.warmup);
	const rng = new Rng(7);
	const x = new Float32Array(count * 3 * 32 * 32);
	for (let i = 0; i < x.length; i++) x[i] = rng.next();
	const y = Int32Array.from({ length: count }, () => rng.int(10));
	const dataset: Dataset = { name: 'synthetic CIFAR', shape: [3, 32, 32], classes: 10, train: { x, y, count }, test: { x, y, count }, augment: true, standardize: true };
	const collective = input.size > 1 ? new SharedMemoryCollective(input.shared!, input.rank, input.size) : new LocalCollective();
	const trainer = new Trainer(model, dataset, collective);
	const settings = {
		lr: 0.01, momentum: 0.9, weightDecay: 1e-3, batchSize: input.batch, trainables: model.trainables(),
		regularizer: { lambda: 1e-3, crossbarSize: input.crossbarSize, slices: 1 },
	};
	const warm = await trainer.trainEpoch({ ...settings, seed: 1, maxSteps: input.warmup });
	const timed = await trainer.trainEpoch({ ...settings, seed: 2, maxSteps: input.steps });
	// The regularizer alone on the same weights (closed form, all conv layers), for its share.
	parentPort!.postMessage({
		backend: backend.name, rank: input.rank, warmupMs: warm.stepMs / Math.max(warm.steps, 1),
		msPerStep: timed.stepMs / timed.steps, regularizerMsPerStep: timed.regularizerMs / timed.steps, steps: timed.steps,
		convWeights: model.convs.reduce((n, p) => n + p.values.length, 0), peakRssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
	});
	model.dispose();
}

void main().catch((ex: unknown) => parentPort!.postMessage({ error: ex instanceof Error ? ex.message : String(ex) }));
