/**
 * A small seeded PRNG (mulberry32) so splits, shuffles and augmentation are reproducible from
 * the job's seed, in every worker and after a resume.
 */
export class Rng {
	private state: number;

	constructor(seed: number) {
		this.state = (Math.imul(seed | 0, 0x9e3779b9) ^ 0x85ebca6b) >>> 0;
	}

	/** Uniform in [0, 1). */
	next(): number {
		let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	}

	/** Integer in [0, n). */
	int(n: number): number {
		return Math.floor(this.next() * n);
	}

	/** Fisher–Yates shuffle in place. */
	shuffle<T extends { length: number; [i: number]: number }>(values: T): T {
		for (let i = values.length - 1; i > 0; i--) {
			const j = this.int(i + 1);
			const t = values[i];
			values[i] = values[j];
			values[j] = t;
		}
		return values;
	}
}

/** A seed derived from a base seed and labels (phase, epoch, ...), so streams do not overlap. */
export function deriveSeed(seed: number, ...parts: number[]): number {
	let h = (seed ^ 0x2545f491) >>> 0;
	for (const p of parts) {
		h = Math.imul(h ^ (p + 0x9e3779b9 + (h << 6) + (h >>> 2)), 0x85ebca6b) >>> 0;
	}
	return h;
}
