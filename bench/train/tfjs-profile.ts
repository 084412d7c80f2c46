import * as tf from '@tensorflow/tfjs-core';
import { initTrainingBackend } from '../../src/training/tfjs/backend';
import { TrainableModel } from '../../src/training/tfjs/model';
import { resnet18Cifar, vgg11Cifar } from './tfjs-models';
async function main() {
  await initTrainingBackend('wasm');
  const which = process.argv[2] ?? 'resnet18';
  const batch = Number(process.argv[3] ?? 16);
  const model = new TrainableModel(which === 'vgg11' ? vgg11Cifar() : resnet18Cifar());
  const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({length: batch}, (_, i) => i % 10), 'int32'), 10);
  const vars = model.trainables().map(p => p.variable);
  const step = () => { const {value, grads} = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.forward(x, true, [])) as tf.Scalar, vars); value.dispose(); tf.dispose(grads); };
  step();
  const t0 = performance.now();
  const info = await tf.profile(() => step());
  const total = performance.now() - t0;
  const byName = new Map<string, {ms: number; n: number}>();
  for (const k of info.kernels) { const ms = await (k.kernelTimeMs as unknown as Promise<number> | number); const e = byName.get(k.name) ?? {ms: 0, n: 0}; e.ms += typeof ms === 'number' ? ms : 0; e.n++; byName.set(k.name, e); }
  console.log(which, 'batch', batch, 'total ms', total.toFixed(0));
  for (const [n, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) console.log(n.padEnd(24), e.ms.toFixed(0).padStart(7), e.n);
}
void main();
