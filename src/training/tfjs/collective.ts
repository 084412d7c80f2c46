/**
 * Gradient exchange between data-parallel worker threads: a sum over workers through one
 * SharedArrayBuffer and an Atomics barrier. Every worker adds the slots in rank order, so all
 * of them get bit-identical sums and stay in lockstep without sending weights around.
 */

/** Sums buffers across the workers of one job. */
export interface Collective {
	readonly rank: number;
	readonly size: number;
	/** Replaces `values` by the element-wise sum over all workers (identical on every worker). */
	allReduceSum(values: Float32Array): void;
	/** Tells the other workers to give up (they throw from their next barrier). */
	abort(): void;
}

/** One worker: nothing to exchange. */
export class LocalCollective implements Collective {
	readonly rank = 0;
	readonly size = 1;
	allReduceSum(): void {}
	abort(): void {}
}

// Control words (Int32): arrival count, barrier generation, abort flag.
const controlBytes = 64;
const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;

/** Floats per worker slot (16 MB each): bigger buffers go through in chunks. */
export const defaultSlotFloats = 4 * 1024 * 1024;

/** The shared buffer for `size` workers (the engine creates it and hands it to each worker). */
export function createSharedBuffer(size: number, slotFloats = defaultSlotFloats): SharedArrayBuffer {
	return new SharedArrayBuffer(controlBytes + size * slotFloats * 4);
}

/** Marks the shared buffer aborted (the engine does this when a worker dies). */
export function abortSharedBuffer(buffer: SharedArrayBuffer): void {
	const control = new Int32Array(buffer, 0, controlBytes / 4);
	Atomics.store(control, ABORT, 1);
	Atomics.add(control, GENERATION, 1);
	Atomics.notify(control, GENERATION);
}

export class SharedMemoryCollective implements Collective {
	private readonly control: Int32Array;
	private readonly slots: Float32Array[];
	private readonly slotFloats: number;

	constructor(buffer: SharedArrayBuffer, readonly rank: number, readonly size: number, private readonly waitMs = 250) {
		this.control = new Int32Array(buffer, 0, controlBytes / 4);
		this.slotFloats = (buffer.byteLength - controlBytes) / 4 / size;
		if (!Number.isInteger(this.slotFloats) || this.slotFloats < 1) {
			throw new Error(`The shared buffer of ${buffer.byteLength} bytes does not hold ${size} slots.`);
		}
		this.slots = Array.from({ length: size }, (_, r) => new Float32Array(buffer, controlBytes + r * this.slotFloats * 4, this.slotFloats));
	}

	allReduceSum(values: Float32Array): void {
		for (let start = 0; start < values.length; start += this.slotFloats) {
			const chunk = values.subarray(start, Math.min(values.length, start + this.slotFloats));
			this.slots[this.rank].set(chunk);
			this.barrier();
			const n = chunk.length;
			chunk.set(this.slots[0].subarray(0, n));
			for (let r = 1; r < this.size; r++) {
				const slot = this.slots[r];
				for (let i = 0; i < n; i++) chunk[i] += slot[i];
			}
			// Nobody may overwrite a slot before every worker has read all of them.
			this.barrier();
		}
	}

	abort(): void {
		Atomics.store(this.control, ABORT, 1);
		Atomics.add(this.control, GENERATION, 1);
		Atomics.notify(this.control, GENERATION);
	}

	private barrier(): void {
		const control = this.control;
		const generation = Atomics.load(control, GENERATION);
		this.checkAbort();
		if (Atomics.add(control, COUNT, 1) === this.size - 1) {
			Atomics.store(control, COUNT, 0);
			Atomics.add(control, GENERATION, 1);
			Atomics.notify(control, GENERATION);
			return;
		}
		while (Atomics.load(control, GENERATION) === generation) {
			Atomics.wait(control, GENERATION, generation, this.waitMs);
			this.checkAbort();
		}
		this.checkAbort();
	}

	private checkAbort(): void {
		if (Atomics.load(this.control, ABORT) !== 0) {
			throw new Error('Another training worker stopped; this one stops too.');
		}
	}
}
