/** In-memory image datasets: what every loader returns and the training loop reads. */

/**
 * Images (C·H·W values each, NCHW order) and their class labels. Floats are used as they are;
 * bytes (IDX images, 0..255) are scaled by 1/255 when a batch is made, which keeps a 60,000-image
 * set at a quarter of its float size in every worker.
 */
export interface ImageSet {
	readonly x: Float32Array | Uint8Array;
	readonly y: Int32Array;
	readonly count: number;
}

export interface Dataset {
	/** For messages: `digits (1797 images)`, the npz path, ... */
	readonly name: string;
	/** [C, H, W] of one image. */
	readonly shape: readonly [number, number, number];
	/** Number of classes (max label + 1). */
	readonly classes: number;
	readonly train: ImageSet;
	/** The held-out split (test accuracy is measured on it). */
	readonly test: ImageSet;
	/** Random crop (pad 4) + horizontal flip on training batches. */
	readonly augment: boolean;
	/** Per-image standardization of every batch (training and held-out). */
	readonly standardize: boolean;
}

/** Images before the split. */
export interface LabelledImages extends ImageSet {
	readonly shape: readonly [number, number, number];
}
