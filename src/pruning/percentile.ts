/**
 * numpy.percentile (method 'linear', the default) by selection instead of a full sort, so a
 * layer of millions of weights costs a few linear passes (docs/method.md §6, §8.1, §8.2; the
 * reference calls `np.percentile` in REPO:c1_Hoyer_and_variance_class.py and c0_LBL_prune_class.py).
 * Big float32 arrays use a two-pass radix selection on their bit patterns; small ones (tile
 * columns) a quickselect on a scratch copy.
 *
 * Bit-exact with NumPy 1.22+ (`_quantile` + `_lerp`, checked against NumPy 1.24): the virtual
 * index is (n−1)·(p/100) in float64; the two neighbours are interpolated as
 * `a + d·g` (g < 0.5) or `b − d·(1−g)` (g ≥ 0.5) with d = b − a computed in the ARRAY's dtype
 * (float32 for a float32 array: NumPy subtracts two float32 scalars) and the rest in float64.
 * NaN-free input is assumed (the model readers reject NaN weights).
 */

/** A growable scratch buffer, so hot loops allocate nothing per call. */
export class Float32Scratch {
	private buffer = new Float32Array(0);

	/** A view of `length` elements (contents unspecified); grows the buffer when needed. */
	view(length: number): Float32Array {
		if (this.buffer.length < length) {
			this.buffer = new Float32Array(Math.max(length, Math.ceil(this.buffer.length * 1.5)));
		}
		return this.buffer.subarray(0, length);
	}
}

/** The module's own scratch for callers that pass none (JS is single-threaded per isolate). */
const sharedScratch = new Float32Scratch();

type NumericArray = Float32Array | Float64Array;

const insertionSortLimit = 16;

/**
 * Partially orders `a[lo..hi]` so that `a[k]` holds the value a full sort would put there,
 * everything before it is ≤ and everything after it is ≥ (C++ nth_element; Hoare partition
 * with a median-of-three pivot, which stays linear on runs of equal values such as pruned zeros;
 * falls back to a sort after too many rounds). NaN-free input assumed.
 */
export function selectNth(a: NumericArray, k: number, lo = 0, hi = a.length - 1): void {
	if (k < lo || k > hi) {
		throw new RangeError(`selectNth: k = ${k} outside ${lo}..${hi}.`);
	}
	let rounds = 2 * (32 - Math.clz32(hi - lo + 1)) + 8;
	while (hi > lo) {
		if (hi - lo < insertionSortLimit) {
			insertionSort(a, lo, hi);
			return;
		}
		if (rounds-- === 0) {
			a.subarray(lo, hi + 1).sort();
			return;
		}
		const x = medianOfThree(a[lo], a[(lo + hi) >>> 1], a[hi]);
		let i = lo;
		let j = hi;
		while (i <= j) {
			while (a[i] < x) i++;
			while (x < a[j]) j--;
			if (i <= j) {
				const t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		// Now a[lo..j] ≤ x ≤ a[i..hi], and anything strictly between j and i equals x.
		if (k <= j) {
			hi = j;
		} else if (k >= i) {
			lo = i;
		} else {
			return;
		}
	}
}

function medianOfThree(x: number, y: number, z: number): number {
	if (x < y) {
		return y < z ? y : x < z ? z : x;
	}
	return x < z ? x : y < z ? z : y;
}

function insertionSort(a: NumericArray, lo: number, hi: number): void {
	for (let i = lo + 1; i <= hi; i++) {
		const v = a[i];
		let j = i - 1;
		while (j >= lo && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

/**
 * numpy's `_lerp(a, b, g)`: `a + d·g` for g < 0.5, else `b − d·(1 − g)`, where d = b − a is
 * rounded to float32 when the source array was float32 (see the file comment).
 */
export function numpyLerp(a: number, b: number, gamma: number, float32: boolean): number {
	const d = float32 ? Math.fround(b - a) : b - a;
	return gamma >= 0.5 ? b - d * (1 - gamma) : a + d * gamma;
}

/**
 * The percentile of `work[0..n)` (which it reorders): numpy 'linear' semantics. `p` in
 * percent, as numpy's `q` argument. The workhorse behind percentileLinear.
 */
export function percentileInPlace(work: NumericArray, p: number, float32 = work instanceof Float32Array): number {
	const n = work.length;
	if (n === 0) {
		throw new RangeError('Percentile of an empty array.');
	}
	if (!(p >= 0 && p <= 100)) {
		throw new RangeError(`Percentile must be in [0, 100], got ${p}.`);
	}
	// numpy: q = p / 100; virtual index = (n − 1)·q (method 'linear', alpha = beta = 1).
	const virtualIndex = (n - 1) * (p / 100);
	if (virtualIndex >= n - 1) {
		let max = work[0];
		for (let i = 1; i < n; i++) {
			if (work[i] > max) max = work[i];
		}
		return max;
	}
	const below = Math.floor(virtualIndex);
	const gamma = virtualIndex - below;
	selectNth(work, below);
	const a = work[below];
	let b = work[below + 1];
	for (let i = below + 2; i < n; i++) {
		if (work[i] < b) b = work[i];
	}
	return numpyLerp(a, b, gamma, float32);
}

/**
 * numpy.percentile(values, p) with linear interpolation, p in percent. Never reorders `values`:
 * large float32 arrays go through a two-pass radix selection, others through a copy.
 */
export function percentileLinear(values: ArrayLike<number>, p: number, scratch: Float32Scratch = sharedScratch): number {
	if (values instanceof Float32Array) {
		if (values.length >= radixMinLength) {
			return radixPercentile(values, p, false, scratch);
		}
		const work = scratch.view(values.length);
		work.set(values);
		return percentileInPlace(work, p, true);
	}
	return percentileInPlace(Float64Array.from(values), p, false);
}

/**
 * numpy.percentile(|values|, p) for a float32 weight tensor: the reference's layer threshold
 * θ_l = np.percentile(W.abs(), p_l) (docs/method.md §6, §8.2). Returns the float64 result.
 */
export function percentileOfAbs(values: Float32Array, p: number, scratch: Float32Scratch = sharedScratch): number {
	if (values.length >= radixMinLength) {
		return radixPercentile(values, p, true, scratch);
	}
	const work = scratch.view(values.length);
	for (let i = 0; i < values.length; i++) {
		work[i] = Math.abs(values[i]);
	}
	return percentileInPlace(work, p, true);
}

// ---- Radix selection for big layers: float32 bit patterns, mapped so that unsigned order is
// numeric order, are histogrammed on their top 16 bits (pass 1); only the bucket holding the
// wanted rank is copied out and selected (pass 2). Two linear passes, no copy of the layer.

const radixMinLength = 1 << 14;
const radixBuckets = 1 << 16;
let radixHistogram: Uint32Array | undefined;

/** Order-preserving key: |w| bits for `abs`, else the sign-flip trick (negatives inverted). */
function sortKey(bits: number, abs: boolean): number {
	return abs ? bits & 0x7fffffff : (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
}

function radixPercentile(values: Float32Array, p: number, abs: boolean, scratch: Float32Scratch): number {
	const n = values.length;
	if (!(p >= 0 && p <= 100)) {
		throw new RangeError(`Percentile must be in [0, 100], got ${p}.`);
	}
	const bits = new Uint32Array(values.buffer, values.byteOffset, n);
	const virtualIndex = (n - 1) * (p / 100);
	if (virtualIndex >= n - 1) {
		let max = -Infinity;
		for (let i = 0; i < n; i++) {
			const v = abs ? Math.abs(values[i]) : values[i];
			if (v > max) max = v;
		}
		return max;
	}
	const below = Math.floor(virtualIndex);
	const gamma = virtualIndex - below;

	const histogram = (radixHistogram ??= new Uint32Array(radixBuckets));
	histogram.fill(0);
	for (let i = 0; i < n; i++) {
		histogram[sortKey(bits[i], abs) >>> 16]++;
	}
	let bucket = 0;
	let before = 0;
	while (before + histogram[bucket] <= below) {
		before += histogram[bucket];
		bucket++;
	}
	const size = histogram[bucket];
	const rank = below - before;
	const work = scratch.view(size);
	let filled = 0;
	let higherMin = Infinity; // smallest value in later buckets: rank below+1 when it leaves this one
	for (let i = 0; i < n; i++) {
		const b = sortKey(bits[i], abs) >>> 16;
		if (b === bucket) {
			work[filled++] = abs ? Math.abs(values[i]) : values[i];
		} else if (b > bucket) {
			const v = abs ? Math.abs(values[i]) : values[i];
			if (v < higherMin) higherMin = v;
		}
	}
	selectNth(work, rank);
	const a = work[rank];
	let next = higherMin;
	for (let i = rank + 1; i < size; i++) {
		if (work[i] < next) next = work[i];
	}
	return numpyLerp(a, next, gamma, true);
}
