/**
 * Crossbar geometry and discrete sparsity levels as the pruning math needs them
 * (dub-method.md §1–§3, rule A17). Self-contained on purpose: src/hardware has its own
 * counting for analysis; this file only serves src/pruning.
 *
 * Layout convention everywhere in src/pruning: the reference's matrix M, row-major O × K,
 * O = output channels (crossbar columns), K = fan-in in PyTorch flatten(1) order.
 */

/** A weight matrix M (dub-method.md §1): `values[o·fanIn + κ]`, row o = output channel o. */
export interface WeightMatrix {
	readonly values: Float32Array;
	/** O: output channels, i.e. crossbar columns (bit lines). */
	readonly outChannels: number;
	/** K = C·Kh·Kw: inputs, i.e. crossbar rows (word lines). */
	readonly fanIn: number;
}

/** Crossbar size and the numbers derived from it (dub-method.md §1, §3). */
export interface TileGeometry {
	/** T: physical rows (= physical columns) of one crossbar; the reference's `--tile_size`. */
	readonly tileSize: number;
	/** q: physical columns per weight (`weight_quantization`, bit slices). */
	readonly slices: number;
	/** R = floor(T/q): output channels (logical columns) per crossbar. */
	readonly channelsPerTile: number;
	/** B = ceil(log2 T) + 2: number of sparsity bins (the reference's `ADC_res_bits`). */
	readonly bins: number;
}

/** The grid of tiles covering one matrix: `tileRows × tileCols` tiles, index a·tileCols + b. */
export interface TileGrid {
	/** ceil(O/R): groups of output channels (tile index a). */
	readonly tileRows: number;
	/** ceil(K/T): blocks of inputs (tile index b). */
	readonly tileCols: number;
	readonly count: number;
}

/** B = ceil(log2 T) + 2 from integers (REPO:c1_Hoyer_and_variance_class.py line 57). */
export function sparsityBinCount(tileSize: number): number {
	let bits = 0;
	while (2 ** bits < tileSize) {
		bits++;
	}
	return bits + 2;
}

/**
 * Geometry for crossbar size T and q slices per weight. R = floor(T/q) as the reference's
 * `int(tile_size/weight_quantization)` (it also asserts q = 1 or even; we accept any q ≤ T).
 */
export function tileGeometry(tileSize: number, slices = 1): TileGeometry {
	if (!Number.isInteger(tileSize) || tileSize < 1) {
		throw new RangeError(`Crossbar size must be a positive integer, got ${tileSize}.`);
	}
	if (!Number.isInteger(slices) || slices < 1 || slices > tileSize) {
		throw new RangeError(`Slices per weight must be an integer in 1..${tileSize}, got ${slices}.`);
	}
	return { tileSize, slices, channelsPerTile: Math.floor(tileSize / slices), bins: sparsityBinCount(tileSize) };
}

/** The tile grid of an O × K matrix, edge tiles truncated (dub-method.md §2 item 2). */
export function tileGrid(outChannels: number, fanIn: number, geometry: TileGeometry): TileGrid {
	const tileRows = Math.ceil(outChannels / geometry.channelsPerTile);
	const tileCols = Math.ceil(fanIn / geometry.tileSize);
	return { tileRows, tileCols, count: tileRows * tileCols };
}

/** Bin edges e_k = 1 − 2^−k for k = 0..B−1, then 1 (the reference's numpy-histogram `bins`). */
export function binEdges(bins: number): number[] {
	const edges: number[] = [];
	for (let k = 0; k < bins; k++) {
		edges.push(1 - 2 ** -k);
	}
	edges.push(1);
	return edges;
}

/** Level k from integer counts (rule A17): the same rule the analysis uses. */
export { levelFromCounts as sparsityLevel } from '../hardware/levels';

/** Throws a RangeError unless `matrix.values` holds exactly O·K elements. */
export function checkMatrix(matrix: WeightMatrix): void {
	const { values, outChannels, fanIn } = matrix;
	if (!Number.isInteger(outChannels) || !Number.isInteger(fanIn) || outChannels < 1 || fanIn < 1) {
		throw new RangeError(`Matrix dimensions must be positive integers, got ${outChannels} × ${fanIn}.`);
	}
	if (values.length !== outChannels * fanIn) {
		throw new RangeError(`Matrix ${outChannels} × ${fanIn} needs ${outChannels * fanIn} values, got ${values.length}.`);
	}
}
