import type { AnalysisResultDto, LayerAnalysisDto } from '../shared/analysis';

/**
 * The per-layer table as CSV (RFC 4180: comma separated, CRLF line ends, fields with a comma,
 * quote or line break quoted), one row per layer and a final `total` row. Columns are stable:
 * add, never rename (spreadsheets and scripts depend on them); they follow the JSON's schema 2
 * (input_blocks, channel_groups and crossbar_size were grid_rows, grid_cols and tile_rows).
 */
export function renderCsvReport(result: AnalysisResultDto): string {
	const bins = result.profile.sparsityBins;
	const levelColumns = Array.from({ length: bins }, (_, k) => `tiles_level_${k}`);
	const header = ['layer', 'kind', 'shape', 'layout', 'groups', 'matrix_rows', 'matrix_cols', 'tiles', 'input_blocks', 'channel_groups', 'weights', 'zeros', 'zero_fraction', 'adc_bits_dense', 'adc_bits', 'adc_energy_dense', 'adc_energy', 'adc_energy_improvement', ...levelColumns, 'crossbar_size', 'slices', 'tol', 'adc_law'];
	const profileCells = [result.profile.crossbarSize, result.profile.slices, result.profile.tol, result.adcLaw.name];
	const rows: (string | number)[][] = result.layers.map((layer: LayerAnalysisDto) => [
		layer.name, layer.kind, layer.shape.join('x'), layer.layout, layer.groups, layer.matrix[0], layer.matrix[1],
		layer.tiles, layer.grid.inputBlocks, layer.grid.channelGroups, layer.weights, layer.zeros, fraction(layer.zeros, layer.weights),
		layer.adcBitsDense, layer.adcBits, number(layer.adcEnergyDense), number(layer.adcEnergy), improvement(layer.adcEnergyImprovement),
		...layer.levelHistogram, ...profileCells,
	]);
	const t = result.totals;
	rows.push(['total', '', '', '', '', '', '', t.tiles, '', '', t.weights, t.zeros, fraction(t.zeros, t.weights), t.adcBitsDense, t.adcBits, number(t.adcEnergyDense), number(t.adcEnergy), improvement(t.adcEnergyImprovement), ...t.levelHistogram, ...profileCells]);
	return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** One CSV field, quoted when needed; a leading =,+,-,@ in text is prefixed with ' so spreadsheets do not run it as a formula. */
export function csvField(value: string | number): string {
	if (typeof value === 'number') {
		return String(value);
	}
	const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
	return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function fraction(part: number, whole: number): string {
	return whole === 0 ? '' : (part / whole).toFixed(6);
}

function number(value: number): string {
	return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(10)));
}

/** Empty for "every crossbar empty" (∞), as a spreadsheet cannot hold infinity. */
function improvement(value: number | null): string {
	return value === null ? '' : String(Number(value.toPrecision(10)));
}
