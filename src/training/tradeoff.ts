/**
 * The accuracy–ADC-energy trade-off (issue #10, item 6) with the shape of the training engines:
 * `runTradeoff(job, onProgress, signal) → TradeoffDto`. The model is pruned one-shot at each ratio
 * of a sweep, with D.U.B. and unstructured pruning, and evaluated on the held-out split; nothing is
 * trained or written. TensorFlow.js evaluates ONNX, TF.js and Keras models in a worker thread
 * (src/training/tfjs/tradeoff.ts), never on the caller's thread; PyTorch evaluates a checkpoint
 * through the user's model factory in the user's interpreter (python/crossbar_lens_train/tradeoff.py).
 * Both report `SweepEvent`s (accuracy, level histogram, zeros); the ADC figures under the
 * profile's law are computed here from the level histograms, so both engines count energy alike.
 */

import { basename } from 'node:path';
import { costOfHistogram, improvement } from '../hardware/energy';
import { adcBitsByLevel, sparsityBins } from '../hardware/levels';
import type { AdcLaw } from '../shared/analysis';
import type { TradeoffDto, TradeoffExtraPointDto, TradeoffMeasureDto, TradeoffPointDto, TradeoffProgress } from '../shared/tradeoff';
import type { TrainingResult } from './engine';
import { runPytorchSweep } from './pytorch/tradeoff';
import type { PytorchEngineSettings } from './pytorch/engine';
import { runTfjsSweep } from './tfjs/tradeoffEngine';
import type { TfjsEngineSettings } from './tfjs/engine';
import { resolveTradeoffJob, sweepOrder } from './tradeoffPlan';
import type { SweepEvent, SweepMeasurement, TradeoffJob, TradeoffPlan } from './tradeoffPlan';

export type { TradeoffJob, TradeoffPlan, SweepEvent } from './tradeoffPlan';
export { defaultPresetScales, defaultSweepRatios, parseSweepRatios, parseTradeoffMethods, resolveTradeoffJob } from './tradeoffPlan';

/** How the engines start (tests and the extension point them at their worker script and interpreter). */
export interface TradeoffSettings {
	readonly tfjs?: TfjsEngineSettings;
	readonly pytorch?: PytorchEngineSettings;
}

/**
 * Sweeps the job's ratios and methods; resolves with the whole result, rejects with an AbortError
 * when `signal` fires (the worker is ended, the interpreter gets SIGTERM), a UsageError for input
 * that cannot be used (unknown preset, a dataset that does not fit the model, …), or an Error.
 */
export async function runTradeoff(job: TradeoffJob, onProgress: (p: TradeoffProgress) => void, signal: AbortSignal, settings: TradeoffSettings = {}): Promise<TradeoffDto> {
	const plan = resolveTradeoffJob(job);
	if (signal.aborted) {
		throw new DOMException('The trade-off sweep was cancelled before it started.', 'AbortError');
	}
	const collector = new TradeoffCollector(plan);
	const onEvent = (e: SweepEvent): void => {
		const progress = collector.add(e);
		if (progress) onProgress(progress);
	};
	if (plan.engine === 'tfjs') await runTfjsSweep(plan, onEvent, signal, settings.tfjs);
	else await runPytorchSweep(plan, onEvent, signal, settings.pytorch);
	return collector.result();
}

/** The ADC figures of a level histogram under a law, with the accuracy and the zeros. */
export function measureOf(m: SweepMeasurement, crossbarSize: number, law: AdcLaw): TradeoffMeasureDto {
	const cost = costOfHistogram(m.levelHistogram, crossbarSize, law);
	return {
		accuracy: m.accuracy,
		improvement: improvement(cost.adcEnergyDense, cost.adcEnergy),
		adcBits: cost.adcBits,
		zerosFraction: m.weights > 0 ? m.zeros / m.weights : 0,
		levelHistogram: [...m.levelHistogram],
	};
}

/**
 * Folds an engine's SweepEvents into progress and, at the end, the TradeoffDto. It checks what the
 * engine reports against the plan: the points must be exactly the plan's, in its order.
 */
export class TradeoffCollector {
	private readonly started = performance.now();
	private readonly expected: { method: TradeoffPointDto['method']; ratio: number }[];
	private start: Extract<SweepEvent, { event: 'start' }> | undefined;
	private dense: TradeoffMeasureDto | undefined;
	private denseBits = 0;
	private readonly points: TradeoffPointDto[] = [];

	constructor(private readonly plan: TradeoffPlan) {
		this.expected = sweepOrder(plan);
	}

	/** The progress one event stands for; throws when the engine reports something out of plan. */
	add(e: SweepEvent): TradeoffProgress | undefined {
		const { plan } = this;
		switch (e.event) {
			case 'start':
				this.start = e;
				return { kind: 'start', engine: plan.engine, backend: e.backend, message: e.message, total: this.expected.length };
			case 'dense': {
				this.checkHistogram(e.levelHistogram, 'the dense model');
				this.dense = measureOf(e, plan.crossbarSize, plan.adcLaw);
				this.denseBits = costOfHistogram(e.levelHistogram, plan.crossbarSize, plan.adcLaw).adcBitsDense;
				return { kind: 'dense', dense: this.dense };
			}
			case 'point': {
				const want = this.expected[this.points.length];
				if (!want || want.method !== e.method || want.ratio !== e.ratio) {
					throw new Error(`The ${plan.engine} engine reported ${e.method} at ${e.ratio} % where the sweep expected ${want ? `${want.method} at ${want.ratio} %` : 'no more points'}.`);
				}
				this.checkHistogram(e.levelHistogram, `${e.method} at ${e.ratio} %`);
				const point: TradeoffPointDto = { method: e.method, ratio: e.ratio, layerRatios: [...e.layerRatios], ...measureOf(e, plan.crossbarSize, plan.adcLaw) };
				this.points.push(point);
				return { kind: 'point', index: this.points.length, total: this.expected.length, point };
			}
			case 'log':
				return { kind: 'log', message: e.message };
			default:
				return undefined;
		}
	}

	private checkHistogram(histogram: readonly number[], what: string): void {
		const bins = sparsityBins(this.plan.crossbarSize);
		if (histogram.length !== bins) {
			throw new Error(`The ${this.plan.engine} engine reported ${histogram.length} levels for ${what}; T=${this.plan.crossbarSize} has ${bins}.`);
		}
	}

	/** The result; throws when the engine ended before reporting every point. */
	result(): TradeoffDto {
		const { plan, start, dense } = this;
		if (!start || !dense || this.points.length !== this.expected.length) {
			throw new Error(`The ${plan.engine} engine ended after ${this.points.length} of ${this.expected.length} points${dense ? '' : ' and without the dense model'}.`);
		}
		return {
			tool: 'crossbar-lens', kind: 'tradeoff', schemaVersion: 1,
			model: plan.modelPath, modelLabel: basename(plan.modelPath),
			dataset: start.dataset, testImages: start.testImages,
			engine: plan.engine, backend: start.backend,
			profile: {
				crossbarSize: plan.crossbarSize, slices: plan.slices, channelsPerCrossbar: plan.crossbarSize / plan.slices,
				adcLaw: plan.adcLaw, adcBitsByLevel: adcBitsByLevel(plan.crossbarSize),
			},
			convLayers: [...start.convLayers],
			...(plan.preset !== undefined ? { preset: plan.preset } : {}),
			adcBitsDense: this.denseBits,
			dense,
			points: this.points,
			methods: [...plan.methods],
			ratios: [...plan.ratios],
			seconds: (performance.now() - this.started) / 1000,
		};
	}
}

/**
 * A finished fine-tune of the same model as points of its trade-off chart: the D.U.B. branch and,
 * when it ran, the unstructured baseline, with the improvement under `law` from their level
 * histograms. Only comparable when the run used the chart's crossbar size and slices.
 */
export function fineTunePoints(result: Pick<TrainingResult, 'dub' | 'unstructured' | 'outputPath'>, crossbarSize: number, law: AdcLaw): TradeoffExtraPointDto[] {
	const of = (branch: NonNullable<TrainingResult['unstructured']>, label: string, method: TradeoffExtraPointDto['method']): TradeoffExtraPointDto => {
		const cost = costOfHistogram(branch.levelHistogram, crossbarSize, law);
		return { label: `${label} (${basename(result.outputPath)})`, method, accuracy: branch.accuracy, improvement: improvement(cost.adcEnergyDense, cost.adcEnergy) };
	};
	return [of(result.dub, 'D.U.B. fine-tuned', 'dub'), ...(result.unstructured ? [of(result.unstructured, 'unstructured fine-tuned', 'unstructured')] : [])];
}
