// Runs the test suites with node's own test runner (TypeScript through tsx).
//   node test/run.mjs            unit + interop (+ e2e when present)
//   node test/run.mjs unit       one suite
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
