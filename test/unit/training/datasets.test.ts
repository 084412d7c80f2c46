import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Rng, datasetMismatch, defaultDigitsPath, fillBatch, loadDataset, parseCifar10, parseDigitsCsv, standardizeImage, stratifiedSplit } from '../../../src/training/datasets';
import { writeNpzFile } from './npzWriter';

const dir = mkdtempSync(join(tmpdir(), 'crossbar-datasets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('training datasets', () => {
	void it('parses the digits CSV: 64 pixels /16 as 1×8×8, then the label', () => {
		const line = [...Array.from({ length: 64 }, (_, i) => i % 17), 7].join(',');
		const images = parseDigitsCsv(`${line}\n${line}\n`);
		assert.equal(images.count, 2);
		assert.deepEqual(images.shape, [1, 8, 8]);
		assert.equal(images.x[16], 16 / 16);
		assert.equal(images.x[3], 3 / 16);
		assert.deepEqual(Array.from(images.y), [7, 7]);
		assert.throws(() => parseDigitsCsv('1,2,3\n'), /has 3 values/);
	});

	void it('loads scikit-learn\'s real digits with a seeded stratified 80/20 split', { skip: !existsSync(defaultDigitsPath) && 'python3-sklearn is not installed' }, async () => {
		const a = await loadDataset({ kind: 'digits' }, 0);
		const b = await loadDataset({ kind: 'digits' }, 0);
		const c = await loadDataset({ kind: 'digits' }, 1);
		assert.equal(a.train.count + a.test.count, 1797);
		assert.deepEqual(a.shape, [1, 8, 8]);
		assert.equal(a.classes, 10);
		assert.ok(Math.abs(a.test.count - 360) <= 5, `${a.test.count} held-out`);
		assert.deepEqual(Array.from(a.test.y), Array.from(b.test.y), 'same seed, same split');
		assert.notDeepEqual(Array.from(a.test.x.subarray(0, 640)), Array.from(c.test.x.subarray(0, 640)), 'another seed, another split');
		// Stratified: every class has ~20 % of its images held out.
		for (let k = 0; k < 10; k++) {
			const test = a.test.y.filter((y) => y === k).length;
			const train = a.train.y.filter((y) => y === k).length;
			assert.ok(Math.abs(test / (test + train) - 0.2) < 0.01, `class ${k}: ${test}/${test + train}`);
		}
		let max = 0;
		for (const v of a.train.x) max = Math.max(max, v);
		assert.equal(max, 1);
	});

	void it('stratified split is deterministic and disjoint', () => {
		const labels = Int32Array.from({ length: 103 }, (_, i) => i % 3);
		const s1 = stratifiedSplit(labels, 0.25, 5);
		const s2 = stratifiedSplit(labels, 0.25, 5);
		assert.deepEqual(s1, s2);
		assert.equal(s1.train.length + s1.test.length, 103);
		assert.equal(new Set([...s1.train, ...s1.test]).size, 103);
	});

	void it('reads an npz with x (N×H×W×C uint8, scaled 1/255) and y, and one in NCHW float32', async () => {
		const n = 20;
		const nhwc = join(dir, 'nhwc.npz');
		writeNpzFile(nhwc, {
			x: { descr: '|u1', shape: [n, 4, 4, 3], values: Array.from({ length: n * 48 }, (_, i) => i % 256) },
			y: { descr: '<i8', shape: [n], values: Array.from({ length: n }, (_, i) => i % 2) },
		});
		const d = await loadDataset({ kind: 'npz', path: nhwc, testFraction: 0.5 }, 0);
		assert.deepEqual(d.shape, [3, 4, 4]);
		assert.equal(d.classes, 2);
		assert.equal(d.train.count, 10);
		// Image 0 (NHWC bytes 0..47): channel 1 of pixel 0 is byte 1, stored at NCHW index 16.
		const all = await loadDataset({ kind: 'npz', path: nhwc, testFraction: 0.5 }, 0);
		const first = [...all.train.x.subarray(0, 48), ...all.test.x.subarray(0, 48)];
		assert.ok(first.every((v) => v >= 0 && v <= 1));
		const nchw = join(dir, 'nchw.npz');
		writeNpzFile(nchw, {
			x: { descr: '<f4', shape: [4, 1, 2, 2], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] },
			y: { descr: '<i4', shape: [4], values: [0, 1, 0, 1] },
		});
		const e = await loadDataset({ kind: 'npz', path: nchw, testFraction: 0.5 }, 0);
		assert.deepEqual(e.shape, [1, 2, 2]);
		const pixels = [...e.train.x, ...e.test.x].sort((p, q) => p - q);
		assert.deepEqual(pixels, Array.from({ length: 16 }, (_, i) => i));
		const bad = join(dir, 'bad.npz');
		writeNpzFile(bad, { images: { descr: '<f4', shape: [1, 1, 1, 1], values: [0] } });
		await assert.rejects(loadDataset({ kind: 'npz', path: bad }), /needs arrays 'x' \(images\) and 'y' \(labels\); it has images/);
	});

	void it('takes an npz\'s x_test and y_test as its held-out split, as the PyTorch engine does', async () => {
		const path = join(dir, 'split.npz');
		writeNpzFile(path, {
			x: { descr: '<f4', shape: [4, 1, 2, 2], values: Array.from({ length: 16 }, (_, i) => i) },
			y: { descr: '<i4', shape: [4], values: [0, 1, 0, 1] },
			x_test: { descr: '<f4', shape: [3, 1, 2, 2], values: Array.from({ length: 12 }, (_, i) => 100 + i) },
			y_test: { descr: '<i4', shape: [3], values: [1, 2, 0] },
		});
		const d = await loadDataset({ kind: 'npz', path, testFraction: 0.5 }, 7);
		assert.equal(d.train.count, 4, 'every x image trains: no split');
		assert.deepEqual([...d.test.x], Array.from({ length: 12 }, (_, i) => 100 + i), 'x_test in its own order');
		assert.deepEqual([...d.test.y], [1, 2, 0]);
		assert.equal(d.classes, 3);
		const half = join(dir, 'half.npz');
		writeNpzFile(half, {
			x: { descr: '<f4', shape: [2, 1, 1, 1], values: [0, 1] }, y: { descr: '<i4', shape: [2], values: [0, 1] },
			x_test: { descr: '<f4', shape: [1, 1, 1, 1], values: [0] },
		});
		await assert.rejects(loadDataset({ kind: 'npz', path: half }), /has 'x_test' without 'y_test'/);
		const shapes = join(dir, 'shapes.npz');
		writeNpzFile(shapes, {
			x: { descr: '<f4', shape: [2, 1, 1, 1], values: [0, 1] }, y: { descr: '<i4', shape: [2], values: [0, 1] },
			x_test: { descr: '<f4', shape: [1, 1, 2, 1], values: [0, 1] }, y_test: { descr: '<i4', shape: [1], values: [0] },
		});
		await assert.rejects(loadDataset({ kind: 'npz', path: shapes }), /'x_test' holds 1×2×1 images but 'x' holds 1×1×1/);
	});

	void it('parses CIFAR-10 binary records (label byte, then R, G, B planes)', async () => {
		const record = new Uint8Array(3073);
		record[0] = 3;
		record[1] = 255; // R plane, pixel 0
		record[1 + 1024] = 51; // G plane, pixel 0
		const images = parseCifar10([record, record]);
		assert.equal(images.count, 2);
		assert.deepEqual(Array.from(images.y), [3, 3]);
		assert.equal(images.x[0], 1);
		assert.equal(images.x[1024], Math.fround(0.2));
		assert.throws(() => parseCifar10([new Uint8Array(100)]), /not a multiple of the 3073-byte/);
		const cifar = join(dir, 'cifar');
		mkdirSync(cifar);
		writeFileSync(join(cifar, 'data_batch_1.bin'), Buffer.concat([record, record, record]));
		writeFileSync(join(cifar, 'test_batch.bin'), record);
		const d = await loadDataset({ kind: 'cifar10', dir: cifar }, 0);
		assert.equal(d.train.count, 3);
		assert.equal(d.test.count, 1, 'test_batch is the held-out split');
		assert.ok(d.augment && d.standardize, 'the reference pipeline by default');
		await assert.rejects(loadDataset({ kind: 'cifar10', dir }), /expected the CIFAR-10 binary version/);
	});

	void it('refuses image folders with one line naming the reason', async () => {
		await assert.rejects(loadDataset({ kind: 'folder', dir }), /not supported by the tfjs engine \(it carries no image decoder\)/);
	});

	void it('augments with crop (pad 4) and flip, standardizes per image, writes NHWC', () => {
		const set = { x: Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => i), y: new Int32Array(1), count: 1 };
		const plain = fillBatch({ shape: [2, 3, 3], augment: false, standardize: false }, set, [0], 0, 1, new Float32Array(0));
		// NHWC: pixel (0,0) channels 0 and 1 are x[0] and x[9].
		assert.deepEqual(Array.from(plain.subarray(0, 4)), [0, 9, 1, 10]);
		// On an 8×8 image with distinct pixels every draw must equal one of the 9·9·2 crop/flip candidates.
		const big = { x: Float32Array.from({ length: 64 }, (_, i) => i + 1), y: new Int32Array(1), count: 1 };
		const candidate = (dy: number, dx: number, flip: boolean) => Array.from({ length: 64 }, (_, p) => {
			const y = Math.floor(p / 8) + dy;
			const x = (flip ? 7 - (p % 8) : p % 8) + dx;
			return y >= 0 && y < 8 && x >= 0 && x < 8 ? big.x[y * 8 + x] : 0;
		});
		const rng = new Rng(3);
		const seen = new Set<string>();
		for (let t = 0; t < 200; t++) {
			const out = Array.from(fillBatch({ shape: [1, 8, 8], augment: true, standardize: false }, big, [0], 0, 1, new Float32Array(64), rng));
			let match: string | undefined;
			for (let dy = -4; dy <= 4 && !match; dy++) for (let dx = -4; dx <= 4 && !match; dx++) for (const flip of [false, true]) {
				if (!match && candidate(dy, dx, flip).every((v, i) => v === out[i])) match = `${dy},${dx},${flip}`;
			}
			assert.ok(match, 'a crop of the zero-padded image, maybe flipped');
			seen.add(match);
		}
		assert.ok([...seen].some((m) => m.endsWith('true')) && [...seen].some((m) => m.endsWith('false')), 'flips about half the time');
		assert.ok(seen.size > 60, `many different crops (${seen.size})`);
		const image = Float32Array.from([1, 2, 3, 4]);
		standardizeImage(image);
		const mean = image.reduce((a, b) => a + b) / 4;
		const std = Math.sqrt(image.reduce((a, b) => a + (b - mean) ** 2, 0) / 4);
		assert.ok(Math.abs(mean) < 1e-6 && Math.abs(std - 1) < 1e-6);
		const flat = Float32Array.from([5, 5, 5, 5]);
		standardizeImage(flat);
		assert.deepEqual(Array.from(flat), [0, 0, 0, 0], 'std floored at 1/sqrt(n): no division by zero');
	});

	void it('says in one line when a dataset does not fit the model', () => {
		const d = { name: 'digits', shape: [1, 8, 8] as const, classes: 10 };
		assert.equal(datasetMismatch(d, [1, 8, 8], 10, 'm.onnx'), undefined);
		assert.equal(datasetMismatch(d, [1, undefined, undefined], 10, 'm.onnx'), undefined);
		assert.equal(datasetMismatch(d, [3, 32, 32], 10, 'vgg.onnx'), 'The dataset digits has 1×8×8 images but vgg.onnx expects 3×32×32 inputs.');
		assert.equal(datasetMismatch(d, [1, 8, 8], 5, 'm.onnx'), 'The dataset digits has 10 classes but m.onnx has 5 outputs.');
	});
});
