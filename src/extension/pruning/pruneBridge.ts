import type { ModelGraph } from '../../core/model';
import { ratioPresets } from '../../pruning/ratios';
import type { AnalysisResultDto, HardwareProfile } from '../../shared/analysis';
import type { PruneCapabilityDto, PrunePresetDto, PruneSpecDto } from '../../shared/protocol';

/** What the panel needs from src/pruning: a one-shot prune computed in memory, and its writer. */
export interface PruneOutcome {
	readonly before: AnalysisResultDto;
	readonly after: AnalysisResultDto;
	readonly unstructured?: AnalysisResultDto;
	/** New float32 values of every changed tensor, by tensor name. */
	readonly updates: Map<string, Float32Array>;
}

export interface PruneEngine {
	pruneGraph(graph: ModelGraph, profile: HardwareProfile, spec: PruneSpecDto, options: { signal?: AbortSignal }): Promise<PruneOutcome>;
	writePrunedModel(inputPath: string, graph: ModelGraph, updates: Map<string, Float32Array>, outPath: string): Promise<void>;
}

/**
 * ┌───────────────────────────────────────────────────────────────────────────────────────────┐
 * │ THE ONE PLACE THE EXTENSION MEETS src/pruning/pruneModel.ts.                                │
 * │ Until that module exists, pruning previews are reported as unavailable in the panel.        │
 * │ When it lands, replace the body with:                                                       │
 * │   const m = await import('../../pruning/pruneModel');                                       │
 * │   return {                                                                                  │
 * │     pruneGraph: (graph, profile, spec, options) => m.pruneGraph(graph, profile, toSpec(spec), options),
 * │     writePrunedModel: m.writePrunedModel,                                                   │
 * │   };                                                                                        │
 * │ with `toSpec` mapping PruneSpecDto onto pruneModel's own spec type.                         │
 * └───────────────────────────────────────────────────────────────────────────────────────────┘
 */
export async function loadPruneEngine(): Promise<PruneEngine | undefined> {
	return undefined;
}

/** The ratio presets of dub-method.md §6.2, for the panel's preset picker. */
export function prunePresets(): PrunePresetDto[] {
	return Object.values(ratioPresets).map((preset) => ({ id: preset.id, label: preset.description, layers: preset.ratios.length }));
}

export async function pruneCapability(): Promise<PruneCapabilityDto> {
	const engine = await loadPruneEngine();
	return engine
		? { available: true, presets: prunePresets() }
		: { available: false, reason: 'D.U.B. pruning is not available in this build yet.', presets: prunePresets() };
}
