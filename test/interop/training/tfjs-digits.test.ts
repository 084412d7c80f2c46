// Proof on real data (tfjsReproDigits.ts --quick, next to this file): scikit-learn's 8×8 digits, the
// example CNN at T = 16, dense training, then D.U.B. and the unstructured baseline at the same
// ratios with the same fine-tune budget, all in the tfjs engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot, requireDigits } from '../cliHarness';

interface Figures {
	engine: string;
	backend: string;
	baselineAccuracy: number;
	dubAccuracy: number;
	dubImprovement: number;
	unstructuredAccuracy: number;
	unstructuredImprovement: number;
}

void describe('tfjs engine reproduces D.U.B. on real digits (quick)', () => {
	before(requireDigits);

	void it('dense ≥ 95 %, D.U.B. ≥ 2× with ≤ 1 point drop, and beats unstructured at the same ratios', () => {
		const run = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'tfjsReproDigits.ts'), '--quick'], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
		assert.equal(run.status, 0, `repro failed:\n${run.stderr.slice(-2000)}\n${run.stdout.slice(-2000)}`);
		const lines = run.stdout.trim().split('\n');
		const figures = JSON.parse(lines[lines.length - 1]) as Figures;
		const report = JSON.stringify(figures);
		assert.equal(figures.engine, 'tfjs');
		assert.ok(figures.baselineAccuracy >= 95, report);
		assert.ok(figures.dubImprovement >= 2, report);
		assert.ok(figures.baselineAccuracy - figures.dubAccuracy <= 1, report);
		assert.ok(figures.dubImprovement > figures.unstructuredImprovement, report);
	});
});
