import type { AnalysisResultDto, LayerAnalysisDto } from '../shared/analysis';
import { formatImprovement, formatInteger, formatPercent as percent, formatPj } from '../shared/format';

/** Rows as aligned columns (the first row is the header), two spaces apart. */
export function table(rows: string[][], alignRight: readonly boolean[]): string {
	const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
	return rows.map((r) => r.map((cell, c) => {
		const pad = ' '.repeat(widths[c] - [...cell].length);
		return alignRight[c] ? pad + cell : cell + pad;
	}).join('  ').trimEnd()).join('\n');
}

function layerRow(layer: LayerAnalysisDto): string[] {
	return [
		layer.name,
		layer.kind,
		`${layer.matrix[0]}×${layer.matrix[1]}`,
		String(layer.tiles),
		percent(layer.zeros, layer.weights),
		layer.levelHistogram.join(' '),
		`${layer.adcBitsDense} → ${layer.adcBits}`,
		formatImprovement(layer.adcEnergyImprovement),
	];
}

/** The human-readable report of `crossbar-lens analyze`. */
export function formatAnalysisTable(result: AnalysisResultDto): string {
	const { profile, totals } = result;
	const bins = profile.sparsityBins;
	const header = [
		`${result.file} · ${result.format} · ${totals.layers} layers · ${formatInteger(totals.weights)} weights`,
		`crossbar ${profile.crossbarSize}×${profile.crossbarSize} (${profile.channelsPerCrossbar} output channels, ${profile.slices} slice${profile.slices === 1 ? '' : 's'} per weight) · tol ${profile.tol} · dense ADC ${profile.adcBitsDensePerCrossbar} bits`,
		`ADC law: ${result.adcLaw.name} — ${result.adcLaw.formula}`,
		'',
	];
	const rows = [
		['layer', 'kind', 'matrix', 'crossbars', 'zeros', `crossbars per level k=0..${bins - 1}`, 'ADC bits', 'improvement'],
		...result.layers.map(layerRow),
		['total', '', '', String(totals.tiles), percent(totals.zeros, totals.weights), totals.levelHistogram.join(' '), `${totals.adcBitsDense} → ${totals.adcBits}`, formatImprovement(totals.adcEnergyImprovement)],
	];
	const lines = [...header, table(rows, [false, false, true, true, true, false, true, true]), ''];
	lines.push(`ADC energy improvement (per crossbar, the paper's accounting): ${formatImprovement(totals.adcEnergyImprovement)}`);
	if (totals.perInference) {
		const p = totals.perInference;
		lines.push(`Per inference: ${formatInteger(p.crossbarActivations)} crossbar activations, ADC ${formatPj(p.adcEnergyPjDense)} dense → ${formatPj(p.adcEnergyPj)} (${formatImprovement(p.adcEnergyImprovement)}), at ${profile.adcEnergyPjAt8Bits} pJ per 8-bit conversion, ${profile.inputBits}-bit inputs`);
	}
	for (const warning of result.warnings) {
		lines.push(`warning: ${warning}`);
	}
	return lines.join('\n');
}
