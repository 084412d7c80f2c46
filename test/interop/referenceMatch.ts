// Equality of `crossbar-lens analyze --json` with the NumPy reference (reference_stats.py), shared
// by the interop tests that compare real checkpoints with it.
import assert from 'node:assert/strict';
import type { AnalysisJson, StatsJson } from './cliHarness';

/** reference_stats.model_stats: per layer and totals. */
export interface Expected {
	layers: (StatsJson & { name: string; shape: number[]; matrix: number[] })[];
	totals: StatsJson & { layers: number };
}

export const statFields = ['tiles', 'weights', 'zeros', 'levelHistogram', 'adcBitsDense', 'adcBits', 'adcEnergyImprovement'] as const;

/** Per-layer and total equality with the NumPy reference (exact: the same integer sums, one division). */
export function assertMatches(actual: Pick<AnalysisJson, 'layers' | 'totals'>, expected: Expected, label: string, options: { names?: boolean } = {}): void {
	assert.equal(actual.layers.length, expected.layers.length,
		`${label}: ${actual.layers.length} layers (${actual.layers.map((l) => l.name).join(', ')}), numpy has ${expected.layers.length}`);
	expected.layers.forEach((want, i) => {
		const got = actual.layers[i];
		if (options.names !== false) assert.equal(got.name, want.name, `${label}: layer ${i} name`);
		assert.equal(got.kind, 'conv', `${label}: ${want.name} kind`);
		assert.deepEqual(got.matrix, want.matrix, `${label}: ${want.name} matrix`);
		for (const field of statFields) {
			assert.deepEqual(got[field], want[field], `${label}: ${want.name} ${field}`);
		}
	});
	assert.equal(actual.totals.layers, expected.totals.layers, `${label}: totals.layers`);
	for (const field of statFields) {
		assert.deepEqual(actual.totals[field], expected.totals[field], `${label}: totals.${field}`);
	}
}
