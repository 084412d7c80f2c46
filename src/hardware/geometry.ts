/**
 * Crossbar geometry (docs/method.md §1, §2): how a weight matrix M (O output channels × K
 * inputs) is cut into crossbars of T rows. The analysis, the pruning and the regularizer all
 * use this one description, with one orientation: a layer's crossbars form a grid of
 * `inputBlocks` (blocks of T inputs, stacked vertically) × `channelGroups` (groups of R output
 * channels side by side), and every per-crossbar array is indexed `block · channelGroups + group`.
 */

import { sparsityBins } from './levels';

/** Crossbar size and the numbers that follow from it. */
export interface CrossbarGeometry {
	/** T: physical rows (word lines, one per input) = physical columns (bit lines) of one crossbar. */
	readonly crossbarSize: number;
	/** q: physical columns per weight (bit slices). */
	readonly slices: number;
	/** R = ⌊T/q⌋: output channels (logical columns) per crossbar (the reference's `int(tile_size/weight_quantization)`). */
	readonly channelsPerCrossbar: number;
	/** B = ⌈log2 T⌉ + 2: number of sparsity levels (docs/method.md §3). */
	readonly bins: number;
}

/** The crossbars covering one matrix, edge crossbars truncated (docs/method.md §2.2). */
export interface CrossbarGrid {
	/** ⌈K/T⌉: blocks of T inputs. */
	readonly inputBlocks: number;
	/** ⌈O/R⌉: groups of R output channels. */
	readonly channelGroups: number;
	/** inputBlocks · channelGroups. */
	readonly count: number;
}

/**
 * Geometry for crossbar size T and q slices per weight. The hardware profile only admits powers
 * of two with q dividing T; the pruning math accepts any T ≥ 1 and q ≤ T, as the reference does.
 */
export function crossbarGeometry(crossbarSize: number, slices = 1): CrossbarGeometry {
	if (!Number.isInteger(crossbarSize) || crossbarSize < 1) {
		throw new RangeError(`Crossbar size must be a positive integer, got ${crossbarSize}.`);
	}
	if (!Number.isInteger(slices) || slices < 1 || slices > crossbarSize) {
		throw new RangeError(`Slices per weight must be an integer in 1..${crossbarSize}, got ${slices}.`);
	}
	return { crossbarSize, slices, channelsPerCrossbar: Math.floor(crossbarSize / slices), bins: sparsityBins(crossbarSize) };
}

/** The crossbar grid of an O × K matrix. */
export function crossbarGrid(outChannels: number, fanIn: number, geometry: CrossbarGeometry): CrossbarGrid {
	const inputBlocks = Math.ceil(fanIn / geometry.crossbarSize);
	const channelGroups = Math.ceil(outChannels / geometry.channelsPerCrossbar);
	return { inputBlocks, channelGroups, count: inputBlocks * channelGroups };
}

/** n_b: the length of the columns of the crossbars in input block `block` (T, or less at the last block). */
export function blockLength(fanIn: number, crossbarSize: number, block: number): number {
	return Math.min(crossbarSize, fanIn - block * crossbarSize);
}
