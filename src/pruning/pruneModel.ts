import { UsageError } from '../core/errors';
import type { ModelGraph } from '../core/model';
import { buildAnalysisResult, countLayerColumns, countedLayers, forEachLayerMatrix, layerStatistics } from '../hardware/analyze';
import type { LayerMatrix } from '../hardware/analyze';
import { countColumnNonZeros } from '../hardware/columnCounts';
import type { ColumnCounts } from '../hardware/columnCounts';
import { fromMatrix, pytorchShape } from '../hardware/matrix';
import type { AnalysisResultDto, HardwareProfile, LayerAnalysisDto } from '../shared/analysis';
import { pruneDubFixedRatio, pruneDubTol, pruneWholeCrossbars } from './dub';
import type { PruneResult } from './dub';
import { Float32Scratch, percentileOfAbs, radixBuckets } from './percentile';
import { resolveRatios } from './ratios';
import type { RatioSpec } from './ratios';
import { pruneUnstructured } from './unstructured';

/**
 * dub: fixed-ratio D.U.B. (§6, the paper's headline runs); dub-tol: the tol variant;
 * unstructured: per-layer magnitude pruning (§8.2); tiles: whole-crossbar pruning (S-DUB part S, §8.4).
 */
export type PruneMethod = 'dub' | 'dub-tol' | 'unstructured' | 'tiles';
export const pruneMethods: readonly PruneMethod[] = ['dub', 'dub-tol', 'unstructured', 'tiles'];

export interface PruneSpec {
	readonly method: PruneMethod;
	/** Per-layer ratios (percent); not used by dub-tol. */
	readonly ratios?: RatioSpec;
	/** dub-tol's almost-zero threshold (default 1e-3, as the reference). */
	readonly pruneTol?: number;
	/** Skip the reference's loosen-to-level-0 quirk (A7); it has no energy effect. */
	readonly skipLevel0Loosening?: boolean;
}

export interface LayerPruneSummary {
	readonly name: string;
	/** Percent asked for (undefined for dub-tol). */
	readonly ratio?: number;
	/** The almost-zero threshold θ used for this layer. */
	readonly threshold: number;
	readonly pruned: number;
	readonly zerosAfter: number;
	readonly weights: number;
}

export interface PruneOutcome {
	readonly method: PruneMethod;
	readonly layers: LayerPruneSummary[];
	readonly before: AnalysisResultDto;
	readonly after: AnalysisResultDto;
	/** Unstructured pruning at the same per-layer ratios, for comparison (absent for method unstructured). */
	readonly unstructured?: AnalysisResultDto;
	/** New values per tensor name, in the tensor's own layout: what writers take (the mask is where they are 0). */
	readonly updates: Map<string, Float32Array>;
}

export interface PruneGraphOptions {
	signal?: AbortSignal;
	onProgress?: (done: number, total: number, layer: string) => void;
}

/**
 * Prunes every conv layer the profile maps, in memory: the analysis before and after, the
 * unstructured baseline at the same per-layer sparsity, and the new tensors for a writer.
 * Nothing is written; `writeModel` (src/formats/writers) saves `updates` when asked.
 */
export async function pruneGraph(graph: ModelGraph, profile: HardwareProfile, spec: PruneSpec, options: PruneGraphOptions = {}): Promise<PruneOutcome> {
	const warnings = [...graph.warnings];
	const layers = countedLayers(graph, profile, warnings);
	const convs = layers.filter((l) => l.kind === 'conv');
	const ratioByLayer = new Map<string, number>();
	if (spec.method !== 'dub-tol') {
		if (!spec.ratios) {
			throw new UsageError(`method ${spec.method} needs prune ratios: a preset, one ratio per conv layer, or one ratio for all.`);
		}
		for (const { name, ratio } of resolveRatios(convs.map((l) => ({ name: l.name, shape: pytorchShape(l.tensor.shape, l.layout), kind: 'conv' as const })), spec.ratios)) {
			ratioByLayer.set(name, ratio);
		}
	}
	if (layers.length > convs.length) {
		warnings.push(`Linear layers are analysed but not pruned (D.U.B. prunes conv layers, as in the paper).`);
	}
	const before: LayerAnalysisDto[] = [];
	const after: LayerAnalysisDto[] = [];
	const baseline: LayerAnalysisDto[] = [];
	const summaries: LayerPruneSummary[] = [];
	const updates = new Map<string, Float32Array>();
	const scratch = new Float32Scratch();
	const absHistogram = new Uint32Array(radixBuckets);
	// Column counts (o·blocks + block), reused from layer to layer: layerStatistics copies what it keeps.
	const buffers = { before: new Int32Array(0), after: new Int32Array(0), baseline: new Int32Array(0), mask: new Uint8Array(0) };
	const stats = (m: LayerMatrix, counts: ColumnCounts) => layerStatistics({ ...m.layer, shape: m.layer.tensor.shape }, counts, profile);
	const wrap = (counts: Int32Array, m: LayerMatrix): ColumnCounts => ({ outChannels: m.outChannels, inputBlocks: Math.ceil(m.fanIn / profile.crossbarSize), counts, nanCount: 0 });
	await forEachLayerMatrix(layers, (m) => {
		const size = m.outChannels * Math.ceil(m.fanIn / profile.crossbarSize);
		if (buffers.before.length < size) {
			buffers.before = new Int32Array(size);
			buffers.after = new Int32Array(size);
			buffers.baseline = new Int32Array(size);
		}
		if (buffers.mask.length < m.values.length) {
			// Nobody keeps the prune functions' masks here (the updates' zeros are the mask): one buffer for all layers.
			buffers.mask = new Uint8Array(m.values.length);
		}
		const mask = buffers.mask.subarray(0, m.values.length);
		// One pass over the layer: its counts for the analysis before (NaN weights stop here) and
		// the histogram of |w| that the layer percentile θ starts from.
		const isConv = m.layer.kind === 'conv';
		const counted = countLayerColumns(graph.file, m, profile, buffers.before, isConv ? absHistogram : undefined);
		before.push(stats(m, counted));
		if (!isConv) {
			after.push(before[before.length - 1]);
			baseline.push(before[before.length - 1]);
			return;
		}
		const ratio = ratioByLayer.get(m.layer.name);
		// With exact zeros (tol 0), the prune's own counts are what the analyses after it count.
		const exact = profile.tol === 0;
		const counts = exact ? { nonZerosAfter: buffers.after.subarray(0, size), aboveThreshold: buffers.baseline.subarray(0, size) } : undefined;
		const common = { crossbarSize: profile.crossbarSize, slices: profile.slices, skipLevel0Loosening: spec.skipLevel0Loosening, scratch, signal: options.signal, absHistogram, counts, mask };
		let result: PruneResult;
		switch (spec.method) {
			case 'dub': result = pruneDubFixedRatio(m, ratio ?? 0, common); break;
			case 'dub-tol': result = pruneDubTol(m, { ...common, tol: spec.pruneTol ?? 1e-3 }); break;
			case 'tiles': result = pruneWholeCrossbars(m, { ratio: ratio ?? 0 }, common); break;
			case 'unstructured': result = pruneUnstructured(m.values, ratio ?? 0, { scratch, signal: options.signal, absHistogram, mask }); break;
		}
		const recount = (values: Float32Array, tol: number, into: Int32Array) => countColumnNonZeros(values, m.outChannels, m.fanIn, profile.crossbarSize, tol, into);
		after.push(stats(m, counts && spec.method !== 'unstructured' ? wrap(counts.nonZerosAfter, m) : recount(result.values, profile.tol, buffers.after)));
		updates.set(m.layer.tensor.name, fromMatrix(result.values, m.layer.tensor.shape, m.layer.layout));
		summaries.push({ name: m.layer.name, ratio, threshold: result.threshold, pruned: result.prunedCount, zerosAfter: result.zeroCount, weights: m.values.length });
		if (spec.method !== 'unstructured') {
			// The baseline prunes the same starting weights by magnitude alone at the same ratio
			// (the paper's LBL baseline, docs/method.md §8.2); dub-tol has no ratio, so it matches the sparsity reached.
			// It is only counted, never written: what survives |w| ≤ θ is |w| > θ (> tol, when set).
			if (counts && spec.method !== 'dub-tol') {
				baseline.push(stats(m, wrap(counts.aboveThreshold, m)));
			} else {
				// Fixed-ratio D.U.B. and whole-crossbar pruning already computed θ = percentile(|W|, ratio).
				const theta = spec.method === 'dub-tol'
					? percentileOfAbs(m.values, ratio ?? Math.min(100, (100 * result.zeroCount) / m.values.length), scratch, absHistogram)
					: result.threshold;
				baseline.push(stats(m, recount(m.values, Math.max(Math.fround(theta), profile.tol), buffers.baseline)));
			}
		}
		options.onProgress?.(summaries.length, convs.length, m.layer.name);
	}, options.signal);
	const result = (layerStats: LayerAnalysisDto[], extra: string[] = []) => buildAnalysisResult(graph, profile, layerStats, [...warnings, ...extra]);
	return {
		method: spec.method,
		layers: summaries,
		before: result(before),
		after: result(after),
		...(spec.method !== 'unstructured' ? { unstructured: result(baseline, [`Baseline: unstructured magnitude pruning of the same starting weights at the same per-layer ${spec.method === 'dub-tol' ? 'sparsity' : 'ratios'} (docs/method.md §8.2), without fine-tuning.`]) } : {}),
		updates,
	};
}
