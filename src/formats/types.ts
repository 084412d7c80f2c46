import type { FormatId, ModelGraph } from '../core/model';
import type { ByteSource } from './byteSource';

/** Options every reader honours. */
export interface OpenOptions {
	signal?: AbortSignal;
	/**
	 * Input size `[C, H, W]` the user gave (`--input-size 3x32x32`), for formats that hold the
	 * graph (ONNX, TF.js, Keras) so that each conv's output size, and so how often each crossbar
	 * fires, can be worked out.
	 */
	inputSize?: readonly number[];
}

/** One reader per format: a cheap sniff and a lazy open (Netron's match/open). */
export interface FormatReader {
	readonly id: FormatId;
	/** Cheap check on the file name and first bytes (up to 4 KiB). Never throws. */
	sniff(name: string, head: Uint8Array): boolean;
	/**
	 * Decodes the structure and tensor metadata; tensor payloads stay lazy. Failures are
	 * ModelFormatErrors naming `source.name`. The graph owns `source` and closes it.
	 */
	open(source: ByteSource, options: OpenOptions): Promise<ModelGraph>;
}
