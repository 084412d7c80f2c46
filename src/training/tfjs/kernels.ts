/**
 * Training kernels for @tensorflow/tfjs-backend-wasm (README.md, "D.U.B. fine-tuning: two engines"): stock wasm has no
 * Conv2DBackpropFilter, so a conv net cannot train, and its Conv2DBackpropInput and broadcast
 * Tile are scalar loops. Each kernel here is composed from kernels wasm does have (Conv2D,
 * Transpose, PadV2, Slice, BatchMatMul, Add), so the heavy work stays in XNNPACK. NHWC only,
 * as tfjs's conv2d gradient asks for (its dilations must be 1).
 */

import { backend_util, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { DataType, KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Calls one of the backend's own kernels by name. */
class KernelCaller {
	private readonly created: TensorInfo[] = [];

	constructor(private readonly backend: KernelBackend, private readonly backendName: string, private readonly originals: ReadonlyMap<string, KernelFunc>) {}

	run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
		const kernel = this.originals.get(name) ?? getKernel(name, this.backendName)?.kernelFunc;
		if (!kernel) {
			throw new Error(`Kernel '${name}' is not registered for backend '${this.backendName}'.`);
		}
		const out = kernel({ inputs, attrs, backend: this.backend }) as TensorInfo;
		this.created.push(out);
		return out;
	}

	write(values: Float32Array, shape: number[]): TensorInfo {
		const out: TensorInfo = { dataId: this.backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
		this.created.push(out);
		return out;
	}

	/** Disposes every intermediate except `keep` (the kernel's output). */
	finish(keep: TensorInfo): TensorInfo {
		for (const t of this.created) {
			if (t !== keep && t.dataId !== keep.dataId) {
				this.backend.disposeData(t.dataId);
			}
		}
		return keep;
	}

	transpose(x: TensorInfo, perm: number[]): TensorInfo {
		return this.run('Transpose', { x }, { perm });
	}

	reshape(x: TensorInfo, shape: number[]): TensorInfo {
		return this.run('Reshape', { x }, { shape });
	}

	/** Pads (positive amounts) and crops (negative amounts) each axis: [before, after] per axis. */
	padOrCrop(x: TensorInfo, amounts: [number, number][]): TensorInfo {
		let out = x;
		if (amounts.some(([a, b]) => a > 0 || b > 0)) {
			out = this.run('PadV2', { x: out }, { paddings: amounts.map(([a, b]) => [Math.max(a, 0), Math.max(b, 0)]), constantValue: 0 });
		}
		if (amounts.some(([a, b]) => a < 0 || b < 0)) {
			const begin = amounts.map(([a]) => Math.max(-a, 0));
			const size = out.shape.map((d, i) => d - begin[i] - Math.max(-amounts[i][1], 0));
			out = this.run('Slice', { x: out }, { begin, size });
		}
		return out;
	}

	conv2d(x: TensorInfo, filter: TensorInfo, strides: [number, number], dilations: [number, number]): TensorInfo {
		return this.run('Conv2D', { x, filter }, { strides, pad: 'valid', dataFormat: 'NHWC', dilations, dimRoundingMode: undefined as unknown as string });
	}
}

function convInfo(inShape: number[], filterShape: number[], strides: [number, number] | number, pad: Pad, rounding: Rounding): backend_util.Conv2DInfo {
	return backend_util.computeConv2DInfo(inShape as [number, number, number, number], filterShape as [number, number, number, number], strides, 1, pad, rounding, false, 'channelsLast');
}

function checkNhwc(dataFormat: unknown, kernel: string): void {
	if (dataFormat !== undefined && dataFormat !== 'NHWC') {
		throw new Error(`${kernel}: the training kernels support NHWC only (got ${String(dataFormat)}).`);
	}
}

/**
 * dW[i,j,c,o] = Σ_{n,y,x} xpad[n, y·s+i, x·s+j, c]·dy[n,y,x,o]: a valid conv of the padded input
 * with channels and batch swapped ([C, Hp, Wp, N]) by dy as a filter ([Ho, Wo, N, O]), stride 1
 * and dilation s (the forward conv's stride), then [C, kh, kw, O] → [kh, kw, C, O].
 */
export function conv2dBackpropFilter(caller: KernelCaller, x: TensorInfo, dy: TensorInfo, attrs: { strides: [number, number] | number; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; filterShape: [number, number, number, number] }): TensorInfo {
	checkNhwc(attrs.dataFormat, 'Conv2DBackpropFilter');
	const info = convInfo(x.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
	const [kh, kw] = attrs.filterShape;
	const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo, padInfo } = info;
	const [, h, w] = x.shape;
	// Rows the forward conv reads, in padded coordinates: (Ho−1)·s + kh.
	const needH = (ho - 1) * sh + kh;
	const needW = (wo - 1) * sw + kw;
	const xp = caller.padOrCrop(x, [[0, 0], [padInfo.top, needH - padInfo.top - h], [padInfo.left, needW - padInfo.left - w], [0, 0]]);
	const xt = caller.transpose(xp, [3, 1, 2, 0]);
	const dyt = caller.transpose(dy, [1, 2, 0, 3]);
	const out = caller.conv2d(xt, dyt, [1, 1], [sh, sw]);
	return caller.finish(caller.transpose(out, [1, 2, 0, 3]));
}

/**
 * dx = a valid conv of dy, zero-dilated by the stride and padded by (k − 1 − pad), with the
 * filter rotated by 180° and its in/out channels swapped. The rotation is a permutation matMul
 * (exact: ones and zeros), since wasm's Reverse is ~20× slower.
 */
export function conv2dBackpropInput(caller: KernelCaller, dy: TensorInfo, filter: TensorInfo, attrs: { strides: [number, number] | number; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; inputShape: [number, number, number, number] }): TensorInfo | undefined {
	checkNhwc(attrs.dataFormat, 'Conv2DBackpropInput');
	const [kh, kw, cin, cout] = filter.shape;
	const info = convInfo(attrs.inputShape, filter.shape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
	const { strideHeight: sh, strideWidth: sw, padInfo } = info;
	const [n, h, w] = attrs.inputShape;
	const [, ho, wo] = dy.shape;
	const top = kh - 1 - padInfo.top;
	const left = kw - 1 - padInfo.left;
	if (top < 0 || left < 0) {
		return undefined; // padding wider than the kernel: leave it to the stock kernel
	}
	let d = dy;
	if (sh > 1 || sw > 1) {
		// Zero insertion: [N,Ho,1,Wo,1,C] padded to [N,Ho,s,Wo,s,C] → [N,Ho·s,Wo·s,C] (trailing zeros are cropped below).
		const six = caller.reshape(dy, [n, ho, 1, wo, 1, cout]);
		const padded = caller.run('PadV2', { x: six }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
		d = caller.reshape(padded, [n, ho * sh, wo * sw, cout]);
	}
	// Padded rows must be H + kh − 1; only zero rows are ever cropped (the last real dy row lies within).
	const rows = d.shape[1];
	const cols = d.shape[2];
	const dp = caller.padOrCrop(d, [[0, 0], [top, h + kh - 1 - top - rows], [left, w + kw - 1 - left - cols], [0, 0]]);
	let rotated = filter;
	const taps = kh * kw;
	if (taps > 1) {
		const permutation = new Float32Array(taps * taps);
		for (let i = 0; i < taps; i++) permutation[i * taps + (taps - 1 - i)] = 1;
		const p = caller.write(permutation, [1, taps, taps]);
		const flat = caller.reshape(filter, [1, taps, cin * cout]);
		const product = caller.run('BatchMatMul', { a: p, b: flat }, { transposeA: false, transposeB: false });
		rotated = caller.reshape(product, [kh, kw, cin, cout]);
	}
	const swapped = caller.transpose(rotated, [0, 1, 3, 2]);
	return caller.finish(caller.conv2d(dp, swapped, [1, 1], [1, 1]));
}

/** Tile that only broadcasts size-1 axes, as batch-norm's gradient uses it: x + zeros(outShape). */
export function broadcastTile(caller: KernelCaller, x: TensorInfo, reps: number[]): TensorInfo | undefined {
	if (x.dtype !== 'float32' || reps.length !== x.shape.length || !reps.every((r, i) => r === 1 || x.shape[i] === 1)) {
		return undefined;
	}
	const shape = x.shape.map((d, i) => d * reps[i]);
	const zeros = caller.run('Fill', {}, { shape, value: 0, dtype: 'float32' as DataType });
	return caller.finish(caller.run('Add', { a: x, b: zeros }));
}

const registered = new Set<string>();

/**
 * Registers the training kernels for `backendName` (default 'wasm'); call after the backend is
 * initialised (its own kernels' setup has run). Idempotent. Returns the kernels replaced or added.
 */
export function registerTrainingKernels(backendName = 'wasm'): string[] {
	if (registered.has(backendName)) {
		return [];
	}
	const originals = new Map<string, KernelFunc>();
	for (const name of ['Conv2DBackpropInput', 'Tile', 'Conv2D', 'Transpose', 'PadV2', 'Slice', 'Reshape', 'BatchMatMul', 'Fill', 'Add']) {
		const kernel = getKernel(name, backendName);
		if (!kernel) {
			throw new Error(`Backend '${backendName}' lacks kernel '${name}' that the training kernels are built from.`);
		}
		originals.set(name, kernel.kernelFunc);
	}
	const caller = (backend: KernelBackend) => new KernelCaller(backend, backendName, originals);
	const configs: KernelConfig[] = [
		{
			kernelName: 'Conv2DBackpropFilter',
			backendName,
			kernelFunc: ({ inputs, backend, attrs }) => conv2dBackpropFilter(caller(backend as KernelBackend), inputs.x!, inputs.dy!, attrs as unknown as Parameters<typeof conv2dBackpropFilter>[3]),
		},
		{
			kernelName: 'Conv2DBackpropInput',
			backendName,
			kernelFunc: (args) => {
				const { inputs, backend, attrs } = args;
				return conv2dBackpropInput(caller(backend as KernelBackend), inputs.dy!, inputs.filter!, attrs as unknown as Parameters<typeof conv2dBackpropInput>[3])
					?? originals.get('Conv2DBackpropInput')!(args);
			},
		},
		{
			kernelName: 'Tile',
			backendName,
			kernelFunc: (args) => broadcastTile(caller(args.backend as KernelBackend), args.inputs.x!, (args.attrs as unknown as { reps: number[] }).reps) ?? originals.get('Tile')!(args),
		},
	];
	const changed: string[] = [];
	for (const config of configs) {
		if (getKernel(config.kernelName, backendName)) {
			unregisterKernel(config.kernelName, backendName);
		}
		registerKernel(config);
		changed.push(config.kernelName);
	}
	registered.add(backendName);
	return changed;
}
