import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeIdxFolder } from '../unit/training/idxWriter';
import { analyzeJson, buildCliOnce, cliPath, python, repoRoot, requirePython } from './cliHarness';

/** `crossbar-lens finetune` end to end on real digits, one short run per engine. */
function finetune(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, [cliPath, 'finetune', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, killSignal: 'SIGKILL', env: { ...process.env, CROSSBAR_LENS_DEBUG: '' } });
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ResultLine { event: 'result'; result: { engine: string; dub: { adcEnergyImprovement: number; accuracy: number }; unstructured?: { adcEnergyImprovement: number }; outputPath: string } }

void describe('crossbar-lens finetune (the engines of "Run D.U.B. fine-tune", from the command line)', () => {
	let dir = '';
	before(() => {
		buildCliOnce();
		dir = mkdtempSync(join(tmpdir(), 'crossbar-finetune-cli-'));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	const common = ['--data', 'digits', '--preset', 'digits', '--ratios', '0,88,92', '--tile', '16', '--epochs', '1', '--finetune-epochs', '1', '--json'];
	const cases = [
		{ engine: 'tfjs', model: 'examples/digits-cnn.onnx', out: 'dub.onnx', extra: ['--workers', '1'] },
		{ engine: 'pytorch', model: 'examples/digits-cnn.pt', out: 'dub.pt', extra: ['--torchvision', 'digits-cnn', '--python', python] },
	];
	for (const c of cases) {
		void it(`${c.engine}: writes a pruned model whose analysis is the improvement the run reports`, () => {
			if (c.engine === 'pytorch') requirePython('torch', 'sklearn');
			const out = join(dir, c.out);
			const r = finetune([c.model, ...common, ...c.extra, '--out', out]);
			assert.equal(r.status, 0, r.stderr);
			const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
			assert.ok(lines.some((l) => l.event === 'epoch'), 'epoch events are printed as JSON lines');
			const { result } = lines[lines.length - 1] as ResultLine;
			assert.equal(result.engine, c.engine);
			assert.ok(existsSync(out));
			assert.ok(result.dub.adcEnergyImprovement > 1);
			const analysis = analyzeJson<{ totals: { adcEnergyImprovement: number } }>(out, ['--tile', '16']);
			assert.ok(Math.abs(analysis.totals.adcEnergyImprovement - result.dub.adcEnergyImprovement) < 1e-9);
		});
	}

	void it('a malformed IDX file: one line naming it, exit 2, nothing written, on both engines', () => {
		requirePython('torch');
		const data = join(dir, 'bad-idx');
		const paths = writeIdxFolder(data, { gzip: true, train: 200, rows: 8, columns: 8 });
		const whole = readFileSync(paths['train-images']);
		writeFileSync(paths['train-images'], whole.subarray(0, whole.length - 20));
		for (const c of cases) {
			const out = join(dir, `bad-idx-${c.out}`);
			const r = finetune([c.model, '--data', data, '--preset', 'digits', '--ratios', '0,88,92', '--tile', '16', '--epochs', '1', '--finetune-epochs', '1', ...c.extra, '--out', out]);
			assert.equal(r.status, 2, `${c.engine}: ${r.stderr}`);
			const lines = r.stderr.split('\n').filter((l) => l !== '');
			assert.equal(lines.length, 1, `${c.engine}: one line, got ${r.stderr}`);
			assert.ok(lines[0].startsWith(`crossbar-lens: ${paths['train-images']}: truncated gzip`), `${c.engine}: ${lines[0]}`);
			assert.ok(!existsSync(out), `${c.engine}: nothing written`);
			assert.ok(!existsSync(`${out}.checkpoint`), `${c.engine}: no checkpoint folder`);
		}
	});

	void it('refuses an existing output before training, and missing options, with exit 2', () => {
		const existing = join(dir, 'mine.onnx');
		writeFileSync(existing, 'the user\'s file');
		const r = finetune(['examples/digits-cnn.onnx', ...common, '--out', existing]);
		assert.equal(r.status, 2);
		assert.match(r.stderr, /Refusing to overwrite/);
		assert.equal(readFileSync(existing, 'utf8'), 'the user\'s file');
		assert.equal(finetune(['examples/digits-cnn.onnx', '--data', 'digits']).status, 2);
	});
});
