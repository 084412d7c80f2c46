/**
 * The format-neutral model graph: what every reader in src/formats produces and what
 * src/hardware analyses. Tensor bytes stay on disk until `load()` is called, one tensor at a time.
 */

export type FormatId = 'pytorch' | 'safetensors' | 'onnx' | 'tfjs' | 'numpy' | 'keras';

/**
 * Element types as stored in the file; every loader converts to float32 on load. The float8
 * types are OCP FP8: E4M3 "fn" (finite, no infinities; torch.float8_e4m3fn, safetensors
 * F8_E4M3) and E5M2 (IEEE-like; torch.float8_e5m2, safetensors F8_E5M2).
 */
export type DType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'float8_e4m3fn' | 'float8_e5m2' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TensorRef {
	/** Name in the file, e.g. `layer1.0.conv1.weight`. */
	readonly name: string;
	/** The tensor's own logical shape, as the framework reports it. */
	readonly shape: readonly number[];
	readonly dtype: DType;
	/**
	 * Loads the elements as float32 in logical row-major (C) order, whatever the storage's
	 * dtype, offset or strides. `into` is reused when it is large enough (callers stream a big
	 * model through one buffer); the result is a view of exactly `numel` elements.
	 */
	load(into?: Float32Array): Promise<Float32Array>;
	/**
	 * The elements' bytes exactly as stored (little-endian, logical row-major order), read into
	 * `into` when it is large enough; only where the file keeps them so (safetensors and other
	 * contiguous storages). Lets the analysis count half-precision weights on their bits, with no
	 * decoding and no float32 copy.
	 */
	readStored?(into?: Uint8Array): Promise<Uint8Array>;
}

/**
 * How the weight's axes are laid out. OIHW: PyTorch/ONNX conv (out, in/groups, kh, kw).
 * HWIO: TF.js/Keras conv (kh, kw, in/groups, out). OI: PyTorch/ONNX-Gemm linear (out, in).
 * IO: Keras Dense / ONNX MatMul (in, out).
 */
export type WeightLayout = 'OIHW' | 'HWIO' | 'OI' | 'IO';

export type LayerKind = 'conv' | 'linear';

/** One weight matrix that would be mapped onto crossbars. */
export interface LayerWeight {
	/** The name users know: the module path (`features.0`, `layer1.0.conv1`) or the node/layer name. */
	readonly name: string;
	readonly kind: LayerKind;
	readonly layout: WeightLayout;
	/** Convolution groups (1 for dense convs and linear layers); depthwise convs have groups = channels. */
	readonly groups: number;
	readonly tensor: TensorRef;
	/**
	 * How many times per inference each of this layer's crossbars is driven (conv output
	 * positions Hout·Wout; 1 for a linear layer on one sample), when the graph tells.
	 */
	readonly invocationsPerInference?: number;
}

export interface ModelGraph {
	readonly format: FormatId;
	/** The path or name the model was opened from (used in messages). */
	readonly file: string;
	/** Every tensor of the model, in file order (layers point into this list). */
	readonly tensors: readonly TensorRef[];
	/** Conv and linear weights in module order. */
	readonly layers: readonly LayerWeight[];
	/** Findings that do not stop the analysis (one sentence each). */
	readonly warnings: string[];
	/** Releases the file handle. Idempotent. */
	close(): Promise<void>;
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
	let n = 1;
	for (const d of shape) {
		n *= d;
	}
	return n;
}
