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
import { Float32Scratch, absKeyOf, floatOfBits, numpyLerp, percentileOfAbs, selectNthKey } from './percentile';
import { crossbarGeometry, crossbarGrid } from '../hardware/geometry';
import type { CrossbarGeometry, CrossbarGrid } from '../hardware/geometry';
import { binEdges, levelFromCounts } from '../hardware/levels';
import type { WeightMatrix } from '../hardware/matrix';
import { checkMatrix } from '../hardware/matrix';

/** What pruning did to one crossbar; stored as codes in `CrossbarPruneReport.action`. */
export const CrossbarAction = {
	/** Left as it was (whole-crossbar pruning of a crossbar with a weight above θ). */
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

/** Per-crossbar facts for reports, index block·grid.channelGroups + group (src/hardware/geometry.ts). */
export interface CrossbarPruneReport {
	readonly geometry: CrossbarGeometry;
	readonly grid: CrossbarGrid;
	/** Level k from almost-zero counts (|w| ≤ θ) before pruning: the k the decision used. */
	readonly levelBefore: Uint8Array;
	/** Level k from exact zeros after pruning (what the reference's histogram then shows). */
	readonly levelAfter: Uint8Array;
	/** A CrossbarAction code per crossbar. */
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

/** PruneResult plus the per-crossbar report of a crossbar-aware prune. */
export interface CrossbarPruneResult extends PruneResult {
	readonly crossbars: CrossbarPruneReport;
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
	/**
	 * absKeyHistogram(matrix values), when a pass over the layer already filled it: the layer's
	 * percentile then needs one pass instead of two.
	 */
	readonly absHistogram?: Uint32Array;
}

/**
 * Per-column counts a crossbar-aware prune fills on the way, in the analysis's layout
 * (src/hardware/columnCounts.ts: index o·inputBlocks + block, blocks of T inputs), so that the
 * analysis after the prune and the unstructured baseline need no pass of their own.
 */
export interface PruneColumnCounts {
	/** Exact non-zeros of each column segment after the prune. */
	readonly nonZerosAfter?: Int32Array;
	/** |w| > θ in each column segment before the prune: what unstructured pruning at θ keeps. */
	readonly aboveThreshold?: Int32Array;
}

/** Crossbar geometry and the paper-mode switches of a D.U.B. prune. */
export interface DubPruneOptions extends PruneOutputOptions {
	/** T: crossbar rows. */
	readonly crossbarSize: number;
	/** q: physical columns per weight (default 1), so R = T/q output channels per crossbar. */
	readonly slices?: number;
	/**
	 * Skip crossbars that would be loosened to level 0 (q* = 0), where the reference prunes each
	 * column's smallest weight for no ADC gain (A7, `skip_q0`). Default false: reference behaviour.
	 */
	readonly skipLevel0Loosening?: boolean;
	readonly counts?: PruneColumnCounts;
}

/** How the almost-zero threshold θ is chosen: a per-layer percentile of |W| or a fixed tol. */
export type ThresholdSpec = { readonly ratio: number } | { readonly tol: number };

/**
 * How a crossbar is handled (internal), named as the prune methods (src/pruning/pruneModel.ts):
 * full D.U.B., fixed (`dub`) or tol (`dub-tol`) flavour, or whole crossbars only (`whole-crossbar`,
 * the work of method `tiles`).
 */
type CrossbarMode = 'dub' | 'dub-tol' | 'whole-crossbar';

const defaultScratch = new Float32Scratch();

/**
 * Fixed-ratio D.U.B. prune of one layer (§6, REPO:…class.py:prune_fixed_prune_ratios_based_on_tile_sparsity):
 * θ = percentile(|W|, ratio); per crossbar, forced/loosened to a power-of-two level, per column.
 */
export function pruneDubFixedRatio(matrix: WeightMatrix, ratio: number, options: DubPruneOptions): CrossbarPruneResult {
	checkMatrix(matrix);
	const threshold = percentileOfAbs(matrix.values, ratio, options.scratch ?? defaultScratch, options.absHistogram);
	return pruneCrossbars(matrix, threshold, 'dub', options);
}

/**
 * Tol variant (§6, REPO:…class.py:prune_based_on_tile_sparsity): θ = tol (default 1e-3) for
 * every layer, and a crossbar whose least-sparse column has one weight above θ is zeroed entirely.
 */
export function pruneDubTol(matrix: WeightMatrix, options: DubPruneOptions & { readonly tol?: number }): CrossbarPruneResult {
	checkMatrix(matrix);
	return pruneCrossbars(matrix, options.tol ?? 1e-3, 'dub-tol', options);
}

/**
 * D.U.B. prune at a given θ (fixed-variant handling of k = B−2), for callers that compute θ
 * themselves. `threshold` is compared in float32, like the reference.
 */
export function pruneDubAtThreshold(matrix: WeightMatrix, threshold: number, options: DubPruneOptions): CrossbarPruneResult {
	checkMatrix(matrix);
	return pruneCrossbars(matrix, threshold, 'dub', options);
}

/**
 * Whole-crossbar pruning, part S of S-DUB (§8.4, REPO:c3_SDUB_class.py): zero only the crossbars
 * whose every weight is ≤ θ (θ from `{ratio}` as §6 or a fixed `{tol}`); leave the others as they are.
 */
export function pruneWholeCrossbars(matrix: WeightMatrix, threshold: ThresholdSpec, options: DubPruneOptions): CrossbarPruneResult {
	checkMatrix(matrix);
	const theta = 'ratio' in threshold ? percentileOfAbs(matrix.values, threshold.ratio, options.scratch ?? defaultScratch, options.absHistogram) : threshold.tol;
	return pruneCrossbars(matrix, theta, 'whole-crossbar', options);
}

function pruneCrossbars(matrix: WeightMatrix, threshold: number, mode: CrossbarMode, options: DubPruneOptions): CrossbarPruneResult {
	const { values, outChannels, fanIn } = matrix;
	const geometry = crossbarGeometry(options.crossbarSize, options.slices ?? 1);
	const grid = crossbarGrid(outChannels, fanIn, geometry);
	const { crossbarSize, channelsPerCrossbar, bins } = geometry;
	const total = values.length;
	const out = outputArray(total, options.out);
	const mask = maskArray(total, options.mask);
	// Weights are handled as int keys (their bits without the sign): the order of |w| for
	// NaN-free input, compared and copied faster than floats. `out` is written whole, so reading
	// `values` while writing it works in place too (each weight is read before it is written).
	const source = new Int32Array(values.buffer, values.byteOffset, total);
	const target = new Int32Array(out.buffer, out.byteOffset, total);
	const counts = options.counts;
	const blocks = grid.inputBlocks;
	checkCounts(counts?.nonZerosAfter, outChannels * blocks);
	checkCounts(counts?.aboveThreshold, outChannels * blocks);
	// Per column of a crossbar, a slot of 2·n_b keys: those in (0, θ], then from n_b on those above θ
	// (at most twice the crossbar, or the layer when it is smaller than one crossbar).
	const half = Math.min(crossbarSize, fanIn);
	const span = 2 * half;
	const work = (options.scratch ?? defaultScratch).keys(Math.min(channelsPerCrossbar, outChannels) * span);
	const lowCounts = new Int32Array(channelsPerCrossbar);
	const highCounts = new Int32Array(channelsPerCrossbar);
	const levelBefore = new Uint8Array(grid.count);
	const levelAfter = new Uint8Array(grid.count);
	const action = new Uint8Array(grid.count);
	// torch: `tile <= threshold` with a Python float rounds the scalar to the tensor's float32.
	// A negative (or NaN) θ has no |w| at or below it: key −1.
	const theta = Math.fround(threshold);
	const thetaKey = theta >= 0 ? absKeyOf(theta) : -1;
	// Zeros are split off from the keys at or below θ (and from those above a negative θ).
	const splitKey = Math.max(thetaKey, 0);
	// Reference bin edges, as Python floats: bins = [1 − 2**−k for k in range(B)] + [1.0].
	const edges = binEdges(crossbarSize);
	let pruned = 0;
	let zeroCount = 0;

	// The reference's loop order (channel group outer); crossbars are independent, so the order
	// only matters for where the cancellation check falls.
	for (let group = 0; group < grid.channelGroups; group++) {
		throwIfAborted(options.signal);
		const o0 = group * channelsPerCrossbar;
		const o1 = Math.min(outChannels, o0 + channelsPerCrossbar);
		for (let block = 0; block < blocks; block++) {
			const k0 = block * crossbarSize;
			const n = Math.min(fanIn, k0 + crossbarSize) - k0;
			const t = block * grid.channelGroups + group;

			// Almost-zeros (|w| ≤ θ) and exact non-zeros per column; s = min_o z_o / n_b through
			// the least-sparse column (§3). The same pass copies each column's keys for its
			// percentile: sorted, a column is its zeros, its keys in (0, θ], then those above θ,
			// and the last two go to the two halves of the column's slot in `work`.
			let minZeros = n;
			let maxNonZeros = 0;
			for (let o = o0; o < o1; o++) {
				const start = o * fanIn + k0;
				const base = (o - o0) * span;
				let low = base;
				let high = base + half;
				for (let i = start; i < start + n; i++) {
					const key = source[i] & 0x7fffffff;
					const above = +(key > splitKey);
					// Both slots are free: a write that is not kept is overwritten by the next key of that part.
					work[low] = key;
					work[high] = key;
					low += +(key !== 0) & (above ^ 1);
					high += above;
				}
				const lows = low - base;
				const highs = high - base - half;
				const z = thetaKey < 0 ? 0 : n - highs;
				const nz = lows + highs;
				lowCounts[o - o0] = lows;
				highCounts[o - o0] = highs;
				if (counts?.aboveThreshold) counts.aboveThreshold[o * blocks + block] = n - z;
				if (z < minZeros) minZeros = z;
				if (nz > maxNonZeros) maxNonZeros = nz;
			}
			const lscNonZeros = n - minZeros;
			const k = levelFromCounts(lscNonZeros, n, bins);
			levelBefore[t] = k;

			let quantile = -1; // q* for the per-column percentile; −1: none
			if (k === bins - 1) {
				// Every entry ≤ θ: `tile.masked_fill_(tile <= threshold, 0)` zeroes the whole tile.
				action[t] = CrossbarAction.zeroed;
			} else if (mode === 'whole-crossbar') {
				action[t] = CrossbarAction.untouched;
			} else if (k === bins - 2) {
				if (mode === 'dub-tol') {
					// Tol variant: `tile.masked_fill_(tile >= 0, 0)`, the last weight of the LSC goes too.
					action[t] = CrossbarAction.zeroed;
				} else {
					quantile = edges[bins - 2];
					action[t] = CrossbarAction.keptOne;
				}
			} else {
				// mid = (e_k + e_{k+1})/2 = 1 − 3·2^−(k+2); s ≥ mid ⇔ N·2^(k+2) ≤ 3·n_b (exact in integers).
				if (lscNonZeros * 2 ** (k + 2) <= 3 * n) {
					quantile = edges[k + 1];
					action[t] = CrossbarAction.forced;
				} else {
					quantile = edges[k];
					action[t] = CrossbarAction.loosened;
				}
				if (quantile === 0 && options.skipLevel0Loosening) {
					quantile = -1;
					action[t] = CrossbarAction.skipped;
				}
			}

			let maxKept = 0;
			for (let o = o0; o < o1; o++) {
				const start = o * fanIn + k0;
				const end = start + n;
				const lows = lowCounts[o - o0];
				const highs = highCounts[o - o0];
				const nz = lows + highs;
				let kept: number;
				if (action[t] === CrossbarAction.zeroed) {
					target.fill(0, start, end);
					mask.fill(1, start, end);
					kept = 0;
				} else if (quantile < 0) {
					// Left as it is, −0 included.
					for (let i = start; i < end; i++) {
						const bits = source[i];
						target[i] = bits;
						mask[i] = +((bits & 0x7fffffff) === 0);
					}
					kept = nz;
				} else {
					// Per column: τ_o = np.percentile(A[o, :], 100·q*) (the reference passes bins[k]·100.0);
					// zero A ≤ τ_o, compared in float32 like torch. Branch-free: which weights go is
					// data-dependent. A pruned weight becomes +0, as masked_fill writes it.
					const tauKey = absKeyOf(columnPercentileOfAbs(work, (o - o0) * span, half, n, quantile * 100, lows, highs));
					kept = 0;
					for (let i = start; i < end; i++) {
						const bits = source[i];
						const keep = +((bits & 0x7fffffff) > tauKey);
						target[i] = bits & -keep;
						mask[i] = keep ^ 1;
						kept += keep;
					}
				}
				pruned += nz - kept;
				zeroCount += n - kept;
				if (counts?.nonZerosAfter) counts.nonZerosAfter[o * blocks + block] = kept;
				if (kept > maxKept) maxKept = kept;
			}
			levelAfter[t] = levelFromCounts(maxKept, n, bins);
		}
	}

	return {
		values: out,
		mask,
		threshold,
		prunedCount: pruned,
		zeroCount,
		crossbars: { geometry, grid, levelBefore, levelAfter, action },
	};
}

/** `out` when given (checked), else a new array. Pruning writes every element, so nothing is copied first. */
export function outputArray(total: number, out: Float32Array | undefined): Float32Array {
	if (out === undefined) {
		return new Float32Array(total);
	}
	if (out.length !== total) {
		throw new RangeError(`Output needs ${total} values, got ${out.length}.`);
	}
	return out;
}

/** `into` when given (checked), else a new mask. */
export function maskArray(total: number, into: Uint8Array | undefined): Uint8Array {
	if (into !== undefined && into.length !== total) {
		throw new RangeError(`Mask needs ${total} entries, got ${into.length}.`);
	}
	return into ?? new Uint8Array(total);
}

function checkCounts(counts: Int32Array | undefined, size: number): void {
	if (counts !== undefined && counts.length < size) {
		throw new RangeError(`Column counts need ${size} entries, got ${counts.length}.`);
	}
}

/**
 * numpy.percentile(|w| over one column, percent) for a column of `n` weights whose keys were
 * split by pruneCrossbars: sorted, the column is its n − lows − highs zeros, its `lows` keys in
 * (0, θ] (at work[base ..]), then its `highs` keys above θ (at work[base + half ..]). A selection
 * only runs over the part that holds the wanted rank, and a column whose rank falls among its
 * zeros (a sparse layer) needs none.
 */
function columnPercentileOfAbs(work: Int32Array, base: number, half: number, n: number, percent: number, lows: number, highs: number): number {
	const virtualIndex = (n - 1) * (percent / 100);
	if (virtualIndex >= n - 1) {
		// Only for n = 1 (q* < 1): the percentile is the column's largest magnitude.
		return floatOfBits(highs > 0 ? work[base + half] : lows > 0 ? work[base] : 0);
	}
	const below = Math.floor(virtualIndex);
	const zeros = n - lows - highs;
	const low = base;
	const high = base + half;
	// The keys of ranks `below` and `below + 1` (both exist: below ≤ n − 2).
	let a: number;
	let b: number;
	if (below + 1 < zeros) {
		a = b = 0;
	} else if (below < zeros) {
		a = 0;
		b = lows > 0 ? minKey(work, low, low + lows) : minKey(work, high, high + highs);
	} else if (below < zeros + lows) {
		const at = low + below - zeros;
		selectNthKey(work, at, low, low + lows - 1);
		a = work[at];
		b = at + 1 < low + lows ? minKey(work, at + 1, low + lows) : minKey(work, high, high + highs);
	} else {
		const at = high + below - zeros - lows;
		selectNthKey(work, at, high, high + highs - 1);
		a = work[at];
		b = minKey(work, at + 1, high + highs);
	}
	return numpyLerp(floatOfBits(a), floatOfBits(b), virtualIndex - below, true);
}

function minKey(work: Int32Array, from: number, to: number): number {
	let min = work[from];
	for (let i = from + 1; i < to; i++) {
		if (work[i] < min) min = work[i];
	}
	return min;
}
