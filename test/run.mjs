// Runs the test suites with node's own test runner (TypeScript through tsx).
//   node test/run.mjs            unit + interop (+ e2e when present)
//   node test/run.mjs unit       one suite
// Node 20's --test takes no globs, so the files are listed here. Nothing is skipped silently:
// every skipped test or suite is listed at the end with its reason, and the interop suite, which
// must run everything (CI installs its Python packages), fails when anything in it was skipped.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const suites = process.argv.slice(2);
const wanted = suites.length > 0 ? suites : ['unit', 'interop'];

function find(dir) {
	if (!existsSync(dir)) return [];
	return readdirSync(dir).flatMap((entry) => {
		const path = join(dir, entry);
		return statSync(path).isDirectory() ? find(path) : entry.endsWith('.test.ts') ? [path] : [];
	});
}

const files = wanted.flatMap((suite) => find(join('test', suite))).sort();
if (files.length === 0) {
	console.error(`no test files in ${wanted.join(', ')}`);
	process.exit(1);
}
const logDir = mkdtempSync(join(tmpdir(), 'crossbar-lens-tests-'));
const skipLog = join(logDir, 'skipped.jsonl');
const reporter = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'skipReporter.mjs')).href;
const result = spawnSync(process.execPath, [
	'--import', 'tsx', '--test',
	'--test-reporter=spec', '--test-reporter-destination=stdout',
	`--test-reporter=${reporter}`, `--test-reporter-destination=${skipLog}`,
	'--test-concurrency=2', ...files,
], { stdio: 'inherit' });
const skipped = existsSync(skipLog) ? readFileSync(skipLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)) : [];
rmSync(logDir, { recursive: true, force: true });

let status = result.status ?? 1;
if (skipped.length > 0) {
	console.log(`\n${skipped.length} skipped (a skipped suite counts once, with all its tests):`);
	for (const s of skipped) {
		console.log(`  - ${s.file ? relative(process.cwd(), s.file) : '?'}: ${s.name}${s.reason ? ` (${s.reason})` : ''}`);
	}
	const interop = skipped.filter((s) => s.file && relative(process.cwd(), s.file).startsWith(join('test', 'interop') + sep));
	if (interop.length > 0) {
		console.error(`\nThe interop suite runs every test; ${interop.length} were skipped. Install what they name (CI does), then run it again.`);
		status = 1;
	}
}
process.exit(status);
