/**
 * The PyTorch engine's side of the protocol: TrainingJob → `python -m crossbar_lens_train finetune`
 * arguments, and its JSON lines (python/README.md, "The JSON-lines protocol") → TrainingEvents.
 * Both engines name the phases alike (regularize, prune, finetune, baseline), so the panel plots
 * both the same way.
 */

import { basename, join } from 'node:path';
import { UsageError } from '../../core/errors';
import { describeSuffixes, hasSuffix, trainableSuffixes } from '../../formats/registry';
import { resolveHyperParameters } from '../engine';
import type { BranchResult, DatasetSpec, ModelMetrics, TrainingEvent, TrainingJob, TrainingPhase, TrainingResult } from '../engine';
import { isRecord } from '../../shared/isRecord';

/** The interpreter arguments of one job, and notes about job fields this engine does not use. */
export interface PytorchInvocation {
	/** Everything after the interpreter: `-m crossbar_lens_train finetune …`, or under `crossbar_lens_train.launch` for several processes. */
	readonly args: string[];
	readonly processes: number;
	/** One line each, reported as 'log' events (e.g. a dataset option the engine has no equivalent of). */
	readonly notes: string[];
}

const num = (value: number): string => String(value);

/** The `--data …` arguments of a dataset (both subcommands read them); `notes` gets what the engine cannot honour. */
export function datasetArgs(spec: DatasetSpec, notes: string[]): string[] {
	const args: string[] = [];
	switch (spec.kind) {
		case 'digits':
			// crossbar_lens_train reads the same 1797 images through scikit-learn's load_digits.
			args.push('--data', 'digits');
			break;
		case 'npz':
			if ((spec.xKey !== undefined && spec.xKey !== 'x') || (spec.yKey !== undefined && spec.yKey !== 'y')) {
				throw new UsageError(`${basename(spec.path)}: the PyTorch engine reads the arrays 'x' and 'y' (and 'x_test', 'y_test') of an .npz; rename the arrays or use the TensorFlow.js engine.`);
			}
			if (spec.layout === 'NHWC') {
				throw new UsageError(`${basename(spec.path)}: the PyTorch engine reads N×C×H×W images from an .npz; NHWC is read by the TensorFlow.js engine only.`);
			}
			args.push('--data', spec.path);
			break;
		case 'cifar10':
		case 'idx':
		case 'folder':
			args.push('--data', spec.dir);
			break;
		default:
			throw new UsageError(`Unknown dataset kind '${(spec as { kind: string }).kind}'.`);
	}
	if (spec.testFraction !== undefined) args.push('--test-fraction', num(spec.testFraction));
	const cifar = spec.kind === 'cifar10';
	if (spec.augment ?? cifar) args.push('--augment');
	if (spec.standardize ?? cifar) args.push('--standardize');
	if (spec.limitTrain !== undefined || spec.limitTest !== undefined) {
		notes.push('The PyTorch engine has no image limit (limitTrain/limitTest): it uses every image of the dataset.');
	}
	return args;
}

/**
 * The command line of a job. Throws a UsageError for what the engine cannot run (an ONNX model,
 * no architecture, an .npz with other array names). The learning-rate milestones are the
 * engine's own: 50/100/150 of 160 regularize epochs and 50/100/150 of 200 fine-tune epochs,
 * scaled to the epochs asked (the paper's schedule, python/README.md).
 */
export function buildPytorchInvocation(job: TrainingJob, options: { eventsFile?: string } = {}): PytorchInvocation {
	const o = job.engineOptions ?? {};
	const notes: string[] = [];
	if (!hasSuffix(job.modelPath, trainableSuffixes('pytorch'))) {
		throw new UsageError(`The PyTorch engine starts from a PyTorch checkpoint (${describeSuffixes(trainableSuffixes('pytorch'))}); ${basename(job.modelPath)} is not one. ONNX, TF.js and Keras models train with the TensorFlow.js engine.`);
	}
	if (!o.modelFactory === !o.torchvision) {
		throw new UsageError(`The PyTorch engine needs the architecture of ${basename(job.modelPath)}: a model factory (package.module:function or path/to/file.py:function) or a torchvision name, not ${o.modelFactory ? 'both' : 'neither'}.`);
	}
	const processes = o.processes ?? 1;
	if (!Number.isInteger(processes) || processes < 1 || processes > 256) {
		throw new UsageError(`The number of processes must be an integer from 1 to 256 (got ${String(processes)}).`);
	}
	const hp = resolveHyperParameters(job);
	const finetune: string[] = ['finetune'];
	if (o.modelFactory) finetune.push('--model', o.modelFactory);
	else finetune.push('--torchvision', o.torchvision!);
	if (o.numClasses !== undefined) finetune.push('--num-classes', num(o.numClasses));
	finetune.push('--weights', job.modelPath);
	if (o.trustCheckpoint) finetune.push('--trust-checkpoint');
	finetune.push(...datasetArgs(job.dataset, notes));
	const seed = job.seed ?? 0;
	finetune.push('--seed', num(seed), '--split-seed', num(seed));
	finetune.push('--tile', num(job.crossbarSize));
	if (job.slices !== undefined) finetune.push('--slices', num(job.slices));
	finetune.push(
		'--epochs', num(hp.regularizeEpochs), '--lr', num(hp.lr), '--momentum', num(hp.momentum),
		'--lambda-var', num(hp.lambdaVar), '--lambda-l2', num(hp.lambda2), '--batch-size', num(hp.batchSize),
		'--finetune-epochs', num(hp.finetuneEpochs), '--finetune-lr', num(hp.finetuneLr),
		'--finetune-params', hp.finetuneParams === 'conv' ? 'convs' : 'all',
	);
	const ratios = job.pruneRatios;
	finetune.push('--ratios', 'preset' in ratios ? ratios.preset : 'ratio' in ratios ? num(ratios.ratio) : ratios.ratios.map(num).join(','));
	finetune.push('--out', job.outputPath);
	if (job.force) finetune.push('--force');
	if (job.checkpointDir) finetune.push('--checkpoint', join(job.checkpointDir, 'pytorch-resume.pt'));
	if (job.resume) finetune.push('--resume');
	if (job.baseline === false) finetune.push('--no-baseline');
	if (o.device) finetune.push('--device', o.device);
	if (o.threads) finetune.push('--threads', num(o.threads));
	if (o.maxStepsPerEpoch) finetune.push('--max-steps-per-epoch', num(o.maxStepsPerEpoch));
	if (options.eventsFile) finetune.push('--events-file', options.eventsFile);
	const args = processes > 1
		// Debian's torchrun is broken on Python 3.11; launch is torchrun with that fix. --standalone: no port clashes.
		? ['-m', 'crossbar_lens_train.launch', '--standalone', '--nproc_per_node', num(processes), '-m', 'crossbar_lens_train', ...finetune]
		: ['-m', 'crossbar_lens_train', ...finetune];
	return { args, processes, notes };
}

/** What a `stopped` line said: where the run can resume. */
export interface StoppedInfo {
	readonly checkpoint: string;
	readonly phase?: string;
	readonly epoch?: number;
}

type Raw = Record<string, unknown>;

const numberOr = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const optionalNumber = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
/** null stays null: the engine writes a non-finite improvement (every crossbar empty) as null. */
const improvement = (value: unknown): number | null | undefined => (value === null ? null : optionalNumber(value));
const histogram = (value: unknown): number[] | undefined => (Array.isArray(value) && value.every((v) => typeof v === 'number') ? (value as number[]) : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The engine's training phases: the same names as TrainingPhase (python/README.md). */
const phaseNames: Readonly<Record<string, TrainingPhase>> = { regularize: 'regularize', finetune: 'finetune', baseline: 'baseline' };

/**
 * Folds the engine's JSON lines into TrainingEvents and, at `done`, the TrainingResult. One
 * instance per run; `line()` never throws (a line that is not JSON becomes a 'log' event).
 */
export class PytorchProtocol {
	private startLine: Raw | undefined;
	private lastRegularizeEpoch: Raw | undefined;
	private readonly pruneLayers = new Map<string, BranchResult['layers']>();
	private doneLine: Raw | undefined;
	/** Set by a `stopped` line. */
	stopped: StoppedInfo | undefined;
	/** Set by an `error` line. */
	error: { message: string; usage: boolean; dataset: boolean } | undefined;
	/** The result, once a `done` line was read. */
	result: TrainingResult | undefined;

	constructor(private readonly job: TrainingJob, private readonly startedAt = performance.now()) {}

	/** The events one stdout line stands for (none for a blank line). */
	line(raw: string): TrainingEvent[] {
		const trimmed = raw.trim();
		if (trimmed === '') return [];
		let value: unknown;
		try {
			value = JSON.parse(trimmed);
		} catch {
			value = undefined;
		}
		if (!isRecord(value) || typeof value.event !== 'string') {
			// The user's model code may print; keep it as a log line.
			return [{ event: 'log', message: trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed }];
		}
		return this.event(value);
	}

	private get backend(): string | undefined {
		return text(this.startLine?.device);
	}

	private event(e: Raw): TrainingEvent[] {
		const backend = this.backend;
		switch (e.event) {
			case 'start': {
				this.startLine = e;
				const world = numberOr(e.world, 1);
				const convs = Array.isArray(e.convLayers) ? e.convLayers.length : 0;
				const resumed = isRecord(e.resumeFrom) ? `; resumed at ${String(e.resumeFrom.phase)} epoch ${String(e.resumeFrom.epoch)}` : '';
				const events: TrainingEvent[] = [{
					event: 'start', engine: 'pytorch', workers: world, backend: text(e.device),
					message: `PyTorch ${String(e.torch ?? '?')} on ${String(e.device ?? '?')}${world > 1 ? ` × ${world} processes` : ''}; ${String(e.data ?? '')} (${String(e.train ?? '?')} training / ${String(e.test ?? '?')} held-out images); ${convs} conv layers at T=${String(e.tile ?? this.job.crossbarSize)}${resumed}`,
				}];
				if (!isRecord(e.resumeFrom)) {
					events.push({ event: 'phase', phase: 'regularize', epoch: 0, epochs: resolveHyperParameters(this.job).regularizeEpochs, testAccuracy: optionalNumber(e.testAccuracy), adcEnergyImprovement: improvement(e.adcEnergyImprovement), levelHistogram: histogram(e.levelHistogram), backend: text(e.device) });
				}
				return events;
			}
			case 'epoch': {
				const phase = phaseNames[String(e.phase)];
				if (!phase) return [{ event: 'log', message: `epoch of an unknown phase '${String(e.phase)}'`, backend }];
				if (phase === 'regularize') this.lastRegularizeEpoch = e;
				return [{
					event: 'epoch', phase, epoch: optionalNumber(e.epoch), epochs: optionalNumber(e.epochs), loss: optionalNumber(e.loss),
					trainAccuracy: optionalNumber(e.trainAccuracy), testAccuracy: optionalNumber(e.testAccuracy),
					adcEnergyImprovement: improvement(e.adcEnergyImprovement), levelHistogram: histogram(e.levelHistogram),
					...(e.regularizerLoss !== undefined ? { regularizerLoss: optionalNumber(e.regularizerLoss) } : {}),
					...(e.projectedAdcEnergyImprovement !== undefined ? { projectedAdcEnergyImprovement: improvement(e.projectedAdcEnergyImprovement) } : {}),
					...(e.lr !== undefined ? { lr: optionalNumber(e.lr) } : {}),
					backend,
				}];
			}
			case 'prune': {
				const dub = e.phase === 'dub';
				const layers = Array.isArray(e.layers)
					? e.layers.filter(isRecord).map((l) => ({ name: String(l.name), ratio: numberOr(l.ratio, 0), zeros: numberOr(l.zeros, 0), weights: numberOr(l.weights, 0) }))
					: [];
				this.pruneLayers.set(dub ? 'dub' : 'unstructured', layers);
				return [{
					event: 'phase', phase: dub ? 'prune' : 'baseline', epoch: 0, epochs: 0,
					testAccuracy: optionalNumber(e.testAccuracy), adcEnergyImprovement: improvement(e.adcEnergyImprovement), levelHistogram: histogram(e.levelHistogram),
					message: dub
						? `D.U.B. prune: ${layers.map((l) => `${l.name} ${l.ratio}%`).join(', ')}`
						: 'Baseline: unstructured magnitude prune at the same ratios, then the same fine-tune (docs/method.md §8.2).',
					backend,
				}];
			}
			case 'checkpoint':
				return [{ event: 'checkpoint', phase: phaseNames[String(e.phase)], epoch: optionalNumber(e.epoch), path: text(e.path), backend }];
			case 'stopped':
				this.stopped = { checkpoint: String(e.checkpoint ?? ''), phase: text(e.phase), epoch: optionalNumber(e.epoch) };
				return [];
			case 'error':
				this.error = { message: String(e.message ?? 'unknown error'), usage: e.usage === true, dataset: e.dataset === true };
				return [];
			case 'done': {
				this.doneLine = e;
				const result = this.buildResult();
				this.result = result;
				return [
					{ event: 'log', message: `Wrote ${result.outputPath}`, path: result.outputPath, backend },
					{ event: 'done', path: result.outputPath, testAccuracy: result.dub.accuracy, adcEnergyImprovement: result.dub.adcEnergyImprovement, levelHistogram: result.dub.levelHistogram, result, backend },
				];
			}
			default:
				return [{ event: 'log', message: JSON.stringify(e).slice(0, 500), backend }];
		}
	}

	private buildResult(): TrainingResult {
		const done = this.doneLine ?? {};
		const start = this.startLine ?? {};
		const startHistogram = histogram(start.levelHistogram) ?? [];
		const initial: ModelMetrics = {
			accuracy: numberOr(start.testAccuracy, Number.NaN),
			adcEnergyImprovement: improvement(start.adcEnergyImprovement) ?? null,
			levelHistogram: startHistogram,
		};
		const summary = isRecord(done.regularized) ? done.regularized : {};
		// No regularize epochs (or none in the summary): the regularized model is the starting one.
		const lastEpoch = this.lastRegularizeEpoch ?? {};
		const regularized: ModelMetrics = {
			accuracy: numberOr(summary.accuracy, numberOr(lastEpoch.testAccuracy, initial.accuracy)),
			adcEnergyImprovement: improvement(summary.adcEnergyImprovement) ?? improvement(lastEpoch.adcEnergyImprovement) ?? initial.adcEnergyImprovement,
			levelHistogram: histogram(lastEpoch.levelHistogram) ?? startHistogram,
		};
		const branch = (value: unknown, key: string): BranchResult | undefined => {
			if (!isRecord(value)) return undefined;
			const accuracy = numberOr(value.accuracy, Number.NaN);
			return {
				accuracy,
				bestAccuracy: numberOr(value.bestAccuracy, accuracy),
				afterPruneAccuracy: numberOr(value.afterPruneAccuracy, Number.NaN),
				adcEnergyImprovement: improvement(value.adcEnergyImprovement) ?? null,
				levelHistogram: histogram(value.levelHistogram) ?? [],
				layers: this.pruneLayers.get(key) ?? [],
			};
		};
		const dub = branch(done.dub, 'dub') ?? { ...regularized, afterPruneAccuracy: Number.NaN, bestAccuracy: regularized.accuracy, layers: [] };
		const unstructured = branch(done.unstructured, 'unstructured');
		return {
			engine: 'pytorch',
			backend: text(start.device) ?? 'cpu',
			workers: numberOr(start.world, 1),
			initial,
			regularized,
			dub,
			...(unstructured ? { unstructured } : {}),
			outputPath: text(done.out) ?? this.job.outputPath,
			checkpointPath: text(start.checkpoint) ?? `${this.job.outputPath}.resume.pt`,
			seconds: (performance.now() - this.startedAt) / 1000,
		};
	}
}
