/**
 * The numeric side of the crossbar heatmap, without DOM (unit-tested in test/unit/webview): cell
 * sizes for a grid, which crossbar a point falls on, and the one-pass level → pixel fill.
 * Rows are input blocks, columns channel groups, as everywhere (src/hardware/geometry.ts).
 */
import type { CrossbarGridDto } from '../../src/shared/analysis';
import { levelPaletteIndex } from '../../src/shared/levelPalette';
import type { Rgba } from '../../src/shared/levelPalette';

/** A crossbar of the grid: its input block (heatmap row) and channel group (heatmap column). */
export interface CrossbarRef {
	readonly block: number;
	readonly group: number;
}

const maxCell = 36;
const minCell = 2;
const maxHeight = 420;

/** Cell sizes (CSS px) for the available width: tall grids get flatter cells, never below 2 px. */
export function heatmapCells(grid: Pick<CrossbarGridDto, 'inputBlocks' | 'channelGroups'>, availableWidth: number): { cellWidth: number; cellHeight: number } {
	const cellWidth = Math.max(minCell, Math.min(maxCell, Math.floor(Math.max(availableWidth, 60) / grid.channelGroups)));
	const cellHeight = Math.max(minCell, Math.min(cellWidth, Math.floor(maxHeight / grid.inputBlocks)));
	return { cellWidth, cellHeight };
}

/** The crossbar at a point given as fractions (0..1) of the drawn grid's width and height, if any. */
export function crossbarAtFraction(grid: Pick<CrossbarGridDto, 'inputBlocks' | 'channelGroups'>, fx: number, fy: number): CrossbarRef | undefined {
	const group = Math.floor(fx * grid.channelGroups);
	const block = Math.floor(fy * grid.inputBlocks);
	return block >= 0 && group >= 0 && block < grid.inputBlocks && group < grid.channelGroups ? { block, group } : undefined;
}

/** Little-endian RGBA packed as one Uint32 per pixel. */
export function packPalette(palette: readonly Rgba[]): Uint32Array {
	const bytes = new Uint8ClampedArray(palette.length * 4);
	palette.forEach((rgba, k) => bytes.set(rgba, k * 4));
	return new Uint32Array(bytes.buffer);
}

/** One pixel per crossbar, row-major as the grid's levels; a level past the palette takes its last (empty) colour. */
export function fillLevelPixels(levels: readonly number[], packedPalette: Uint32Array, pixels: Uint32Array): void {
	const size = packedPalette.length;
	for (let i = 0; i < levels.length; i++) {
		pixels[i] = packedPalette[levelPaletteIndex(levels[i], size)];
	}
}
