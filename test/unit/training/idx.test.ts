import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError, availableDatasets, fillBatch, findIdxFiles, loadDataset, loadIdx, namedDataset, parseIdx, readIdx } from '../../../src/training/datasets';
import { idxBytes, idxImages, writeIdxFolder } from './idxWriter';

const root = mkdtempSync(join(tmpdir(), 'crossbar-idx-'));
after(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const folder = (): string => join(root, `f${folders++}`);

/** Loading `dir` fails with one DatasetError line that starts with `file` and matches `problem`. */
async function rejectsNaming(dir: string, file: string, problem: RegExp): Promise<void> {
	await assert.rejects(loadIdx(dir), (ex: Error) => {
		assert.ok(DatasetError.is(ex), `a DatasetError, got ${ex.name}: ${ex.message}`);
		assert.ok(ex.message.startsWith(`${file}: `), `names the file: ${ex.message}`);
		assert.match(ex.message, problem);
		assert.ok(!ex.message.includes('\n'), 'one line');
		return true;
	});
}

void describe('IDX datasets (MNIST, Fashion-MNIST)', () => {
	void it('reads the four files, plain or gzipped, as bytes: training images and the official test set', async () => {
		for (const gzip of [false, true]) {
			const dir = folder();
			writeIdxFolder(dir, { gzip, train: 30, test: 10, rows: 4, columns: 3 });
			const { train, test } = await loadIdx(dir);
			assert.equal(train.count, 30);
			assert.equal(test.count, 10);
			assert.deepEqual(train.shape, [1, 4, 3]);
			assert.ok(train.x instanceof Uint8Array, 'bytes, a quarter of the float memory');
			assert.equal(train.x.length, 30 * 12);
			assert.equal(train.x[12 * 5 + 2], (7 * 5 + 2) % 256);
			assert.deepEqual(Array.from(test.y.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
		}
	});

	void it('loadDataset holds the official test set out and scales bytes by 1/255 in batches', async () => {
		const dir = folder();
		writeIdxFolder(dir, { gzip: true, train: 40, test: 20, rows: 5, columns: 5 });
		const data = await loadDataset({ kind: 'idx', dir, testFraction: 0.5 }, 0);
		assert.equal(data.train.count, 40, 'no split of the training files');
		assert.equal(data.test.count, 20);
		assert.deepEqual(data.shape, [1, 5, 5]);
		assert.equal(data.classes, 10);
		assert.equal(data.augment, false);
		const batch = fillBatch(data, data.train, Int32Array.from([3]), 0, 1, new Float32Array(25));
		assert.ok(Math.abs(batch[7] - ((7 * 3 + 7) % 256) / 255) < 1e-7);
		const limited = await loadDataset({ kind: 'idx', dir, limitTrain: 10 }, 0);
		assert.equal(limited.train.count, 10);
		assert.ok(limited.train.x instanceof Uint8Array);
	});

	void it('finds prefixed and dotted names (EMNIST, MNIST mirrors) and nothing in other folders', async () => {
		const dir = folder();
		const paths = writeIdxFolder(dir);
		renameSync(paths['train-images'], join(dir, 'emnist-letters-train-images-idx3-ubyte'));
		renameSync(paths['train-labels'], join(dir, 'train-labels.idx1-ubyte'));
		const files = findIdxFiles(dir)!;
		assert.equal(files['train-images'], join(dir, 'emnist-letters-train-images-idx3-ubyte'));
		assert.equal((await loadIdx(dir)).train.count, 30);
		const empty = folder();
		mkdirSync(empty);
		writeFileSync(join(empty, 'notes.txt'), 'x');
		assert.equal(findIdxFiles(empty), undefined);
		await assert.rejects(loadIdx(empty), /no IDX files/);
	});

	void it('a missing file: one line naming what is missing', async () => {
		const dir = folder();
		const paths = writeIdxFolder(dir);
		rmSync(paths['t10k-labels']);
		await assert.rejects(loadIdx(dir), (ex: Error) => DatasetError.is(ex) && /t10k-labels-idx1-ubyte\[\.gz\] is missing/.test(ex.message));
	});

	void it('wrong magic: the file and its first bytes', async () => {
		const zip = folder();
		writeIdxFolder(zip, { replace: { 'train-images': Buffer.from('PK\x03\x04 not an IDX file') } });
		await rejectsNaming(zip, join(zip, 'train-images-idx3-ubyte'), /not an IDX file \(wrong magic 50 4b 03 04/);
		const floats = folder();
		const f = idxBytes([10], new Uint8Array(40));
		f[2] = 0x0d;
		writeIdxFolder(floats, { gzip: true, replace: { 't10k-labels': f } });
		await rejectsNaming(floats, join(floats, 't10k-labels-idx1-ubyte.gz'), /IDX data type 0x0d; .*unsigned bytes/);
		const swapped = folder();
		writeIdxFolder(swapped, { replace: { 'train-labels': idxImages(30, 4, 3).images } });
		await rejectsNaming(swapped, join(swapped, 'train-labels-idx1-ubyte'), /3 dimensions in the IDX header; labels \(N\) have 1/);
	});

	void it('dimensions that disagree with the file size, plain or gzipped, shorter or longer', async () => {
		const full = idxImages(30, 4, 3).images;
		for (const gzip of [false, true]) {
			const short = folder();
			writeIdxFolder(short, { gzip, replace: { 'train-images': full.subarray(0, full.length - 1) } });
			await rejectsNaming(short, join(short, `train-images-idx3-ubyte${gzip ? '.gz' : ''}`), /the dimensions 30 × 4 × 3 need 360 bytes of data but the file has 359/);
			const long = folder();
			writeIdxFolder(long, { gzip, replace: { 'train-images': Buffer.concat([full, Buffer.from([1, 2])]) } });
			await rejectsNaming(long, join(long, `train-images-idx3-ubyte${gzip ? '.gz' : ''}`), gzip ? /need 360 bytes of data but the file has more once decompressed/ : /need 360 bytes of data but the file has 362/);
		}
		// A header that claims 4 G images: refused from the file size, nothing of that size allocated.
		const huge = folder();
		writeIdxFolder(huge, { replace: { 't10k-images': idxBytes([0xffffffff, 28, 28], new Uint8Array(10)) } });
		await rejectsNaming(huge, join(huge, 't10k-images-idx3-ubyte'), /4294967295 × 28 × 28 need 3367254359280 bytes/);
		const cut = folder();
		writeIdxFolder(cut, { replace: { 'train-labels': Buffer.from([0, 0, 8, 1, 0]) } });
		await rejectsNaming(cut, join(cut, 'train-labels-idx1-ubyte'), /the IDX header is cut short \(5 bytes\)/);
	});

	void it('a label count that differs from the image count', async () => {
		const dir = folder();
		writeIdxFolder(dir, { gzip: true, replace: { 'train-labels': idxImages(29, 4, 3).labels } });
		await rejectsNaming(dir, join(dir, 'train-labels-idx1-ubyte.gz'), /29 labels for the 30 images of train-images-idx3-ubyte\.gz/);
	});

	void it('a truncated gzip, and a corrupt one', async () => {
		const dir = folder();
		const paths = writeIdxFolder(dir, { gzip: true, train: 300, rows: 28, columns: 28 });
		const whole = readFileSync(paths['train-images']);
		writeFileSync(paths['train-images'], whole.subarray(0, Math.floor(whole.length / 2)));
		await rejectsNaming(dir, paths['train-images'], /truncated gzip/);
		const bad = Buffer.from(gzipSync(idxImages(30, 4, 3).images));
		bad[bad.length - 6] ^= 0xff; // the CRC no longer matches
		writeFileSync(paths['train-images'], bad);
		await rejectsNaming(dir, paths['train-images'], /not a valid gzip file/);
	});

	void it('images of the test set that differ in size from the training images', async () => {
		const dir = folder();
		writeIdxFolder(dir, { replace: { 't10k-images': idxImages(10, 5, 3).images } });
		await rejectsNaming(dir, join(dir, 't10k-images-idx3-ubyte'), /5×3 images, but the training images are 4×3/);
	});

	void it('readIdx streams a 60,000-image file in one pass; parseIdx reads bytes in memory', async () => {
		const dir = folder();
		mkdirSync(dir);
		const path = join(dir, 'big-idx3-ubyte.gz');
		const n = 60_000;
		const pixels = new Uint8Array(n * 784);
		for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0xff;
		writeFileSync(path, gzipSync(idxBytes([n, 28, 28], pixels)));
		const read = await readIdx(path, 3);
		assert.deepEqual(read.dims, [n, 28, 28]);
		assert.equal(read.data.length, n * 784);
		assert.equal(read.data[n * 784 - 1], pixels[n * 784 - 1]);
		const parsed = parseIdx(idxBytes([2], [7, 9]), 1);
		assert.deepEqual(Array.from(parsed.data), [7, 9]);
		assert.throws(() => parseIdx(idxBytes([3], [7, 9]), 1, 'x.idx'), /x\.idx: the dimensions 3 need 3 bytes of data but the file has 2/);
	});

	void it('names the datasets present here: Fashion-MNIST when its folder holds the files, digits when its CSV exists', () => {
		const dir = folder();
		writeIdxFolder(dir, { gzip: true });
		const csv = join(root, 'digits.csv');
		writeFileSync(csv, '');
		const both = availableDatasets({ 'fashion-mnist': dir, digits: csv });
		assert.deepEqual(both.map((d) => d.id), ['fashion-mnist', 'digits']);
		assert.deepEqual(both[0].spec, { kind: 'idx', dir });
		assert.equal(both[0].label, 'Fashion-MNIST');
		assert.deepEqual(availableDatasets({ 'fashion-mnist': join(root, 'absent'), digits: csv }).map((d) => d.id), ['digits']);
		assert.deepEqual(namedDataset('fashion-mnist', { 'fashion-mnist': dir }), { kind: 'idx', dir });
		assert.equal(namedDataset('./my-data'), undefined, 'not a name: a path');
		assert.throws(() => namedDataset('fashion-mnist', { 'fashion-mnist': join(root, 'absent') }), /fashion-mnist: not installed .*apt install dataset-fashion-mnist/);
	});
});
