/**
 * The TensorFlow.js engine's side of `npm run repro:fashion` (bench/train/repro-fashion.mjs), the
 * same recipe as the PyTorch engine's (python/crossbar_lens_train/repro_fashion.py) on a reduced
 * budget: wasm SIMD on this project's 2-core machine is ~5× slower than PyTorch (README,
 * "Performance"), so the full run would take hours.
 *
 *   start       examples/fashion-cnn.onnx: the FashionCNN briefly trained by PyTorch (300 steps;
 *               scripts/make_fashion_model.py), trained further here as the dense model
 *   regularize  phase 1 with the gated Hoyer-variance regularizer; `continue`: the same without it
 *   (a) unstructured, (b) D.U.B. prune only, (c) D.U.B., (d) tiles: prune at the same per-layer
 *               ratios (T = 32), then the same masked fine-tune
 *
 * Reduced budget: a seeded stratified slice of the training images and of the official test set,
 * and fewer epochs; the line says so (`reducedBudget: true`, `trainImages`, `testImages`). One
 * worker, in this process (the same Trainer the engine's workers run).
 *
 *   node --import tsx bench/train/tfjs-repro-fashion.ts [--quick] [--seed 0] [--data DIR]
 *
 * Prints one JSON line per step, a table, and as its last line one JSON object with the fields of
 * the PyTorch engine's.
 */

import { resolve } from 'node:path';
import { resolveProfile } from '../../src/hardware/profile';
import { resolveRatios } from '../../src/pruning/ratios';
import { defaultFashionMnistDir, deriveSeed, loadDataset } from '../../src/training/datasets';
import { initTrainingBackend } from '../../src/training/tfjs/backend';
import { LocalCollective } from '../../src/training/tfjs/collective';
import { TrainableModel, loadOnnxGraphSpec } from '../../src/training/tfjs/model';
import type { ModelParam } from '../../src/training/tfjs/model';
import { pruneModel, scheduledLr } from '../../src/training/tfjs/pipeline';
import { Trainer, adcMetrics } from '../../src/training/tfjs/trainer';

interface Settings {
	readonly trainImages: number;
	readonly testImages: number;
	readonly pretrainEpochs: number;
	readonly pretrainLr: number;
	readonly pretrainWd: number;
	readonly epochs: number;
	readonly lr: number;
	readonly momentum: number;
	readonly lambdaVar: number;
	readonly lambda2: number;
	readonly ratios: number[];
	readonly finetuneEpochs: number;
	readonly finetuneLr: number;
	readonly finetuneMomentum: number;
	/** Epochs (within the fine-tune) where its learning rate drops 10×. */
	readonly finetuneMilestones: number[];
	readonly batchSize: number;
}

// The PyTorch engine's settings (repro_fashion.FULL) on fewer images and epochs.
const full: Settings = {
	trainImages: 12_000, testImages: 2000, pretrainEpochs: 2, pretrainLr: 0.02, pretrainWd: 5e-4,
	epochs: 1, lr: 0.01, momentum: 0.9, lambdaVar: 3e-3, lambda2: 5e-4,
	ratios: [0, 50, 70, 80, 88, 95, 98],
	finetuneEpochs: 1, finetuneLr: 0.01, finetuneMomentum: 0.9, finetuneMilestones: [], batchSize: 128,
};
const quick: Settings = { ...full, trainImages: 1000, testImages: 500, pretrainEpochs: 1 };

const tile = 32;
type Method = 'unstructured' | 'pruneOnly' | 'dub' | 'tiles';
const recipe: Record<Method, { rule: 'unstructured' | 'dub' | 'tiles'; branch: 'regularize' | 'continue' }> = {
	unstructured: { rule: 'unstructured', branch: 'continue' },
	pruneOnly: { rule: 'dub', branch: 'continue' },
	dub: { rule: 'dub', branch: 'regularize' },
	tiles: { rule: 'tiles', branch: 'continue' },
};

function argument(name: string): string | undefined {
	const i = process.argv.indexOf(name);
	return i >= 0 ? process.argv[i + 1] : undefined;
}

const snapshot = (model: TrainableModel): Map<string, Float32Array> => new Map(model.params.map((p) => [p.name, Float32Array.from(p.values)]));

function restore(model: TrainableModel, state: ReadonlyMap<string, Float32Array>): void {
	for (const p of model.params) p.values.set(state.get(p.name)!);
	model.upload();
}

async function main(): Promise<void> {
	const isQuick = process.argv.includes('--quick');
	const override = process.env.REPRO_SETTINGS ? (JSON.parse(process.env.REPRO_SETTINGS) as Partial<Settings>) : {};
	const s: Settings = { ...(isQuick ? quick : full), ...override };
	const seed = Number(argument('--seed') ?? 0);
	const dir = argument('--data') ?? defaultFashionMnistDir;
	const started = performance.now();
	const cpuStart = process.cpuUsage();
	const backend = await initTrainingBackend('auto');
	const data = await loadDataset({ kind: 'idx', dir, limitTrain: s.trainImages, limitTest: s.testImages }, seed);
	const { spec, graph } = await loadOnnxGraphSpec(resolve('examples/fashion-cnn.onnx'));
	await graph.close();
	const model = new TrainableModel(spec);
	const profile = resolveProfile({ crossbarSize: tile, slices: 1 });
	const ratios = resolveRatios(model.convs.map((c) => ({ name: c.layer!, shape: c.shape, kind: 'conv' as const })), { ratios: s.ratios });
	const trainer = new Trainer(model, data, new LocalCollective());
	console.log(`Fashion-MNIST (${dir}): ${data.train.count} training / ${data.test.count} held-out images (a stratified slice; official test set); FashionCNN from examples/fashion-cnn.onnx, T=${tile}, ratios ${s.ratios.join('/')} %, seed ${seed}, tfjs ${backend.name}, 1 worker, ${isQuick ? 'quick' : 'reduced budget'}`);

	const log: Record<string, unknown>[] = [];
	const record = (step: string, t0: number, fields: Record<string, unknown>) => {
		const row = { step, minutes: Math.round((performance.now() - t0) / 600) / 100, ...fields };
		log.push(row);
		console.log(JSON.stringify(row));
	};
	const measure = () => ({ accuracy: trainer.evaluate().accuracy, ...adcMetrics(model.convs, profile) });
	/** `epochs` epochs of SGD; a new optimizer (as each of the reference's phases); seeds by phase stream and epoch. */
	const train = async (stream: number, epochs: number, lr: number, momentum: number, weightDecay: number, milestones: number[], options: { trainables?: readonly ModelParam[]; lambdaVar?: number; masks?: Map<string, Uint8Array> } = {}) => {
		trainer.resetOptimizer();
		for (let epoch = 0; epoch < epochs; epoch++) {
			await trainer.trainEpoch({
				lr: scheduledLr(lr, milestones, 0.1, epoch), momentum, weightDecay, batchSize: s.batchSize,
				trainables: options.trainables ?? model.trainables('all'), masks: options.masks,
				regularizer: options.lambdaVar ? { lambda: options.lambdaVar, crossbarSize: tile, slices: 1 } : undefined,
				seed: deriveSeed(seed, stream, epoch),
			});
		}
	};

	try {
		let t0 = performance.now();
		record('start', t0, { accuracy: measure().accuracy, from: 'examples/fashion-cnn.onnx' });
		await train(0, s.pretrainEpochs, s.pretrainLr, 0.9, s.pretrainWd, s.pretrainEpochs > 2 ? [Math.round(s.pretrainEpochs * 0.75)] : []);
		const baseline = measure().accuracy;
		record('dense', t0, { accuracy: baseline, epochs: s.pretrainEpochs });
		const dense = snapshot(model);
		const branches = new Map<string, Map<string, Float32Array>>();
		for (const branch of ['regularize', 'continue'] as const) {
			t0 = performance.now();
			restore(model, dense);
			// The same seeds in both branches: the same batches, so the regularizer is the only difference.
			await train(1, s.epochs, s.lr, s.momentum, s.lambda2, [], { lambdaVar: branch === 'regularize' ? s.lambdaVar : 0 });
			record(branch, t0, { accuracy: measure().accuracy, epochs: s.epochs, lambdaVar: branch === 'regularize' ? s.lambdaVar : 0 });
			branches.set(branch, snapshot(model));
		}
		const results = {} as Record<Method, { accuracy: number; adcEnergyImprovement: number | null; levelHistogram: number[] }>;
		for (const method of ['unstructured', 'pruneOnly', 'dub', 'tiles'] as Method[]) {
			t0 = performance.now();
			restore(model, branches.get(recipe[method].branch)!);
			const masks = new Map<string, Uint8Array>();
			pruneModel(model, ratios, masks, recipe[method].rule, profile);
			const pruned = measure();
			await train(2, s.finetuneEpochs, s.finetuneLr, s.finetuneMomentum, 0, s.finetuneMilestones, { masks });
			const m = measure();
			results[method] = m;
			record(method, t0, { accuracy: m.accuracy, adcEnergyImprovement: m.adcEnergyImprovement, afterPruneAccuracy: pruned.accuracy, levelHistogram: m.levelHistogram, epochs: s.finetuneEpochs });
		}
		const minutes = (performance.now() - started) / 60_000;
		const cpu = process.cpuUsage(cpuStart);
		console.log(`\n${'model'.padEnd(34)} ${'held-out %'.padStart(10)} ${'vs dense'.padStart(9)} ${'ADC energy improvement'.padStart(23)}  levels k=0..6`);
		console.log(`${'dense'.padEnd(34)} ${baseline.toFixed(2).padStart(10)} ${''.padStart(9)} ${'1.000x'.padStart(23)}`);
		const labels: Record<Method, string> = { unstructured: '(a) unstructured', pruneOnly: '(b) D.U.B. prune, no regularizer', dub: '(c) D.U.B. (regularize + prune)', tiles: '(d) whole crossbars (tiles)' };
		for (const method of Object.keys(labels) as Method[]) {
			const r = results[method];
			const delta = r.accuracy - baseline;
			console.log(`${labels[method].padEnd(34)} ${r.accuracy.toFixed(2).padStart(10)} ${`${delta >= 0 ? '+' : ''}${delta.toFixed(2)}`.padStart(9)} ${(r.adcEnergyImprovement === null ? 'inf' : `${r.adcEnergyImprovement.toFixed(3)}x`).padStart(23)}  [${r.levelHistogram.join(', ')}]`);
		}
		const round = (v: number | null) => (v === null ? null : Math.round(v * 10_000) / 10_000);
		console.log(JSON.stringify({
			engine: 'tfjs', backend: backend.name, seed, trainImages: data.train.count, testImages: data.test.count,
			baselineAccuracy: round(baseline),
			dubAccuracy: round(results.dub.accuracy), dubImprovement: round(results.dub.adcEnergyImprovement),
			unstructuredAccuracy: round(results.unstructured.accuracy), unstructuredImprovement: round(results.unstructured.adcEnergyImprovement),
			pruneOnlyAccuracy: round(results.pruneOnly.accuracy), pruneOnlyImprovement: round(results.pruneOnly.adcEnergyImprovement),
			tilesAccuracy: round(results.tiles.accuracy), tilesImprovement: round(results.tiles.adcEnergyImprovement),
			tile, ratios: s.ratios, minutes: Math.round(minutes * 100) / 100, reducedBudget: true,
			cpuMinutes: Math.round(((cpu.user + cpu.system) / 60e6) * 100) / 100,
		}));
	} finally {
		model.dispose();
	}
}

main().catch((ex: unknown) => {
	console.error(ex instanceof Error ? ex.message : String(ex));
	process.exit(1);
});
