/**
 * The unstructured per-layer magnitude baseline (docs/method.md §8.1, §8.2; REPO:c0_LBL_prune_class.py:prune_layer
 * and REPO:layer_sensitivity.py): zero every |w| ≤ percentile(|W|, p). No crossbar awareness.
 */

import type { PruneOutputOptions, PruneResult } from './dub';
import { maskArray, outputArray } from './dub';
import { Float32Scratch, absKeyOf, percentileOfAbs } from './percentile';

const defaultScratch = new Float32Scratch();

/**
 * Zero |w| ≤ θ with θ = numpy.percentile(|W|, ratio) (ratio in percent), compared in float32
 * as torch does; any layout works since the rule ignores positions. Ties at θ are all pruned.
 */
export function pruneUnstructured(values: Float32Array, ratio: number, options: PruneOutputOptions = {}): PruneResult {
	if (values.length === 0) {
		throw new RangeError('Cannot prune an empty tensor.');
	}
	return pruneBelowThreshold(values, percentileOfAbs(values, ratio, options.scratch ?? defaultScratch, options.absHistogram), options);
}

/**
 * Zero |w| ≤ threshold (compared in float32). pruneUnstructured with a known θ: the baseline
 * next to a fixed-ratio D.U.B. prune reuses that prune's layer threshold (same ratio, same θ).
 */
export function pruneBelowThreshold(values: Float32Array, threshold: number, options: PruneOutputOptions = {}): PruneResult {
	const total = values.length;
	const out = outputArray(total, options.out);
	const mask = maskArray(total, options.mask);
	// |w| as int keys (the bits without the sign). A negative θ prunes only zeros (they become +0),
	// a NaN θ everything (no |w| > NaN), as the float comparison would.
	const theta = Math.fround(threshold);
	const thetaKey = theta >= 0 ? absKeyOf(theta) : theta < 0 ? 0 : 0x7fffffff;
	const source = new Int32Array(values.buffer, values.byteOffset, total);
	const target = new Int32Array(out.buffer, out.byteOffset, total);
	let nonZeros = 0;
	let kept = 0;
	for (let i = 0; i < total; i++) {
		// Branch-free (the outcome is data-dependent); a pruned weight becomes +0, as masked_fill writes it.
		const bits = source[i];
		const key = bits & 0x7fffffff;
		const keep = +(key > thetaKey);
		target[i] = bits & -keep;
		mask[i] = keep ^ 1;
		kept += keep;
		nonZeros += +(key !== 0);
	}
	return { values: out, mask, threshold, prunedCount: nonZeros - kept, zeroCount: total - kept };
}
