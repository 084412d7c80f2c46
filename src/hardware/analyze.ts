import { ModelFormatError, throwIfAborted } from '../core/errors';
import type { LayerWeight, ModelGraph } from '../core/model';
import type { AnalysisResultDto, HardwareProfile, LayerAnalysisDto, PerInferenceDto, ProfileEchoDto, TotalsDto } from '../shared/analysis';
import type { CrossbarColumnsDto } from '../shared/protocol';
import { countColumnNonZeros, countHalfNonZeros } from './columnCounts';
import type { ColumnCounts, HalfFloat } from './columnCounts';
import { adcEnergyOf, costOfHistogram, describeAdcLaw, improvement } from './energy';
import { blockLength, crossbarGeometry, crossbarGrid } from './geometry';
import { adcBitsByLevel, levelFromCounts, log2Int, sparsityBins } from './levels';
import { isMatrixOrder, matrixDims, toMatrix } from './matrix';
import type { WeightMatrix } from './matrix';

export interface AnalyzeOptions {
	signal?: AbortSignal;
	/** Called after each layer (done, total, layer name). */
	onProgress?: (done: number, total: number, layer: string) => void;
	/** Keep the per-column counts of every layer (the panel's crossbar drill-down). */
	keepColumnCounts?: boolean;
}

export interface AnalysisRun {
	readonly result: AnalysisResultDto;
	/** Per layer name, when asked for: counts[o·blocks + b]. */
	readonly columnCounts?: ReadonlyMap<string, ColumnCounts>;
}

/** The level of every crossbar of one matrix, from its per-column counts (docs/method.md §3). */
export interface CrossbarLevels {
	readonly inputBlocks: number;
	readonly channelGroups: number;
	/** Level k of each crossbar, index block · channelGroups + group. */
	readonly levels: Uint8Array;
	/** Non-zeros of each crossbar's least-sparse column (same order). */
	readonly lscNonZeros: Int32Array;
	readonly levelHistogram: number[];
}

/**
 * Each crossbar's least-sparse column: the most non-zeros any of its R = `channelsPerCrossbar`
 * output channels has in its block of inputs, from counts[o·blocks + b]. Returned group-major,
 * lsc[group·blocks + block] (the rows of one group then write one contiguous run), with the
 * matrix's non-zeros (Σ of the counts).
 */
export function leastSparseColumns(counts: ColumnCounts, channelsPerCrossbar: number): { lsc: Int32Array; nonZeros: number } {
	const { outChannels, inputBlocks: blocks } = counts;
	const source = counts.counts;
	const lsc = new Int32Array(Math.ceil(outChannels / channelsPerCrossbar) * blocks);
	let nonZeros = 0;
	for (let o = 0; o < outChannels; o++) {
		const run = Math.floor(o / channelsPerCrossbar) * blocks;
		const row = o * blocks;
		for (let block = 0; block < blocks; block++) {
			const n = source[row + block];
			nonZeros += n;
			if (n > lsc[run + block]) lsc[run + block] = n;
		}
	}
	return { lsc, nonZeros };
}

/**
 * Least-sparse columns for groups `factor` times wider (the max over `factor` neighbouring
 * groups): output channels nest like inputs do, so halving the slices q doubles R = T/q and
 * merges pairs of groups.
 */
export function mergeChannelGroups(lsc: Int32Array, blocks: number, factor: number): Int32Array {
	const groups = lsc.length / blocks;
	const out = new Int32Array(Math.ceil(groups / factor) * blocks);
	for (let group = 0; group < groups; group++) {
		const from = group * blocks;
		const to = Math.floor(group / factor) * blocks;
		for (let block = 0; block < blocks; block++) {
			if (lsc[from + block] > out[to + block]) out[to + block] = lsc[from + block];
		}
	}
	return out;
}

/**
 * The levels of the crossbars of an O × K matrix at crossbar size T and q slices, from the
 * group-major least-sparse columns of leastSparseColumns (docs/method.md §3), laid out block by
 * block like every per-crossbar array.
 */
export function crossbarLevels(outChannels: number, fanIn: number, lsc: Int32Array, crossbarSize: number, slices: number): CrossbarLevels {
	const geometry = crossbarGeometry(crossbarSize, slices);
	const { inputBlocks, channelGroups, count } = crossbarGrid(outChannels, fanIn, geometry);
	const lscNonZeros = new Int32Array(count);
	const levels = new Uint8Array(count);
	const levelHistogram: number[] = new Array(geometry.bins).fill(0);
	for (let block = 0; block < inputBlocks; block++) {
		const columnLength = blockLength(fanIn, crossbarSize, block);
		for (let group = 0; group < channelGroups; group++) {
			const t = block * channelGroups + group;
			const n = lsc[group * inputBlocks + block];
			const level = levelFromCounts(n, columnLength, geometry.bins);
			lscNonZeros[t] = n;
			levels[t] = level;
			levelHistogram[level]++;
		}
	}
	return { inputBlocks, channelGroups, levels, lscNonZeros, levelHistogram };
}

/** Crossbar statistics of one weight matrix given its per-column counts (docs/method.md §2, §3, §5). */
export function layerStatistics(layer: Pick<LayerWeight, 'name' | 'kind' | 'layout' | 'groups' | 'invocationsPerInference'> & { shape: readonly number[] }, counts: ColumnCounts, profile: HardwareProfile): LayerAnalysisDto {
	const [outChannels, fanIn] = matrixDims(layer.shape, layer.layout);
	const { lsc, nonZeros } = leastSparseColumns(counts, profile.crossbarSize / profile.slices);
	const { inputBlocks, channelGroups, levels, lscNonZeros, levelHistogram } = crossbarLevels(outChannels, fanIn, lsc, profile.crossbarSize, profile.slices);
	const weights = outChannels * fanIn;
	const cost = costOfHistogram(levelHistogram, profile.crossbarSize, profile.adcLaw);
	return {
		name: layer.name,
		kind: layer.kind,
		shape: [...layer.shape],
		layout: layer.layout,
		groups: layer.groups,
		matrix: [outChannels, fanIn],
		tiles: levels.length,
		weights,
		zeros: weights - nonZeros,
		levelHistogram,
		...cost,
		adcEnergyImprovement: improvement(cost.adcEnergyDense, cost.adcEnergy),
		...(layer.invocationsPerInference !== undefined ? { invocationsPerInference: layer.invocationsPerInference } : {}),
		grid: { inputBlocks, channelGroups, levels: Array.from(levels), lscNonZeros: Array.from(lscNonZeros) },
	};
}

/** The layers a profile maps (convs, plus linear layers on request); notes what it leaves out. */
export function countedLayers(graph: ModelGraph, profile: HardwareProfile, warnings: string[]): LayerWeight[] {
	const counted = graph.layers.filter((layer) => profile.includeLinear || layer.kind === 'conv');
	const skippedLinear = graph.layers.length - counted.length;
	if (skippedLinear > 0) {
		warnings.push(`${skippedLinear} linear layer${skippedLinear === 1 ? ' is' : 's are'} not counted, as in the paper (include them with --include-linear).`);
	}
	if (counted.length === 0) {
		throw new ModelFormatError('no-layers', graph.layers.length > 0
			? `${graph.file}: has no convolution layers; only linear ones (analyse them with --include-linear).`
			: `${graph.file}: holds no conv or linear weights to map onto crossbars.`);
	}
	for (const layer of counted) {
		if (layer.kind === 'conv' && layer.groups > 1) {
			const [, fanIn] = matrixDims(layer.tensor.shape, layer.layout);
			warnings.push(`${layer.name}: grouped conv (${layer.groups} groups) mapped as the reference does: each output channel's ${fanIn} inputs of its own group form one crossbar column.`);
		}
	}
	return counted;
}

/** One layer's weights as the matrix M, O × K (docs/method.md §2). */
export interface LayerMatrix extends WeightMatrix {
	readonly layer: LayerWeight;
	/** Valid only until the callback returns: the buffer is reused for the next layer. */
	readonly values: Float32Array;
	readonly halves?: undefined;
}

/** A half-precision layer stored in M's order, as its stored bits (valid until the callback returns). */
export interface StoredHalfLayer {
	readonly layer: LayerWeight;
	readonly halves: Uint16Array;
	readonly format: HalfFloat;
	readonly outChannels: number;
	readonly fanIn: number;
	readonly values?: undefined;
}

/** A layer as counting needs it: float32 M, or the bits of half-precision weights (no decoding). */
export type CountableLayer = LayerMatrix | StoredHalfLayer;

/** float16/bfloat16 weights a reader hands over as stored, already in M's order. */
function storedHalfFormat(layer: LayerWeight): HalfFloat | undefined {
	const { dtype, readStored } = layer.tensor;
	return (dtype === 'float16' || dtype === 'bfloat16') && readStored !== undefined && isMatrixOrder(layer.layout) ? dtype : undefined;
}

/**
 * Streams `layers` one at a time through reused buffers (so memory stays at the size of the
 * largest layer), turning each into its matrix M.
 */
export function forEachLayerMatrix(layers: readonly LayerWeight[], visit: (m: LayerMatrix) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
	return streamLayers(layers, false, visit as (m: CountableLayer) => void | Promise<void>, signal);
}

/**
 * forEachLayerMatrix for counting: a float16/bfloat16 layer whose reader can hand over its stored
 * bytes comes as those bits (half the bytes of float32, and no decoding), for countLayerColumns.
 */
export function forEachCountableLayer(layers: readonly LayerWeight[], visit: (m: CountableLayer) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
	return streamLayers(layers, true, visit, signal);
}

async function streamLayers(layers: readonly LayerWeight[], stored: boolean, visit: (m: CountableLayer) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
	// Two buffers of each kind in turn: the next tensor is read from disk while this one is counted.
	const floats: (Float32Array | undefined)[] = [undefined, undefined];
	const bytes: (Uint8Array | undefined)[] = [undefined, undefined];
	let scratch: Float32Array | undefined;
	const load = (index: number): Promise<Float32Array | Uint8Array> => {
		const { tensor } = layers[index];
		return stored && storedHalfFormat(layers[index]) && tensor.readStored ? tensor.readStored(bytes[index % 2]) : tensor.load(floats[index % 2]);
	};
	let pending = layers.length > 0 ? load(0) : undefined;
	try {
		for (let index = 0; index < layers.length; index++) {
			throwIfAborted(signal);
			const layer = layers[index];
			const loaded = await (pending as Promise<Float32Array | Uint8Array>);
			// Keep a buffer a reader allocated for us (not a view into something else) for reuse.
			const own = loaded.byteOffset === 0 && loaded.buffer.byteLength === loaded.byteLength;
			pending = index + 1 < layers.length ? load(index + 1) : undefined;
			const [outChannels, fanIn] = matrixDims(layer.tensor.shape, layer.layout);
			if (loaded instanceof Uint8Array) {
				if (own) bytes[index % 2] = loaded;
				const halves = loaded.byteOffset % 2 === 0 ? new Uint16Array(loaded.buffer, loaded.byteOffset, loaded.length / 2) : new Uint16Array(loaded.slice().buffer);
				await visit({ layer, halves, format: storedHalfFormat(layer) as HalfFloat, outChannels, fanIn });
				continue;
			}
			if (own) floats[index % 2] = loaded;
			const values = toMatrix(loaded, layer.tensor.shape, layer.layout, scratch);
			if (values !== loaded) {
				scratch = values;
			}
			await visit({ layer, values, outChannels, fanIn });
		}
	} finally {
		// A read still in flight when a visit throws (or the user cancels) must not reject unobserved.
		await pending?.catch(() => undefined);
	}
}

/**
 * Per-column counts of one matrix; NaN weights are a ModelFormatError naming the layer.
 * `absHistogram`: see countColumnNonZeros (pruning's layer percentile, filled in the same pass;
 * float32 layers only).
 */
export function countLayerColumns(file: string, m: CountableLayer, profile: HardwareProfile, into?: Int32Array, absHistogram?: Uint32Array): ColumnCounts {
	const counts = m.halves !== undefined
		? countHalfNonZeros(m.halves, m.format, m.outChannels, m.fanIn, profile.crossbarSize, profile.tol, into)
		: countColumnNonZeros(m.values, m.outChannels, m.fanIn, profile.crossbarSize, profile.tol, into, absHistogram);
	if (counts.nanCount > 0) {
		throw new ModelFormatError('nan-weights', `${file}: layer ${m.layer.name} has ${counts.nanCount} NaN weight${counts.nanCount === 1 ? '' : 's'}; the checkpoint is not usable (training diverged?).`);
	}
	return counts;
}

/**
 * Maps every conv (and, on request, linear) layer of `graph` onto crossbars and sums the ADC
 * cost, one tensor at a time.
 */
export async function analyzeGraph(graph: ModelGraph, profile: HardwareProfile, options: AnalyzeOptions = {}): Promise<AnalysisRun> {
	const warnings = [...graph.warnings];
	const counted = countedLayers(graph, profile, warnings);
	const keep = options.keepColumnCounts ? new Map<string, ColumnCounts>() : undefined;
	const layers: LayerAnalysisDto[] = [];
	let countsBuffer: Int32Array | undefined;
	await forEachCountableLayer(counted, (m) => {
		const counts = countLayerColumns(graph.file, m, profile, keep ? undefined : countsBuffer);
		if (!keep && counts.counts.length >= (countsBuffer?.length ?? 0)) {
			countsBuffer = counts.counts;
		}
		keep?.set(m.layer.name, counts);
		layers.push(layerStatistics({ ...m.layer, shape: m.layer.tensor.shape }, counts, profile));
		options.onProgress?.(layers.length, counted.length, m.layer.name);
	}, options.signal);
	const result = buildAnalysisResult(graph, profile, layers, warnings);
	return keep ? { result, columnCounts: keep } : { result };
}

/** Assembles the result DTO (profile echo, law, totals) from per-layer statistics. */
export function buildAnalysisResult(graph: Pick<ModelGraph, 'file' | 'format'>, profile: HardwareProfile, layers: LayerAnalysisDto[], warnings: string[]): AnalysisResultDto {
	return {
		tool: 'crossbar-lens',
		schemaVersion: 2,
		file: graph.file,
		format: graph.format,
		profile: {
			...profile,
			sparsityBins: sparsityBins(profile.crossbarSize),
			channelsPerCrossbar: profile.crossbarSize / profile.slices,
			adcBitsDensePerCrossbar: log2Int(profile.crossbarSize),
			adcBitsByLevel: adcBitsByLevel(profile.crossbarSize),
		},
		adcLaw: describeAdcLaw(profile.adcLaw),
		warnings,
		layers,
		totals: sumTotals(layers, profile, warnings),
	};
}

function sumTotals(layers: readonly LayerAnalysisDto[], profile: HardwareProfile, warnings: string[]): TotalsDto {
	const sum = new TotalsAccumulator(profile);
	for (const layer of layers) {
		sum.add(layer);
	}
	return sum.totals(warnings);
}

/** What the totals need of a layer: a LayerAnalysisDto has it all; a sweep passes crossbarLevels'. */
export type LayerTotalsInput = Pick<LayerAnalysisDto, 'name' | 'tiles' | 'weights' | 'zeros' | 'levelHistogram' | 'invocationsPerInference' | 'matrix'> & {
	readonly grid: { readonly inputBlocks: number; readonly channelGroups: number; readonly levels: ArrayLike<number> };
};

/**
 * The model totals under one profile, summed layer by layer (so a caller that analyses many
 * profiles at once, src/hardware/sweep.ts, keeps no layer). Layers may come from a profile with
 * another ADC law: the costs are recomputed from their levels under this one.
 */
export class TotalsAccumulator {
	private readonly levelHistogram: number[];
	private layers = 0;
	private tiles = 0;
	private weights = 0;
	private zeros = 0;
	/** Per inference: crossbar activations, dense and current energy (pJ); names of layers without output sizes. */
	private activations = 0;
	private denseEnergyPj = 0;
	private energyPj = 0;
	private readonly unknownSizes: string[] = [];

	/** Energy of one conversion at each level under the profile's law. */
	private readonly energyByLevel: number[];

	constructor(private readonly profile: HardwareProfile) {
		this.levelHistogram = new Array<number>(sparsityBins(profile.crossbarSize)).fill(0);
		this.energyByLevel = adcBitsByLevel(profile.crossbarSize).map((bits) => adcEnergyOf(profile.adcLaw, bits));
	}

	add(layer: LayerTotalsInput): void {
		this.layers++;
		this.tiles += layer.tiles;
		this.weights += layer.weights;
		this.zeros += layer.zeros;
		layer.levelHistogram.forEach((n, k) => (this.levelHistogram[k] += n));
		if (layer.invocationsPerInference === undefined) {
			this.unknownSizes.push(layer.name);
		} else {
			this.addPerInference(layer, layer.invocationsPerInference);
		}
	}

	/** The totals; notes in `warnings` when some layers have output sizes and others not. */
	totals(warnings: string[]): TotalsDto {
		const { profile, levelHistogram } = this;
		const cost = costOfHistogram(levelHistogram, profile.crossbarSize, profile.adcLaw);
		const perInference = this.perInference(warnings);
		return {
			layers: this.layers,
			tiles: this.tiles,
			weights: this.weights,
			zeros: this.zeros,
			levelHistogram: [...levelHistogram],
			...cost,
			adcEnergyImprovement: improvement(cost.adcEnergyDense, cost.adcEnergy),
			...(perInference ? { perInference } : {}),
		};
	}

	/**
	 * Energy of one inference: each crossbar fires once per output position, every column
	 * converts once per input bit (bit-serial inputs), and a conversion at b bits costs
	 * anchor · E(b) / E(8) pJ under the profile's law.
	 */
	private addPerInference(layer: LayerTotalsInput, fires: number): void {
		const { profile, energyByLevel } = this;
		const pjPerUnit = profile.adcEnergyPjAt8Bits / adcEnergyOf(profile.adcLaw, 8);
		const channelsPerCrossbar = profile.crossbarSize / profile.slices;
		const denseEnergy = adcEnergyOf(profile.adcLaw, log2Int(profile.crossbarSize));
		const [outChannels] = layer.matrix;
		const { inputBlocks, channelGroups, levels } = layer.grid;
		for (let block = 0; block < inputBlocks; block++) {
			for (let group = 0; group < channelGroups; group++) {
				const physicalColumns = Math.min(channelsPerCrossbar, outChannels - group * channelsPerCrossbar) * profile.slices;
				const conversions = fires * physicalColumns * profile.inputBits;
				this.activations += fires;
				this.denseEnergyPj += conversions * denseEnergy * pjPerUnit;
				this.energyPj += conversions * energyByLevel[levels[block * channelGroups + group]] * pjPerUnit;
			}
		}
	}

	private perInference(warnings: string[]): PerInferenceDto | undefined {
		const unknown = this.unknownSizes;
		if (unknown.length > 0) {
			if (this.profile.inputSize !== undefined || unknown.length < this.layers) {
				warnings.push(`Output sizes unknown for ${unknown.length} layer${unknown.length === 1 ? '' : 's'} (${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', …' : ''}): no per-inference figure. A state_dict holds no graph; use the ONNX export for per-inference energy.`);
			}
			return undefined;
		}
		return { crossbarActivations: this.activations, adcEnergyPjDense: this.denseEnergyPj, adcEnergyPj: this.energyPj, adcEnergyImprovement: improvement(this.denseEnergyPj, this.energyPj) };
	}
}

/**
 * Per-column non-zeros of one crossbar of an analysed layer (the panel's drill-down), from the
 * counts the analysis kept. Throws a RangeError for a crossbar outside the layer's grid.
 */
export function crossbarColumns(layer: LayerAnalysisDto, counts: ColumnCounts, profile: ProfileEchoDto, block: number, group: number): CrossbarColumnsDto {
	const { inputBlocks, channelGroups, levels } = layer.grid;
	if (block >= inputBlocks || group >= channelGroups) {
		throw new RangeError(`Crossbar (block ${block}, group ${group}) is outside ${layer.name}'s ${inputBlocks} × ${channelGroups} grid.`);
	}
	const channelStart = group * profile.channelsPerCrossbar;
	const channelEnd = Math.min(layer.matrix[0], channelStart + profile.channelsPerCrossbar);
	const nonZeros: number[] = [];
	for (let o = channelStart; o < channelEnd; o++) {
		nonZeros.push(counts.counts[o * counts.inputBlocks + block]);
	}
	const level = levels[block * channelGroups + group];
	return {
		layer: layer.name,
		block,
		group,
		channelStart,
		nonZeros,
		columnLength: blockLength(layer.matrix[1], profile.crossbarSize, block),
		level,
		adcBits: profile.adcBitsByLevel[level],
	};
}
