// The checkpoints researchers actually have, written by real torch (make_real_checkpoints.py):
// torch.nn.utils.prune masks, Hugging Face sharded folders, whole pickled models, legacy files,
// torch.ao quantized state_dicts, Lightning and DataParallel checkpoints. The built CLI's numbers
// must be those of the NumPy reference on the weights the model's forward uses; what `prune`
// writes back must load in torch in the same form; and no pickle may ever be run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeJson, buildCliOnce, cliPath, python, readJson, repoRoot, runCli } from './cliHarness';
import type { AnalysisJson } from './cliHarness';
import { assertMatches, statFields } from './referenceMatch';
import type { Expected } from './referenceMatch';

const generator = join(__dirname, 'make_real_checkpoints.py');
const configs: Record<string, string[]> = { T64: ['--tile', '64'], T32: ['--tile', '32'] };

interface Case {
	file: string;
	layers: string[];
	expected: Record<string, Expected>;
}

interface Manifest {
	marker: string;
	pruned: Case & { methods: Record<string, string> };
	resnet18: Case & {
		shardedSafetensors: string; shardedBin: string; missingShard: string; truncatedShard: string;
		whole: string; legacy: string; dataparallel: string; lightning: string; lightningExpected: Record<string, Expected>;
	};
	custom: Case & { stateDict: string };
	quantized: Case;
	digits: { pruned: string; whole: string; usersModules: string };
}

interface PruneJson extends Pick<AnalysisJson, 'layers' | 'totals'> {
	notes: string[];
	after: Pick<AnalysisJson, 'layers' | 'totals'>;
}

const env = { ...process.env, PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '2', PYTHONPATH: join(repoRoot, 'python') };

function runPython(args: readonly string[]): string {
	const r = spawnSync(python, [generator, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024, env });
	assert.equal(r.error, undefined, `${python} make_real_checkpoints.py: ${String(r.error)} (needs Debian's python3-torch python3-torchvision)`);
	assert.equal(r.status, 0, `make_real_checkpoints.py ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
	return r.stdout;
}

/** What make_real_checkpoints.py --check says about an output of `prune`: torch loaded it; the NumPy statistics of its effective weights. */
function checkOutput(kind: string, input: string, output: string, reference?: string): { stats: Expected; reparametrised?: string[] } {
	return JSON.parse(runPython(['--check', kind, '--input', input, '--output', output, ...(reference ? ['--reference', reference] : [])])) as { stats: Expected };
}

/** The same layers and totals (every statistic), whatever the file was called. */
function assertSameAnalysis(actual: Pick<AnalysisJson, 'layers' | 'totals'>, expected: Pick<AnalysisJson, 'layers' | 'totals'>, label: string, names = true): void {
	assert.equal(actual.layers.length, expected.layers.length, `${label}: layer count`);
	actual.layers.forEach((layer, i) => {
		if (names) assert.equal(layer.name, expected.layers[i].name, `${label}: layer ${i}`);
		for (const field of [...statFields, 'matrix', 'kind'] as const) {
			assert.deepEqual(layer[field], expected.layers[i][field], `${label}: ${layer.name} ${field}`);
		}
	});
	for (const field of statFields) {
		assert.deepEqual(actual.totals[field], expected.totals[field], `${label}: totals.${field}`);
	}
}

function prune(input: string, out: string, extra: readonly string[] = ['--ratio', '60']): PruneJson {
	const r = runCli(['prune', input, '--out', out, '--json', ...extra]);
	assert.equal(r.status, 0, `prune ${input}: exit ${r.status}: ${r.stderr}`);
	return JSON.parse(r.stdout) as PruneJson;
}

/** Exit 3, one stderr line that names `mention`. */
function assertOneLine(file: string, mention: string): string {
	const r = runCli(['analyze', file]);
	const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
	assert.equal(r.status, 3, `${file}: exit ${r.status}: ${r.stderr}`);
	assert.equal(lines.length, 1, r.stderr);
	assert.ok(lines[0].includes(mention), lines[0]);
	assert.ok(!/\bat .+:\d+:\d+/.test(r.stderr), 'no stack trace');
	return lines[0];
}

void describe('interop: checkpoints as researchers have them, written by real torch', () => {
	let dir = '';
	let m: Manifest;
	const at = (file: string): string => join(dir, file);

	before(() => {
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-real-checkpoints-'));
		runPython(['--out', dir]);
		m = readJson<Manifest>(join(dir, 'manifest.json'));
	});
	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	void describe('torch.nn.utils.prune (weight_orig + weight_mask)', () => {
		void it('ResNet-18 pruned with l1_unstructured and ln_structured: one layer per conv, levels equal NumPy on orig * mask', () => {
			assert.ok(Object.values(m.pruned.methods).some((x) => x === 'l1_unstructured') && Object.values(m.pruned.methods).some((x) => x === 'ln_structured'));
			for (const key of ['T64', 'T32']) {
				const result = analyzeJson(at(m.pruned.file), configs[key]);
				assertMatches(result, m.pruned.expected[key], `${m.pruned.file} ${key}`);
				assert.ok(result.warnings.some((w) => w.includes('torch.nn.utils.prune')), result.warnings.join(' | '));
			}
		});

		void it('prune keeps it loadable in the same form: mask = old mask ∧ D.U.B. mask, weight_orig zero where the mask is', () => {
			const out = at('pruned-out.pt');
			const result = prune(at(m.pruned.file), out);
			assert.ok(result.notes.some((n) => n.includes('torch.nn.utils.prune form')), result.notes.join(' | '));
			const check = checkOutput('prune-masks', at(m.pruned.file), out);
			assert.ok((check.reparametrised ?? []).length > 0);
			// torch's view of the written file is what prune reported.
			assertMatches(result.after, check.stats, 'prune-masks output');
			assertSameAnalysis(analyzeJson(out), result.after, 'the output analysed again');
		});
	});

	void describe('sharded checkpoints (Hugging Face index + shards)', () => {
		void it('safetensors shards written by hand and torch .bin shards analyse exactly like the unsharded file', () => {
			const unsharded = analyzeJson(at(m.resnet18.file));
			assertMatches(unsharded, m.resnet18.expected.T64, 'resnet18.pt');
			for (const index of [m.resnet18.shardedSafetensors, m.resnet18.shardedBin]) {
				for (const key of ['T64', 'T32']) {
					assertMatches(analyzeJson(at(index), configs[key]), m.resnet18.expected[key], `${index} ${key}`);
				}
				const result = analyzeJson<AnalysisJson & { file: string }>(at(index));
				assertSameAnalysis(result, unsharded, index);
				assert.equal(basename(result.file), dirname(index), 'the model is named by its folder');
			}
		});

		void it('a missing or truncated shard is one line naming the shard', () => {
			assertOneLine(at(m.resnet18.missingShard), 'model-00002-of-00003.safetensors');
			assertOneLine(at(m.resnet18.truncatedShard), 'model-00002-of-00003.safetensors');
		});

		void it('prune writes a new index with every shard, which torch (.bin) and the safetensors layout read back', () => {
			for (const [index, kind] of [[m.resnet18.shardedSafetensors, 'sharded-st'], [m.resnet18.shardedBin, 'sharded-bin']] as const) {
				const folder = at(`pruned-${kind}`);
				mkdirSync(folder);
				const out = join(folder, basename(index));
				const result = prune(at(index), out, ['--ratio', '50']);
				assertMatches(result.after, checkOutput(kind, at(index), out, at(m.resnet18.file)).stats, `${kind} output`);
				assertSameAnalysis(analyzeJson(out), result.after, `${kind} output analysed again`);
			}
		});
	});

	void describe('whole pickled models (torch.save(model)) read as data', () => {
		void it('torch.save(resnet18) analyses exactly like its state_dict', () => {
			const result = analyzeJson(at(m.resnet18.whole));
			assertMatches(result, m.resnet18.expected.T64, m.resnet18.whole);
			assert.ok(result.warnings.some((w) => w.includes('torchvision.models.resnet.ResNet') && w.includes('nothing was run')), result.warnings.join(' | '));
		});

		void it('a class defined in the generator script analyses like its state_dict, and its code never runs', () => {
			for (const key of ['T64', 'T32']) {
				const whole = analyzeJson(at(m.custom.file), configs[key]);
				assertMatches(whole, m.custom.expected[key], `${m.custom.file} ${key}`);
				assertSameAnalysis(whole, analyzeJson(at(m.custom.stateDict), configs[key]), 'whole vs state_dict');
			}
			assert.ok(!existsSync(m.marker), 'the class was unpickled with its code: the marker file exists');
		});

		void it('prune writes a state_dict, says so, and torch loads it with weights_only=True', () => {
			for (const [input, reference] of [[m.resnet18.whole, m.resnet18.file], [m.custom.file, m.custom.stateDict]]) {
				const out = at(`${basename(input, '.pt')}-pruned.pt`);
				const result = prune(at(input), out);
				assert.ok(result.notes.some((n) => n.includes('state_dict') && n.includes('whole pickled model')), result.notes.join(' | '));
				assertMatches(result.after, checkOutput('state-dict', at(input), out, at(reference)).stats, `${input} output`);
			}
			assert.ok(!existsSync(m.marker), 'the marker file exists');
		});
	});

	void describe('legacy (pre-1.6, non-zip) checkpoints', () => {
		void it('analyse like the zip file, and prune writes a legacy file torch reads', () => {
			assertMatches(analyzeJson(at(m.resnet18.legacy)), m.resnet18.expected.T64, m.resnet18.legacy);
			const out = at('legacy-pruned.pt');
			const result = prune(at(m.resnet18.legacy), out);
			assertMatches(result.after, checkOutput('legacy', at(m.resnet18.legacy), out, at(m.resnet18.file)).stats, 'legacy output');
		});
	});

	void describe('torch.ao quantized, Lightning and DataParallel checkpoints', () => {
		void it('quantized int8 weights: zero where the integer is the zero point, as NumPy on the dequantized weights', () => {
			for (const key of ['T64', 'T32']) {
				assertMatches(analyzeJson(at(m.quantized.file), configs[key]), m.quantized.expected[key], `${m.quantized.file} ${key}`);
			}
			const out = at('quantized-pruned.pt');
			const result = prune(at(m.quantized.file), out, ['--ratio', '95', '--tile', '64']);
			assertMatches(result.after, checkOutput('quantized', at(m.quantized.file), out).stats, 'quantized output');
		});

		void it('a Lightning .ckpt and a DataParallel state_dict', () => {
			assertMatches(analyzeJson(at(m.resnet18.lightning)), m.resnet18.lightningExpected.T64, m.resnet18.lightning);
			assertMatches(analyzeJson(at(m.resnet18.dataparallel)), m.resnet18.expected.T64, m.resnet18.dataparallel);
		});
	});

	void describe('fine-tuning from these checkpoints', () => {
		const finetune = (model: string, engine: string, out: string): { status: number | null; stdout: string; stderr: string } => {
			const args = [cliPath, 'finetune', model, '--engine', engine, '--data', 'digits', '--preset', 'digits', '--ratios', '0,88,92', '--tile', '16',
				'--epochs', '1', '--finetune-epochs', '1', '--json', '--out', out, ...(engine === 'pytorch' ? ['--torchvision', 'digits-cnn', '--python', python] : [])];
			// The user's module is importable: loading the whole model with its class would create the marker.
			const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, killSignal: 'SIGKILL', env: { ...process.env, CROSSBAR_LENS_DEBUG: '', PYTHONPATH: m.digits.usersModules } });
			return { status: r.status, stdout: r.stdout, stderr: r.stderr };
		};

		void it('the PyTorch engine starts from a torch.nn.utils.prune checkpoint and from a whole pickled model, never importing its class', () => {
			for (const file of [m.digits.pruned, m.digits.whole]) {
				const out = at(`${basename(file, '.pt')}-dub.pt`);
				const r = finetune(at(file), 'pytorch', out);
				assert.equal(r.status, 0, `${file}: ${r.stderr.slice(-2000)}`);
				assert.ok((analyzeJson(out, ['--tile', '16']).totals.adcEnergyImprovement ?? 0) > 1, `${file}: the fine-tuned model is pruned`);
			}
			assert.ok(!existsSync(m.marker), 'the user\'s module was imported: the marker file exists');
		});

		void it('the TensorFlow.js engine, which trains graphs, refuses a PyTorch checkpoint with one line saying what to do', () => {
			const r = finetune(at(m.digits.pruned), 'tfjs', at('tfjs-dub.pt'));
			assert.equal(r.status, 2, r.stderr);
			assert.match(r.stderr, /torch\.onnx\.export|PyTorch engine/);
		});
	});
});
