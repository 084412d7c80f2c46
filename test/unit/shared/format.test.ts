import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatCompact, formatImprovement, formatInteger, formatPercent, formatPj, formatRatio, toJson } from '../../../src/shared/format';

void describe('formatters shared by the CLI, the reports, the panel and the CodeLens', () => {
	void it('improvement: 3 decimals below 10×, 2 below 100×, 1 above; ∞ names the all-empty case', () => {
		assert.equal(formatImprovement(2.4718), '2.472×');
		assert.equal(formatImprovement(1), '1.000×');
		assert.equal(formatImprovement(12.3456), '12.35×');
		assert.equal(formatImprovement(250.44), '250.4×');
		assert.equal(formatImprovement(null), '∞ (all crossbars empty)');
	});

	void it('short ratio: 1.27× stays visible, big ratios lose their decimals', () => {
		assert.equal(formatRatio(1.2700), '1.27×');
		assert.equal(formatRatio(2.3478), '2.35×');
		assert.equal(formatRatio(12.345), '12.3×');
		assert.equal(formatRatio(250.4), '250×');
		assert.equal(formatRatio(null), '∞');
	});

	void it('percent, integers, compact energies', () => {
		assert.equal(formatPercent(1, 3), '33.3%');
		assert.equal(formatPercent(0, 0), '–');
		assert.equal(formatInteger(11166912), '11,166,912');
		assert.equal(formatCompact(45010), '45,010');
		assert.equal(formatCompact(6309.4), '6,309');
		assert.equal(formatCompact(0.123456), '0.123');
	});

	void it('bytes in binary units and energies in the largest unit ≥ 1', () => {
		assert.equal(formatBytes(512), '512 B');
		assert.equal(formatBytes(45 * 1024 * 1024), '45.0 MB');
		assert.equal(formatPj(12.5), '12.50 pJ');
		assert.equal(formatPj(3.2e6), '3.20 µJ');
		assert.equal(formatPj(0.5), '0.50 pJ');
	});

	void it('JSON keeps number arrays on one line and stays parseable', () => {
		const value = { grid: { levels: [0, 1, 2], name: 'a' }, nested: [[1, 2], [3]] };
		const text = toJson(value);
		assert.match(text, /"levels": \[0, 1, 2\]/);
		assert.deepEqual(JSON.parse(text), value);
	});
});
