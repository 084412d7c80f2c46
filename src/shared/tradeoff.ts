/**
 * The accuracy–ADC-energy trade-off of one model (issue #10, item 6): a one-shot prune-ratio sweep,
 * no fine-tune, with D.U.B. and unstructured pruning, each point's held-out accuracy and ADC energy
 * improvement. JSON-safe: `crossbar-lens tradeoff --json` prints exactly this object, and the panel
 * plots it (src/training/tradeoff.ts makes it).
 *
 * How to draw it: x = `improvement` (ADC energy improvement over dense crossbars under
 * `profile.adcLaw`, ≥ 1, log scale reads best), y = `accuracy` (held-out, percent). One polyline per
 * method through its points in the order given (ratios ascending), `dense` as its own marker (the
 * model as it is: improvement 1 for a dense model, more for one that already has zeros). A point's
 * `improvement` is null when every crossbar is empty (infinite improvement): leave it off the chart
 * and say so. `ratio` labels a point; `zerosFraction` is the sparsity it really reached, which for
 * D.U.B. is often below the ratio (crossbars loosened back to their level, docs/method.md §6) and at
 * ratio 0 above 0 (the reference prunes each column's smallest weight of a crossbar it loosens to
 * level 0, rule A7), so a ratio-0 point is not the dense model. Fine-tune runs of the same model at
 * the same crossbar size, slices and law can be added as `extraPoints`.
 */

import type { AdcLaw } from './analysis';

/** The one-shot prune methods a sweep compares (names as everywhere: docs/glossary.md). */
export type TradeoffMethod = 'dub' | 'unstructured';
export const tradeoffMethods: readonly TradeoffMethod[] = ['dub', 'unstructured'];

/** Which engine evaluated the model. */
export type TradeoffEngineId = 'tfjs' | 'pytorch';

/** The crossbar profile the ADC figures use. */
export interface TradeoffProfileDto {
	/** T: crossbar rows = columns. */
	readonly crossbarSize: number;
	/** q: physical columns per weight. */
	readonly slices: number;
	/** R = T/q output channels per crossbar. */
	readonly channelsPerCrossbar: number;
	readonly adcLaw: AdcLaw;
	/** ADC bits of a crossbar at each level k = 0..B−1 (the x of the level histograms). */
	readonly adcBitsByLevel: number[];
}

/** Accuracy and ADC figures of one model state (the dense model or one pruned point). */
export interface TradeoffMeasureDto {
	/** Held-out accuracy in percent (0–100). */
	readonly accuracy: number;
	/** Σ dense ADC energy / Σ ADC energy over all conv crossbars under the law; null: every crossbar empty. */
	readonly improvement: number | null;
	/** Σ over all conv crossbars of the ADC bits its least-sparse column needs (dense: `adcBitsDense`). */
	readonly adcBits: number;
	/** Share of conv weights that are exactly zero (0–1). */
	readonly zerosFraction: number;
	/** Conv crossbars per level k = 0..B−1. */
	readonly levelHistogram: number[];
}

/** One point of the sweep. */
export interface TradeoffPointDto extends TradeoffMeasureDto {
	readonly method: TradeoffMethod;
	/**
	 * The sweep's ratio in percent: the prune ratio of every conv layer, or, when the sweep follows
	 * a ratio preset (`TradeoffDto.preset`), the percentage of the preset's per-layer ratios (100 =
	 * the preset itself).
	 */
	readonly ratio: number;
	/** The prune ratio (percent) each conv layer got, in `TradeoffDto.convLayers` order. */
	readonly layerRatios: number[];
}

/** A point from elsewhere on the same chart: a finished fine-tune of the same model (src/training/tradeoff.ts `fineTunePoints`). */
export interface TradeoffExtraPointDto {
	/** e.g. "D.U.B. fine-tuned (digits-cnn.dub.pt)". */
	readonly label: string;
	readonly method: TradeoffMethod;
	readonly accuracy: number;
	readonly improvement: number | null;
}

export interface TradeoffDto {
	readonly tool: 'crossbar-lens';
	readonly kind: 'tradeoff';
	readonly schemaVersion: 1;
	/** The model file as given, and its base name for titles. */
	readonly model: string;
	readonly modelLabel: string;
	/** The held-out images, as the engine names them (the same split a fine-tune of this engine uses). */
	readonly dataset: string;
	readonly testImages: number;
	readonly engine: TradeoffEngineId;
	/** 'wasm', 'tensorflow' or 'cpu' (tfjs); 'cpu' or 'cuda…' (PyTorch). */
	readonly backend: string;
	readonly profile: TradeoffProfileDto;
	/** The conv layers pruned, in module order. */
	readonly convLayers: string[];
	/** The ratio preset the sweep scales, when one was given. */
	readonly preset?: string;
	/** Σ over all conv crossbars of the dense ADC resolution (log2 T each). */
	readonly adcBitsDense: number;
	/** The model as it is, before any pruning. */
	readonly dense: TradeoffMeasureDto;
	/** Ratios ascending; at each ratio the methods in `methods` order. */
	readonly points: TradeoffPointDto[];
	readonly methods: TradeoffMethod[];
	readonly ratios: number[];
	/** Added by the host (fine-tune runs of this model); absent from the CLI's output. */
	readonly extraPoints?: TradeoffExtraPointDto[];
	/** Wall time of the sweep in seconds. */
	readonly seconds: number;
}

/** What a running sweep reports. */
export type TradeoffProgress =
	/** The engine loaded the model and the data; `total` points follow the dense one. */
	| { readonly kind: 'start'; readonly engine: TradeoffEngineId; readonly backend: string; readonly message: string; readonly total: number }
	| { readonly kind: 'dense'; readonly dense: TradeoffMeasureDto }
	/** Point `index` (1-based) of `total`. */
	| { readonly kind: 'point'; readonly index: number; readonly total: number; readonly point: TradeoffPointDto }
	| { readonly kind: 'log'; readonly message: string };

/** The panel's trade-off section: a sweep as it runs (points arrive one by one) or as it ended. */
export interface TradeoffViewDto {
	readonly status: 'running' | 'done' | 'cancelled' | 'failed';
	/** The error, or what a cancelled sweep had done. */
	readonly message?: string;
	/** Points done and planned (running). */
	readonly done: number;
	readonly total: number;
	/** e.g. "TensorFlow.js · wasm" or "PyTorch · cpu". */
	readonly engineLabel: string;
	readonly datasetLabel: string;
	readonly profile: TradeoffProfileDto;
	readonly dense?: TradeoffMeasureDto;
	readonly points: TradeoffPointDto[];
	/** Finished fine-tunes of the same model at the same crossbar size, under the chart's law. */
	readonly extraPoints: TradeoffExtraPointDto[];
	readonly startedAt: number;
	readonly seconds?: number;
}
