import type { ModelGraph } from '../../core/model';
import { openFileSource } from '../../formats/byteSource';
import { openModelSource } from '../../formats/registry';
import { writeModel } from '../../formats/writers';
import { pruneGraph } from '../../pruning/pruneModel';
import type { PruneSpec } from '../../pruning/pruneModel';
import { ratioPresets } from '../../pruning/ratios';
import type { AnalysisResultDto, HardwareProfile } from '../../shared/analysis';
import type { PruneCapabilityDto, PrunePresetDto, PruneSpecDto } from '../../shared/protocol';

/** What the panel keeps of a prune preview until the user saves it. */
export interface PruneOutcome {
	readonly before: AnalysisResultDto;
	readonly after: AnalysisResultDto;
	readonly unstructured?: AnalysisResultDto;
	/** New float32 values of every changed tensor, by tensor name. */
	readonly updates: ReadonlyMap<string, Float32Array>;
}

/**
 * The one place the extension meets src/pruning and the format writers: the panel's
 * PruneSpecDto becomes pruneModel's PruneSpec here, and saving re-opens the model so the
 * writer gets the file's own ByteSource.
 */
export interface PruneEngine {
	pruneGraph(graph: ModelGraph, profile: HardwareProfile, spec: PruneSpecDto, options: { signal?: AbortSignal; onProgress?: (done: number, total: number, layer: string) => void }): Promise<PruneOutcome>;
	writePrunedModel(inputPath: string, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: { inputSize?: readonly number[] }): Promise<void>;
}

/** The panel's spec as pruneModel's: 'fixed' is D.U.B. at per-layer ratios, 'tol' its θ variant. */
export function toPruneSpec(spec: PruneSpecDto): PruneSpec {
	if (spec.variant === 'tol') {
		return { method: 'dub-tol', pruneTol: spec.tol ?? 1e-3 };
	}
	return { method: 'dub', ratios: spec.preset !== undefined ? { preset: spec.preset } : { ratio: spec.ratioPercent ?? 50 } };
}

const engine: PruneEngine = {
	async pruneGraph(graph, profile, spec, options) {
		// As the CLI: with the tol variant θ is the pruning threshold, and the analysis counts exact zeros.
		const analysisProfile = spec.variant === 'tol' ? { ...profile, tol: 0 } : profile;
		return pruneGraph(graph, analysisProfile, toPruneSpec(spec), options);
	},
	async writePrunedModel(inputPath, updates, outPath, options) {
		const source = await openFileSource(inputPath);
		const graph = await openModelSource(source, { inputSize: options.inputSize });
		try {
			// The save dialog already asked before replacing a file; the input itself is always refused.
			await writeModel(source, graph, updates, outPath, { force: true, inputPath });
		} finally {
			await graph.close();
		}
	},
};

/** The pruning engine (a function so the panel can be tested with another one). */
export async function loadPruneEngine(): Promise<PruneEngine | undefined> {
	return engine;
}

/** The ratio presets of dub-method.md §6.2, for the panel's preset picker. */
export function prunePresets(): PrunePresetDto[] {
	return Object.values(ratioPresets).map((preset) => ({ id: preset.id, label: preset.description, layers: preset.ratios.length }));
}

export async function pruneCapability(): Promise<PruneCapabilityDto> {
	return (await loadPruneEngine())
		? { available: true, presets: prunePresets() }
		: { available: false, reason: 'D.U.B. pruning is not available in this build.', presets: prunePresets() };
}
