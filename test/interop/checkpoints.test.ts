// Real torch.save checkpoints and ONNX exports of ResNet18 and CIFAR VGG11 (written by
// make_checkpoints.py with Debian's PyTorch), analysed by the built CLI and compared with the
// independent NumPy reference (reference_stats.py): every per-layer figure and every total.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeJson, buildCliOnce, generate, readJson, runCli } from './cliHarness';
import type { SweepResultDto } from '../../src/shared/analysis';
import { assertMatches } from './referenceMatch';
import type { Expected } from './referenceMatch';

interface Variant {
	file: string;
	dtype: 'f32' | 'f16' | 'bf16';
	wrapped: boolean;
	expected: Record<string, Expected>;
}

interface ModelEntry {
	layers: string[];
	variants: Record<string, Variant>;
	onnx: { file: string; inputSize: number[]; outputSizes: number[][]; expected: Record<string, Expected>; crossbarActivations: Record<string, number> };
}

interface Manifest {
	models: Record<string, ModelEntry>;
}

const configs: Record<string, string[]> = {
	'T64': ['--tile', '64'],
	'T32': ['--tile', '32'],
	'T64-tol1e-3-q2': ['--tile', '64', '--tol', '1e-3', '--slices', '2'],
};

void describe('interop: real PyTorch checkpoints and ONNX exports vs the NumPy reference', () => {
	let dir = '';
	let manifest: Manifest;

	before(() => {
		buildCliOnce();
		dir = generate('models');
		manifest = readJson<Manifest>(join(dir, 'manifest.json'));
	});

	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	for (const model of ['resnet18', 'vgg11']) {
		for (const variant of ['f32', 'f32-wrapped', 'f16', 'f16-wrapped', 'bf16', 'bf16-wrapped', 'noncontig']) {
			void it(`${model} ${variant}: per-layer levels, tiles, zeros and improvement equal numpy's at T = 64 and T = 32`, () => {
				const v = manifest.models[model].variants[variant];
				for (const key of ['T64', 'T32']) {
					const result = analyzeJson(join(dir, v.file), configs[key]);
					assert.equal(result.format, 'pytorch');
					assertMatches(result, v.expected[key], `${v.file} ${key}`);
				}
			});
		}

		void it(`${model} f32: --tol 1e-3 --slices 2 equals numpy's`, () => {
			const v = manifest.models[model].variants.f32;
			assertMatches(analyzeJson(join(dir, v.file), configs['T64-tol1e-3-q2']), v.expected['T64-tol1e-3-q2'], `${v.file} tol 1e-3 q 2`);
		});

		void it(`${model}: float16 / bfloat16 numbers are those of the stored half-precision values`, () => {
			// The generator put 1e-44 and -1e-9 into float32 zeros: non-zero in f32, 0 in f16, 1e-44 also 0 in bf16.
			const variants = manifest.models[model].variants;
			const zeros = (v: string) => variants[v].expected.T64.totals.zeros;
			assert.ok(zeros('f32') < zeros('bf16') && zeros('bf16') < zeros('f16'), 'the dtypes must differ for this test to mean anything');
			for (const v of ['f16', 'bf16']) {
				const result = analyzeJson(join(dir, variants[v].file));
				assert.equal(result.totals.zeros, zeros(v), `${v}: zeros of the ${v} values`);
				assert.notEqual(result.totals.zeros, zeros('f32'), `${v}: not the float32 count`);
				assert.deepEqual(result.totals.levelHistogram, variants[v].expected.T64.totals.levelHistogram);
			}
		});

		void it(`${model} ONNX export: same layers and histograms as the state_dict, and per-inference crossbar activations`, () => {
			const entry = manifest.models[model];
			const stateDict = entry.variants.f32.expected;
			for (const key of ['T64', 'T32']) {
				const result = analyzeJson(join(dir, entry.onnx.file), configs[key]);
				assert.equal(result.format, 'onnx');
				// ResNet's export folds BatchNorm into the convs and renames their weights; compare in module order.
				assertMatches(result, stateDict[key], `${entry.onnx.file} ${key}`, { names: false });
				const perInference = result.totals.perInference;
				assert.ok(perInference, `${entry.onnx.file}: totals.perInference is missing (warnings: ${result.warnings.join(' | ')})`);
				assert.equal(perInference.crossbarActivations, entry.onnx.crossbarActivations[key],
					`${entry.onnx.file} ${key}: Σ tiles·Hout·Wout from the PyTorch model's hooks`);
			}
		});
	}

	// `crossbar-lens sweep` reads a file once and derives every setting from the smallest crossbar's
	// counts; each of its points must be what a separate `analyze` at that setting prints.
	const sweepArgs = ['--tiles', '16,32,64,128,256,512', '--slices', '1,2,4'];
	const sweep = (file: string, extra: string[]): SweepResultDto => {
		const r = runCli(['sweep', file, '--json', ...sweepArgs, ...extra]);
		assert.equal(r.status, 0, `sweep ${file} exited ${r.status}: ${r.stderr}`);
		return JSON.parse(r.stdout) as SweepResultDto;
	};
	const analyzeAt = (file: string, point: SweepResultDto['points'][number], extra: string[]) =>
		analyzeJson(file, ['--tile', String(point.crossbarSize), '--slices', String(point.slices), '--adc-law', point.adcLaw, ...extra]);

	void it('sweep: resnet18 f32, every crossbar size × slices under the paper law, and the other laws at T = 32 and 64, equal separate analyze runs', () => {
		const file = join(dir, manifest.models.resnet18.variants.f32.file);
		const result = sweep(file, ['--adc-law', 'paper,walden,thermal']);
		assert.equal(result.points.length, 6 * 3 * 3);
		for (const point of result.points.filter((p) => p.adcLaw === 'paper' || (p.slices === 1 && (p.crossbarSize === 32 || p.crossbarSize === 64)))) {
			const single = analyzeAt(file, point, []);
			assert.deepEqual(point.totals, single.totals, `T=${point.crossbarSize} q=${point.slices} ${point.adcLaw}`);
		}
		// T = 64 and 32 at q = 1 are also the NumPy reference's numbers.
		for (const [key, T] of [['T64', 64], ['T32', 32]] as const) {
			const point = result.points.find((p) => p.crossbarSize === T && p.slices === 1 && p.adcLaw === 'paper');
			assert.deepEqual(point?.totals.levelHistogram, manifest.models.resnet18.variants.f32.expected[key].totals.levelHistogram);
		}
	});

	void it('sweep: vgg11 float16 with linear layers and --tol 1e-3 equals separate analyze runs', () => {
		const file = join(dir, manifest.models.vgg11.variants.f16.file);
		const extra = ['--include-linear', '--tol', '1e-3'];
		const result = sweep(file, extra);
		assert.equal(result.points.length, 18);
		for (const point of result.points) {
			assert.deepEqual(point.totals, analyzeAt(file, point, extra).totals, `T=${point.crossbarSize} q=${point.slices}`);
		}
	});

	void it('sweep: the resnet18 ONNX export has per-inference energy at every setting, as analyze computes it', () => {
		const entry = manifest.models.resnet18.onnx;
		const file = join(dir, entry.file);
		const result = sweep(file, ['--adc-law', 'walden']);
		for (const point of result.points.filter((p) => p.slices !== 2)) {
			assert.ok(point.totals.perInference, `T=${point.crossbarSize} q=${point.slices}: no per-inference figure`);
			assert.deepEqual(point.totals, analyzeAt(file, point, []).totals, `T=${point.crossbarSize} q=${point.slices}`);
		}
		for (const [key, T] of [['T64', 64], ['T32', 32]] as const) {
			assert.equal(result.points.find((p) => p.crossbarSize === T && p.slices === 1)?.totals.perInference?.crossbarActivations, entry.crossbarActivations[key]);
		}
	});
});

