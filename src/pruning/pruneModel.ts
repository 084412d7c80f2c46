import { UsageError } from '../core/errors';
import type { LayerWeight, ModelGraph } from '../core/model';
import { buildAnalysisResult, countLayerColumns, countedLayers, forEachLayerMatrix, layerStatistics } from '../hardware/analyze';
import type { LayerMatrix } from '../hardware/analyze';
import { fromMatrix } from '../hardware/matrix';
import type { AnalysisResultDto, HardwareProfile, LayerAnalysisDto } from '../shared/analysis';
import { pruneDubFixedRatio, pruneDubTol, pruneWholeTiles } from './dub';
import type { PruneResult } from './dub';
import { Float32Scratch } from './percentile';
import { resolveRatios } from './ratios';
import type { RatioSpec } from './ratios';
import { pruneBelowThreshold, pruneUnstructured } from './unstructured';

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
	/** New values per tensor name, in the tensor's own layout: what writers take. */
	readonly updates: Map<string, Float32Array>;
	/** Per tensor name, 1 where the weight is zero after pruning (pre-existing zeros included), in matrix M order. */
	readonly masks: Map<string, Uint8Array>;
}

export interface PruneGraphOptions {
	signal?: AbortSignal;
	onProgress?: (done: number, total: number, layer: string) => void;
}

/** The OIHW shape of a conv layer whatever its stored layout (for matching presets). */
function shapeOIHW(layer: LayerWeight): number[] {
	const s = layer.tensor.shape;
	return layer.layout === 'HWIO' ? [s[3], s[2], s[0], s[1]] : layer.layout === 'IO' ? [s[1], s[0]] : [...s];
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
		for (const { name, ratio } of resolveRatios(convs.map((l) => ({ name: l.name, shape: shapeOIHW(l), kind: 'conv' as const })), spec.ratios)) {
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
	const masks = new Map<string, Uint8Array>();
	const scratch = new Float32Scratch();
	let baselineOut: Float32Array | undefined;
	const stats = (m: LayerMatrix, values: Float32Array) =>
		layerStatistics({ ...m.layer, shape: m.layer.tensor.shape }, countLayerColumns(graph.file, { ...m, values }, profile), profile);
	await forEachLayerMatrix(layers, (m) => {
		before.push(stats(m, m.values));
		if (m.layer.kind !== 'conv') {
			after.push(before[before.length - 1]);
			baseline.push(before[before.length - 1]);
			return;
		}
		const ratio = ratioByLayer.get(m.layer.name);
		const matrix = { values: m.values, outChannels: m.rows, fanIn: m.cols };
		const common = { crossbarSize: profile.crossbarSize, slices: profile.slices, skipLevel0Loosening: spec.skipLevel0Loosening, scratch, signal: options.signal };
		let result: PruneResult;
		switch (spec.method) {
			case 'dub': result = pruneDubFixedRatio(matrix, ratio ?? 0, common); break;
			case 'dub-tol': result = pruneDubTol(matrix, { ...common, tol: spec.pruneTol ?? 1e-3 }); break;
			case 'tiles': result = pruneWholeTiles(matrix, { ratio: ratio ?? 0 }, common); break;
			case 'unstructured': result = pruneUnstructured(m.values, ratio ?? 0, { scratch, signal: options.signal }); break;
		}
		after.push(stats(m, result.values));
		updates.set(m.layer.tensor.name, fromMatrix(result.values, m.layer.tensor.shape, m.layer.layout));
		masks.set(m.layer.tensor.name, result.mask);
		summaries.push({ name: m.layer.name, ratio, threshold: result.threshold, pruned: result.prunedCount, zerosAfter: result.zeroCount, weights: m.values.length });
		if (spec.method !== 'unstructured') {
			// The baseline prunes the same starting weights by magnitude alone at the same ratio
			// (the paper's LBL baseline, §8.2); dub-tol has no ratio, so it matches the sparsity reached.
			const baselineRatio = ratio ?? Math.min(100, (100 * result.zeroCount) / m.values.length);
			baselineOut = baselineOut && baselineOut.length >= m.values.length ? baselineOut : new Float32Array(m.values.length);
			const out = baselineOut.subarray(0, m.values.length);
			// Fixed-ratio D.U.B. and whole-tile pruning already computed θ = percentile(|W|, ratio).
			const base = spec.method === 'dub' || spec.method === 'tiles'
				? pruneBelowThreshold(m.values, result.threshold, { out })
				: pruneUnstructured(m.values, baselineRatio, { out, scratch });
			baseline.push(stats(m, base.values));
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
		masks,
	};
}
