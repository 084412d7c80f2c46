/**
 * numpy.percentile (method 'linear', the default) by selection instead of a full sort, so a
 * layer of millions of weights costs two linear passes (docs/method.md §6, §8.1, §8.2; the
 * reference calls `np.percentile` in REPO:c1_Hoyer_and_variance_class.py and c0_LBL_prune_class.py).
 * Big float32 arrays use a two-pass radix selection on their bit patterns (no copy); small ones a
 * quickselect on a scratch copy; crossbar columns (src/pruning/dub.ts) a quickselect on int keys.
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

	/** The same memory as `length` int32 keys (contents unspecified; do not use with `view` at once). */
	keys(length: number): Int32Array {
		const floats = this.view(length);
		return new Int32Array(floats.buffer, floats.byteOffset, length);
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
 * large float32 arrays go through a radix selection on their bit patterns, others through a copy.
 */
export function percentileLinear(values: ArrayLike<number>, p: number, scratch: Float32Scratch = sharedScratch): number {
	if (values instanceof Float32Array) {
		if (values.length >= radixMinLength) {
			return radixPercentile(values, p, false);
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
 * `histogram`, when given, is absKeyHistogram(values) already filled (the analysis's pass over
 * the layer fills it on the way: src/hardware/columnCounts.ts), which saves one pass.
 */
export function percentileOfAbs(values: Float32Array, p: number, scratch: Float32Scratch = sharedScratch, histogram?: Uint32Array): number {
	if (values.length >= radixMinLength || histogram !== undefined) {
		return radixPercentile(values, p, true, histogram);
	}
	const work = scratch.view(values.length);
	for (let i = 0; i < values.length; i++) {
		work[i] = Math.abs(values[i]);
	}
	return percentileInPlace(work, p, true);
}

// ---- Radix selection for big layers. A float32's bit pattern, mapped to an unsigned key whose
// order is the numeric order (|w|: the bits without the sign; signed: the sign-flip trick), is
// counted in a histogram of its top 16 bits (pass 1); the bucket holding the wanted rank is then
// counted by its low 16 bits (pass 2), which gives the exact key of that rank and of the next one.
// Two linear passes, no copy and no partial sort, whatever the ties.

const radixMinLength = 1 << 14;
/** Buckets of the top-16-bit histogram (absKeyHistogram's length). */
export const radixBuckets = 1 << 16;
let fineHistogram: Uint32Array | undefined;
let topHistogram: Uint32Array | undefined;

const keyInt = new Int32Array(1);
const keyFloat = new Float32Array(keyInt.buffer);

/** The float32 whose bits are `bits` (for |w| keys: the magnitude itself). */
export function floatOfBits(bits: number): number {
	keyInt[0] = bits;
	return keyFloat[0];
}

/** The |w| key of `value` rounded to float32 (θ and τ are compared with |w| in float32, as torch does). */
export function absKeyOf(value: number): number {
	keyFloat[0] = value;
	return keyInt[0] & 0x7fffffff;
}

/** Order-preserving unsigned key of signed float32 bits (negatives inverted, sign bit set for positives). */
function signedKey(bits: number): number {
	return (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
}

function bitsOfSignedKey(key: number): number {
	return key & 0x80000000 ? key ^ 0x80000000 : ~key;
}

/**
 * Counts the |w| keys of `values` by their top 16 bits into `into` (length radixBuckets),
 * which it zeroes first. What percentileOfAbs's first pass does, for callers that fuse it with
 * another pass over the same weights.
 */
export function absKeyHistogram(values: Float32Array, into: Uint32Array = new Uint32Array(radixBuckets)): Uint32Array {
	const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
	into.fill(0);
	for (let i = 0; i < bits.length; i++) {
		into[(bits[i] & 0x7fffffff) >>> 16]++;
	}
	return into;
}

function radixPercentile(values: Float32Array, p: number, abs: boolean, filled?: Uint32Array): number {
	const n = values.length;
	if (n === 0) {
		throw new RangeError('Percentile of an empty array.');
	}
	if (!(p >= 0 && p <= 100)) {
		throw new RangeError(`Percentile must be in [0, 100], got ${p}.`);
	}
	const bits = new Int32Array(values.buffer, values.byteOffset, n);
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

	// Pass 1 (unless the caller's pass filled it): the top 16 bits of every key.
	let histogram = filled;
	if (histogram === undefined) {
		histogram = (topHistogram ??= new Uint32Array(radixBuckets));
		histogram.fill(0);
		if (abs) {
			for (let i = 0; i < n; i++) histogram[(bits[i] & 0x7fffffff) >>> 16]++;
		} else {
			for (let i = 0; i < n; i++) histogram[signedKey(bits[i]) >>> 16]++;
		}
	}
	let bucket = 0;
	let before = 0;
	while (before + histogram[bucket] <= below) {
		before += histogram[bucket];
		bucket++;
	}

	// Pass 2: the low 16 bits of the keys in that bucket, and the smallest key of the next
	// non-empty bucket (rank below + 1 when it is not in this one). Both tests are rarely true,
	// so the branches are well predicted.
	let nextBucket = bucket + 1;
	while (nextBucket < radixBuckets && histogram[nextBucket] === 0) nextBucket++;
	const fine = (fineHistogram ??= new Uint32Array(radixBuckets));
	fine.fill(0);
	let higher = 0xffffffff;
	if (abs) {
		for (let i = 0; i < n; i++) {
			const key = bits[i] & 0x7fffffff;
			const top = key >>> 16;
			if (top === bucket) {
				fine[key & 0xffff]++;
			} else if (top === nextBucket && key < higher) {
				higher = key;
			}
		}
	} else {
		for (let i = 0; i < n; i++) {
			const key = signedKey(bits[i]);
			const top = key >>> 16;
			if (top === bucket) {
				fine[key & 0xffff]++;
			} else if (top === nextBucket && key < higher) {
				higher = key;
			}
		}
	}
	let rank = below - before;
	let low = 0;
	while (rank >= fine[low]) {
		rank -= fine[low];
		low++;
	}
	const key = ((bucket << 16) | low) >>> 0;
	let nextKey: number;
	if (rank + 1 < fine[low]) {
		nextKey = key; // rank below + 1 is a tie of rank below
	} else {
		let next = low + 1;
		while (next < radixBuckets && fine[next] === 0) next++;
		nextKey = next < radixBuckets ? ((bucket << 16) | next) >>> 0 : higher;
	}
	const toFloat = (k: number) => floatOfBits(abs ? k : bitsOfSignedKey(k));
	return numpyLerp(toFloat(key), toFloat(nextKey), gamma, true);
}

// ---- Selection on |w| keys of one crossbar column (D.U.B.'s per-column percentile, §6).

/**
 * Partially orders the int keys `a[lo..hi]` so that `a[k]` holds the value a full sort would put
 * there, everything before it ≤ and everything after it ≥ (selectNth for Int32Array keys). The
 * partition is Lomuto's without branches: whether a key goes left is data-dependent, and a
 * mispredicted branch per key cost twice the time on crossbar columns. A round that leaves
 * nothing on the left splits off the keys equal to the pivot, so runs of ties stay linear.
 */
export function selectNthKey(a: Int32Array, k: number, lo: number, hi: number): void {
	if (k < lo || k > hi) {
		throw new RangeError(`selectNthKey: k = ${k} outside ${lo}..${hi}.`);
	}
	let rounds = 2 * (32 - Math.clz32(hi - lo + 1)) + 8;
	while (hi - lo >= keyInsertionSortLimit) {
		if (rounds-- === 0) {
			a.subarray(lo, hi + 1).sort();
			return;
		}
		const x = medianOfThree(a[lo], a[(lo + hi) >>> 1], a[hi]);
		// [lo, less) < x ≤ [less, i)
		let less = lo;
		for (let i = lo; i <= hi; i++) {
			const v = a[i];
			a[i] = a[less];
			a[less] = v;
			less += +(v < x);
		}
		if (k < less) {
			hi = less - 1;
		} else if (less > lo) {
			lo = less;
		} else {
			// Nothing below the pivot: [lo, equal) = x < [equal, hi].
			let equal = lo;
			for (let i = lo; i <= hi; i++) {
				const v = a[i];
				a[i] = a[equal];
				a[equal] = v;
				equal += +(v === x);
			}
			if (k < equal) {
				return;
			}
			lo = equal;
		}
	}
	insertionSortKeys(a, lo, hi);
}

const keyInsertionSortLimit = 8;

// insertionSort's body on Int32Array only: one element type keeps this hot call site monomorphic.
function insertionSortKeys(a: Int32Array, lo: number, hi: number): void {
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
