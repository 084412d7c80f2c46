// Pruning-math benchmarks (prints figures; no assertions). Single thread, random normal weights.
//   node --import tsx bench/pruning/regularizer.ts
// 1. D.U.B. regularizer value + gated gradient over VGG11's 9,217,728 conv weights, T = 32 and 64.
// 2. Fixed-ratio D.U.B. prune of VGG11 (prs A, T = 32) and ResNet18 (resnet18-imagenet, T = 64).
// 3. For scale: the layer percentile of the largest layer and the unstructured baseline.

import { pruneDubFixedRatio } from '../../src/pruning/dub';
import { Float32Scratch, percentileOfAbs } from '../../src/pruning/percentile';
import { ratioPresets } from '../../src/pruning/ratios';
import { Float64Scratch, dubRegularizer } from '../../src/pruning/regularizer';
import type { WeightMatrix } from '../../src/hardware/matrix';
import { pruneUnstructured } from '../../src/pruning/unstructured';
import { randomNormal } from '../../test/unit/pruning/random';

interface Layer extends WeightMatrix {
	out: Float32Array;
	mask: Uint8Array;
	grad: Float32Array;
}

function model(shapes: readonly (readonly number[])[], seed: number): Layer[] {
	return shapes.map(([o, c, kh, kw], i) => {
		const fanIn = c * kh * kw;
		const n = o * fanIn;
		// Kaiming-like scale; the values do not change the work done, only which branches run.
		const values = randomNormal(n, seed + i, Math.sqrt(2 / fanIn));
		return { values, outChannels: o, fanIn, out: new Float32Array(n), mask: new Uint8Array(n), grad: new Float32Array(n) };
	});
}

function time(label: string, runs: number, body: () => void): void {
	body(); // warm-up (JIT, scratch growth)
	body();
	const ms: number[] = [];
	for (let r = 0; r < runs; r++) {
		const start = process.hrtime.bigint();
		body();
		ms.push(Number(process.hrtime.bigint() - start) / 1e6);
	}
	ms.sort((a, b) => a - b);
	const median = ms[Math.floor(ms.length / 2)];
	console.log(`${label.padEnd(64)} median ${median.toFixed(1).padStart(7)} ms   min ${ms[0].toFixed(1).padStart(7)} ms   (${runs} runs)`);
}

const vgg = model(ratioPresets['vgg11-cifar10'].shapes, 1);
const resnet = model(ratioPresets['resnet18-imagenet'].shapes, 100);
const count = (layers: Layer[]) => layers.reduce((s, l) => s + l.values.length, 0);
console.log(`node ${process.version}, VGG11 conv weights ${count(vgg).toLocaleString('en')}, ResNet18 conv weights ${count(resnet).toLocaleString('en')}`);

const f64 = new Float64Scratch();
for (const crossbarSize of [32, 64]) {
	let loss = 0;
	time(`regularizer value+gradient, VGG11, T=${crossbarSize}`, 15, () => {
		loss = 0;
		for (const layer of vgg) loss += dubRegularizer(layer, { crossbarSize, lambda: 1e-3 }, layer.grad, f64);
	});
	time(`regularizer value only, VGG11, T=${crossbarSize}`, 15, () => {
		for (const layer of vgg) dubRegularizer(layer, { crossbarSize, lambda: 1e-3 }, undefined, f64);
	});
	console.log(`  (loss at λ = 1e-3: ${loss.toFixed(3)})`);
}

const f32 = new Float32Scratch();
const prune = (layers: Layer[], ratios: readonly number[], crossbarSize: number) => () => {
	layers.forEach((layer, i) => pruneDubFixedRatio(layer, ratios[i], { crossbarSize, out: layer.out, mask: layer.mask, scratch: f32 }));
};
time('D.U.B. prune, VGG11, prs A, T=32 (8 layers)', 9, prune(vgg, ratioPresets['vgg11-cifar10'].ratios, 32));
time('D.U.B. prune, VGG11, prs A, T=64 (8 layers)', 9, prune(vgg, ratioPresets['vgg11-cifar10'].ratios, 64));
time('D.U.B. prune, ResNet18, resnet18-imagenet, T=64 (20 layers)', 9, prune(resnet, ratioPresets['resnet18-imagenet'].ratios, 64));

const biggest = vgg[7];
time(`layer percentile of |W| (radix select), ${biggest.values.length.toLocaleString('en')} weights`, 15, () => {
	percentileOfAbs(biggest.values, 99.86, f32);
});
time('unstructured prune, VGG11, prs A (8 layers)', 9, () => {
	vgg.forEach((layer, i) => pruneUnstructured(layer.values, ratioPresets['vgg11-cifar10'].ratios[i], { out: layer.out, mask: layer.mask, scratch: f32 }));
});

// What the prune did, for the record (levels after pruning, summed over layers).
for (const [name, layers, ratios, crossbarSize] of [['VGG11 T=32', vgg, ratioPresets['vgg11-cifar10'].ratios, 32], ['ResNet18 T=64', resnet, ratioPresets['resnet18-imagenet'].ratios, 64]] as const) {
	const histogram: number[] = [];
	layers.forEach((layer, i) => {
		const result = pruneDubFixedRatio(layer, ratios[i], { crossbarSize, out: layer.out, mask: layer.mask, scratch: f32 });
		result.crossbars.levelAfter.forEach((k) => (histogram[k] = (histogram[k] ?? 0) + 1));
	});
	console.log(`  ${name}: tile levels after pruning random weights ${JSON.stringify(Array.from(histogram, (v) => v ?? 0))}`);
}
