import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../../src/cli/main';

const work = mkdtempSync(join(tmpdir(), 'crossbar-report-cli-'));
const example = join(__dirname, '..', '..', '..', 'examples', 'digits-cnn.pt');
const hasExample = existsSync(example);
const cliSource = join(__dirname, '..', '..', '..', 'src', 'cli', 'main.ts');
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI's main() in-process, capturing stderr (stdout carries the test runner's own reports: commands that print go through a child process). */
async function run(args: string[]): Promise<{ code: number; stderr: string }> {
	const err: string[] = [];
	const write = process.stderr.write.bind(process.stderr);
	process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
	try {
		const code = await main(args);
		return { code, stderr: err.join('') };
	} finally {
		process.stderr.write = write;
	}
}

void describe('crossbar-lens report', { skip: hasExample ? false : 'examples/digits-cnn.pt is not there' }, () => {
	void it('writes HTML, CSV and JSON with the same totals as analyze --json', async () => {
		const html = join(work, 'out.html');
		const csv = join(work, 'out.csv');
		const json = join(work, 'out.json');
		const { code, stderr } = await run(['report', example, '--html', html, '--csv', csv, '--json', json, '--tile', '16']);
		assert.equal(code, 0, stderr);
		assert.match(stderr, /wrote .*out\.html/);
		const analyzed = spawnSync(process.execPath, ['--import', 'tsx', cliSource, 'analyze', example, '--tile', '16', '--json'], { encoding: 'utf8' });
		assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')).totals, JSON.parse(analyzed.stdout).totals);
		assert.match(readFileSync(html, 'utf8'), /<h1>Crossbar report: digits-cnn\.pt<\/h1>/);
		assert.match(readFileSync(csv, 'utf8'), /^layer,kind,shape/);
	});

	void it('refuses to overwrite without --force (exit 2), and overwrites with it', async () => {
		const html = join(work, 'exists.html');
		writeFileSync(html, 'old');
		const refused = await run(['report', example, '--html', html]);
		assert.equal(refused.code, 2);
		assert.match(refused.stderr, /already exists \(use --force/);
		assert.equal(readFileSync(html, 'utf8'), 'old');
		assert.equal((await run(['report', example, '--html', html, '--force'])).code, 0);
		assert.match(readFileSync(html, 'utf8'), /<!DOCTYPE html>/);
	});

	void it('needs an output, and can print one report to stdout', async () => {
		const none = await run(['report', example]);
		assert.equal(none.code, 2);
		assert.match(none.stderr, /needs at least one output/);
		const csv = spawnSync(process.execPath, ['--import', 'tsx', cliSource, 'report', example, '--csv', '-'], { encoding: 'utf8' });
		assert.equal(csv.status, 0, csv.stderr);
		assert.match(csv.stdout, /^layer,kind/);
	});

	void it('is listed in --help', () => {
		const result = spawnSync(process.execPath, ['--import', 'tsx', cliSource, '--help'], { encoding: 'utf8' });
		assert.match(result.stdout, /crossbar-lens report <model> --html out\.html/);
	});
});
