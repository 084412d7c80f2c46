import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adcBitsByLevel } from '../../../src/hardware/levels';
import { emptyCrossbarRgba, levelPalette, levelRgba } from '../../../src/shared/levelPalette';
import { crossbarAtFraction, fillLevelPixels, heatmapCells, packPalette } from '../../../webview-ui/src/heatmapGeometry';

void describe('crossbar heatmap (pure parts)', () => {
	void it('sizes cells to the width, flattens tall grids, never below 2 px', () => {
		assert.deepEqual(heatmapCells({ inputBlocks: 9, channelGroups: 2 }, 640), { cellWidth: 36, cellHeight: 36 });
		assert.deepEqual(heatmapCells({ inputBlocks: 72, channelGroups: 8 }, 640), { cellWidth: 36, cellHeight: 5 });
		assert.deepEqual(heatmapCells({ inputBlocks: 1000, channelGroups: 1000 }, 640), { cellWidth: 2, cellHeight: 2 });
	});

	void it('finds the crossbar under a point: rows are input blocks, columns channel groups', () => {
		const grid = { inputBlocks: 4, channelGroups: 2 };
		assert.deepEqual(crossbarAtFraction(grid, 0.1, 0.1), { block: 0, group: 0 });
		assert.deepEqual(crossbarAtFraction(grid, 0.9, 0.3), { block: 1, group: 1 });
		assert.equal(crossbarAtFraction(grid, 1, 0.5), undefined);
		assert.equal(crossbarAtFraction(grid, -0.01, 0.5), undefined);
	});

	void it('colours one pixel per crossbar by level; empty crossbars are the translucent grey', () => {
		const bits = adcBitsByLevel(16); // [4, 3, 2, 1, 0, 0]
		const palette = levelPalette(bits);
		assert.equal(palette.length, 6);
		assert.deepEqual(palette[5], emptyCrossbarRgba);
		// Level B−2 (one non-zero per column, 0 bits) is a real colour, not "empty".
		assert.equal(palette[4][3], 255);
		// Denser levels are darker (viridis runs dark → light as the bits fall).
		const lightness = (k: number) => palette[k][0] + palette[k][1] + palette[k][2];
		for (let k = 1; k < 5; k++) assert.ok(lightness(k) > lightness(k - 1), `level ${k}`);
		const packed = packPalette(palette);
		const pixels = new Uint32Array(4);
		fillLevelPixels([0, 5, 2, 9], packed, pixels);
		const bytes = new Uint8Array(pixels.buffer);
		assert.deepEqual([...bytes.subarray(0, 4)], [...levelRgba(0, bits)]);
		assert.deepEqual([...bytes.subarray(4, 8)], [...emptyCrossbarRgba]);
		assert.deepEqual([...bytes.subarray(8, 12)], [...levelRgba(2, bits)]);
		// A level past the table (a result from a larger T) falls back to "empty", never to garbage.
		assert.deepEqual([...bytes.subarray(12, 16)], [...emptyCrossbarRgba]);
	});
});
