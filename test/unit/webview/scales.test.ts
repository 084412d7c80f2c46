import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { levelThresholds, linearScale, paddedRange, rangeTicks } from '../../../webview-ui/src/scales';

void describe('panel chart scales', () => {
	void it('maps a domain onto a range, also reversed (SVG y grows downwards)', () => {
		const y = linearScale(0, 64, 130, 10);
		assert.equal(y(0), 130);
		assert.equal(y(64), 10);
		assert.equal(y(32), 70);
		// A single point (one save, one epoch) sits in the middle instead of dividing by zero.
		assert.equal(linearScale(0, 0, 4, 176)(0), 90);
	});

	void it('pads the data range by 8 % and keeps values a chart must show (1× for the improvement)', () => {
		const r = paddedRange([1.5, 2.5], [1]);
		assert.equal(r.dataMin, 1);
		assert.equal(r.dataMax, 2.5);
		assert.ok(Math.abs(r.min - (1 - 0.12)) < 1e-12 && Math.abs(r.max - (2.5 + 0.12)) < 1e-12);
		// A flat accuracy curve gets ±5 % room and one tick.
		const flat = paddedRange([90, 90]);
		assert.deepEqual([flat.min, flat.max], [85.5, 94.5]);
		assert.deepEqual(rangeTicks(flat.dataMin, flat.dataMax), [90]);
		assert.deepEqual(rangeTicks(1, 3), [1, 2, 3]);
		assert.deepEqual(paddedRange([]).dataMax, 1);
	});

	void it('marks the column counts where a crossbar drops a level (n/2, n/4, … down to one weight)', () => {
		assert.deepEqual(levelThresholds(64, 8).map((t) => [t.level, t.nonZeros]), [[1, 32], [2, 16], [3, 8], [4, 4], [5, 2], [6, 1]]);
		// A partial 27-row column: only thresholds of at least one weight.
		assert.deepEqual(levelThresholds(27, 8).map((t) => t.level), [1, 2, 3, 4]);
		assert.deepEqual(levelThresholds(16, 6).map((t) => t.nonZeros), [8, 4, 2, 1]);
	});
});
