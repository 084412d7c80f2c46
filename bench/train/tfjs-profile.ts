/**
 * Where a training step's time goes on tfjs-backend-wasm: per-kernel milliseconds of one
 * forward + backward pass (tf.profile), for VGG11-CIFAR or ResNet18-CIFAR on random inputs.
 *
 *   node --import tsx bench/train/tfjs-profile.ts [vgg11|resnet18] [batch]
 */

import * as tf from '@tensorflow/tfjs-core';
import { initTrainingBackend } from '../../src/training/tfjs/backend';
import { TrainableModel } from '../../src/training/tfjs/model';
import { resnet18Cifar, vgg11Cifar } from './tfjs-models';

async function main(): Promise<void> {
	const backend = await initTrainingBackend('wasm');
	const which = process.argv[2] ?? 'resnet18';
	const batch = Number(process.argv[3] ?? 16);
	const model = new TrainableModel(which === 'vgg11' ? vgg11Cifar() : resnet18Cifar());
	const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
	const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
	const variables = model.trainables().map((p) => p.variable);
	const step = () => {
		const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.forward(x, true, [])), labels), 1))) as tf.Scalar, variables);
		value.dispose();
		tf.dispose(grads);
	};
	step(); // warm-up: XNNPACK operator setup
	const t0 = performance.now();
	const info = await tf.profile(() => step());
	const total = performance.now() - t0;
	const byKernel = new Map<string, { ms: number; calls: number }>();
	for (const k of info.kernels) {
		const ms = await (k.kernelTimeMs as number | Promise<number>);
		const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
		entry.ms += typeof ms === 'number' ? ms : 0;
		entry.calls++;
		byKernel.set(k.name, entry);
	}
	console.log(`${which}, batch ${batch}, ${backend.name}: ${total.toFixed(0)} ms for one profiled forward + backward`);
	console.log('kernel                       ms   calls');
	for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
		console.log(`${name.padEnd(24)} ${e.ms.toFixed(0).padStart(7)} ${String(e.calls).padStart(7)}`);
	}
	model.dispose();
}

void main();
