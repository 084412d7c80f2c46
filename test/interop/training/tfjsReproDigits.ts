/**
 * The reproduction that test/interop/training/tfjs-digits.test.ts runs (--quick), and that
 * `npm run repro:digits` (bench/train/repro-digits.mjs) runs in full next to the PyTorch engine's.
 * Proof on real data for the tfjs engine: scikit-learn's 8×8 digits (1797 real images), the
 * example CNN (conv 1→16→32→32, 3×3, pad 1, + linear to 10; examples/digits-cnn.onnx gives the
 * graph), crossbars of T = 16.
 *
 *   1. trains the dense model from a seeded He init on a seeded stratified 80/20 split
 *      (in this process; the example's own weights saw a different split);
 *   2. runs the engine (worker threads) on it: D.U.B. regularize → prune → masked fine-tune, and
 *      the unstructured baseline at the same ratios with the same fine-tune budget;
 *   3. prints a table and, as its last line, one JSON object with the figures.
 *
 *   node --import tsx test/interop/training/tfjsReproDigits.ts [--quick] [--workers 1|2] [--out DIR]
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openFileSource } from '../../../src/formats/byteSource';
import { writeModel } from '../../../src/formats/writers';
import { loadDataset, deriveSeed } from '../../../src/training/datasets';
import type { DatasetSpec, TrainingEvent, TrainingHyperParameters, TrainingJob } from '../../../src/training/engine';
import { initTrainingBackend } from '../../../src/training/tfjs/backend';
import { LocalCollective } from '../../../src/training/tfjs/collective';
import { TfjsTrainingEngine } from '../../../src/training/tfjs/engine';
import { TrainableModel, loadOnnxGraphSpec } from '../../../src/training/tfjs/model';
import { Trainer } from '../../../src/training/tfjs/trainer';

interface Settings {
	readonly pretrainEpochs: number;
	readonly hyperParameters: Partial<TrainingHyperParameters>;
	readonly ratios: number[];
}

// The same settings as the PyTorch engine's reproduction (python/crossbar_lens_train/repro.py),
// so that the two engines' figures can be compared: T = 16, ratios 0/95/97.5 % (chosen there, on a
// validation split of the training images), every parameter fine-tuned.
const full: Settings = {
	pretrainEpochs: 30,
	hyperParameters: { regularizeEpochs: 40, finetuneEpochs: 40, lambdaVar: 1e-2, lambda2: 3e-3, lr: 0.01, finetuneLr: 0.1, batchSize: 64, finetuneParams: 'all' },
	ratios: [0, 95, 97.5],
};
const quick: Settings = {
	...full,
	pretrainEpochs: 20,
	hyperParameters: { ...full.hyperParameters, regularizeEpochs: 15, finetuneEpochs: 15 },
};

function argument(name: string): string | undefined {
	const i = process.argv.indexOf(name);
	return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
	const isQuick = process.argv.includes('--quick');
	const base = isQuick ? quick : full;
	const override = process.env.REPRO_SETTINGS ? (JSON.parse(process.env.REPRO_SETTINGS) as Partial<Settings>) : {};
	const settings: Settings = { ...base, ...override, hyperParameters: { ...base.hyperParameters, ...override.hyperParameters } };
	const workersArg = argument('--workers');
	const workers = workersArg === '1' ? 1 : workersArg === '2' ? 2 : 'auto';
	const seed = Number(argument('--seed') ?? 0);
	const keep = argument('--out');
	const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'crossbar-tfjs-digits-'));
	const started = performance.now();
	try {
		const dataset: DatasetSpec = { kind: 'digits', testFraction: 0.2 };
		const template = resolve('examples/digits-cnn.onnx');

		// 1. Dense training from scratch (CE + small weight decay, SGD momentum 0.9).
		const backend = await initTrainingBackend('auto');
		const data = await loadDataset(dataset, seed);
		const { spec, graph } = await loadOnnxGraphSpec(template);
		const reuse = argument('--dense');
		const dense = reuse ? resolve(reuse) : join(dir, 'digits-dense.onnx');
		const model = new TrainableModel(spec);
		try {
			if (reuse) throw new SkipPretraining();
			model.reinitialize(deriveSeed(seed, 99));
			const trainer = new Trainer(model, data, new LocalCollective());
			for (let epoch = 0; epoch < settings.pretrainEpochs; epoch++) {
				const lr = epoch < settings.pretrainEpochs * 0.7 ? 0.05 : 0.005;
				await trainer.trainEpoch({ lr, momentum: 0.9, weightDecay: 1e-4, batchSize: 32, trainables: model.trainables(), seed: deriveSeed(seed, 0, epoch) });
			}
			const { accuracy } = trainer.evaluate();
			console.log(`dense model: ${accuracy.toFixed(2)} % held-out after ${settings.pretrainEpochs} epochs (${backend.name}, in-process)`);
			const source = await openFileSource(template);
			try {
				await writeModel(source, graph, new Map(model.params.map((p) => [p.name, p.values])), dense, { force: true, inputPath: template });
			} finally {
				await source.close();
			}
		} catch (ex) {
			if (!(ex instanceof SkipPretraining)) throw ex;
		} finally {
			model.dispose();
			await graph.close();
		}

		// 2. The engine: D.U.B. pipeline + unstructured baseline, in worker threads.
		const job: TrainingJob = {
			modelPath: dense, dataset, preset: 'digits', hyperParameters: settings.hyperParameters,
			crossbarSize: 16, slices: 1, pruneRatios: { ratios: settings.ratios }, outputPath: join(dir, 'digits-dub.onnx'), force: true,
			seed, checkpointDir: join(dir, 'checkpoint'), engineOptions: { workers },
		};
		const onProgress = (e: TrainingEvent) => {
			if (e.event === 'epoch') {
				console.log(`  ${e.phase!.padEnd(10)} ${String(e.epoch).padStart(2)}/${e.epochs}  loss ${e.loss!.toFixed(4)}${e.regularizerLoss ? ` (D.U.B. ${e.regularizerLoss.toFixed(4)})` : ''}  train ${e.trainAccuracy!.toFixed(1)} %  test ${e.testAccuracy!.toFixed(2)} %  ADC ${fmt(e.adcEnergyImprovement)}×`);
			} else if (e.event === 'phase' || e.event === 'start' || e.event === 'log') {
				console.log(`${e.event} ${e.phase ?? ''} ${e.testAccuracy !== undefined ? `test ${e.testAccuracy.toFixed(2)} % ADC ${fmt(e.adcEnergyImprovement)}× ` : ''}${e.message ?? ''}`);
			}
		};
		const result = await new TfjsTrainingEngine().start(job, onProgress, new AbortController().signal);

		// 3. The table and the JSON line.
		const rows: [string, number, number | null, number[]][] = [
			['dense (start)', result.initial.accuracy, result.initial.adcEnergyImprovement, result.initial.levelHistogram],
			['D.U.B. regularized', result.regularized.accuracy, result.regularized.adcEnergyImprovement, result.regularized.levelHistogram],
			['D.U.B. pruned', result.dub.afterPruneAccuracy, null, []],
			['D.U.B. fine-tuned', result.dub.accuracy, result.dub.adcEnergyImprovement, result.dub.levelHistogram],
			['unstructured pruned', result.unstructured!.afterPruneAccuracy, null, []],
			['unstructured fine-tuned', result.unstructured!.accuracy, result.unstructured!.adcEnergyImprovement, result.unstructured!.levelHistogram],
		];
		console.log(`\nT=16, ratios ${settings.ratios.join('/')} %, ${result.workers} worker(s), backend ${result.backend}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
		console.log('model                      held-out acc   ADC improvement (paper law)   levels k=0..B-1');
		for (const [name, acc, imp, hist] of rows) {
			console.log(`${name.padEnd(26)} ${acc.toFixed(2).padStart(8)} %   ${imp === null ? '       -' : `${imp.toFixed(3).padStart(8)}×`}                    ${hist.length ? hist.join(' ') : ''}`);
		}
		console.log(JSON.stringify({
			engine: 'tfjs', backend: result.backend,
			baselineAccuracy: round(result.initial.accuracy), dubAccuracy: round(result.dub.accuracy), dubImprovement: round(result.dub.adcEnergyImprovement ?? 0),
			unstructuredAccuracy: round(result.unstructured!.accuracy), unstructuredImprovement: round(result.unstructured!.adcEnergyImprovement ?? 0),
		}));
	} finally {
		if (!keep) rmSync(dir, { recursive: true, force: true });
	}
}

/** --dense PATH: start from an already trained dense model (skips step 1). */
class SkipPretraining extends Error {}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3));
const round = (v: number) => Math.round(v * 1000) / 1000;

main().catch((ex: unknown) => {
	console.error(ex instanceof Error ? ex.message : String(ex));
	process.exit(1);
});
