/**
 * The weight matrix the pruning math works on. Layout convention everywhere in src/pruning: the
 * reference's matrix M (docs/method.md §1), row-major O × K, O = output channels (crossbar
 * columns), K = fan-in in PyTorch flatten(1) order. Crossbar geometry and levels come from
 * src/hardware (geometry.ts, levels.ts), the same code the analysis uses.
 */

/** A weight matrix M: `values[o·fanIn + κ]`, row o = output channel o. */
export interface WeightMatrix {
	readonly values: Float32Array;
	/** O: output channels, i.e. crossbar columns (bit lines). */
	readonly outChannels: number;
	/** K = C·Kh·Kw: inputs, i.e. crossbar rows (word lines). */
	readonly fanIn: number;
}

/** Throws a RangeError unless `matrix.values` holds exactly O·K elements. */
export function checkMatrix(matrix: WeightMatrix): void {
	const { values, outChannels, fanIn } = matrix;
	if (!Number.isInteger(outChannels) || !Number.isInteger(fanIn) || outChannels < 1 || fanIn < 1) {
		throw new RangeError(`Matrix dimensions must be positive integers, got ${outChannels} × ${fanIn}.`);
	}
	if (values.length !== outChannels * fanIn) {
		throw new RangeError(`Matrix ${outChannels} × ${fanIn} needs ${outChannels * fanIn} values, got ${values.length}.`);
	}
}
