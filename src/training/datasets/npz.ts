import { openFileSource } from '../../formats/byteSource';
import { numpyReader } from '../../formats/numpy';
import { DatasetError } from './errors';
import type { LabelledImages } from './types';

type NpzTensor = Awaited<ReturnType<typeof numpyReader.open>>['tensors'][number];

/**
 * An .npz holding images `x` and labels `y` (read with the project's npz reader: stored or
 * deflated, any byte order, Fortran order). x: N×C×H×W (NCHW), N×H×W×C (NHWC: detected when the
 * last axis is 1 or 3 and the second is not, or forced with `layout`) or N×H×W (one channel).
 * uint8 images are scaled by 1/255; labels must be integers ≥ 0. When the file also holds
 * `x_test` and `y_test` (`<xKey>_test`, `<yKey>_test`), they are its held-out split, as the
 * PyTorch engine reads them, so both engines evaluate on the same images.
 */
export async function loadNpz(path: string, options: { xKey?: string; yKey?: string; layout?: 'NCHW' | 'NHWC' } = {}): Promise<{ train: LabelledImages; test?: LabelledImages }> {
	const xKey = options.xKey ?? 'x';
	const yKey = options.yKey ?? 'y';
	const graph = await numpyReader.open(await openFileSource(path), {});
	try {
		const byName = new Map(graph.tensors.map((t) => [t.name.replace(/\.npy$/, ''), t]));
		const xt = byName.get(xKey);
		const yt = byName.get(yKey);
		if (!xt || !yt) {
			throw new DatasetError(`${path}: needs arrays '${xKey}' (images) and '${yKey}' (labels); it has ${[...byName.keys()].join(', ') || 'none'}.`);
		}
		const train = await readImages(path, xt, yt, xKey, yKey, options.layout);
		const xTest = byName.get(`${xKey}_test`);
		const yTest = byName.get(`${yKey}_test`);
		if (!xTest !== !yTest) {
			throw new DatasetError(`${path}: has '${xTest ? `${xKey}_test` : `${yKey}_test`}' without '${xTest ? `${yKey}_test` : `${xKey}_test`}'; a held-out split needs both.`);
		}
		if (!xTest || !yTest) {
			return { train };
		}
		const test = await readImages(path, xTest, yTest, `${xKey}_test`, `${yKey}_test`, options.layout);
		if (test.shape.some((d, i) => d !== train.shape[i])) {
			throw new DatasetError(`${path}: '${xKey}_test' holds ${test.shape.join('×')} images but '${xKey}' holds ${train.shape.join('×')}.`);
		}
		return { train, test };
	} finally {
		await graph.close();
	}
}

async function readImages(path: string, xt: NpzTensor, yt: NpzTensor, xKey: string, yKey: string, layout: 'NCHW' | 'NHWC' | undefined): Promise<LabelledImages> {
	const shape = xt.shape;
	if (shape.length < 3 || shape.length > 4) {
		throw new DatasetError(`${path}: '${xKey}' has shape (${shape.join(', ')}); expected N×C×H×W, N×H×W×C or N×H×W.`);
	}
	const n = shape[0];
	if (yt.shape.length !== 1 || yt.shape[0] !== n) {
		throw new DatasetError(`${path}: '${yKey}' has shape (${yt.shape.join(', ')}); expected (${n}) labels for ${n} images.`);
	}
	const raw = await xt.load();
	const labels = await yt.load();
	const y = new Int32Array(n);
	for (let i = 0; i < n; i++) {
		const v = labels[i];
		if (!Number.isInteger(v) || v < 0) {
			throw new DatasetError(`${path}: label ${i} is ${v}; labels must be class indices 0, 1, 2, ...`);
		}
		y[i] = v;
	}
	const scale = xt.dtype === 'uint8' ? 1 / 255 : 1;
	let c: number, h: number, w: number;
	let nhwc = false;
	if (shape.length === 3) {
		[c, h, w] = [1, shape[1], shape[2]];
	} else {
		nhwc = layout === 'NHWC' || (layout === undefined && (shape[3] === 1 || shape[3] === 3) && shape[1] !== 1 && shape[1] !== 3);
		[c, h, w] = nhwc ? [shape[3], shape[1], shape[2]] : [shape[1], shape[2], shape[3]];
	}
	const size = c * h * w;
	const x = new Float32Array(n * size);
	if (nhwc) {
		for (let i = 0; i < n; i++) {
			const base = i * size;
			for (let p = 0; p < h * w; p++) {
				for (let k = 0; k < c; k++) x[base + k * h * w + p] = raw[base + p * c + k] * scale;
			}
		}
	} else {
		for (let i = 0; i < x.length; i++) x[i] = raw[i] * scale;
	}
	return { x, y, count: n, shape: [c, h, w] };
}
