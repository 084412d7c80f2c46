/**
 * The crossbar design space in one read of a model: the totals of every crossbar size T ×
 * slicing q × ADC law, as separate `analyze` runs would give them (docs/method.md §2, §3, §5).
 *
 * Power-of-two crossbar sizes nest: block b of 2T inputs is blocks 2b and 2b+1 of T inputs, so a
 * column's non-zeros in a 2T block are the sum of its counts in two T blocks. The weights are
 * counted once per layer at the smallest size and every larger size is summed from those counts
 * (a pass over rows × blocks, not over the weights). Slicing only changes how output channels
 * are grouped into crossbars (R = T/q), and the law only how levels are priced, so neither needs
 * a count of its own; and output channels nest too (R = T/q doubles when q halves), so the
 * least-sparse columns of wider groups are maxima of narrower ones. leastSparseColumns and
 * crossbarLevels (layerStatistics' steps) and the totals do the rest, exactly as `analyze` does.
 */

import { UsageError } from '../core/errors';
import type { ModelGraph } from '../core/model';
import { adcLaws } from '../shared/analysis';
import type { AdcLaw, HardwareProfile, SweepPointDto, SweepResultDto } from '../shared/analysis';
import { TotalsAccumulator, countLayerColumns, countedLayers, crossbarLevels, forEachCountableLayer, leastSparseColumns, mergeChannelGroups } from './analyze';
import type { ColumnCounts } from './columnCounts';
import { resolveProfile } from './profile';

/** What a sweep varies; everything else comes from the base profile. */
export interface SweepSettings {
	/** Powers of two; any order, duplicates ignored. */
	readonly crossbarSizes: readonly number[];
	readonly slices: readonly number[];
	readonly adcLaws: readonly AdcLaw[];
}

/** The CLI's defaults: the paper's sizes and their neighbours, 1, 2 and 4 slices, the paper's law. */
export const defaultSweepSettings: SweepSettings = { crossbarSizes: [16, 32, 64, 128, 256, 512], slices: [1, 2, 4], adcLaws: ['paper'] };

/**
 * What the panel's design-space chart and the HTML report show for a profile: the default sizes
 * plus the profile's own, its slicing among 1, 2 and 4, and every ADC law.
 */
export function designSpaceSettings(profile: Pick<HardwareProfile, 'crossbarSize' | 'slices'>): SweepSettings {
	return {
		crossbarSizes: [...new Set([...defaultSweepSettings.crossbarSizes, profile.crossbarSize])].sort((a, b) => a - b),
		slices: [...new Set([...defaultSweepSettings.slices, profile.slices])].sort((a, b) => a - b).filter((q) => q === 1 || q <= Math.min(16, profile.crossbarSize)),
		adcLaws: [...adcLaws],
	};
}

export interface SweepOptions {
	signal?: AbortSignal;
	/** Called after each layer (done, total, layer name). */
	onProgress?: (done: number, total: number, layer: string) => void;
}

/**
 * Analyses `graph` at every setting of `settings` on top of `base` (tol, linear layers, input
 * size, energy anchor). A setting the hardware profile does not allow (a size that is not a
 * power of two, q not dividing T) is a UsageError naming it, before anything is read.
 */
export async function sweepGraph(graph: ModelGraph, base: HardwareProfile, settings: SweepSettings, options: SweepOptions = {}): Promise<SweepResultDto> {
	const sizes = sortedUnique(settings.crossbarSizes);
	const slicings = sortedUnique(settings.slices);
	const laws = [...new Set(settings.adcLaws)];
	if (sizes.length === 0 || slicings.length === 0 || laws.length === 0) {
		throw new UsageError('a sweep needs at least one crossbar size, one slicing and one ADC law.');
	}
	// Every point's profile, checked as `analyze` checks its own; points[law][q][T].
	const profiles = laws.map((adcLaw) => slicings.map((slices) => sizes.map((crossbarSize) => {
		try {
			return resolveProfile({ ...base, crossbarSize, slices, adcLaw });
		} catch (ex) {
			throw ex instanceof UsageError ? new UsageError(`sweep setting T=${crossbarSize}, q=${slices}: ${ex.message}`) : ex;
		}
	})));
	const totals = profiles.map((bySlices) => bySlices.map((bySize) => bySize.map((profile) => new TotalsAccumulator(profile))));

	const warnings = [...graph.warnings];
	const counted = countedLayers(graph, base, warnings);
	const buffers: (Int32Array | undefined)[] = sizes.map(() => undefined);
	let done = 0;
	await forEachCountableLayer(counted, (m) => {
		const weights = m.outChannels * m.fanIn;
		let nonZeros = 0;
		let counts: ColumnCounts | undefined;
		sizes.forEach((crossbarSize, s) => {
			// The one pass over the weights (NaN weights stop here), then sums of neighbouring blocks.
			counts = counts === undefined
				? countLayerColumns(graph.file, m, { ...base, crossbarSize }, buffers[s])
				: mergeBlocks(counts, crossbarSize / sizes[s - 1], buffers[s]);
			if (counts.counts.length > (buffers[s]?.length ?? 0)) buffers[s] = counts.counts;
			// Least-sparse columns at the most slices (the narrowest groups), then wider groups by
			// merging neighbours; the levels do not depend on the law, so each law prices the same ones.
			let lsc: Int32Array | undefined;
			for (let q = slicings.length - 1; q >= 0; q--) {
				const slices = slicings[q];
				if (lsc === undefined) {
					const least = leastSparseColumns(counts, crossbarSize / slices);
					lsc = least.lsc;
					nonZeros = least.nonZeros;
				} else {
					lsc = mergeChannelGroups(lsc, counts.inputBlocks, slicings[q + 1] / slices);
				}
				const levels = crossbarLevels(m.outChannels, m.fanIn, lsc, crossbarSize, slices);
				const layer = {
					name: m.layer.name,
					tiles: levels.levels.length,
					weights,
					zeros: weights - nonZeros,
					levelHistogram: levels.levelHistogram,
					invocationsPerInference: m.layer.invocationsPerInference,
					matrix: [m.outChannels, m.fanIn] as [number, number],
					grid: levels,
				};
				laws.forEach((_, l) => totals[l][q][s].add(layer));
			}
		});
		options.onProgress?.(++done, counted.length, m.layer.name);
	}, options.signal);

	const notes = new Set<string>();
	const points: SweepPointDto[] = [];
	laws.forEach((adcLaw, l) => slicings.forEach((slices, q) => sizes.forEach((crossbarSize, s) => {
		const pointWarnings: string[] = [];
		points.push({ crossbarSize, slices, adcLaw, channelsPerCrossbar: crossbarSize / slices, totals: totals[l][q][s].totals(pointWarnings) });
		pointWarnings.forEach((w) => notes.add(w));
	})));
	const { tol, includeLinear, inputSize, adcEnergyPjAt8Bits, inputBits } = base;
	return {
		tool: 'crossbar-lens',
		schemaVersion: 2,
		kind: 'sweep',
		file: graph.file,
		format: graph.format,
		profile: { tol, includeLinear, ...(inputSize !== undefined ? { inputSize } : {}), adcEnergyPjAt8Bits, inputBits },
		crossbarSizes: sizes,
		slices: slicings,
		adcLaws: laws,
		warnings: [...warnings, ...notes],
		points,
	};
}

/**
 * Column counts for blocks `factor` times longer: counts[o, b] = Σ_j counts[o, b·factor + j]
 * (the last block may be cut short or made of fewer blocks; the level rule takes its length
 * from the matrix, src/hardware/geometry.ts blockLength).
 */
export function mergeBlocks(counts: ColumnCounts, factor: number, into?: Int32Array): ColumnCounts {
	const { outChannels, inputBlocks: from } = counts;
	const blocks = Math.ceil(from / factor);
	const size = outChannels * blocks;
	const out = into && into.length >= size ? into.subarray(0, size) : new Int32Array(size);
	const source = counts.counts;
	for (let o = 0; o < outChannels; o++) {
		const row = o * from;
		for (let b = 0; b < blocks; b++) {
			const end = Math.min(from, (b + 1) * factor);
			let n = 0;
			for (let j = b * factor; j < end; j++) n += source[row + j];
			out[o * blocks + b] = n;
		}
	}
	return { outChannels, inputBlocks: blocks, counts: out, nanCount: counts.nanCount };
}

function sortedUnique(values: readonly number[]): number[] {
	return [...new Set(values)].sort((a, b) => a - b);
}
