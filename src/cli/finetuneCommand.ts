import { extname } from 'node:path';
import { UsageError, isAbortError } from '../core/errors';
import { checkOutputPath } from '../formats/atomicWrite';
import { hasSuffix, trainableSuffixes } from '../formats/registry';
import { DatasetError, availableDatasets, findIdxFiles, namedDataset } from '../training/datasets';
import { trainingPresets } from '../training/engine';
import type { DatasetSpec, TrainingEngine, TrainingEvent, TrainingHyperParameters, TrainingJob, TrainingResult } from '../training/engine';
import { parseRatios } from '../training/fineTunePresets';
import { PytorchTrainingEngine } from '../training/pytorch/engine';
import { TfjsTrainingEngine } from '../training/tfjs/engine';
import { numberOption, parseArgs } from './args';
import { singleModelPath } from './analyzeCommand';
import { table } from './format';
import { formatAccuracy, formatImprovement } from '../shared/format';

const hyperOptions: Record<string, keyof TrainingHyperParameters> = {
	'epochs': 'regularizeEpochs',
	'finetune-epochs': 'finetuneEpochs',
	'lambda-var': 'lambdaVar',
	'lambda-l2': 'lambda2',
	'lr': 'lr',
	'finetune-lr': 'finetuneLr',
	'batch-size': 'batchSize',
};

/** A named dataset (digits, fashion-mnist), an .npz, a folder of IDX files, or a CIFAR-10 folder (binary layout); `tradeoff --data` reads the same. */
export function datasetFromArg(text: string): DatasetSpec {
	const named = namedDataset(text);
	if (named) return named;
	if (extname(text).toLowerCase() === '.npz') return { kind: 'npz', path: text };
	if (findIdxFiles(text)) return { kind: 'idx', dir: text };
	return { kind: 'cifar10', dir: text };
}

/** One epoch's progress line; the PyTorch engine's task terminal shows the same (python/crossbar_lens_train/events.py). */
export function describeEpoch(e: TrainingEvent): string {
	const parts = [`${e.phase ?? ''} ${e.epoch ?? ''}/${e.epochs ?? ''}`.trim()];
	if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
	if (e.testAccuracy !== undefined) parts.push(`test ${formatAccuracy(e.testAccuracy)}`);
	if (e.adcEnergyImprovement !== undefined) parts.push(`ADC ${formatImprovement(e.adcEnergyImprovement)}`);
	return parts.join('  ');
}

function summary(result: TrainingResult): string {
	const row = (label: string, accuracy: number, improvement: number | null) => [label, formatAccuracy(accuracy), formatImprovement(improvement)];
	const rows = [
		['model', 'held-out acc', 'ADC improvement (paper law)'],
		row('dense (start)', result.initial.accuracy, result.initial.adcEnergyImprovement),
		row('D.U.B. regularized', result.regularized.accuracy, result.regularized.adcEnergyImprovement),
		row('D.U.B. fine-tuned', result.dub.accuracy, result.dub.adcEnergyImprovement),
		...(result.unstructured ? [row('unstructured fine-tuned', result.unstructured.accuracy, result.unstructured.adcEnergyImprovement)] : []),
	];
	return [
		table(rows, [false, true, false]),
		`wrote ${result.outputPath} (${result.engine}, ${result.backend}, ${result.workers} worker${result.workers === 1 ? '' : 's'}, ${result.seconds.toFixed(1)} s)`,
	].join('\n');
}

/** `crossbar-lens finetune <model> --data … --out …`: the same engines as "Run D.U.B. fine-tune". */
export async function runFinetune(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, {
		'data': { type: 'value' }, 'out': { type: 'value' }, 'engine': { type: 'value' }, 'preset': { type: 'value' },
		'ratios': { type: 'value' }, 'tile': { type: 'value' }, 'slices': { type: 'value' }, 'seed': { type: 'value' },
		'factory': { type: 'value' }, 'torchvision': { type: 'value' }, 'processes': { type: 'value' }, 'python': { type: 'value' },
		'workers': { type: 'value' }, 'max-steps-per-epoch': { type: 'value' }, 'resume': { type: 'flag' }, 'force': { type: 'flag' }, 'no-baseline': { type: 'flag' }, 'json': { type: 'flag' },
		...Object.fromEntries(Object.keys(hyperOptions).map((name) => [name, { type: 'value' as const }])),
	});
	try {
		return await finetune(args);
	} catch (ex) {
		if (!DatasetError.is(ex)) throw ex;
		// A dataset that cannot be read is the user's input, not an internal error: its one line, nothing written.
		process.stderr.write(`crossbar-lens: ${ex.message}\n`);
		return datasetExitCode;
	}
}

/** Exit code of a dataset that cannot be read or does not fit (as a usage error: the input is wrong). */
export const datasetExitCode = 2;

async function finetune(args: ReturnType<typeof parseArgs>): Promise<number> {
	const modelPath = singleModelPath(args, 'finetune');
	const data = args.values.get('data');
	const outputPath = args.values.get('out');
	const ratios = args.values.get('ratios');
	if (data === undefined || outputPath === undefined || ratios === undefined) {
		const here = availableDatasets().map((d) => d.id);
		throw new UsageError(`finetune needs --data (${[...here, 'x.npz', 'a folder of IDX files', 'a CIFAR-10 folder'].join(', ')}), --ratios (a preset, p, or p1,p2,…) and --out <file>.`);
	}
	// PyTorch checkpoints go to the PyTorch engine, every other model file to TensorFlow.js.
	const engineId = args.values.get('engine') ?? (hasSuffix(modelPath, trainableSuffixes('pytorch')) ? 'pytorch' : 'tfjs');
	if (engineId !== 'tfjs' && engineId !== 'pytorch') {
		throw new UsageError(`--engine must be tfjs or pytorch (got '${engineId}').`);
	}
	const preset = args.values.get('preset') ?? 'paper-cifar10';
	if (!Object.hasOwn(trainingPresets, preset)) {
		throw new UsageError(`--preset must be one of ${Object.keys(trainingPresets).join(', ')} (got '${preset}').`);
	}
	const hyperParameters: Partial<Record<keyof TrainingHyperParameters, number>> = {};
	for (const [option, field] of Object.entries(hyperOptions)) {
		const value = numberOption(args, option, (n) => Number.isFinite(n) && n >= 0);
		if (value !== undefined) hyperParameters[field] = value;
	}
	const workers = numberOption(args, 'workers', (n) => n === 1 || n === 2);
	// Smoke runs and CI: each epoch stops after this many steps (both engines).
	const maxSteps = numberOption(args, 'max-steps-per-epoch', (n) => Number.isInteger(n) && n >= 1);
	const job: TrainingJob = {
		modelPath,
		dataset: datasetFromArg(data),
		preset,
		hyperParameters: hyperParameters as Partial<TrainingHyperParameters>,
		crossbarSize: numberOption(args, 'tile', (n) => Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0) ?? 64,
		slices: numberOption(args, 'slices', (n) => Number.isInteger(n) && n >= 1) ?? 1,
		pruneRatios: parseRatios(ratios),
		outputPath,
		force: args.flags.has('force'),
		seed: numberOption(args, 'seed', Number.isInteger) ?? 0,
		resume: args.flags.has('resume'),
		baseline: !args.flags.has('no-baseline'),
		engineOptions: {
			...(workers !== undefined ? { workers: workers as 1 | 2 } : {}),
			...(maxSteps !== undefined ? { maxStepsPerEpoch: maxSteps } : {}),
			...(args.values.has('factory') ? { modelFactory: args.values.get('factory') } : {}),
			...(args.values.has('torchvision') ? { torchvision: args.values.get('torchvision') } : {}),
			...(args.values.has('processes') ? { processes: numberOption(args, 'processes', (n) => Number.isInteger(n) && n >= 1) } : {}),
		},
	};
	await checkOutputPath(outputPath, { force: job.force, inputPath: modelPath });
	const engine: TrainingEngine = engineId === 'tfjs' ? new TfjsTrainingEngine() : new PytorchTrainingEngine({ pythonPath: args.values.get('python') });
	const json = args.flags.has('json');
	const abort = new AbortController();
	const onSignal = () => {
		process.stderr.write('crossbar-lens: stopping after the current step; the last checkpoint is kept (run again with --resume)…\n');
		abort.abort();
	};
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);
	try {
		const result = await engine.start(job, (event) => {
			if (json) {
				process.stdout.write(`${JSON.stringify(event.event === 'done' ? { ...event, result: undefined } : event)}\n`);
			} else if (event.event === 'epoch') {
				process.stderr.write(`${describeEpoch(event)}\n`);
			} else if (event.event === 'log' && event.message) {
				process.stderr.write(`${event.message}\n`);
			}
		}, abort.signal);
		process.stdout.write(json ? `${JSON.stringify({ event: 'result', result })}\n` : `${summary(result)}\n`);
		return 0;
	} catch (ex) {
		if (isAbortError(ex)) {
			process.stderr.write(`crossbar-lens: ${(ex as Error).message}\n`);
			return 130;
		}
		throw ex;
	} finally {
		process.removeListener('SIGINT', onSignal);
		process.removeListener('SIGTERM', onSignal);
	}
}
