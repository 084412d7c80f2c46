// The built CLI's contract: exit codes, one-line errors on broken or hostile files (no stack
// traces, no code run from a pickle, no unbounded allocation), --fail-under, the --json fields
// and the bundled example.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeJson, buildCliOnce, generate, readJson, runCli } from './cliHarness';

interface ErrorsManifest {
	files: Record<string, { expect: 3 | 'ok'; reason?: string; marker?: string }>;
}

const example = join('examples', 'digits-cnn.pt');

/** Exit 3 and exactly one stderr line that names the file, with no stack frames. */
function assertOneLineError(file: string, reason?: string): string {
	const r = runCli(['analyze', file]);
	const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
	assert.equal(r.status, 3, `${file}: exit ${r.status}, stderr: ${r.stderr}`);
	assert.equal(lines.length, 1, `${file}: stderr must be one line, got:\n${r.stderr}`);
	const line = lines[0];
	const base = file.split('/').pop() ?? file;
	assert.ok(line.includes(base), `${file}: the error names the file: ${line}`);
	assert.ok(!/^\s+at /m.test(r.stderr) && !/\.(?:js|ts|mjs|cjs):\d+:\d+/.test(r.stderr), `${file}: no stack trace: ${r.stderr}`);
	assert.ok(/\[[a-z-]+\]/.test(line), `${file}: the error ends with its [reason]: ${line}`);
	if (reason) assert.ok(line.includes(`[${reason}]`), `${file}: reason ${reason} expected: ${line}`);
	assert.equal(r.stdout, '', `${file}: nothing on stdout`);
	return line;
}

void describe('interop: CLI exit codes, errors and output contract', () => {
	let dir = '';
	let manifest: ErrorsManifest;

	before(() => {
		buildCliOnce();
		dir = generate('errors');
		manifest = readJson<ErrorsManifest>(join(dir, 'manifest.json'));
	});

	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	void describe('usage errors exit 2', () => {
		for (const [label, args] of [
			['unknown option', ['analyze', example, '--bogus']],
			['missing file argument', ['analyze']],
			['--tile 48 (not a power of two)', ['analyze', example, '--tile', '48']],
			['--tile without a value', ['analyze', example, '--tile']],
			['two model files', ['analyze', example, example]],
			['unknown command', ['analyse', example]],
			['sweep --tiles 16,48 (not a power of two)', ['sweep', example, '--tiles', '16,48']],
			['sweep --slices 4 at --tiles 2 (more slices than rows)', ['sweep', example, '--tiles', '2', '--slices', '4']],
			['sweep --adc-law with an unknown law', ['sweep', example, '--adc-law', 'paper,linear']],
			['sweep --json and --csv together', ['sweep', example, '--json', '--csv']],
		] as const) {
			void it(label, () => {
				const r = runCli(args);
				assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
				assert.match(r.stderr, /^crossbar-lens: /);
				assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
				assert.equal(r.stdout, '');
			});
		}
	});

	void describe('files that cannot be read exit 3 with one line naming the file and the reason', () => {
		const cases: [string, string, string?][] = [
			['a truncated real checkpoint (ResNet18, cut in the middle)', 'truncated-resnet18.pt'],
			['a truncated real checkpoint (the example, cut in the middle)', 'truncated-digits.pt'],
			['wrong magic: a text file renamed .pt', 'text-renamed.pt'],
			['a zip whose central directory lies about data.pkl\'s size', 'zip-size-lie-pkl.pt'],
			['a zip whose central directory lies about a tensor record\'s size', 'zip-size-lie-tensor.pt'],
			['safetensors header length 2^60', 'huge-header.safetensors'],
			['safetensors tensor of 2^80 elements', 'huge-shape.safetensors'],
			['npz with a .npy header length of 4 GB', 'huge-header.npz'],
			['npz with a .npy shape of 2^80 elements', 'huge-shape.npz'],
			['ONNX with a field length of 2^60', 'huge-length.onnx'],
			['ONNX whose conv weight declares 2^80 elements', 'huge-dims.onnx'],
			['a real checkpoint with a NaN weight', 'nan-weights.pt', 'nan-weights'],
		];
		for (const [label, file, reason] of cases) {
			void it(label, () => {
				assert.equal(manifest.files[file]?.expect, 3, `${file} is in the generator's manifest`);
				assertOneLineError(join(dir, file), reason);
			});
		}

		void it('a torch zip whose data.pkl calls os.system: refused, nothing executed', () => {
			const info = manifest.files['pickle-exploit.pt'];
			assert.ok(info.marker);
			assertOneLineError(join(dir, 'pickle-exploit.pt'), 'unsafe-pickle-global');
			assert.ok(!existsSync(info.marker), 'the pickle\'s os.system ran: the marker file exists');
		});

		void it('a legacy (non-zip) pickle calling os.system: refused, nothing executed', () => {
			const info = manifest.files['pickle-exploit-legacy.pt'];
			assert.ok(info.marker);
			assertOneLineError(join(dir, 'pickle-exploit-legacy.pt'));
			assert.ok(!existsSync(info.marker), 'the pickle\'s os.system ran: the marker file exists');
		});

		void it('a missing file', () => {
			assertOneLineError(join(dir, 'does-not-exist.pt'), 'not-found');
		});

		void it('an empty file', () => {
			const file = join(dir, 'empty.pt');
			writeFileSync(file, '');
			assertOneLineError(file);
		});

		void it('sweep exits as analyze does: 3 and one line for a file it cannot read', () => {
			const file = join(dir, 'does-not-exist.pt');
			const r = runCli(['sweep', file]);
			assert.equal(r.status, 3, r.stderr);
			assert.equal(r.stderr.trim().split('\n').length, 1);
			assert.match(r.stderr, /does-not-exist\.pt.*\[not-found\]/);
			assert.equal(r.stdout, '');
		});
	});

	void describe('--fail-under', () => {
		for (const [label, file] of [['sparse checkpoint', 'sparse-small.pt'], ['the example', '']] as const) {
			void it(`${label}: exit 4 below the budget, 0 above it`, () => {
				const path = file ? join(dir, file) : example;
				const achieved = analyzeJson(path).totals.adcEnergyImprovement;
				assert.ok(achieved !== null && achieved >= 1, `improvement ${String(achieved)}`);
				const below = runCli(['analyze', path, '--fail-under', String(achieved * 1.01)]);
				assert.equal(below.status, 4, `--fail-under ${achieved * 1.01}: exit ${below.status} ${below.stderr}`);
				assert.ok(below.stderr.includes('--fail-under'), below.stderr);
				assert.ok(below.stdout.includes('total'), 'the report is still printed');
				const above = runCli(['analyze', path, '--fail-under', String(achieved * 0.99), '--json']);
				assert.equal(above.status, 0, `--fail-under ${achieved * 0.99}: exit ${above.status} ${above.stderr}`);
				assert.equal(above.stderr, '');
			});
		}
		void it('a non-numeric budget is a usage error', () => {
			assert.equal(runCli(['analyze', example, '--fail-under', 'lots']).status, 2);
		});
	});

	void describe('output', () => {
		void it('--json parses and has the contract fields', () => {
			const doc = analyzeJson<Record<string, unknown>>(join(dir, 'sparse-small.pt'));
			assert.equal(doc.format, 'pytorch');
			assert.equal(typeof doc.profile, 'object');
			assert.ok(Array.isArray(doc.warnings));
			const layers = doc.layers as Record<string, unknown>[];
			assert.deepEqual(layers.map((l) => l.name), ['features.0', 'features.3']);
			const number = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
			for (const layer of layers) {
				assert.equal(layer.kind, 'conv');
				assert.ok(Array.isArray(layer.shape) && (layer.shape as unknown[]).every(number));
				assert.ok(Array.isArray(layer.matrix) && (layer.matrix as unknown[]).length === 2);
				for (const f of ['tiles', 'weights', 'zeros', 'adcBitsDense', 'adcBits']) assert.ok(number(layer[f]), `layers[].${f}`);
				assert.ok(Array.isArray(layer.levelHistogram) && (layer.levelHistogram as unknown[]).length === 8, 'layers[].levelHistogram (B = 8 at T = 64)');
				assert.ok(layer.adcEnergyImprovement === null || number(layer.adcEnergyImprovement), 'layers[].adcEnergyImprovement');
			}
			const totals = doc.totals as Record<string, unknown>;
			for (const f of ['tiles', 'weights', 'zeros', 'adcBitsDense', 'adcBits']) assert.ok(number(totals[f]), `totals.${f}`);
			assert.ok(Array.isArray(totals.levelHistogram));
			assert.ok(totals.adcEnergyImprovement === null || number(totals.adcEnergyImprovement));
			assert.equal(totals.tiles, layers.reduce((s, l) => s + (l.tiles as number), 0));
		});

		void it('the example: `analyze examples/digits-cnn.pt` prints a table with every conv layer and a total row', () => {
			const r = runCli(['analyze', example]);
			assert.equal(r.status, 0, r.stderr);
			const lines = r.stdout.split('\n');
			for (const layer of ['conv1', 'conv2', 'conv3']) {
				assert.ok(lines.some((l) => l.startsWith(`${layer} `)), `a row for ${layer}:\n${r.stdout}`);
			}
			assert.ok(lines.some((l) => /^total\s/.test(l)), `a total row:\n${r.stdout}`);
			assert.ok(!lines.some((l) => l.startsWith('fc ')), 'the linear layer is not counted by default');
		});

		void it('the example\'s ONNX export analyses to the same histograms as the checkpoint', () => {
			const pt = analyzeJson(example);
			const onnx = analyzeJson(join('examples', 'digits-cnn.onnx'));
			assert.deepEqual(onnx.layers.map((l) => l.levelHistogram), pt.layers.map((l) => l.levelHistogram));
			assert.ok(onnx.totals.perInference, 'ONNX carries output sizes');
		});
	});
});
