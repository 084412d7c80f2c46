/**
 * Post-training D.U.B. pruning of one layer (docs/method.md §6) and whole-crossbar pruning
 * (part S of S-DUB, §8.4), on the reference's matrix M.
 *
 * Reproduces REPO:c1_Hoyer_and_variance_class.py:prune_fixed_prune_ratios_based_on_tile_sparsity
 * (fixed-ratio variant, all headline results), :prune_based_on_tile_sparsity (tol variant) and
 * REPO:c3_SDUB_class.py:prune_fixed_prune_ratios_based_on_tile_sparsity (part S), including:
 *  - thresholds from numpy's linear percentile (percentile.ts), compared in float32: the
 *    reference compares a float32 torch tensor with a Python float, which torch rounds to float32;
 *  - levels from integer counts (A17), identical to its float32 fraction + np.histogram;
 *  - `≤` everywhere, so ties at a threshold are all pruned (§6.1).
 */

import { throwIfAborted } from '../core/errors';
import { Float32Scratch, numpyLerp, percentileOfAbs, selectNth } from './percentile';
import { crossbarGeometry, crossbarGrid } from '../hardware/geometry';
import type { CrossbarGeometry, CrossbarGrid } from '../hardware/geometry';
import { binEdges, levelFromCounts } from '../hardware/levels';
import type { WeightMatrix } from './weightMatrix';
import { checkMatrix } from './weightMatrix';

/** What pruning did to one tile; stored as codes in `TilePruneReport.action`. */
export const TileAction = {
	/** Left as it was (whole-tile pruning of a tile with a weight above θ). */
	untouched: 0,
	/** Every entry set to 0: k = B−1 (all ≤ θ), or the tol variant's k = B−2. */
	zeroed: 1,
	/** Fixed variant, k = B−2: each column keeps only its largest magnitude (q* = e_{B−2}). */
	keptOne: 2,
	/** s ≥ mid(e_k, e_{k+1}): pruned to the next level, even weights above θ (q* = e_{k+1}). */
	forced: 3,
	/** s < mid: pruned back to the current level, some almost-zeros survive (q* = e_k). */
	loosened: 4,
	/** Loosened to level 0 but skipped (`skipLevel0Loosening`); the reference prunes each column's minimum. */
	skipped: 5,
} as const;

/** One of the TileAction codes. */
export type TileActionCode = (typeof TileAction)[keyof typeof TileAction];

/** Per-crossbar facts for reports, index block·grid.channelGroups + group (src/hardware/geometry.ts). */
export interface TilePruneReport {
	readonly geometry: CrossbarGeometry;
	readonly grid: CrossbarGrid;
	/** Level k from almost-zero counts (|w| ≤ θ) before pruning: the k the decision used. */
	readonly levelBefore: Uint8Array;
	/** Level k from exact zeros after pruning (what the reference's histogram then shows). */
	readonly levelAfter: Uint8Array;
	/** A TileAction code per tile. */
	readonly action: Uint8Array;
}

/** Result of pruning one matrix. */
export interface PruneResult {
	/** The pruned matrix (the `out` option when given, which may be the input itself). */
	readonly values: Float32Array;
	/** 1 where the result is 0, pre-existing exact zeros included (reference: masks = (W == 0)). */
	readonly mask: Uint8Array;
	/** θ as numpy computes it (float64); comparisons use Math.fround(θ), as torch does. */
	readonly threshold: number;
	/** Entries that were non-zero and are now 0. */
	readonly prunedCount: number;
	/** Entries that are 0 in the result (= the mask's population). */
	readonly zeroCount: number;
}

/** PruneResult plus the per-tile report of a crossbar-aware prune. */
export interface TilePruneResult extends PruneResult {
	readonly tiles: TilePruneReport;
}

/** Where results go and what may be reused; all optional. */
export interface PruneOutputOptions {
	/** Receives the pruned values (length O·K); may be `matrix.values` for in-place pruning. */
	readonly out?: Float32Array;
	/** Receives the mask (length O·K). */
	readonly mask?: Uint8Array;
	/** Reused scratch for the percentiles. */
	readonly scratch?: Float32Scratch;
	readonly signal?: AbortSignal;
}

/** Crossbar geometry and the paper-mode switches of a D.U.B. prune. */
export interface DubPruneOptions extends PruneOutputOptions {
	/** T: crossbar rows. */
	readonly crossbarSize: number;
	/** q: physical columns per weight (default 1), so R = T/q output channels per crossbar. */
	readonly slices?: number;
	/**
	 * Skip tiles that would be loosened to level 0 (q* = 0), where the reference prunes each
	 * column's smallest weight for no ADC gain (A7, `skip_q0`). Default false: reference behaviour.
	 */
	readonly skipLevel0Loosening?: boolean;
}

/** How the almost-zero threshold θ is chosen: a per-layer percentile of |W| or a fixed tol. */
export type ThresholdSpec = { readonly ratio: number } | { readonly tol: number };

/** How a tile is handled (internal): full D.U.B. (fixed or tol flavour) or whole-tile only. */
type TileMode = 'dub-fixed' | 'dub-tol' | 'whole-tile';

const defaultScratch = new Float32Scratch();

/**
 * Fixed-ratio D.U.B. prune of one layer (§6, REPO:…class.py:prune_fixed_prune_ratios_based_on_tile_sparsity):
 * θ = percentile(|W|, ratio); per tile, forced/loosened to a power-of-two level, per column.
 */
export function pruneDubFixedRatio(matrix: WeightMatrix, ratio: number, options: DubPruneOptions): TilePruneResult {
	checkMatrix(matrix);
	const threshold = percentileOfAbs(matrix.values, ratio, options.scratch ?? defaultScratch);
	return pruneTiles(matrix, threshold, 'dub-fixed', options);
}

/**
 * Tol variant (§6, REPO:…class.py:prune_based_on_tile_sparsity): θ = tol (default 1e-3) for
 * every layer, and a tile whose least-sparse column has one weight above θ is zeroed entirely.
 */
export function pruneDubTol(matrix: WeightMatrix, options: DubPruneOptions & { readonly tol?: number }): TilePruneResult {
	checkMatrix(matrix);
	return pruneTiles(matrix, options.tol ?? 1e-3, 'dub-tol', options);
}

/**
 * D.U.B. prune at a given θ (fixed-variant handling of k = B−2), for callers that compute θ
 * themselves. `threshold` is compared in float32, like the reference.
 */
export function pruneDubAtThreshold(matrix: WeightMatrix, threshold: number, options: DubPruneOptions): TilePruneResult {
	checkMatrix(matrix);
	return pruneTiles(matrix, threshold, 'dub-fixed', options);
}

/**
 * Whole-crossbar pruning, part S of S-DUB (§8.4, REPO:c3_SDUB_class.py): zero only the tiles
 * whose every weight is ≤ θ (θ from `{ratio}` as §6 or a fixed `{tol}`); leave the others as they are.
 */
export function pruneWholeTiles(matrix: WeightMatrix, threshold: ThresholdSpec, options: DubPruneOptions): TilePruneResult {
	checkMatrix(matrix);
	const theta = 'ratio' in threshold ? percentileOfAbs(matrix.values, threshold.ratio, options.scratch ?? defaultScratch) : threshold.tol;
	return pruneTiles(matrix, theta, 'whole-tile', options);
}

function pruneTiles(matrix: WeightMatrix, threshold: number, mode: TileMode, options: DubPruneOptions): TilePruneResult {
	const { values, outChannels, fanIn } = matrix;
	const geometry = crossbarGeometry(options.crossbarSize, options.slices ?? 1);
	const grid = crossbarGrid(outChannels, fanIn, geometry);
	const { crossbarSize, channelsPerCrossbar, bins } = geometry;
	const total = values.length;
	const out = prepareOutput(values, options.out);
	// One column's worth of scratch for every per-column percentile (no allocation per column).
	const column = (options.scratch ?? defaultScratch).view(crossbarSize);
	const levelBefore = new Uint8Array(grid.count);
	const levelAfter = new Uint8Array(grid.count);
	const action = new Uint8Array(grid.count);
	// torch: `tile <= threshold` with a Python float rounds the scalar to the tensor's float32.
	const theta = Math.fround(threshold);
	// Reference bin edges, as Python floats: bins = [1 − 2**−k for k in range(B)] + [1.0].
	const edges = binEdges(crossbarSize);
	let pruned = 0;

	// The reference's loop order (channel group outer); crossbars are independent, so the order
	// only matters for where the cancellation check falls.
	for (let group = 0; group < grid.channelGroups; group++) {
		throwIfAborted(options.signal);
		const o0 = group * channelsPerCrossbar;
		const o1 = Math.min(outChannels, o0 + channelsPerCrossbar);
		for (let block = 0; block < grid.inputBlocks; block++) {
			const k0 = block * crossbarSize;
			const k1 = Math.min(fanIn, k0 + crossbarSize);
			const n = k1 - k0;
			const t = block * grid.channelGroups + group;

			// Almost-zeros per column; s = min_o z_o / n_b through the least-sparse column (§3).
			// The same pass counts exact non-zeros, for the level of a tile left as it is.
			let minZeros = n;
			let maxNonZeros = 0;
			for (let o = o0; o < o1; o++) {
				const row = o * fanIn;
				let z = 0;
				let nz = 0;
				for (let i = row + k0; i < row + k1; i++) {
					const m = Math.abs(out[i]);
					z += +(m <= theta);
					nz += +(m !== 0);
				}
				if (z < minZeros) minZeros = z;
				if (nz > maxNonZeros) maxNonZeros = nz;
			}
			const lscNonZeros = n - minZeros;
			const k = levelFromCounts(lscNonZeros, n, bins);
			levelBefore[t] = k;

			let quantile = -1; // q* for the per-column percentile; −1: none
			if (k === bins - 1) {
				// Every entry ≤ θ: `tile.masked_fill_(tile <= threshold, 0)` zeroes the whole tile.
				pruned += zeroTile(out, fanIn, o0, o1, k0, k1);
				action[t] = TileAction.zeroed;
			} else if (mode === 'whole-tile') {
				action[t] = TileAction.untouched;
			} else if (k === bins - 2) {
				if (mode === 'dub-tol') {
					// Tol variant: `tile.masked_fill_(tile >= 0, 0)`, the last weight of the LSC goes too.
					pruned += zeroTile(out, fanIn, o0, o1, k0, k1);
					action[t] = TileAction.zeroed;
				} else {
					quantile = edges[bins - 2];
					action[t] = TileAction.keptOne;
				}
			} else {
				// mid = (e_k + e_{k+1})/2 = 1 − 3·2^−(k+2); s ≥ mid ⇔ N·2^(k+2) ≤ 3·n_b (exact in integers).
				if (lscNonZeros * 2 ** (k + 2) <= 3 * n) {
					quantile = edges[k + 1];
					action[t] = TileAction.forced;
				} else {
					quantile = edges[k];
					action[t] = TileAction.loosened;
				}
				if (quantile === 0 && options.skipLevel0Loosening) {
					quantile = -1;
					action[t] = TileAction.skipped;
				}
			}

			if (action[t] === TileAction.zeroed) {
				levelAfter[t] = bins - 1;
			} else if (quantile < 0) {
				levelAfter[t] = levelFromCounts(maxNonZeros, n, bins);
			} else {
				// Per column: τ_o = np.percentile(A[o, :], 100·q*) (the reference passes bins[k]·100.0);
				// zero A ≤ τ_o, compared in float32 like torch.
				const percent = quantile * 100;
				let maxKept = 0;
				for (let o = o0; o < o1; o++) {
					const start = o * fanIn + k0;
					const tau = Math.fround(columnPercentileOfAbs(out, start, n, percent, column));
					let kept = 0;
					// Branch-free: which weights go is data-dependent, a branch would mispredict often.
					// `w·keep + 0` writes +0 for pruned entries, as masked_fill does.
					for (let i = start; i < start + n; i++) {
						const w = out[i];
						const keep = +(Math.abs(w) > tau);
						pruned += (1 - keep) & +(w !== 0);
						kept += keep;
						out[i] = w * keep + 0;
					}
					if (kept > maxKept) maxKept = kept;
				}
				levelAfter[t] = levelFromCounts(maxKept, n, bins);
			}
		}
	}

	const { mask, zeroCount } = buildMask(out, total, options.mask);
	return {
		values: out,
		mask,
		threshold,
		prunedCount: pruned,
		zeroCount,
		tiles: { geometry, grid, levelBefore, levelAfter, action },
	};
}

/** Copies `values` into `out` (or a new array) unless pruning in place. */
export function prepareOutput(values: Float32Array, out: Float32Array | undefined): Float32Array {
	if (out === undefined) {
		return Float32Array.from(values);
	}
	if (out.length !== values.length) {
		throw new RangeError(`Output needs ${values.length} values, got ${out.length}.`);
	}
	if (out !== values) {
		out.set(values);
	}
	return out;
}

/** mask[i] = (values[i] == 0), into `into` when given; counts the zeros. */
export function buildMask(values: Float32Array, total: number, into?: Uint8Array): { mask: Uint8Array; zeroCount: number } {
	if (into !== undefined && into.length !== total) {
		throw new RangeError(`Mask needs ${total} entries, got ${into.length}.`);
	}
	const mask = into ?? new Uint8Array(total);
	let zeroCount = 0;
	for (let i = 0; i < total; i++) {
		const z = +(values[i] === 0);
		mask[i] = z;
		zeroCount += z;
	}
	return { mask, zeroCount };
}

function zeroTile(out: Float32Array, fanIn: number, o0: number, o1: number, k0: number, k1: number): number {
	let pruned = 0;
	for (let o = o0; o < o1; o++) {
		const row = o * fanIn;
		for (let i = row + k0; i < row + k1; i++) {
			if (out[i] !== 0) pruned++;
			out[i] = 0;
		}
	}
	return pruned;
}

/**
 * numpy.percentile(|values[start, start+n)|, percent) without touching `values`. The two ends
 * that D.U.B. uses most (q* = 0: the two smallest; q* = e_{B−2}: the two largest) are single
 * scans; other ranks go through a copy and a selection.
 */
function columnPercentileOfAbs(values: Float32Array, start: number, n: number, percent: number, work: Float32Array): number {
	const end = start + n;
	const virtualIndex = (n - 1) * (percent / 100);
	const below = Math.floor(virtualIndex);
	if (below === 0 && n > 1) {
		let smallest = Infinity;
		let second = Infinity;
		for (let i = start; i < end; i++) {
			const m = Math.abs(values[i]);
			if (m < smallest) {
				second = smallest;
				smallest = m;
			} else if (m < second) {
				second = m;
			}
		}
		return numpyLerp(smallest, second, virtualIndex, true);
	}
	if (below === n - 2) {
		let largest = -Infinity;
		let second = -Infinity;
		for (let i = start; i < end; i++) {
			const m = Math.abs(values[i]);
			if (m > largest) {
				second = largest;
				largest = m;
			} else if (m > second) {
				second = m;
			}
		}
		return numpyLerp(second, largest, virtualIndex - below, true);
	}
	if (virtualIndex >= n - 1) {
		let largest = 0;
		for (let i = start; i < end; i++) largest = Math.max(largest, Math.abs(values[i]));
		return largest;
	}
	// `work` has room for a whole column (≥ n); indices past n are ignored.
	for (let i = 0; i < n; i++) work[i] = Math.abs(values[start + i]);
	selectNth(work, below, 0, n - 1);
	let next = work[below + 1];
	for (let i = below + 2; i < n; i++) {
		if (work[i] < next) next = work[i];
	}
	return numpyLerp(work[below], next, virtualIndex - below, true);
}
