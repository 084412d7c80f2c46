// The two pruning implementations agree: `crossbar-lens prune` (TypeScript, src/pruning) and the
// PyTorch engine's `python3 -m crossbar_lens_train prune` (python/crossbar_lens_train/prune.py) give
// the same zero pattern, weight for weight, on real torch checkpoints (torchvision ResNet18, the
// reference's CIFAR VGG11, the bundled digits CNN), and the same ADC-energy improvement.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildCliOnce, python, repoRoot, runCli } from '../cliHarness';

const helper = join(__dirname, 'prune_crosscheck.py');
const env = { ...process.env, PYTHONPATH: join(repoRoot, 'python'), PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '2' };

function py(args: readonly string[]): string {
	const r = spawnSync(python, args, { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024, env });
	assert.equal(r.error, undefined, `${python} ${args.join(' ')}: ${String(r.error)} (needs Debian's python3-torch python3-torchvision)`);
	assert.equal(r.status, 0, `${python} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
	return r.stdout;
}

interface Comparison {
	layers: { name: string; zerosA: number; zerosB: number; differ: number; keptA: boolean; keptB: boolean }[];
	othersUnchanged: boolean;
}

interface Case {
	label: string;
	file: string;
	method: 'dub' | 'dub-tol' | 'unstructured' | 'tiles';
	/** A preset id (`--preset` for the CLI) or explicit ratios (`--ratios`). */
	preset?: string;
	ratios?: string;
	tile: number;
	extra?: string[];
}

const cases: Case[] = [
	{ label: 'ResNet18, D.U.B., resnet18-imagenet, T=64', file: 'resnet18.pt', method: 'dub', preset: 'resnet18-imagenet', tile: 64 },
	{ label: 'ResNet18, unstructured, resnet18-imagenet', file: 'resnet18.pt', method: 'unstructured', preset: 'resnet18-imagenet', tile: 64 },
	{ label: 'CIFAR VGG11, D.U.B., vgg11-cifar10 (prs A), T=32', file: 'vgg11.pt', method: 'dub', preset: 'vgg11-cifar10', tile: 32 },
	{ label: 'CIFAR VGG11, D.U.B. tol variant, T=64', file: 'vgg11.pt', method: 'dub-tol', tile: 64, extra: ['--tol', '0.001'] },
	{ label: 'CIFAR VGG11, whole crossbars (tiles), vgg11-cifar10 (prs A), T=32', file: 'vgg11.pt', method: 'tiles', preset: 'vgg11-cifar10', tile: 32 },
	{ label: 'digits CNN (trained), D.U.B., T=16', file: 'digits.pt', method: 'dub', ratios: '0,88,92', tile: 16 },
	{ label: 'digits CNN, D.U.B., T=16, 2 slices, level-0 loosening skipped', file: 'digits.pt', method: 'dub', ratios: '30,70,80', tile: 16, extra: ['--slices', '2', '--skip-level0-loosening'] },
];

void describe('interop: TypeScript and PyTorch-engine pruning give the same zeros', () => {
	let dir = '';

	before(() => {
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-lens-prune-xcheck-'));
		py([helper, 'make', '--out', dir]);
	});

	after(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	cases.forEach((c, i) => {
		void it(c.label, () => {
			const input = join(dir, c.file);
			const tsOut = join(dir, `ts-${i}.pt`);
			const pyOut = join(dir, `py-${i}.pt`);
			const spec = c.preset !== undefined ? { cli: ['--preset', c.preset], py: ['--ratios', c.preset] } :
				c.ratios !== undefined ? { cli: ['--ratios', c.ratios], py: ['--ratios', c.ratios] } : { cli: [], py: [] };
			const common = ['--method', c.method, '--tile', String(c.tile), ...(c.extra ?? [])];
			const r = runCli(['prune', input, '--out', tsOut, ...spec.cli, ...common, '--json']);
			assert.equal(r.status, 0, `crossbar-lens prune exited ${r.status}: ${r.stderr}`);
			const ts = JSON.parse(r.stdout) as { after: { totals: { adcEnergyImprovement: number | null; levelHistogram: number[] } } };
			const pyJson = JSON.parse(py(['-m', 'crossbar_lens_train', 'prune', input, '--out', pyOut, ...spec.py, ...common, '--json'])) as
				{ adcEnergyImprovement: number | null; levelHistogram: number[] };

			const cmp = JSON.parse(py([helper, 'compare', input, pyOut, tsOut])) as Comparison;
			assert.ok(cmp.layers.length > 0, 'conv layers compared');
			for (const layer of cmp.layers) {
				assert.equal(layer.differ, 0, `${c.label}: ${layer.name}: ${layer.differ} weights differ (python ${layer.zerosA} zeros, TypeScript ${layer.zerosB})`);
				assert.ok(layer.keptA && layer.keptB, `${c.label}: ${layer.name}: surviving weights changed`);
			}
			assert.ok(cmp.layers.some((l) => l.zerosA > 0), 'something was pruned');
			assert.ok(cmp.othersUnchanged, `${c.label}: tensors other than conv weights changed`);
			assert.deepEqual(pyJson.levelHistogram, ts.after.totals.levelHistogram, `${c.label}: level histogram`);
			assert.equal(pyJson.adcEnergyImprovement, ts.after.totals.adcEnergyImprovement, `${c.label}: ADC energy improvement`);
		});
	});
});
