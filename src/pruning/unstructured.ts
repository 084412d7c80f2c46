/**
 * The unstructured per-layer magnitude baseline (docs/method.md §8.1, §8.2; REPO:c0_LBL_prune_class.py:prune_layer
 * and REPO:layer_sensitivity.py): zero every |w| ≤ percentile(|W|, p). No crossbar awareness.
 */

import type { PruneOutputOptions, PruneResult } from './dub';
import { buildMask, prepareOutput } from './dub';
import { Float32Scratch, percentileOfAbs } from './percentile';

const defaultScratch = new Float32Scratch();

/**
 * Zero |w| ≤ θ with θ = numpy.percentile(|W|, ratio) (ratio in percent), compared in float32
 * as torch does; any layout works since the rule ignores positions. Ties at θ are all pruned.
 */
export function pruneUnstructured(values: Float32Array, ratio: number, options: PruneOutputOptions = {}): PruneResult {
	if (values.length === 0) {
		throw new RangeError('Cannot prune an empty tensor.');
	}
	return pruneBelowThreshold(values, percentileOfAbs(values, ratio, options.scratch ?? defaultScratch), options);
}

/**
 * Zero |w| ≤ threshold (compared in float32). pruneUnstructured with a known θ: the baseline
 * next to a fixed-ratio D.U.B. prune reuses that prune's layer threshold (same ratio, same θ).
 */
export function pruneBelowThreshold(values: Float32Array, threshold: number, options: PruneOutputOptions = {}): PruneResult {
	const out = prepareOutput(values, options.out);
	const theta = Math.fround(threshold);
	let pruned = 0;
	for (let i = 0; i < out.length; i++) {
		// Branch-free (the outcome is data-dependent); `+ 0` writes +0 as masked_fill does.
		const w = out[i];
		const keep = +(Math.abs(w) > theta);
		pruned += (1 - keep) & +(w !== 0);
		out[i] = w * keep + 0;
	}
	const { mask, zeroCount } = buildMask(out, out.length, options.mask);
	return { values: out, mask, threshold, prunedCount: pruned, zeroCount };
}
