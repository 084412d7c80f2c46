import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AnalysisJson } from './cliHarness';
import { analyzeJson, buildCliOnce, python, repoRoot, requirePython, runCli } from './cliHarness';

/**
 * Keras models (.h5 in Keras 2's layout, .keras in Keras 3's) made from the example digits CNN
 * by scripts/make_keras_example.py with h5py: the analysis equals the PyTorch checkpoint's (same
 * weights, HWIO vs OIHW), prune writes a file h5py reads with only the conv kernels changed, and
 * the tfjs engine trains them to exactly the numbers it gets for the ONNX export of the same model.
 */
function h5Datasets(file: string): Record<string, { zeros: number; size: number; sum: number }> {
	const script = `
import h5py, io, json, sys, zipfile
path = sys.argv[1]
f = h5py.File(io.BytesIO(zipfile.ZipFile(path).read('model.weights.h5'))) if path.endswith('.keras') else h5py.File(path)
out = {}
f.visititems(lambda n, o: out.__setitem__(n, {'zeros': int((o[()] == 0).sum()), 'size': int(o.size), 'sum': float(abs(o[()]).sum())}) if isinstance(o, h5py.Dataset) else None)
print(json.dumps(out))`;
	const r = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout) as Record<string, { zeros: number; size: number; sum: number }>;
}

void describe('Keras .h5 and .keras (h5py-written, Keras 2 and Keras 3 layouts)', () => {
	let dir = '';
	before(() => {
		requirePython('h5py', 'numpy');
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-keras-'));
		for (const [src, name] of [['examples/digits-cnn.pt', 'dense'], ['examples/digits-cnn.dub.pt', 'dub']]) {
			const r = spawnSync(python, [join(repoRoot, 'scripts', 'make_keras_example.py'), '--src', join(repoRoot, src), '--out', dir, '--name', name], { encoding: 'utf8' });
			assert.equal(r.status, 0, r.stderr);
		}
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	for (const ext of ['h5', 'keras']) {
		void it(`.${ext}: every layer's levels equal the PyTorch checkpoint's, with per-inference sizes from the config`, () => {
			for (const [name, pt] of [['dense', 'examples/digits-cnn.pt'], ['dub', 'examples/digits-cnn.dub.pt']]) {
				const keras = analyzeJson(join(dir, `${name}.${ext}`), ['--tile', '16']);
				const torch = analyzeJson(join(repoRoot, pt), ['--tile', '16']);
				assert.equal(keras.format, 'keras');
				assert.deepEqual(keras.layers.map((l) => [l.matrix, l.levelHistogram, l.zeros]), torch.layers.map((l) => [l.matrix, l.levelHistogram, l.zeros]));
				assert.equal(keras.totals.adcEnergyImprovement, torch.totals.adcEnergyImprovement);
				// 8×8 input, same padding, 2×2 pools: 64, 64 and 16 positions per inference.
				const layers = keras.layers as unknown as { tiles: number; invocationsPerInference: number }[];
				assert.deepEqual(layers.map((l) => l.invocationsPerInference), [64, 64, 16]);
				assert.equal(keras.totals.perInference?.crossbarActivations, layers.reduce((sum, l) => sum + l.tiles * l.invocationsPerInference, 0));
			}
		});

		void it(`.${ext}: prune writes a new file in which only the conv kernels changed`, () => {
			const input = join(dir, `dense.${ext}`);
			const out = join(dir, `pruned.${ext}`);
			const r = runCli(['prune', input, '--out', out, '--ratios', '0,88,92', '--tile', '16', '--json']);
			assert.equal(r.status, 0, r.stderr);
			const before = h5Datasets(input);
			const written = h5Datasets(out);
			assert.deepEqual(Object.keys(written), Object.keys(before));
			for (const [path, stats] of Object.entries(before)) {
				// The 2nd and 3rd convs (88 and 92 %) lose most weights; the 1st (0 %) at most a few. Keras 2 names
				// groups by layer (stem, body, head), Keras 3 by class and place (conv2d, conv2d_1, conv2d_2).
				if (/^model_weights\/(body|head)\/\1\/kernel:0$|^layers\/conv2d_[12]\/vars\/0$/.test(path)) assert.ok(written[path].zeros > stats.size * 0.7, `${path}: ${written[path].zeros} of ${stats.size} zero`);
				else if (/^model_weights\/stem\/stem\/kernel:0$|^layers\/conv2d\/vars\/0$/.test(path)) assert.ok(written[path].zeros >= stats.zeros);
				else assert.deepEqual(written[path], stats, `${path} changed`);
			}
			const result = JSON.parse(r.stdout) as { after: { totals: { adcEnergyImprovement: number } } };
			assert.equal(analyzeJson(out, ['--tile', '16']).totals.adcEnergyImprovement, result.after.totals.adcEnergyImprovement);
			assert.equal(runCli(['prune', input, '--out', out, '--ratio', '50']).status, 2, 'an existing output is refused');
		});
	}

	void it('the tfjs engine trains a .keras and a .h5 exactly as the ONNX export of the same model', () => {
		const run = (model: string, out: string): string => {
			const r = runCli(['finetune', model, '--data', 'digits', '--ratios', '0,88,92', '--tile', '16', '--epochs', '1', '--finetune-epochs', '1', '--engine', 'tfjs', '--workers', '1', '--json', '--out', out]);
			assert.equal(r.status, 0, r.stderr);
			const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { result: { initial: unknown; regularized: unknown; dub: unknown; unstructured: unknown } };
			// Layer names differ (conv1 in the ONNX export, conv2d in Keras); every number must not.
			return JSON.stringify([last.result.initial, last.result.regularized, last.result.dub, last.result.unstructured]).replace(/"name":"[^"]*"/g, '');
		};
		const onnx = run(join(repoRoot, 'examples', 'digits-cnn.onnx'), join(dir, 'ft.onnx'));
		assert.equal(run(join(dir, 'dense.keras'), join(dir, 'ft.keras')), onnx);
		assert.equal(run(join(dir, 'dense.h5'), join(dir, 'ft.h5')), onnx);
		const analysed = analyzeJson<AnalysisJson>(join(dir, 'ft.keras'), ['--tile', '16']);
		assert.ok((analysed.totals.adcEnergyImprovement ?? 0) > 1);
	});

	void it('weights-only files (save_weights): Keras 2 kernels in layer_names order, Keras 3 by name, with a warning', () => {
		const script = `
import h5py, numpy as np, sys
rng = np.random.default_rng(0)
with h5py.File(sys.argv[1], 'w') as f:  # Keras 2 model.save_weights('w.h5'): layers at the root
    f.attrs['layer_names'] = np.array([b'conv2d_2', b'conv2d_10', b'dense'])
    for name, shape in [('conv2d_2', (3, 3, 1, 4)), ('conv2d_10', (3, 3, 4, 8)), ('dense', (8, 10))]:
        g = f.create_group(name)
        g.attrs['weight_names'] = np.array([f'{name}/kernel:0'.encode()])
        g.create_dataset(f'{name}/kernel:0', data=rng.standard_normal(shape).astype('f4'))
with h5py.File(sys.argv[2], 'w') as f:  # Keras 3 model.save_weights('w.weights.h5')
    for name, shape in [('conv2d', (3, 3, 1, 4)), ('conv2d_1', (3, 3, 4, 8))]:
        f.create_dataset(f'layers/{name}/vars/0', data=rng.standard_normal(shape).astype('f4'))`;
		const legacy = join(dir, 'w.h5');
		const v3 = join(dir, 'w.weights.h5');
		const r = spawnSync(python, ['-c', script, legacy, v3], { encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr);
		const a = analyzeJson(legacy, ['--tile', '16', '--include-linear']);
		assert.deepEqual(a.layers.map((l) => [l.name, l.kind, l.matrix]), [['conv2d_2', 'conv', [4, 9]], ['conv2d_10', 'conv', [8, 36]], ['dense', 'linear', [10, 8]]]);
		assert.ok(a.warnings.some((w) => /weights only.*layer_names/.test(w)), a.warnings.join(' | '));
		const b = analyzeJson(v3, ['--tile', '16']);
		assert.deepEqual(b.layers.map((l) => [l.name, l.matrix]), [['conv2d', [4, 9]], ['conv2d_1', [8, 36]]]);
		assert.ok(b.warnings.some((w) => /weights only.*name order/.test(w)), b.warnings.join(' | '));
	});

	void it('a truncated .h5 or .keras, or a .keras zip without model.weights.h5: one line naming the file, exit 3', () => {
		const cut = (name: string, keep: number): string => {
			const path = join(dir, `broken-${name}`);
			writeFileSync(path, readFileSync(join(dir, name)).subarray(0, keep));
			return path;
		};
		const notKeras = join(dir, 'notes.keras');
		const zip = spawnSync(python, ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("notes.txt", "hello")', notKeras]);
		assert.equal(zip.status, 0);
		for (const [file, why] of [[cut('dense.h5', 3000), /truncated/], [cut('dense.keras', 40000), /truncated/], [notKeras, /model\.weights\.h5/]] as const) {
			const r = runCli(['analyze', file]);
			assert.equal(r.status, 3, r.stderr);
			assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
			assert.ok(r.stderr.includes(file), r.stderr);
			assert.match(r.stderr, why);
		}
	});
});
