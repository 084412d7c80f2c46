/**
 * The D.U.B. pipeline of docs/method.md §4–§8 on one worker (all workers of a job run it in
 * lockstep; only rank 0 reports, checkpoints and writes):
 *   regularize (CE + λ_2 weight decay + the gated Hoyer-variance gradient on conv weights)
 *   → prune (fixed-ratio D.U.B.) → finetune (masked) → write the model in the input's format
 *   → baseline (unstructured prune of the starting model at the same ratios + the same fine-tune).
 * A checkpoint after every epoch lets a job resume; a cancel keeps the last complete one.
 */

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../core/errors';
import { tfjsCheckpointPath } from '../engine';
import { openFileSource } from '../../formats/byteSource';
import { writeModel } from '../../formats/writers';
import { resolveProfile } from '../../hardware/profile';
import { pruneDubFixedRatio, pruneWholeCrossbars } from '../../pruning/dub';
import { resolveRatios } from '../../pruning/ratios';
import type { LayerRatio } from '../../pruning/ratios';
import { pruneUnstructured } from '../../pruning/unstructured';
import type { HardwareProfile } from '../../shared/analysis';
import { datasetMismatch, deriveSeed, loadDataset } from '../datasets';
import type { Dataset } from '../datasets';
import { resolveHyperParameters } from '../engine';
import type { BranchResult, ModelMetrics, TrainingEvent, TrainingHyperParameters, TrainingJob, TrainingPhase, TrainingResult } from '../engine';
import type { BackendInfo } from './backend';
import { readCheckpoint, writeCheckpoint } from './checkpoint';
import type { CheckpointArray } from './checkpoint';
import type { Collective } from './collective';
import { loadTrainableGraph } from './layersModel';
import type { LoadedGraph } from './layersModel';
import { TrainableModel } from './model';
import type { GraphSpec } from './model';
import { Trainer, adcMetrics } from './trainer';

export interface PipelineContext {
	readonly collective: Collective;
	readonly backend: BackendInfo;
	/** Called on rank 0 only. */
	readonly emit: (event: TrainingEvent) => void;
	/** Polled on rank 0 before every step. */
	readonly shouldStop: () => boolean;
}

type Stage = 'regularize' | 'finetune' | 'baseline' | 'done';

/** What the checkpoint header carries besides the arrays. */
interface PipelineState {
	stage: Stage;
	/** Epochs completed in `stage`. */
	epochsDone: number;
	initial?: ModelMetrics;
	regularized?: ModelMetrics;
	/** The branch in progress (finetune: D.U.B.; baseline: unstructured) and the finished D.U.B. one. */
	branch?: Partial<BranchResult> & { afterPruneAccuracy: number; bestAccuracy: number; layers: BranchResult['layers'] };
	dub?: BranchResult;
	unstructured?: BranchResult;
	outputWritten: boolean;
}


/** Identifies a job's numerics, so a checkpoint is only resumed by the job that wrote it. */
function fingerprint(job: TrainingJob, hp: TrainingHyperParameters): string {
	const model = resolve(job.modelPath);
	const info = statSync(model);
	const key = JSON.stringify({ model, size: info.size, mtime: info.mtimeMs, dataset: job.dataset, hp, crossbarSize: job.crossbarSize, slices: job.slices ?? 1, ratios: job.pruneRatios, seed: job.seed ?? 0, baseline: job.baseline ?? true, maxSteps: job.engineOptions?.maxStepsPerEpoch ?? null });
	return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** Learning rate after MultiStepLR milestones (epoch is 0-based within the phase). */
export function scheduledLr(base: number, milestones: readonly number[], gamma: number, epoch: number): number {
	return base * gamma ** milestones.filter((m) => m <= epoch).length;
}

export async function runPipeline(job: TrainingJob, ctx: PipelineContext): Promise<TrainingResult> {
	const started = performance.now();
	const { collective } = ctx;
	const lead = collective.rank === 0;
	const emit = (e: Omit<TrainingEvent, 'backend'>) => {
		if (lead) ctx.emit({ ...e, backend: ctx.backend.name });
	};
	const hp = resolveHyperParameters(job);
	const profile = resolveProfile({ crossbarSize: job.crossbarSize, slices: job.slices ?? 1 });
	const seed = job.seed ?? 0;
	const checkpointPath = tfjsCheckpointPath(job);
	const outputPath = resolve(job.outputPath);
	if (resolve(job.modelPath) === outputPath) {
		throw new UsageError(`The output ${job.outputPath} is the input model; choose another output path.`);
	}

	const { spec, graph, toFile } = await loadTrainableGraph(job.modelPath);
	let model: TrainableModel | undefined;
	try {
		const dataset = await loadDataset(job.dataset, seed);
		model = new TrainableModel(spec);
		const mismatch = datasetMismatch(dataset, spec.inputShape, model.outputs, basename(job.modelPath));
		if (mismatch) {
			throw new UsageError(mismatch);
		}
		const ratios = resolveRatios(model.convs.map((c) => ({ name: c.layer!, shape: c.shape, kind: 'conv' as const })), job.pruneRatios);
		checkForwardPass(model, dataset);
		const trainer = new Trainer(model, dataset, collective);
		const print = fingerprint(job, hp);
		const masks = new Map<string, Uint8Array>();

		let state: PipelineState = { stage: 'regularize', epochsDone: 0, outputWritten: false };
		const saved = job.resume ? await readCheckpoint<PipelineState>(checkpointPath) : undefined;
		if (saved) {
			if (saved.fingerprint !== print) {
				throw new UsageError(`${checkpointPath}: this checkpoint belongs to a different job (model, dataset or settings changed); delete it or start without resume.`);
			}
			state = saved.state;
			restoreArrays(model, trainer, masks, saved.arrays);
		}
		if (existsSync(outputPath) && !job.force && !state.outputWritten) {
			throw new UsageError(`Refusing to overwrite ${job.outputPath}, which already exists; choose another output path or allow overwriting.`);
		}
		await mkdir(dirname(outputPath), { recursive: true });
		if (lead) await mkdir(dirname(checkpointPath), { recursive: true });

		emit({ event: 'start', engine: 'tfjs', workers: collective.size, message: `${ctx.backend.detail}; ${dataset.name}; ${model.convs.length} conv layers at T=${profile.crossbarSize}${saved ? `; resumed at ${state.stage} epoch ${state.epochsDone}` : ''}` });
		for (const note of model.notes) emit({ event: 'log', message: note });

		const measure = (): ModelMetrics => {
			const { accuracy } = trainer.evaluate();
			return { accuracy, ...adcMetrics(model!.convs, profile) };
		};
		const save = async (phase: TrainingPhase, epoch: number) => {
			if (!lead) return;
			await writeCheckpoint(checkpointPath, { fingerprint: print, state, arrays: collectArrays(model!, trainer, masks) });
			emit({ event: 'checkpoint', phase, epoch, path: checkpointPath });
		};
		const stopped = () => new DOMException('Training was cancelled; the last complete epoch is in the checkpoint.', 'AbortError');

		if (!state.initial) {
			state.initial = measure();
		}
		// Phase 1: regularize (§4).
		if (state.stage === 'regularize') {
			if (state.epochsDone === 0) {
				emit({ event: 'phase', phase: 'regularize', epoch: 0, epochs: hp.regularizeEpochs, testAccuracy: state.initial.accuracy, adcEnergyImprovement: state.initial.adcEnergyImprovement, levelHistogram: state.initial.levelHistogram });
			}
			for (let epoch = state.epochsDone; epoch < hp.regularizeEpochs; epoch++) {
				const r = await trainer.trainEpoch({
					lr: scheduledLr(hp.lr, hp.regularizeMilestones, hp.gamma, epoch), momentum: hp.momentum, weightDecay: hp.lambda2, batchSize: hp.batchSize,
					trainables: model.trainables('all'), regularizer: hp.lambdaVar > 0 ? { lambda: hp.lambdaVar, crossbarSize: profile.crossbarSize, slices: profile.slices } : undefined,
					seed: deriveSeed(seed, 1, epoch), maxSteps: job.engineOptions?.maxStepsPerEpoch, shouldStop: ctx.shouldStop,
				});
				if (r.stopped) throw stopped();
				const m = measure();
				emit({ event: 'epoch', phase: 'regularize', epoch: epoch + 1, epochs: hp.regularizeEpochs, loss: r.loss, regularizerLoss: r.regularizerLoss, trainAccuracy: r.trainAccuracy, testAccuracy: m.accuracy, adcEnergyImprovement: m.adcEnergyImprovement, levelHistogram: m.levelHistogram });
				state.epochsDone = epoch + 1;
				state.regularized = m;
				await save('regularize', epoch + 1);
			}
			state.regularized ??= state.initial;
			// Phase 2: D.U.B. prune (§6).
			const layers = pruneModel(model, ratios, masks, 'dub', profile);
			const pruned = measure();
			emit({ event: 'phase', phase: 'prune', epoch: 0, epochs: 0, testAccuracy: pruned.accuracy, adcEnergyImprovement: pruned.adcEnergyImprovement, levelHistogram: pruned.levelHistogram, message: `D.U.B. prune: ${layers.map((l) => `${l.name} ${l.ratio}%`).join(', ')}` });
			state = { ...state, stage: 'finetune', epochsDone: 0, branch: { afterPruneAccuracy: pruned.accuracy, bestAccuracy: pruned.accuracy, layers, ...pruned } };
			trainer.resetOptimizer();
			await save('prune', 0);
		}
		// Phase 3: masked fine-tune (§7), then the output.
		if (state.stage === 'finetune') {
			await finetune(trainer, state, hp, 'finetune', masks, seed, 3, job, ctx, emit, measure, save, stopped);
			state.dub = state.branch as BranchResult;
			if (lead && !state.outputWritten) {
				await writeOutput(job, graph, toFile, model, outputPath);
			}
			state = { ...state, outputWritten: true, stage: job.baseline === false ? 'done' : 'baseline', epochsDone: 0, branch: undefined };
			emit({ event: 'log', message: `Wrote ${outputPath}`, path: outputPath });
			if (state.stage === 'baseline') {
				startBaseline(model, spec, ratios, masks, profile, trainer, state, measure, emit);
				await save('baseline', 0);
			} else {
				await save('finetune', hp.finetuneEpochs);
			}
		}
		// Baseline (§8.2): unstructured prune of the starting weights + the same fine-tune.
		if (state.stage === 'baseline') {
			if (!state.branch) {
				startBaseline(model, spec, ratios, masks, profile, trainer, state, measure, emit);
			}
			await finetune(trainer, state, hp, 'baseline', masks, seed, 4, job, ctx, emit, measure, save, stopped);
			state = { ...state, unstructured: state.branch as BranchResult, stage: 'done', branch: undefined };
			await save('baseline', hp.finetuneEpochs);
		}
		const result: TrainingResult = {
			engine: 'tfjs', backend: ctx.backend.name, workers: collective.size,
			initial: state.initial!, regularized: state.regularized ?? state.initial!, dub: state.dub!,
			...(state.unstructured ? { unstructured: state.unstructured } : {}),
			outputPath, checkpointPath, seconds: (performance.now() - started) / 1000,
		};
		emit({ event: 'done', path: outputPath, testAccuracy: result.dub.accuracy, adcEnergyImprovement: result.dub.adcEnergyImprovement, levelHistogram: result.dub.levelHistogram, result });
		return result;
	} finally {
		model?.dispose();
		await graph.close();
	}
}

/** One masked fine-tune (D.U.B. or baseline branch), resuming at state.epochsDone. */
async function finetune(
	trainer: Trainer, state: PipelineState, hp: TrainingHyperParameters, phase: 'finetune' | 'baseline', masks: Map<string, Uint8Array>, seed: number, stream: number,
	job: TrainingJob, ctx: PipelineContext, emit: (e: TrainingEvent) => void, measure: () => ModelMetrics, save: (phase: TrainingPhase, epoch: number) => Promise<void>, stopped: () => Error,
): Promise<void> {
	const branch = state.branch!;
	for (let epoch = state.epochsDone; epoch < hp.finetuneEpochs; epoch++) {
		const r = await trainer.trainEpoch({
			lr: scheduledLr(hp.finetuneLr, hp.finetuneMilestones, hp.gamma, epoch), momentum: 0, weightDecay: 0, batchSize: hp.batchSize,
			trainables: trainer.model.trainables(hp.finetuneParams), masks, seed: deriveSeed(seed, stream, epoch),
			maxSteps: job.engineOptions?.maxStepsPerEpoch, shouldStop: ctx.shouldStop,
		});
		if (r.stopped) throw stopped();
		const m = measure();
		emit({ event: 'epoch', phase, epoch: epoch + 1, epochs: hp.finetuneEpochs, loss: r.loss, trainAccuracy: r.trainAccuracy, testAccuracy: m.accuracy, adcEnergyImprovement: m.adcEnergyImprovement, levelHistogram: m.levelHistogram });
		Object.assign(branch, m, { bestAccuracy: Math.max(branch.bestAccuracy, m.accuracy) });
		state.epochsDone = epoch + 1;
		await save(phase, epoch + 1);
	}
	if (branch.accuracy === undefined) {
		Object.assign(branch, measure());
	}
}

function startBaseline(model: TrainableModel, spec: GraphSpec, ratios: LayerRatio[], masks: Map<string, Uint8Array>, profile: HardwareProfile, trainer: Trainer, state: PipelineState, measure: () => ModelMetrics, emit: (e: TrainingEvent) => void): void {
	for (const p of model.params) {
		p.values.set(spec.initializers.get(p.name)!.values);
	}
	const layers = pruneModel(model, ratios, masks, 'unstructured', profile);
	model.upload();
	trainer.resetOptimizer();
	const pruned = measure();
	state.branch = { afterPruneAccuracy: pruned.accuracy, bestAccuracy: pruned.accuracy, layers, ...pruned };
	state.epochsDone = 0;
	emit({ event: 'phase', phase: 'baseline', epoch: 0, testAccuracy: pruned.accuracy, adcEnergyImprovement: pruned.adcEnergyImprovement, levelHistogram: pruned.levelHistogram, message: 'Baseline: unstructured magnitude prune of the starting model at the same ratios (docs/method.md §8.2), then the same fine-tune.' });
}

/**
 * Prunes every conv weight in place at its ratio; masks (1 = zero) replace the previous ones.
 * `tiles` clears only whole crossbars at or below the layer's threshold (docs/method.md §8.4).
 */
export function pruneModel(model: TrainableModel, ratios: readonly LayerRatio[], masks: Map<string, Uint8Array>, method: 'dub' | 'unstructured' | 'tiles', profile: HardwareProfile): BranchResult['layers'] {
	masks.clear();
	const layers: { name: string; ratio: number; zeros: number; weights: number }[] = [];
	model.convs.forEach((p, i) => {
		const ratio = ratios[i].ratio;
		const matrix = { values: p.values, outChannels: p.outChannels!, fanIn: p.fanIn! };
		const geometry = { crossbarSize: profile.crossbarSize, slices: profile.slices, out: p.values };
		const result = method === 'dub' ? pruneDubFixedRatio(matrix, ratio, geometry)
			: method === 'tiles' ? pruneWholeCrossbars(matrix, { ratio }, geometry)
				: pruneUnstructured(p.values, ratio, { out: p.values });
		masks.set(p.name, result.mask);
		layers.push({ name: p.layer!, ratio, zeros: result.zeroCount, weights: p.values.length });
	});
	model.upload(model.convs);
	return layers;
}

function collectArrays(model: TrainableModel, trainer: Trainer, masks: ReadonlyMap<string, Uint8Array>): Map<string, CheckpointArray> {
	const arrays = new Map<string, CheckpointArray>();
	for (const p of model.params) arrays.set(`param:${p.name}`, p.values);
	for (const [name, buf] of trainer.momentum) arrays.set(`momentum:${name}`, buf);
	for (const [name, mask] of masks) arrays.set(`mask:${name}`, mask);
	return arrays;
}

function restoreArrays(model: TrainableModel, trainer: Trainer, masks: Map<string, Uint8Array>, arrays: ReadonlyMap<string, CheckpointArray>): void {
	for (const p of model.params) {
		const saved = arrays.get(`param:${p.name}`);
		if (!(saved instanceof Float32Array) || saved.length !== p.values.length) {
			throw new Error(`The checkpoint has no matching values for '${p.name}'.`);
		}
		p.values.set(saved);
	}
	model.upload();
	trainer.resetOptimizer();
	masks.clear();
	for (const [key, array] of arrays) {
		if (key.startsWith('momentum:') && array instanceof Float32Array) trainer.momentum.set(key.slice(9), Float32Array.from(array));
		if (key.startsWith('mask:') && array instanceof Uint8Array) masks.set(key.slice(5), Uint8Array.from(array));
	}
}

async function writeOutput(job: TrainingJob, graph: LoadedGraph['graph'], toFile: LoadedGraph['toFile'], model: TrainableModel, outputPath: string): Promise<void> {
	const updates = new Map<string, Float32Array>();
	// Back to the file's layouts (TF.js: HWIO conv kernels, NHWC-ordered Dense rows).
	for (const p of model.params) updates.set(p.name, Float32Array.from(toFile(p.name, p.values)));
	const source = await openFileSource(job.modelPath);
	try {
		await writeModel(source, graph, updates, outputPath, { force: job.force ?? false, inputPath: job.modelPath });
	} finally {
		await source.close();
	}
}

/** One forward pass on two held-out images, so a graph the dataset cannot feed fails before training (or a trade-off sweep) with one line. */
export function checkForwardPass(model: TrainableModel, dataset: Dataset): void {
	const [c, h, w] = dataset.shape;
	const n = Math.min(2, dataset.test.count);
	try {
		const logits = tfTidyForward(model, new Float32Array(n * c * h * w), [n, h, w, c]);
		if (logits[1] < dataset.classes) {
			throw new UsageError(`The dataset ${dataset.name} has ${dataset.classes} classes but ${basename(model.spec.name)} outputs ${logits[1]}.`);
		}
	} catch (ex) {
		if (ex instanceof UsageError) throw ex;
		throw new UsageError(`${basename(model.spec.name)} cannot run on ${c}×${h}×${w} images from ${dataset.name}: ${(ex as Error).message.split('\n')[0]}`);
	}
}

function tfTidyForward(model: TrainableModel, pixels: Float32Array, shape: [number, number, number, number]): number[] {
	return tf.tidy(() => model.forward(tf.tensor4d(pixels, shape), false).shape);
}

