/**
 * Discrete sparsity levels and ADC resolution of one crossbar (docs/method.md §3, §5.2, rule
 * A17): the one home of the level rule, used by the analysis, the pruning and the trainers.
 * Everything works on integer counts, never on float fractions, so bin edges cannot be missed
 * by rounding.
 */

/** log2 of a power of two. */
export function log2Int(n: number): number {
	return 31 - Math.clz32(n);
}

/** B, the number of sparsity levels: ⌈log2 T⌉ + 2 (the reference's `ADC_res_bits`), from integers. */
export function sparsityBins(crossbarSize: number): number {
	let bits = 0;
	while (2 ** bits < crossbarSize) {
		bits++;
	}
	return bits + 2;
}

/** Bin edges e_k = 1 − 2^−k for k = 0..B−1, then 1 (the numpy-histogram edges of the reference). */
export function binEdges(crossbarSize: number): number[] {
	const bins = sparsityBins(crossbarSize);
	return [...Array.from({ length: bins }, (_, k) => 1 - 2 ** -k), 1];
}

/**
 * Level k of a crossbar whose least-sparse column has `lscNonZeros` non-zeros out of
 * `columnLength` rows (rule A17): B−1 for an empty crossbar, else the largest k ≤ B−2 with
 * N·2^k ≤ n (N ≤ n: a column has no more non-zeros than rows).
 */
export function levelFromCounts(lscNonZeros: number, columnLength: number, bins: number): number {
	if (lscNonZeros === 0) {
		return bins - 1;
	}
	// The largest k with N·2^k ≤ n is the gap between their highest set bits, or one less.
	let k = Math.clz32(lscNonZeros) - Math.clz32(columnLength);
	if (k > 0 && lscNonZeros * 2 ** k > columnLength) {
		k--;
	}
	return Math.min(Math.max(k, 0), bins - 2);
}

/**
 * ADC bits a crossbar at level k needs (model 5.2): log2 T − k, and 0 for a least-sparse
 * column with one non-zero (k = B−2) or none (k = B−1).
 */
export function adcBitsForLevel(level: number, crossbarSize: number): number {
	const bins = sparsityBins(crossbarSize);
	return level >= bins - 1 ? 0 : Math.max(log2Int(crossbarSize) - level, 0);
}

/** ADC bits of every level k = 0..B−1 (what views print next to a level). */
export function adcBitsByLevel(crossbarSize: number): number[] {
	return Array.from({ length: sparsityBins(crossbarSize) }, (_, k) => adcBitsForLevel(k, crossbarSize));
}
