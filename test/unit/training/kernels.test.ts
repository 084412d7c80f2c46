import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initTrainingBackend } from '../../../src/training/tfjs/backend';
import { Rng } from '../../../src/training/datasets/rng';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface ConvCase {
	readonly name: string;
	readonly x: [number, number, number, number];
	readonly filter: [number, number, number, number];
	readonly strides: [number, number];
	readonly pad: Pad;
}

// Stride 1/2, same/valid/explicit, 1×1, 3×3, 5×5, 7×7, odd sizes (README.md, "D.U.B. fine-tuning: two engines").
const cases: ConvCase[] = [
	{ name: '3×3 stride 1 same', x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
	{ name: '3×3 stride 2 same', x: [2, 9, 8, 3], filter: [3, 3, 3, 5], strides: [2, 2], pad: 'same' },
	{ name: '3×3 stride 2 valid', x: [3, 10, 11, 4], filter: [3, 3, 4, 2], strides: [2, 2], pad: 'valid' },
	{ name: '3×3 stride 1 pad 1 (explicit)', x: [2, 8, 8, 16], filter: [3, 3, 16, 8], strides: [1, 1], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
	{ name: '1×1 stride 1 valid', x: [4, 6, 6, 8], filter: [1, 1, 8, 6], strides: [1, 1], pad: 'valid' },
	{ name: '1×1 stride 2 valid (downsample)', x: [2, 8, 8, 6], filter: [1, 1, 6, 12], strides: [2, 2], pad: 'valid' },
	{ name: '5×5 stride 1 same', x: [2, 12, 12, 3], filter: [5, 5, 3, 4], strides: [1, 1], pad: 'same' },
	{ name: '5×5 stride 2 valid, odd size', x: [2, 13, 11, 2], filter: [5, 5, 2, 3], strides: [2, 2], pad: 'valid' },
	{ name: '7×7 stride 2 pad 3 (ResNet stem)', x: [1, 16, 16, 3], filter: [7, 7, 3, 8], strides: [2, 2], pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
	{ name: 'asymmetric explicit pad, stride 2', x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: [2, 1], pad: [[0, 0], [1, 0], [0, 2], [0, 0]] },
];

function random(n: number, seed: number): Float32Array {
	const rng = new Rng(seed);
	return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Runs one kernel on a backend with fresh tensors and returns its values. */
async function runOn(backend: string, kernel: string, inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: object): Promise<Float32Array> {
	await tf.setBackend(backend);
	const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
	const out = tf.engine().runKernel(kernel, tensors, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
	const values = out.dataSync() as Float32Array;
	tf.dispose([out, ...Object.values(tensors)]);
	return Float32Array.from(values);
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
	assert.equal(actual.length, expected.length);
	let maxDiff = 0, maxRef = 0;
	for (let i = 0; i < expected.length; i++) {
		maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
		maxRef = Math.max(maxRef, Math.abs(expected[i]));
	}
	return maxDiff / maxRef;
}

function outShape(c: ConvCase): number[] {
	const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as 'same', undefined, false, 'channelsLast');
	return info.outShape;
}

void describe('wasm training kernels match tfjs-backend-cpu (rel. err ≤ 2e-6)', () => {
	before(async () => {
		const info = await initTrainingBackend('wasm');
		assert.equal(info.name, 'wasm');
	});

	for (const c of cases) {
		void it(`Conv2DBackpropFilter: ${c.name}`, async () => {
			const dyShape = outShape(c);
			const inputs = {
				x: { values: random(c.x.reduce((a, b) => a * b), 1), shape: c.x },
				dy: { values: random(dyShape.reduce((a, b) => a * b), 2), shape: dyShape },
			};
			const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: c.filter };
			const wasm = await runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs);
			const cpu = await runOn('cpu', 'Conv2DBackpropFilter', inputs, attrs);
			const err = relativeError(wasm, cpu);
			assert.ok(err <= 2e-6, `relative error ${err}`);
		});

		void it(`Conv2DBackpropInput: ${c.name}`, async () => {
			const dyShape = outShape(c);
			const inputs = {
				dy: { values: random(dyShape.reduce((a, b) => a * b), 3), shape: dyShape },
				filter: { values: random(c.filter.reduce((a, b) => a * b), 4), shape: c.filter },
			};
			const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: c.x };
			const wasm = await runOn('wasm', 'Conv2DBackpropInput', inputs, attrs);
			const cpu = await runOn('cpu', 'Conv2DBackpropInput', inputs, attrs);
			const err = relativeError(wasm, cpu);
			assert.ok(err <= 2e-6, `relative error ${err}`);
		});
	}

	void it('Tile: the broadcast fast path and the general case equal cpu exactly', async () => {
		for (const [shape, reps] of [[[1, 1, 1, 8], [4, 5, 5, 1]], [[2, 1, 3], [1, 4, 1]], [[2, 3], [2, 2]]] as [number[], number[]][]) {
			const inputs = { x: { values: random(shape.reduce((a, b) => a * b), 5), shape } };
			const wasm = await runOn('wasm', 'Tile', inputs, { reps });
			const cpu = await runOn('cpu', 'Tile', inputs, { reps });
			assert.deepEqual(Array.from(wasm), Array.from(cpu));
		}
	});

	void it('a conv net trains on wasm: gradients of conv2d + batch norm match cpu', async () => {
		const xv = random(2 * 8 * 8 * 3, 6);
		const fv = random(3 * 3 * 3 * 4, 7);
		const rv = random(2 * 4 * 4 * 4, 8);
		const grads = async (backend: string) => {
			await tf.setBackend(backend);
			const x = tf.tensor4d(xv, [2, 8, 8, 3]);
			const f = tf.tensor4d(fv, [3, 3, 3, 4]);
			const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
				const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
				const m = tf.moments(y, [0, 1, 2]);
				const norm = tf.batchNorm(y, m.mean as tf.Tensor1D, m.variance as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D, tf.ones([4]) as tf.Tensor1D, 1e-5);
				// A random projection (Σ norm² per channel would be constant and its gradient pure rounding noise).
				return tf.sum(tf.mul(tf.relu(norm), tf.tensor4d(rv, [2, 4, 4, 4])));
			});
			const [dx, df] = g([x, f]);
			const out = [Float32Array.from(dx.dataSync()), Float32Array.from(df.dataSync())];
			tf.dispose([x, f, dx, df]);
			return out;
		};
		const [wdx, wdf] = await grads('wasm');
		const [cdx, cdf] = await grads('cpu');
		assert.ok(relativeError(wdx, cdx) < 1e-4, `dx ${relativeError(wdx, cdx)}`);
		assert.ok(relativeError(wdf, cdf) < 1e-4, `dfilter ${relativeError(wdf, cdf)}`);
	});
});
