import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { testVectorsPath, vectors } from '../../helpers/testVectors';

const root = join(__dirname, '..', '..', '..');
const method = readFileSync(join(root, 'docs', 'method.md'), 'utf8');

/** Source and documentation files whose comments cite the method (not node_modules, not build output). */
function citingFiles(dir: string): string[] {
	return readdirSync(dir).flatMap((entry) => {
		const path = join(dir, entry);
		if (statSync(path).isDirectory()) return ['node_modules', 'dist', '.cache', '__pycache__', 'fixtures'].includes(entry) ? [] : citingFiles(path);
		return /\.(ts|py|mjs|md)$/.test(entry) ? [path] : [];
	});
}

void describe('docs/method.md', () => {
	void it('its §11 tables are the ones docs/test-vectors.json generates', () => {
		const run = spawnSync(process.execPath, [join(root, 'scripts', 'test-vector-tables.mjs'), '--check'], { encoding: 'utf8' });
		assert.equal(run.status, 0, run.stderr);
	});

	void it('has every section and tag the code cites, and the JSON has every vector', () => {
		const sections = new Set([...method.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
		const tags = new Set([...method.matchAll(/^\| (A\d+) \|/gm)].map((m) => m[1]));
		assert.deepEqual([...tags], Array.from({ length: 17 }, (_, i) => `A${i + 1}`));
		assert.deepEqual(Object.keys(vectors), Array.from({ length: 18 }, (_, i) => `TV${i + 1}`), testVectorsPath);
		const missing: string[] = [];
		const files = [join(root, 'README.md'), ...['src', 'python', 'test', 'webview-ui', 'bench', 'docs'].flatMap((dir) => citingFiles(join(root, dir)))];
		for (const file of files) {
			// "method.md §6.1", "method.md §2 item 5" (= §2.5): citations of the method file, old name included.
			for (const m of readFileSync(file, 'utf8').matchAll(/method\.md[^\n§]{0,20}§(\d+)(?:\.(\d+)| item (\d+))?/g)) {
				const sub = m[2] ?? m[3];
				const section = sub === undefined ? m[1] : `${m[1]}.${sub}`;
				if (!sections.has(section)) missing.push(`${relative(root, file)}: §${section}`);
			}
		}
		assert.deepEqual(missing, [], 'sections cited but missing from docs/method.md');
		for (const section of ['1', '2', '2.1', '2.7', '3', '4', '4.1', '4.2', '4.3', '4.4', '5', '5.1', '5.2', '5.3', '5.4', '6', '6.1', '6.2', '7', '8', '8.1', '8.2', '8.3', '8.4', '10', '11']) {
			assert.ok(sections.has(section), `§${section}`);
		}
	});
});
