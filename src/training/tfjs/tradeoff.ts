/**
 * The trade-off sweep on the TensorFlow.js forward pass, inside the training worker
 * (src/training/tfjs/worker.ts): the model as the fine-tune loads it (ONNX, TF.js layers, Keras),
 * the held-out split the fine-tune evaluates on, and at each point the conv weights pruned from the
 * starting values by the same TypeScript pruner (`pruneModel` of the pipeline: src/pruning's
 * fixed-ratio D.U.B. and unstructured), then one evaluation. Nothing is trained or written.
 */

import { basename } from 'node:path';
import { UsageError } from '../../core/errors';
import { resolveProfile } from '../../hardware/profile';
import type { LayerRatio } from '../../pruning/ratios';
import { datasetMismatch, loadDataset } from '../datasets';
import type { Dataset } from '../datasets';
import { sweepLayerRatios } from '../tradeoffPlan';
import type { SweepEvent, SweepMeasurement, TradeoffPlan } from '../tradeoffPlan';
import type { BackendInfo } from './backend';
import { LocalCollective } from './collective';
import { loadTrainableGraph } from './layersModel';
import { TrainableModel } from './model';
import { checkForwardPass, pruneModel } from './pipeline';
import { Trainer, adcMetrics } from './trainer';

/** Yields to the event loop between points, so the worker's messages go out as they are made. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runSweepInWorker(plan: TradeoffPlan, backend: BackendInfo, emit: (e: SweepEvent) => void): Promise<void> {
	const profile = resolveProfile({ crossbarSize: plan.crossbarSize, slices: plan.slices });
	const { spec, graph } = await loadTrainableGraph(plan.modelPath);
	let model: TrainableModel | undefined;
	try {
		let dataset: Dataset;
		try {
			dataset = await loadDataset(plan.dataset, plan.seed);
		} catch (ex) {
			// The dataset is the user's input (a path, a file that is not one): exit code 2, not an internal error.
			throw ex instanceof UsageError ? ex : new UsageError((ex as Error).message);
		}
		model = new TrainableModel(spec);
		const mismatch = datasetMismatch(dataset, spec.inputShape, model.outputs, basename(plan.modelPath));
		if (mismatch) {
			throw new UsageError(mismatch);
		}
		checkForwardPass(model, dataset);
		const layers = model.convs.map((c) => ({ name: c.layer!, shape: c.shape, kind: 'conv' as const }));
		// Every point's ratios are checked (a preset against the shapes) before the first evaluation.
		const perRatio = new Map(plan.ratios.map((r) => [r, sweepLayerRatios(layers, r, plan.preset)]));
		const trainer = new Trainer(model, dataset, new LocalCollective());
		const convs = model.convs;
		const starting = convs.map((p) => Float32Array.from(p.values));
		const measure = (): SweepMeasurement => {
			let zeros = 0, weights = 0;
			for (const p of convs) {
				for (let i = 0; i < p.values.length; i++) if (p.values[i] === 0) zeros++;
				weights += p.values.length;
			}
			return { accuracy: trainer.evaluate().accuracy, levelHistogram: adcMetrics(convs, profile).levelHistogram, zeros, weights };
		};
		emit({
			event: 'start', backend: backend.name, dataset: dataset.name, testImages: dataset.test.count, convLayers: layers.map((l) => l.name),
			message: `${backend.detail}; ${dataset.name}; ${convs.length} conv layers at T=${profile.crossbarSize}`,
		});
		for (const note of model.notes) emit({ event: 'log', message: note });
		emit({ event: 'dense', ...measure() });
		const masks = new Map<string, Uint8Array>();
		for (const ratio of plan.ratios) {
			const layerRatios = perRatio.get(ratio)!;
			const named: LayerRatio[] = layers.map((l, i) => ({ name: l.name, ratio: layerRatios[i] }));
			for (const method of plan.methods) {
				convs.forEach((p, i) => p.values.set(starting[i]));
				pruneModel(model, named, masks, method, profile);
				emit({ event: 'point', method, ratio, layerRatios, ...measure() });
				await yieldToEventLoop();
			}
		}
	} finally {
		model?.dispose();
		await graph.close();
	}
}
