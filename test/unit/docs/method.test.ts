import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { testVectorsPath, vectors } from '../../helpers/testVectors';

const root = join(__dirname, '..', '..', '..');
const methodPath = join(root, 'docs', 'method.md');
const method = readFileSync(methodPath, 'utf8');

/** The section numbers of docs/method.md: "## 4. …" gives 4, "### 4.1 …" gives 4.1. */
const sections = new Set([...method.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));

/** Where the code, the tests, the scripts and the documents live (not node_modules, not build output). */
const scanned = ['README.md', 'src', 'webview-ui/src', 'python', 'test', 'scripts', 'bench', 'examples', 'docs'];
const skippedFolders = new Set(['node_modules', 'dist', 'out', '.cache', '__pycache__', '.pytest_cache', 'test-results']);

/** Text files under `path` (or `path` itself), of the kinds that cite the method. */
function textFiles(path: string): string[] {
	if (!existsSync(path)) return [];
	if (!statSync(path).isDirectory()) return /\.(ts|js|mjs|py|md|sh|json)$/.test(path) ? [path] : [];
	return readdirSync(path).flatMap((entry) => (skippedFolders.has(entry) ? [] : textFiles(join(path, entry))));
}

/** A section a text cites, with the line it is on. */
interface Citation {
	readonly section: string;
	readonly line: number;
}

/**
 * The docs/method.md sections a text cites: every `§N` and `§N.M` in it, each in a list
 * ("§6, §8.2"), both ends of a range ("§1–§3", "§1-§3", "§4.1–4.2"), and the old form
 * "§2 item 5" (= §2.5). A § right after "paper " is the paper's own numbering and is skipped.
 */
function citedSections(text: string): Citation[] {
	const found: Citation[] = [];
	const lineOf = (index: number): number => text.slice(0, index).split('\n').length;
	for (const m of text.matchAll(/§(\d+)(?:\.(\d+)| item (\d+))?(?:[–-]§?(\d+)(?:\.(\d+))?)?/g)) {
		const at = m.index ?? 0;
		if (/paper\s+$/i.test(text.slice(Math.max(0, at - 12), at))) continue;
		const sub = m[2] ?? m[3];
		found.push({ section: sub === undefined ? m[1] : `${m[1]}.${sub}`, line: lineOf(at) });
		if (m[4] !== undefined) found.push({ section: m[5] === undefined ? m[4] : `${m[4]}.${m[5]}`, line: lineOf(at) });
	}
	return found;
}

/** The citations of `text` that name no section of docs/method.md, as "file:line: §N". */
function missingSections(text: string, name: string): string[] {
	return citedSections(text).filter((c) => !sections.has(c.section)).map((c) => `${name}:${c.line}: §${c.section}`);
}

void describe('docs/method.md', () => {
	void it('its §11 tables are the ones docs/test-vectors.json generates', () => {
		const run = spawnSync(process.execPath, [join(root, 'scripts', 'test-vector-tables.mjs'), '--check'], { encoding: 'utf8' });
		assert.equal(run.status, 0, run.stderr);
	});

	void it('has the sections and tags the code relies on, and the JSON has every vector', () => {
		const tags = new Set([...method.matchAll(/^\| (A\d+) \|/gm)].map((m) => m[1]));
		assert.deepEqual([...tags], Array.from({ length: 17 }, (_, i) => `A${i + 1}`));
		assert.deepEqual(Object.keys(vectors), Array.from({ length: 18 }, (_, i) => `TV${i + 1}`), testVectorsPath);
		for (const section of ['1', '2', '2.1', '2.7', '3', '4', '4.1', '4.2', '4.3', '4.4', '5', '5.1', '5.2', '5.3', '5.4', '6', '6.1', '6.2', '7', '8', '8.1', '8.2', '8.3', '8.4', '10', '11']) {
			assert.ok(sections.has(section), `§${section}`);
		}
	});

	void it('finds every section a text cites and flags the ones method.md does not have', () => {
		// Built from parts, so that this file's own scan below does not read them as citations.
		const s = '\u00a7';
		const text = [
			`docs/method.md ${s}6.1, ${s}9 and (${s}4.1–4.7);`,
			`${s}1–${s}12, ${s}1-${s}3 (${s}2 item 9)`,
			`the paper ${s}8.9, not ours`,
		].join('\n');
		assert.deepEqual(citedSections(text).map((c) => `${c.line}: ${c.section}`), ['1: 6.1', '1: 9', '1: 4.1', '1: 4.7', '2: 1', '2: 12', '2: 1', '2: 3', '2: 2.9']);
		assert.deepEqual(missingSections(text, 'scratch'), ['9', '4.7', '12', '2.9'].map((n, i) => `scratch:${i < 2 ? 1 : 2}: ${s}${n}`));
		assert.deepEqual(missingSections(`docs/method.md ${s}2.5, ${s}6, ${s}8.2 and ${s}4.1–4.2`, 'scratch'), []);
	});

	void it('has every section cited in a file that mentions method.md (method.md included)', () => {
		const files = [...new Set(scanned.flatMap((path) => textFiles(join(root, path))))];
		assert.ok(files.includes(methodPath) && files.length > 50, `${files.length} files scanned`);
		const missing = files.flatMap((file) => {
			const text = readFileSync(file, 'utf8');
			return file === methodPath || text.includes('method.md') ? missingSections(text, relative(root, file)) : [];
		});
		assert.deepEqual(missing, [], 'sections cited but missing from docs/method.md (write "paper §N" for a section of the paper)');
	});
});
