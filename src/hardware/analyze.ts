import { ModelFormatError, throwIfAborted } from '../core/errors';
import type { LayerWeight, ModelGraph } from '../core/model';
import type { AnalysisResultDto, HardwareProfile, LayerAnalysisDto, PerInferenceDto, ProfileEchoDto, TotalsDto } from '../shared/analysis';
import type { TileColumnsDto } from '../shared/protocol';
import { countColumnNonZeros } from './columnCounts';
import type { ColumnCounts } from './columnCounts';
import { adcEnergyOf, costOfHistogram, describeAdcLaw, improvement } from './energy';
import { blockLength, crossbarGeometry, crossbarGrid } from './geometry';
import { adcBitsByLevel, adcBitsForLevel, levelFromCounts, log2Int, sparsityBins } from './levels';
import { matrixDims, toMatrix } from './matrix';

export interface AnalyzeOptions {
	signal?: AbortSignal;
	/** Called after each layer (done, total, layer name). */
	onProgress?: (done: number, total: number, layer: string) => void;
	/** Keep the per-column counts of every layer (the panel's tile drill-down). */
	keepColumnCounts?: boolean;
}

export interface AnalysisRun {
	readonly result: AnalysisResultDto;
	/** Per layer name, when asked for: counts[o·blocks + b]. */
	readonly columnCounts?: ReadonlyMap<string, ColumnCounts>;
}

/** Crossbar statistics of one weight matrix given its per-column counts (docs/method.md §2, §3, §5). */
export function layerStatistics(layer: Pick<LayerWeight, 'name' | 'kind' | 'layout' | 'groups' | 'invocationsPerInference'> & { shape: readonly number[] }, counts: ColumnCounts, profile: HardwareProfile): LayerAnalysisDto {
	const [rows, cols] = matrixDims(layer.shape, layer.layout);
	const geometry = crossbarGeometry(profile.crossbarSize, profile.slices);
	const { crossbarSize, channelsPerCrossbar, bins } = geometry;
	const { inputBlocks, channelGroups, count } = crossbarGrid(rows, cols, geometry);
	const levels: number[] = new Array<number>(count).fill(0);
	const lscNonZeros: number[] = new Array<number>(count).fill(0);
	const levelHistogram: number[] = new Array(bins).fill(0);
	let nonZeros = 0;
	for (let block = 0; block < inputBlocks; block++) {
		const columnLength = blockLength(cols, crossbarSize, block);
		for (let group = 0; group < channelGroups; group++) {
			let lsc = 0;
			const end = Math.min(rows, (group + 1) * channelsPerCrossbar);
			for (let o = group * channelsPerCrossbar; o < end; o++) {
				const n = counts.counts[o * counts.blocks + block];
				nonZeros += n;
				if (n > lsc) lsc = n;
			}
			const level = levelFromCounts(lsc, columnLength, bins);
			levels[block * channelGroups + group] = level;
			lscNonZeros[block * channelGroups + group] = lsc;
			levelHistogram[level]++;
		}
	}
	const weights = rows * cols;
	const cost = costOfHistogram(levelHistogram, crossbarSize, profile.adcLaw);
	return {
		name: layer.name,
		kind: layer.kind,
		shape: [...layer.shape],
		layout: layer.layout,
		groups: layer.groups,
		matrix: [rows, cols],
		tiles: count,
		weights,
		zeros: weights - nonZeros,
		levelHistogram,
		...cost,
		adcEnergyImprovement: improvement(cost.adcEnergyDense, cost.adcEnergy),
		...(layer.invocationsPerInference !== undefined ? { invocationsPerInference: layer.invocationsPerInference } : {}),
		grid: { inputBlocks, channelGroups, levels, lscNonZeros },
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

/** One layer's weights as the reference's matrix M (rows = output channels). */
export interface LayerMatrix {
	readonly layer: LayerWeight;
	/** Valid only until the callback returns: the buffer is reused for the next layer. */
	readonly values: Float32Array;
	readonly rows: number;
	readonly cols: number;
}

/**
 * Streams `layers` one at a time through reused buffers (so memory stays at the size of the
 * largest layer), turning each into its matrix M, and refuses NaN weights.
 */
export async function forEachLayerMatrix(layers: readonly LayerWeight[], visit: (m: LayerMatrix) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
	// Two buffers in turn: the next tensor is read from disk while this one is counted.
	const buffers: (Float32Array | undefined)[] = [undefined, undefined];
	let scratch: Float32Array | undefined;
	const load = (index: number) => layers[index].tensor.load(buffers[index % 2]);
	let pending = layers.length > 0 ? load(0) : undefined;
	try {
		for (let index = 0; index < layers.length; index++) {
			throwIfAborted(signal);
			const layer = layers[index];
			const loaded = await (pending as Promise<Float32Array>);
			// Keep a buffer a reader allocated for us (not a view into something else) for reuse.
			if (loaded.byteOffset === 0 && loaded.buffer.byteLength === loaded.byteLength) {
				buffers[index % 2] = loaded;
			}
			pending = index + 1 < layers.length ? load(index + 1) : undefined;
			const [rows, cols] = matrixDims(layer.tensor.shape, layer.layout);
			const values = toMatrix(loaded, layer.tensor.shape, layer.layout, scratch);
			if (values !== loaded) {
				scratch = values;
			}
			await visit({ layer, values, rows, cols });
		}
	} finally {
		// A read still in flight when a visit throws (or the user cancels) must not reject unobserved.
		await pending?.catch(() => undefined);
	}
}

/**
 * Per-column counts of one matrix; NaN weights are a ModelFormatError naming the layer.
 * `absHistogram`: see countColumnNonZeros (pruning's layer percentile, filled in the same pass).
 */
export function countLayerColumns(file: string, m: LayerMatrix, profile: HardwareProfile, into?: Int32Array, absHistogram?: Uint32Array): ColumnCounts {
	const counts = countColumnNonZeros(m.values, m.rows, m.cols, profile.crossbarSize, profile.tol, into, absHistogram);
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
	await forEachLayerMatrix(counted, (m) => {
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
	const levelHistogram: number[] = new Array(sparsityBins(profile.crossbarSize)).fill(0);
	let tiles = 0, weights = 0, zeros = 0;
	for (const layer of layers) {
		tiles += layer.tiles;
		weights += layer.weights;
		zeros += layer.zeros;
		layer.levelHistogram.forEach((n, k) => (levelHistogram[k] += n));
	}
	const cost = costOfHistogram(levelHistogram, profile.crossbarSize, profile.adcLaw);
	const perInference = perInferenceFigures(layers, profile, warnings);
	return {
		layers: layers.length,
		tiles,
		weights,
		zeros,
		levelHistogram,
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
function perInferenceFigures(layers: readonly LayerAnalysisDto[], profile: HardwareProfile, warnings: string[]): PerInferenceDto | undefined {
	const unknown = layers.filter((l) => l.invocationsPerInference === undefined);
	if (unknown.length > 0) {
		if (profile.inputSize !== undefined || layers.some((l) => l.invocationsPerInference !== undefined)) {
			warnings.push(`Output sizes unknown for ${unknown.length} layer${unknown.length === 1 ? '' : 's'} (${unknown.slice(0, 3).map((l) => l.name).join(', ')}${unknown.length > 3 ? ', …' : ''}): no per-inference figure. A state_dict holds no graph; use the ONNX export for per-inference energy.`);
		}
		return undefined;
	}
	const pjPerUnit = profile.adcEnergyPjAt8Bits / adcEnergyOf(profile.adcLaw, 8);
	const channelsPerCrossbar = profile.crossbarSize / profile.slices;
	const denseBits = log2Int(profile.crossbarSize);
	let activations = 0, dense = 0, current = 0;
	for (const layer of layers) {
		const fires = layer.invocationsPerInference ?? 0;
		const [rows] = layer.matrix;
		const { inputBlocks, channelGroups, levels } = layer.grid;
		for (let block = 0; block < inputBlocks; block++) {
			for (let group = 0; group < channelGroups; group++) {
				const physicalColumns = Math.min(channelsPerCrossbar, rows - group * channelsPerCrossbar) * profile.slices;
				const conversions = fires * physicalColumns * profile.inputBits;
				const bits = adcBitsForLevel(levels[block * channelGroups + group], profile.crossbarSize);
				activations += fires;
				dense += conversions * adcEnergyOf(profile.adcLaw, denseBits) * pjPerUnit;
				current += conversions * adcEnergyOf(profile.adcLaw, bits) * pjPerUnit;
			}
		}
	}
	return { crossbarActivations: activations, adcEnergyPjDense: dense, adcEnergyPj: current, adcEnergyImprovement: improvement(dense, current) };
}

/**
 * Per-column non-zeros of one crossbar of an analysed layer (the panel's drill-down), from the
 * counts the analysis kept. Throws a RangeError for a crossbar outside the layer's grid.
 */
export function crossbarColumns(layer: LayerAnalysisDto, counts: ColumnCounts, profile: ProfileEchoDto, block: number, group: number): TileColumnsDto {
	const { inputBlocks, channelGroups, levels } = layer.grid;
	if (block >= inputBlocks || group >= channelGroups) {
		throw new RangeError(`Crossbar (block ${block}, group ${group}) is outside ${layer.name}'s ${inputBlocks} × ${channelGroups} grid.`);
	}
	const channelStart = group * profile.channelsPerCrossbar;
	const channelEnd = Math.min(layer.matrix[0], channelStart + profile.channelsPerCrossbar);
	const nonZeros: number[] = [];
	for (let o = channelStart; o < channelEnd; o++) {
		nonZeros.push(counts.counts[o * counts.blocks + block]);
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
