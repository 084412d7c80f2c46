// `crossbar-lens tradeoff` on the bundled example, both engines: the ONNX export through the
// TensorFlow.js forward pass, the PyTorch checkpoint through examples/train_digits.py's DigitsCNN in
// Debian's Python. Both read one .npz holding the example's own held-out split (x_test/y_test), so
// the two engines evaluate the same 360 images. Checked against what does not come from the sweep:
// `crossbar-lens analyze` of the model (the dense point), `crossbar-lens prune` at a ratio (the ADC
// figures, and a pruned checkpoint whose accuracy a plain torch forward pass recomputes). The
// engine API (runTradeoff) reports point by point and stops on Cancel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TradeoffDto, TradeoffProgress } from '../../../src/shared/tradeoff';
import { runTradeoff } from '../../../src/training/tradeoff';
import type { TradeoffJob } from '../../../src/training/tradeoff';
import { defaultSweepRatios } from '../../../src/training/tradeoffPlan';
import { analyzeJson, buildCliOnce, python, repoRoot, requireDigits, requirePython, runCli } from '../cliHarness';

const helper = join(__dirname, 'tradeoff_check.py');
const onnx = join(repoRoot, 'examples', 'digits-cnn.onnx');
const checkpoint = join(repoRoot, 'examples', 'digits-cnn.pt');
const factory = `${join(repoRoot, 'examples', 'train_digits.py')}:DigitsCNN`;

function py(args: readonly string[]): string {
	const r = spawnSync(python, [helper, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
	assert.equal(r.status, 0, `${helper} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
	return r.stdout;
}

function tradeoff(args: readonly string[]): { result: TradeoffDto; stderr: string } {
	const r = runCli(['tradeoff', ...args, '--python', python, '--json']);
	assert.equal(r.status, 0, `crossbar-lens tradeoff ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
	return { result: JSON.parse(r.stdout) as TradeoffDto, stderr: r.stderr };
}

const point = (result: TradeoffDto, method: string, ratio: number) => result.points.find((p) => p.method === method && p.ratio === ratio)!;

void describe('interop: crossbar-lens tradeoff on the example model, both engines', () => {
	let dir = '';
	let npz = '';
	let tfjs: TradeoffDto;
	let pytorch: TradeoffDto;
	let tfjsStderr = '';

	before(() => {
		requirePython('torch', 'sklearn');
		requireDigits();
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-lens-tradeoff-'));
		npz = join(dir, 'digits.npz');
		py(['make-npz', npz]);
		({ result: tfjs, stderr: tfjsStderr } = tradeoff([onnx, '--data', npz, '--tile', '16']));
		({ result: pytorch } = tradeoff([checkpoint, '--data', npz, '--tile', '16', '--factory', factory]));
	});

	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	void it('gives exactly the points asked: the default ratios, D.U.B. and unstructured at each', () => {
		for (const result of [tfjs, pytorch]) {
			assert.deepEqual(result.ratios, defaultSweepRatios);
			assert.deepEqual(result.points.map((p) => `${p.method}@${p.ratio}`), defaultSweepRatios.flatMap((r) => [`dub@${r}`, `unstructured@${r}`]));
			assert.equal(result.testImages, 360);
			assert.deepEqual(result.convLayers, ['conv1', 'conv2', 'conv3']);
			for (const p of result.points) assert.deepEqual(p.layerRatios, [p.ratio, p.ratio, p.ratio]);
		}
		assert.equal(tfjs.engine, 'tfjs');
		assert.equal(pytorch.engine, 'pytorch');
		assert.match(tfjsStderr, /\[ 1\/20\] D\.U\.B\. 0 %/, 'progress on stderr');
	});

	void it('the dense point is the analysis of the model, and so is every ratio-0 improvement', () => {
		const analysis = analyzeJson<{ totals: { adcEnergyImprovement: number; adcBits: number; levelHistogram: number[] } }>(onnx, ['--tile', '16']);
		for (const result of [tfjs, pytorch]) {
			assert.equal(result.dense.improvement, analysis.totals.adcEnergyImprovement);
			assert.deepEqual(result.dense.levelHistogram, analysis.totals.levelHistogram);
			assert.equal(result.dense.adcBits, analysis.totals.adcBits);
			assert.equal(point(result, 'dub', 0).improvement, analysis.totals.adcEnergyImprovement);
			assert.equal(point(result, 'unstructured', 0).improvement, analysis.totals.adcEnergyImprovement);
			// Unstructured at 0 % zeroes only each layer's smallest weight: the model answers as the dense one.
			assert.equal(point(result, 'unstructured', 0).accuracy, result.dense.accuracy);
			// D.U.B. at 0 % is not the dense model: the reference prunes each column's smallest weight of a crossbar loosened to level 0 (A7).
			assert.ok(point(result, 'dub', 0).zerosFraction > 0.05, `${point(result, 'dub', 0).zerosFraction}`);
		}
	});

	void it('D.U.B. saves at least as much ADC energy as unstructured pruning at every ratio', () => {
		for (const result of [tfjs, pytorch]) {
			for (const r of result.ratios) {
				assert.ok(point(result, 'dub', r).improvement! >= point(result, 'unstructured', r).improvement!, `${result.engine} at ${r} %`);
			}
			assert.ok(point(result, 'dub', 90).improvement! > point(result, 'unstructured', 90).improvement!);
		}
	});

	void it('tfjs on the ONNX export and PyTorch on the checkpoint prune the same weights and agree on accuracy', () => {
		tfjs.points.forEach((p, i) => {
			const q = pytorch.points[i];
			assert.deepEqual(p.levelHistogram, q.levelHistogram, `${p.method} ${p.ratio}`);
			assert.equal(p.zerosFraction, q.zerosFraction, `${p.method} ${p.ratio}`);
			// The same network on the same images: at most one image apart (float rounding at a near tie).
			assert.ok(Math.abs(p.accuracy - q.accuracy) <= 100 / 360 + 1e-9, `${p.method} ${p.ratio}: tfjs ${p.accuracy} %, PyTorch ${q.accuracy} %`);
		});
		assert.ok(Math.abs(tfjs.dense.accuracy - pytorch.dense.accuracy) <= 100 / 360 + 1e-9);
	});

	for (const [method, ratio] of [['dub', 90], ['unstructured', 95], ['dub', 98]] as const) {
		void it(`${method} at ${ratio} %: the ADC figures of crossbar-lens prune, the accuracy of its pruned checkpoint`, () => {
			const out = join(dir, `${method}-${ratio}.pt`);
			const r = runCli(['prune', checkpoint, '--method', method, '--ratio', String(ratio), '--tile', '16', '--out', out, '--json']);
			assert.equal(r.status, 0, r.stderr);
			const pruned = JSON.parse(r.stdout) as { after: { totals: { adcEnergyImprovement: number; levelHistogram: number[]; zeros: number; weights: number } } };
			const evaluated = JSON.parse(py(['evaluate', out, npz])) as { accuracy: number; total: number };
			assert.equal(evaluated.total, 360);
			for (const result of [tfjs, pytorch]) {
				const p = point(result, method, ratio);
				assert.deepEqual(p.levelHistogram, pruned.after.totals.levelHistogram);
				assert.equal(p.improvement, pruned.after.totals.adcEnergyImprovement);
				assert.equal(p.zerosFraction, pruned.after.totals.zeros / pruned.after.totals.weights);
			}
			assert.equal(point(pytorch, method, ratio).accuracy, evaluated.accuracy, 'PyTorch engine = a plain forward pass of the pruned file');
			assert.ok(Math.abs(point(tfjs, method, ratio).accuracy - evaluated.accuracy) <= 100 / 360 + 1e-9, `tfjs ${point(tfjs, method, ratio).accuracy} %, torch ${evaluated.accuracy} %`);
		});
	}

	void it('another law, CSV, and a preset: the improvement is the analysis\'s under that law', () => {
		const out = join(dir, 'dub-90-walden.pt');
		assert.equal(runCli(['prune', checkpoint, '--method', 'dub', '--ratio', '90', '--tile', '16', '--out', out]).status, 0);
		const walden = analyzeJson<{ totals: { adcEnergyImprovement: number } }>(out, ['--tile', '16', '--adc-law', 'walden']);
		const r = runCli(['tradeoff', onnx, '--data', npz, '--tile', '16', '--adc-law', 'walden', '--ratios', '90,0', '--methods', 'dub', '--csv']);
		assert.equal(r.status, 0, r.stderr);
		const rows = r.stdout.trim().split('\r\n').map((line) => line.split(','));
		const column = (name: string) => rows[0].indexOf(name);
		assert.deepEqual(rows.map((row) => row[0]), ['method', 'dense', 'dub', 'dub']);
		assert.deepEqual(rows.slice(2).map((row) => row[column('ratio')]), ['0', '90']);
		assert.equal(Number(rows[3][column('adc_energy_improvement')]), walden.totals.adcEnergyImprovement);
		assert.equal(rows[3][column('adc_law')], 'walden');
		// A preset the example's three convs do not have is a usage error naming the layer that does not fit.
		const preset = runCli(['tradeoff', onnx, '--data', npz, '--tile', '16', '--preset', 'vgg11-cifar10']);
		assert.equal(preset.status, 2, preset.stderr);
		assert.match(preset.stderr, /Preset 'vgg11-cifar10' does not fit: conv layer #0 'conv1'/);
	});

	for (const engine of ['tfjs', 'pytorch'] as const) {
		void it(`runTradeoff (${engine}): progress point by point, and Cancel ends the sweep`, async () => {
			const job: TradeoffJob = engine === 'tfjs'
				? { modelPath: onnx, dataset: { kind: 'npz', path: npz }, crossbarSize: 16 }
				: { modelPath: checkpoint, dataset: { kind: 'npz', path: npz }, crossbarSize: 16, engineOptions: { modelFactory: factory } };
			const settings = { pytorch: { pythonPath: python } };
			const all: TradeoffProgress[] = [];
			const whole = await runTradeoff({ ...job, ratios: [0, 90] }, (p) => all.push(p), new AbortController().signal, settings);
			assert.deepEqual(all.map((p) => (p.kind === 'point' ? `${p.index}/${p.total} ${p.point.method}@${p.point.ratio}` : p.kind)).filter((k) => k !== 'log'),
				['start', 'dense', '1/4 dub@0', '2/4 unstructured@0', '3/4 dub@90', '4/4 unstructured@90']);
			assert.deepEqual(whole.points, (engine === 'tfjs' ? tfjs : pytorch).points.filter((p) => p.ratio === 0 || p.ratio === 90));

			const abort = new AbortController();
			const seen: TradeoffProgress[] = [];
			const many = Array.from({ length: 99 }, (_, i) => i);
			await assert.rejects(runTradeoff({ ...job, ratios: many }, (p) => {
				seen.push(p);
				if (p.kind === 'point') abort.abort();
			}, abort.signal, settings), (ex: Error) => ex.name === 'AbortError');
			const points = seen.filter((p) => p.kind === 'point').length;
			assert.ok(points >= 1 && points < 2 * many.length, `${points} points before the cancel took`);
		});
	}

	void it('exit codes: 2 for usage, 3 for a file that is no model, one line each', () => {
		const notModel = join(dir, 'broken.onnx');
		writeFileSync(notModel, 'this is not a model');
		const cases: [string[], number, RegExp][] = [
			[['tradeoff', onnx], 2, /tradeoff needs --data/],
			[['tradeoff', onnx, '--data', npz, '--json', '--csv'], 2, /one of --json and --csv/],
			[['tradeoff', onnx, '--data', npz, '--ratios', '50,100'], 2, /below 100/],
			[['tradeoff', onnx, '--data', npz, '--methods', 'tiles'], 2, /methods are dub and unstructured/],
			[['tradeoff', checkpoint, '--data', npz], 2, /needs the architecture of digits-cnn\.pt/],
			[['tradeoff', checkpoint, '--data', join(dir, 'missing.npz'), '--torchvision', 'digits-cnn', '--python', python], 2, /missing\.npz/],
			[['tradeoff', onnx, '--data', join(dir, 'missing.npz')], 2, /missing\.npz/],
			[['tradeoff', notModel, '--data', npz], 3, /broken\.onnx/],
		];
		for (const [args, status, message] of cases) {
			const r = runCli(args);
			assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
			const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith("Run 'crossbar-lens --help'"));
			assert.match(lines.at(-1)!, message, args.join(' '));
			assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
		}
	});
});
