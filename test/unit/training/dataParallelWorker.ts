/** A test worker: one epoch of the tiny model on its share of each batch, through SharedMemoryCollective. */
import { parentPort, workerData } from 'node:worker_threads';
import { initTrainingBackend } from '../../../src/training/tfjs/backend';
import { SharedMemoryCollective } from '../../../src/training/tfjs/collective';
import { TrainableModel } from '../../../src/training/tfjs/model';
import { Trainer } from '../../../src/training/tfjs/trainer';
import { tinyDataset, tinySpec } from './tinyModel';

async function main(): Promise<void> {
	const { shared, rank, size, backend, batchNorm } = workerData as { shared: SharedArrayBuffer; rank: number; size: number; backend: 'cpu' | 'wasm'; batchNorm: boolean };
	await initTrainingBackend(backend);
	const model = new TrainableModel(tinySpec(1, [], batchNorm));
	const trainer = new Trainer(model, tinyDataset(), new SharedMemoryCollective(shared, rank, size));
	const r = await trainer.trainEpoch({ lr: 0.1, momentum: 0.9, weightDecay: 1e-3, batchSize: 8, trainables: model.trainables(), regularizer: { lambda: 0.01, crossbarSize: 4, slices: 1 }, seed: 5 });
	const { accuracy } = trainer.evaluate();
	parentPort!.postMessage({ params: Object.fromEntries(model.params.map((p) => [p.name, Array.from(p.values)])), loss: r.loss, accuracy });
	model.dispose();
}

void main().catch((ex: unknown) => parentPort!.postMessage({ error: String(ex) }));
