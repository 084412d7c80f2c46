// Fashion-MNIST on the real files (Debian's dataset-fashion-mnist; CI installs it): the FashionCNN
// trains for a few hundred steps on a slice of them in PyTorch, and both engines fine-tune it from the
// command line, `--data fashion-mnist` (PyTorch) and `--data <IDX folder>` (TensorFlow.js).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { defaultFashionMnistDir, findIdxFiles, readIdx } from '../../../src/training/datasets';
import { idxBytes } from '../../unit/training/idxWriter';
import { analyzeJson, buildCliOnce, cliPath, python, repoRoot, requirePython } from '../cliHarness';

const env = { ...process.env, PYTHONPATH: join(repoRoot, 'python'), PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '2', CROSSBAR_LENS_DEBUG: '' };

function run(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
	const r = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: 600_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env });
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The first `train` training and `test` test images of the real files, as a folder of gzipped IDX files. */
async function writeSlice(dir: string, train: number, test: number): Promise<void> {
	const files = findIdxFiles(defaultFashionMnistDir)!;
	mkdirSync(dir, { recursive: true });
	for (const [part, n] of [['train', train], ['t10k', test]] as const) {
		const images = await readIdx(files[`${part}-images`], 3);
		const labels = await readIdx(files[`${part}-labels`], 1);
		writeFileSync(join(dir, `${part}-images-idx3-ubyte.gz`), gzipSync(idxBytes([n, 28, 28], images.data.subarray(0, n * 784))));
		writeFileSync(join(dir, `${part}-labels-idx1-ubyte.gz`), gzipSync(idxBytes([n], labels.data.subarray(0, n))));
	}
}

interface ResultLine { event: 'result'; result: { engine: string; initial: { accuracy: number }; dub: { adcEnergyImprovement: number; accuracy: number }; unstructured?: { adcEnergyImprovement: number } } }

void describe('Fashion-MNIST: the paper-like CNN on the real files, both engines', () => {
	let dir = '';
	let slice = '';
	before(async () => {
		assert.ok(existsSync(defaultFashionMnistDir), `${defaultFashionMnistDir} is missing: apt-get install dataset-fashion-mnist`);
		requirePython('torch', 'onnx');
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-fashion-'));
		slice = join(dir, 'slice');
		await writeSlice(slice, 6000, 1000);
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	void it('PyTorch: a few hundred steps of the FashionCNN from a seeded init learn the slice; the start model is written as ONNX and .pt', () => {
		const r = run(python, ['scripts/make_fashion_model.py', '--steps', '300', '--data', slice, '--out', join(dir, 'start.onnx'), '--pt', join(dir, 'start.pt')]);
		assert.equal(r.status, 0, r.stderr);
		const accuracy = Number(/300 steps: ([\d.]+) %/.exec(r.stdout)?.[1]);
		assert.ok(accuracy > 75, `held-out accuracy after 300 steps: ${accuracy} %`);
		const analysis = analyzeJson<{ layers: { name: string; shape: number[] }[] }>(join(dir, 'start.onnx'), ['--tile', '32']);
		assert.equal(analysis.layers.length, 7, 'seven convolutions');
		assert.deepEqual(analysis.layers[6].shape, [128, 128, 3, 3], 'the widest, last conv: 128 channels');
	});

	const finetune = (args: readonly string[]) => run(process.execPath, [cliPath, 'finetune', ...args, '--ratios', '0,50,70,80,88,95,98', '--tile', '32', '--epochs', '1', '--finetune-epochs', '1', '--batch-size', '64', '--json']);

	void it('crossbar-lens finetune --data fashion-mnist: the PyTorch engine on the real files', () => {
		const out = join(dir, 'dub.pt');
		const r = finetune([join(dir, 'start.pt'), '--data', 'fashion-mnist', '--torchvision', 'fashion-cnn', '--python', python, '--max-steps-per-epoch', '40', '--out', out]);
		assert.equal(r.status, 0, r.stderr);
		const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message?: string });
		const { result } = lines[lines.length - 1] as ResultLine;
		assert.equal(result.engine, 'pytorch');
		assert.ok(result.initial.accuracy > 75, `start: ${result.initial.accuracy} % on the official 10,000`);
		assert.ok(result.dub.adcEnergyImprovement > 1.5, `D.U.B.: ${result.dub.adcEnergyImprovement}×`);
		assert.ok(result.dub.accuracy > 60, `D.U.B.: ${result.dub.accuracy} %`);
		assert.ok(existsSync(out));
	});

	void it('crossbar-lens finetune --data <IDX folder>: the TensorFlow.js engine on the ONNX export', () => {
		const out = join(dir, 'dub.onnx');
		const r = finetune([join(dir, 'start.onnx'), '--data', slice, '--workers', '1', '--max-steps-per-epoch', '10', '--out', out]);
		assert.equal(r.status, 0, r.stderr);
		const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message?: string });
		assert.ok(lines.some((l) => l.event === 'start' && /IDX .*6000 train \/ 1000 held-out/.test(l.message ?? '')), 'the slice: 6000 training images, the official test images held out');
		const { result } = lines[lines.length - 1] as ResultLine;
		assert.equal(result.engine, 'tfjs');
		assert.ok(result.initial.accuracy > 75, `start: ${result.initial.accuracy} %`);
		assert.ok(result.dub.adcEnergyImprovement > 1.5);
		const analysis = analyzeJson<{ totals: { adcEnergyImprovement: number } }>(out, ['--tile', '32']);
		assert.ok(Math.abs(analysis.totals.adcEnergyImprovement - result.dub.adcEnergyImprovement) < 1e-9, 'the written model is the one measured');
	});
});
