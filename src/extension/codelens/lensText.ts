/**
 * CodeLens text for scanned Python layers: pure (no vscode), so it is unit-tested directly.
 * A lens states what the layer costs under the current profile (crossbars, dense ADC bits)
 * and, once a checkpoint of the same model has been analysed, what it measured.
 */
import type { ScannedLayer } from '../../source/pythonScan';
import { scannedLayerMatrix } from '../../source/pythonScan';
import { crossbarGeometry, crossbarGrid } from '../../hardware/geometry';
import type { CrossbarGrid } from '../../hardware/geometry';
import { log2Int } from '../../hardware/levels';
import type { AnalysisResultDto, HardwareProfile, LayerAnalysisDto } from '../../shared/analysis';
import { formatPercent, formatRatio } from '../../shared/format';

/** Crossbars a [out, fanIn] matrix needs under a profile (src/hardware/geometry.ts), and their dense ADC bits (log2 T each). */
export function crossbarsFor(matrix: readonly [number, number], profile: Pick<HardwareProfile, 'crossbarSize' | 'slices'>): CrossbarGrid & { readonly adcBitsDense: number } {
	const grid = crossbarGrid(matrix[0], matrix[1], crossbarGeometry(profile.crossbarSize, profile.slices));
	return { ...grid, adcBitsDense: grid.count * log2Int(profile.crossbarSize) };
}

/** `conv 64→128 3×3`, `linear 512→10`, `conv ?→32 3×3` (input channels unknown). */
export function describeScannedLayer(layer: ScannedLayer): string {
	const inText = layer.inChannels === undefined ? '?' : String(layer.inChannels);
	const outText = layer.outChannels === undefined ? '?' : String(layer.outChannels);
	const kernel = layer.kind === 'conv' ? ` ${layer.kernel ? `${layer.kernel[0]}×${layer.kernel[1]}` : '?×?'}` : '';
	const groups = layer.groups > 1 ? ` g${layer.groups}` : '';
	return `${layer.kind === 'conv' ? 'conv' : 'linear'} ${inText}→${outText}${kernel}${groups}`;
}

export interface LensText {
	readonly title: string;
	readonly tooltip: string;
}

/**
 * The lens of one scanned layer. `measured` is the matching layer of an analysed checkpoint
 * (same profile), `source` names that checkpoint.
 */
export function formatLayerLens(layer: ScannedLayer, profile: Pick<HardwareProfile, 'crossbarSize' | 'slices' | 'includeLinear' | 'adcLaw'>, measured?: { layer: LayerAnalysisDto; source: string }): LensText {
	const head = describeScannedLayer(layer);
	const matrix = scannedLayerMatrix(layer);
	if (!matrix) {
		const missing = layer.inChannels === undefined ? (layer.framework === 'keras' ? 'input channels are implicit here' : 'input channels are not a literal') : 'shape arguments are not literals';
		return { title: `${head} · crossbars unknown`, tooltip: `Crossbar Lens: ${missing}, so the crossbar count cannot be computed from the script.` };
	}
	const count = crossbarsFor(matrix, profile);
	const crossbars = `${count.count} crossbar${count.count === 1 ? '' : 's'}`;
	const geometry = `${profile.crossbarSize}×${profile.crossbarSize} crossbars${profile.slices > 1 ? `, ${profile.slices} slices per weight` : ''}`;
	const inferred = layer.inChannelsInferred ? ` Input channels (${layer.inChannels}) inferred from the previous layer.` : '';
	if (layer.kind === 'linear' && !profile.includeLinear) {
		return {
			title: `${head} · ${crossbars} · not counted (linear)`,
			tooltip: `Matrix ${matrix[0]}×${matrix[1]} → ${count.inputBlocks} × ${count.channelGroups} ${geometry}. Linear layers are not counted, as in the paper: turn on crossbarLens.hardware.includeLinear to count them.${inferred}`,
		};
	}
	if (!measured) {
		return {
			title: `${head} · ${crossbars} · ADC ${count.adcBitsDense} bits dense`,
			tooltip: `Matrix ${matrix[0]}×${matrix[1]} → ${count.inputBlocks} × ${count.channelGroups} ${geometry}, ${log2Int(profile.crossbarSize)} ADC bits each when dense. Analyze a checkpoint of this model to see its measured levels.${inferred}`,
		};
	}
	const m = measured.layer;
	const levels = m.levelHistogram.map((n, k) => `k${k}:${n}`).join(' ');
	return {
		title: `${head} · ${m.tiles} crossbar${m.tiles === 1 ? '' : 's'} · ADC ${m.adcBitsDense}→${m.adcBits} bits (${formatRatio(m.adcEnergyImprovement)})`,
		tooltip: `${m.name} in ${measured.source}: ${m.tiles} ${geometry}, ${formatPercent(m.zeros, m.weights)} zeros. Crossbars per level ${levels}. ADC bits ${m.adcBitsDense} → ${m.adcBits}; ADC energy improvement ${formatRatio(m.adcEnergyImprovement)} (${profile.adcLaw} law). Click to show the layer.${inferred}`,
	};
}

/**
 * Matches scanned layers to an analysis's layers by order and shape: each scanned layer takes
 * the next unmatched analysed layer of the same kind whose matrix equals its own (or, when the
 * input channels are unknown, whose output channels and kernel agree). Layers that do not fit
 * are skipped, so a model with extra or reordered modules still matches what it can.
 */
export function matchLayers(scanned: readonly ScannedLayer[], result: AnalysisResultDto): Map<number, LayerAnalysisDto> {
	const matches = new Map<number, LayerAnalysisDto>();
	let next = 0;
	scanned.forEach((layer, index) => {
		for (let j = next; j < result.layers.length; j++) {
			if (fits(layer, result.layers[j])) {
				matches.set(index, result.layers[j]);
				next = j + 1;
				return;
			}
		}
	});
	return matches;
}

function fits(layer: ScannedLayer, analysed: LayerAnalysisDto): boolean {
	if (layer.kind !== analysed.kind) {
		return false;
	}
	const matrix = scannedLayerMatrix(layer);
	if (matrix) {
		return matrix[0] === analysed.matrix[0] && matrix[1] === analysed.matrix[1];
	}
	if (layer.outChannels === undefined || layer.outChannels !== analysed.matrix[0]) {
		return false;
	}
	if (layer.kind === 'conv' && layer.kernel) {
		const kernelSize = layer.kernel[0] * layer.kernel[1];
		return analysed.matrix[1] % kernelSize === 0;
	}
	return true;
}

/**
 * How well an analysis explains a script: the number of matched layers among those the
 * analysis counts (linear ones only when it includes them). 0 means "not this model".
 */
export function matchScore(scanned: readonly ScannedLayer[], result: AnalysisResultDto): { matched: number; countable: number; matches: Map<number, LayerAnalysisDto> } {
	const matches = matchLayers(scanned, result);
	const countable = scanned.filter((l) => l.kind === 'conv' || result.profile.includeLinear).length;
	return { matched: matches.size, countable, matches };
}
