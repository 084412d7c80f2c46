/**
 * The analysis result as plain JSON-safe data: the same object is printed by
 * `crossbar-lens analyze --json`, posted to the panel and read by the CodeLens. Field names are a
 * public contract (scripts rely on them): add, never rename without bumping `schemaVersion`.
 * Schema 2 (this one) renamed schema 1's `profile.crossbarSize` to `crossbarSize`,
 * `profile.channelsPerCrossbar` to `channelsPerCrossbar`, and the layer grid's
 * `rows`/`cols` to `inputBlocks`/`channelGroups` (docs/glossary.md).
 */

export type AdcLaw = 'paper' | 'walden' | 'thermal';
export const adcLaws: readonly AdcLaw[] = ['paper', 'walden', 'thermal'];

/** Every hardware setting an analysis used (units in the names). */
export interface HardwareProfile {
	/** T: crossbar rows (word lines, one per input) = physical columns (bit lines). A power of two. */
	readonly crossbarSize: number;
	/** q: physical columns per weight (bit slices); a crossbar holds crossbarSize / slices output channels. */
	readonly slices: number;
	/** |w| ≤ tol counts as zero (0: exact zeros only). */
	readonly tol: number;
	readonly adcLaw: AdcLaw;
	/** Linear (fully connected) layers are mapped and counted too (the paper counts convs only). */
	readonly includeLinear: boolean;
	/** [C, H, W] of one input, for the per-inference figures of models that carry a graph. */
	readonly inputSize?: readonly number[];
	/** Energy of one 8-bit conversion, the anchor of the absolute per-inference figure. */
	readonly adcEnergyPjAt8Bits: number;
	/** Input bits streamed bit-serially: one conversion per column per input bit. */
	readonly inputBits: number;
}

/** A layer's crossbars (docs/method.md §2): one orientation everywhere, `index = block · channelGroups + group`. */
export interface CrossbarGridDto {
	/** Blocks of T inputs (the fan-in is split over vertically stacked crossbars): the heatmap's rows. */
	readonly inputBlocks: number;
	/** Groups of T/q output channels side by side: the heatmap's columns. */
	readonly channelGroups: number;
	/** Level k of each crossbar, `levels[block * channelGroups + group]`. */
	readonly levels: number[];
	/** Non-zeros of each crossbar's least-sparse column (same order). */
	readonly lscNonZeros: number[];
}

/** The figures of a set of crossbars (a layer's, or the model's). */
export interface CrossbarStatsDto {
	readonly tiles: number;
	readonly weights: number;
	readonly zeros: number;
	/** Crossbars at each level k = 0..B−1 (B = log2 T + 2). */
	readonly levelHistogram: number[];
	/** Σ over crossbars of the dense ADC resolution (log2 T each). */
	readonly adcBitsDense: number;
	/** Σ over crossbars of the ADC resolution its least-sparse column needs. */
	readonly adcBits: number;
	/** ADC energy under the profile's law, in units of that law (dense and current). */
	readonly adcEnergyDense: number;
	readonly adcEnergy: number;
	/** adcEnergyDense / adcEnergy (Σ over crossbars, each counted once: the paper's figure); null when every crossbar is empty. */
	readonly adcEnergyImprovement: number | null;
}

export interface LayerAnalysisDto extends CrossbarStatsDto {
	readonly name: string;
	readonly kind: 'conv' | 'linear';
	/** The tensor's own shape as stored (OIHW, HWIO, ...). */
	readonly shape: number[];
	readonly layout: string;
	readonly groups: number;
	/** [outChannels, fanIn]: the reference's matrix (PyTorch flatten order). */
	readonly matrix: [number, number];
	/** How many times each crossbar fires per inference (conv output positions), when known. */
	readonly invocationsPerInference?: number;
	readonly grid: CrossbarGridDto;
}

export interface PerInferenceDto {
	readonly crossbarActivations: number;
	readonly adcEnergyPjDense: number;
	readonly adcEnergyPj: number;
	readonly adcEnergyImprovement: number | null;
}

export interface TotalsDto extends CrossbarStatsDto {
	readonly layers: number;
	/** Weighted by how often each crossbar fires; present when every counted layer's output size is known. */
	readonly perInference?: PerInferenceDto;
}

export interface AdcLawDto {
	readonly name: AdcLaw;
	readonly formula: string;
	readonly source: string;
}

/** The profile as an analysis used it, with the numbers that follow from it. */
export interface ProfileEchoDto extends HardwareProfile {
	/** B = log2 T + 2 levels (k = 0..B−1). */
	readonly sparsityBins: number;
	/** R = T/q output channels per crossbar. */
	readonly channelsPerCrossbar: number;
	/** log2 T: the ADC resolution of a dense crossbar. */
	readonly adcBitsDensePerCrossbar: number;
	/** ADC bits of a crossbar at each level k (docs/method.md §5.2). */
	readonly adcBitsByLevel: number[];
}

export interface AnalysisResultDto {
	readonly tool: 'crossbar-lens';
	readonly schemaVersion: 2;
	readonly file: string;
	readonly format: string;
	readonly profile: ProfileEchoDto;
	readonly adcLaw: AdcLawDto;
	readonly warnings: string[];
	readonly layers: LayerAnalysisDto[];
	readonly totals: TotalsDto;
}

/** One setting of a design-space sweep (`crossbar-lens sweep`): the totals `analyze` gives for that profile. */
export interface SweepPointDto {
	/** T. */
	readonly crossbarSize: number;
	/** q. */
	readonly slices: number;
	readonly adcLaw: AdcLaw;
	/** R = T/q output channels per crossbar. */
	readonly channelsPerCrossbar: number;
	/** Exactly `analyze --json`'s `totals` at this setting (`tiles` is the number of crossbars). */
	readonly totals: TotalsDto;
}

/**
 * Every crossbar size × slicing × ADC law of a sweep, from one read of the model. Points are
 * ordered law, then slices, then crossbar size (one line of a chart per law and slicing).
 * Field names are a contract, like AnalysisResultDto's.
 */
export interface SweepResultDto {
	readonly tool: 'crossbar-lens';
	readonly schemaVersion: 2;
	readonly kind: 'sweep';
	readonly file: string;
	readonly format: string;
	/** The settings all points share. */
	readonly profile: Omit<HardwareProfile, 'crossbarSize' | 'slices' | 'adcLaw'>;
	readonly crossbarSizes: number[];
	readonly slices: number[];
	readonly adcLaws: AdcLaw[];
	readonly warnings: string[];
	readonly points: SweepPointDto[];
}
