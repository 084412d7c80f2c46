/**
 * The accuracy–ADC-energy trade-off sweep (issue #10, item 6), engine-neutral and pure: the job,
 * its defaults and checks, the per-layer ratios of each point, and the events an engine reports.
 * The tfjs worker (src/training/tfjs/tradeoff.ts) and the PyTorch engine
 * (python/crossbar_lens_train/tradeoff.py) both run this plan and report the same `SweepEvent`s;
 * src/training/tradeoff.ts turns them into the `TradeoffDto` (src/shared/tradeoff.ts).
 */

import { basename } from 'node:path';
import { UsageError } from '../core/errors';
import { hasSuffix, trainableSuffixes } from '../formats/registry';
import { resolveProfile } from '../hardware/profile';
import { ratioPreset, resolveRatios } from '../pruning/ratios';
import type { RatioLayer } from '../pruning/ratios';
import type { AdcLaw } from '../shared/analysis';
import { tradeoffMethods } from '../shared/tradeoff';
import type { TradeoffEngineId, TradeoffMethod } from '../shared/tradeoff';
import type { DatasetSpec, PytorchEngineOptions, TfjsEngineOptions } from './engine';

/** The default sweep: one ratio for every conv layer, from nothing to where small CNNs break. */
export const defaultSweepRatios: readonly number[] = [0, 30, 50, 60, 70, 80, 85, 90, 95, 98];
/** The default sweep along a ratio preset: percentages of its per-layer ratios (100 = the preset). */
export const defaultPresetScales: readonly number[] = [0, 25, 50, 60, 70, 80, 90, 95, 100];

/** One trade-off request. Paths are absolute or relative to the process's cwd. */
export interface TradeoffJob {
	/** The trained model: ONNX, TF.js layers model.json or Keras (tfjs engine), or a PyTorch checkpoint (PyTorch engine). */
	readonly modelPath: string;
	/** The held-out images are the split a fine-tune with the same dataset and seed evaluates on. */
	readonly dataset: DatasetSpec;
	/** Default: PyTorch for a PyTorch checkpoint, else tfjs. */
	readonly engine?: TradeoffEngineId;
	/** T (default 64) and q (default 1). */
	readonly crossbarSize?: number;
	readonly slices?: number;
	/** The energy law of the improvement (default the paper's). */
	readonly adcLaw?: AdcLaw;
	/** Default both, D.U.B. first. */
	readonly methods?: readonly TradeoffMethod[];
	/** Sweep ratios in percent (default `defaultSweepRatios`, or `defaultPresetScales` with a preset). */
	readonly ratios?: readonly number[];
	/** A ratio preset (src/pruning/ratios.ts): each point prunes layer i at preset_i × ratio / 100. */
	readonly preset?: string;
	/** Seeds the held-out split (default 0, as the fine-tune). */
	readonly seed?: number;
	/** The knobs of the engine that runs: tfjs backend; the PyTorch model factory, interpreter options. */
	readonly engineOptions?: Pick<TfjsEngineOptions, 'backend' | 'wasmDir'> & Pick<PytorchEngineOptions, 'modelFactory' | 'torchvision' | 'numClasses' | 'trustCheckpoint' | 'device' | 'threads'>;
}

/** A job with every default filled in and checked: what the engines run. JSON-safe (posted to the worker). */
export interface TradeoffPlan {
	readonly modelPath: string;
	readonly dataset: DatasetSpec;
	readonly engine: TradeoffEngineId;
	readonly crossbarSize: number;
	readonly slices: number;
	readonly adcLaw: AdcLaw;
	readonly methods: readonly TradeoffMethod[];
	readonly ratios: readonly number[];
	readonly preset?: string;
	readonly seed: number;
	readonly engineOptions: NonNullable<TradeoffJob['engineOptions']>;
}

/** The engine a model file goes to when the job does not say: PyTorch checkpoints to PyTorch, the rest to tfjs. */
export function defaultTradeoffEngine(modelPath: string): TradeoffEngineId {
	return hasSuffix(modelPath, trainableSuffixes('pytorch')) ? 'pytorch' : 'tfjs';
}

/** Fills the defaults and checks everything that can be checked without the model; bad input is a UsageError. */
export function resolveTradeoffJob(job: TradeoffJob): TradeoffPlan {
	const profile = resolveProfile({ crossbarSize: job.crossbarSize, slices: job.slices, adcLaw: job.adcLaw });
	const preset = job.preset;
	if (preset !== undefined) ratioPreset(preset);
	const ratios = checkSweepRatios(job.ratios ?? (preset !== undefined ? defaultPresetScales : defaultSweepRatios), preset !== undefined);
	const methods = job.methods ?? tradeoffMethods;
	if (methods.length === 0 || methods.some((m) => !tradeoffMethods.includes(m)) || new Set(methods).size !== methods.length) {
		throw new UsageError(`The trade-off methods are ${tradeoffMethods.join(' and ')}, each at most once (got ${methods.join(', ') || 'none'}).`);
	}
	const seed = job.seed ?? 0;
	if (!Number.isInteger(seed) || seed < 0) {
		throw new UsageError(`The seed must be an integer ≥ 0 (got ${seed}).`);
	}
	const engine = job.engine ?? defaultTradeoffEngine(job.modelPath);
	if (engine !== 'tfjs' && engine !== 'pytorch') {
		throw new UsageError(`The engine must be tfjs or pytorch (got '${String(engine)}').`);
	}
	const options = job.engineOptions ?? {};
	if (engine === 'pytorch') {
		if (!hasSuffix(job.modelPath, trainableSuffixes('pytorch'))) {
			throw new UsageError(`The PyTorch engine evaluates PyTorch checkpoints; ${basename(job.modelPath)} is not one (ONNX, TF.js and Keras models run on the tfjs engine).`);
		}
		if (!options.modelFactory === !options.torchvision) {
			throw new UsageError(`The PyTorch engine needs the architecture of ${basename(job.modelPath)}: a model factory (file.py:function or package.module:function) or a torchvision name, not ${options.modelFactory ? 'both' : 'neither'}.`);
		}
	} else if (hasSuffix(job.modelPath, trainableSuffixes('pytorch'))) {
		throw new UsageError(`${basename(job.modelPath)} is a PyTorch checkpoint, which holds weights without the graph: evaluate it with the PyTorch engine and its model factory, or export it to ONNX.`);
	}
	return {
		modelPath: job.modelPath, dataset: job.dataset, engine, crossbarSize: profile.crossbarSize, slices: profile.slices, adcLaw: profile.adcLaw,
		methods: [...methods], ratios, ...(preset !== undefined ? { preset } : {}), seed, engineOptions: options,
	};
}

/** Sweep ratios ascending, each once, in [0, 100) (a preset's scale may reach 100: the preset itself). */
export function checkSweepRatios(ratios: readonly number[], preset: boolean): number[] {
	const top = preset ? 100 : 99.999;
	if (ratios.length === 0) {
		throw new UsageError('The sweep needs at least one prune ratio.');
	}
	for (const r of ratios) {
		if (typeof r !== 'number' || !(r >= 0 && r <= top)) {
			throw new UsageError(preset
				? `Sweep ratios along a preset are percentages of it from 0 to 100 (got ${r}).`
				: `Sweep ratios are percentages from 0 to below 100 (got ${r}): pruning every weight leaves no model to evaluate.`);
		}
	}
	const sorted = [...ratios].sort((a, b) => a - b);
	const repeated = sorted.find((r, i) => i > 0 && sorted[i - 1] === r);
	if (repeated !== undefined) {
		throw new UsageError(`The sweep ratio ${repeated} is given twice.`);
	}
	return sorted;
}

/** `0,30,50` (commas or spaces) → numbers; anything else is a UsageError. */
export function parseSweepRatios(text: string, preset = false): number[] {
	const parts = text.split(/[\s,]+/).filter((p) => p !== '');
	const values = parts.map(Number);
	const bad = parts.find((p, i) => !Number.isFinite(values[i]));
	if (bad !== undefined) {
		throw new UsageError(`Sweep ratios are percentages separated by commas, e.g. 0,50,90 (got '${bad}').`);
	}
	return checkSweepRatios(values, preset);
}

/** `dub,unstructured` → methods; anything else is a UsageError. */
export function parseTradeoffMethods(text: string): TradeoffMethod[] {
	const methods = text.split(/[\s,]+/).filter((p) => p !== '');
	const unknown = methods.find((m) => !tradeoffMethods.includes(m as TradeoffMethod));
	if (unknown !== undefined || methods.length === 0 || new Set(methods).size !== methods.length) {
		throw new UsageError(`The trade-off methods are ${tradeoffMethods.join(' and ')}, each at most once (got '${text}').`);
	}
	return methods as TradeoffMethod[];
}

/**
 * The prune ratio of each conv layer at one point of the sweep: `ratio` for all, or with a preset
 * (checked against the layers' shapes) preset_i × ratio / 100. The PyTorch engine computes the
 * same product in the same order (python/crossbar_lens_train/tradeoff.py).
 */
export function sweepLayerRatios(layers: readonly RatioLayer[], ratio: number, preset?: string): number[] {
	if (preset === undefined) {
		return resolveRatios(layers, { ratio }).map((l) => l.ratio);
	}
	return resolveRatios(layers, { preset }).map((l) => (l.ratio * ratio) / 100);
}

/** The points of a plan in the order engines evaluate them: ratios ascending, the methods at each. */
export function sweepOrder(plan: Pick<TradeoffPlan, 'ratios' | 'methods'>): { method: TradeoffMethod; ratio: number }[] {
	return plan.ratios.flatMap((ratio) => plan.methods.map((method) => ({ method, ratio })));
}

/** Accuracy and exact-zero counts of one model state, as an engine measured them. */
export interface SweepMeasurement {
	/** Held-out accuracy in percent. */
	readonly accuracy: number;
	/** Conv crossbars per level (exact zeros). */
	readonly levelHistogram: number[];
	/** Zero conv weights, and all conv weights. */
	readonly zeros: number;
	readonly weights: number;
}

/**
 * What an engine reports while it sweeps: the tfjs worker posts these objects, the PyTorch engine
 * prints them as JSON lines with the same fields (python/README.md, "tradeoff").
 */
export type SweepEvent =
	| { readonly event: 'start'; readonly backend: string; readonly dataset: string; readonly testImages: number; readonly convLayers: string[]; readonly message: string }
	| ({ readonly event: 'dense' } & SweepMeasurement)
	| ({ readonly event: 'point'; readonly method: TradeoffMethod; readonly ratio: number; readonly layerRatios: number[] } & SweepMeasurement)
	| { readonly event: 'log'; readonly message: string };
