/** Seeded random numbers for the pruning tests and benchmarks (mulberry32 + Box–Muller). */

/** A PRNG: uniform floats in [0, 1), reproducible from `seed`. */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Standard normal samples from a uniform PRNG. */
export function normalSampler(random: () => number): () => number {
	return () => {
		const u = 1 - random();
		const v = random();
		return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
	};
}

/** `count` float32 normal values with standard deviation `scale`. */
export function randomNormal(count: number, seed: number, scale = 1): Float32Array {
	const normal = normalSampler(seededRandom(seed));
	const out = new Float32Array(count);
	for (let i = 0; i < count; i++) out[i] = normal() * scale;
	return out;
}

/** `count` values with pairwise distinct magnitudes (a shuffled ramp, random signs). */
export function distinctMagnitudes(count: number, seed: number): Float32Array {
	const random = seededRandom(seed);
	const out = new Float32Array(count);
	for (let i = 0; i < count; i++) out[i] = (i + 1) / count;
	for (let i = count - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		const t = out[i];
		out[i] = out[j];
		out[j] = t;
	}
	for (let i = 0; i < count; i++) if (random() < 0.5) out[i] = -out[i];
	return out;
}

/** A random integer in [lo, hi]. */
export function randomInt(random: () => number, lo: number, hi: number): number {
	return lo + Math.floor(random() * (hi - lo + 1));
}

/**
 * NaN-free float32 values that stress selections on bit patterns: heavy ties (a few distinct
 * magnitudes), ±0, denormals, the largest finite float, ±∞, and normal values of both signs.
 */
export function awkwardFloats(count: number, seed: number): Float32Array {
	const random = seededRandom(seed);
	const normal = normalSampler(random);
	const pool = [0, -0, 1e-45, -1e-45, 3e-42, -1.1754942e-38, 1.1754942e-38, 0.25, -0.25, 3.4028235e38, Infinity, -Infinity];
	const out = new Float32Array(count);
	const mix = random();
	for (let i = 0; i < count; i++) {
		const r = random();
		out[i] = r < mix * 0.5 ? pool[Math.floor(random() * pool.length)] : r < mix ? Math.round(normal() * 4) / 4 : normal() * 10 ** (random() * 8 - 6);
	}
	return out;
}
