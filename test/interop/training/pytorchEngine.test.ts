// The PyTorch engine (python/crossbar_lens_train) reproduces D.U.B. on real data: the quick digits
// reproduction run as a child process, single-process and under torchrun with 2 processes (gloo,
// CPU). Its last stdout line is one JSON object; the run must meet the targets: a clean baseline
// of at least 95 %, D.U.B. at least 2x ADC-energy improvement (paper law, T = 16) with at most one
// point of accuracy lost, and more improvement than unstructured pruning at the same ratios and
// the same fine-tuning budget.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { python, repoRoot } from '../cliHarness';

interface ReproResult {
	engine: string;
	world: number;
	baselineAccuracy: number;
	dubAccuracy: number;
	dubImprovement: number | null;
	unstructuredAccuracy: number;
	unstructuredImprovement: number | null;
}

const env = { ...process.env, PYTHONPATH: join(repoRoot, 'python'), PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '1' };

function runRepro(prefix: readonly string[]): ReproResult {
	const args = [...prefix, '-m', 'crossbar_lens_train', 'repro-digits', '--quick', '--threads', '1'];
	const r = spawnSync(python, args, { cwd: repoRoot, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024, env });
	assert.equal(r.error, undefined, `${python} ${args.join(' ')}: ${String(r.error)} (needs Debian's python3-torch)`);
	assert.equal(r.status, 0, `${python} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
	const lines = r.stdout.trim().split('\n');
	const last = lines[lines.length - 1];
	let result: ReproResult;
	try {
		result = JSON.parse(last) as ReproResult;
	} catch {
		assert.fail(`the last stdout line is not JSON: ${last}`);
	}
	return result;
}

function assertTargets(r: ReproResult): void {
	const text = JSON.stringify(r);
	assert.equal(r.engine, 'pytorch');
	assert.ok(r.baselineAccuracy >= 95, `clean baseline ${r.baselineAccuracy} % < 95 %: ${text}`);
	assert.ok(r.dubImprovement !== null && r.dubImprovement >= 2, `D.U.B. improvement ${r.dubImprovement} < 2x: ${text}`);
	assert.ok(r.baselineAccuracy - r.dubAccuracy <= 1, `D.U.B. lost ${(r.baselineAccuracy - r.dubAccuracy).toFixed(2)} points (> 1): ${text}`);
	assert.ok(r.unstructuredImprovement !== null && r.dubImprovement > r.unstructuredImprovement,
		`D.U.B. ${r.dubImprovement}x is not above unstructured ${r.unstructuredImprovement}x: ${text}`);
}

void describe('interop: the PyTorch engine reproduces D.U.B. on the digits dataset', () => {
	void it('repro-digits --quick, one process', () => {
		const r = runRepro([]);
		assert.equal(r.world, 1);
		assertTargets(r);
	});

	void it('repro-digits --quick under torchrun, 2 processes (gloo)', () => {
		// crossbar_lens_train.launch = torchrun, with the fix Debian's torch 1.13 needs on Python 3.11.
		const r = runRepro(['-m', 'crossbar_lens_train.launch', '--standalone', '--nproc_per_node', '2']);
		assert.equal(r.world, 2);
		assertTargets(r);
	});
});
