// Shared by the HDF5 tests: runs make_hdf5.py (real h5py) into a temp folder, and reads a file
// back with h5py. Interop tests: the reader's fixtures are written by h5py on every run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../../../../src/core/errors';
import { python, requirePython } from '../../cliHarness';

const script = join(__dirname, 'make_hdf5.py');

/** What h5py sees in one file (see describe() in make_hdf5.py). */
export interface Description {
	groups: Record<string, string[]>;
	datasets: Record<string, { shape: number[]; dtype: string; values: number[] | null; layout: number }>;
	attrs: Record<string, Record<string, unknown>>;
}

/** Generates every fixture into a fresh temp folder; returns it, its expected.json and a cleanup. */
export function makeFixtures(): { dir: string; expected: Record<string, Description>; cleanup: () => void } {
	requirePython('h5py', 'numpy');
	const dir = mkdtempSync(join(tmpdir(), 'xbar-hdf5-'));
	const r = spawnSync(python, [script, '--out', dir], { encoding: 'utf8', timeout: 120_000 });
	assert.equal(r.status, 0, `make_hdf5.py failed: ${r.stderr}`);
	const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Description>;
	return { dir, expected, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** h5py's view of `file`. */
export function describeWithH5py(file: string): Description {
	const r = spawnSync(python, [script, '--describe', file], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
	assert.equal(r.status, 0, `h5py cannot read ${file}: ${r.stderr}`);
	return JSON.parse(r.stdout) as Description;
}

/** numpy's dtype.str for a reader's type. */
export function numpyDtype(type: { class: string; size: number; signed?: boolean; bigEndian?: boolean }): string {
	const kind = type.class === 'float' ? 'f' : type.signed ? 'i' : 'u';
	return `${type.size === 1 ? '|' : type.bigEndian ? '>' : '<'}${kind}${type.size}`;
}

/** Expects a one-line ModelFormatError with `reason` naming `name`. */
export async function rejects(promise: Promise<unknown>, reason: string | string[], name: string, pattern?: RegExp): Promise<ModelFormatError> {
	try {
		await promise;
	} catch (ex) {
		assert.ok(ModelFormatError.is(ex), `expected a ModelFormatError, got ${String(ex)}`);
		assert.ok(([] as string[]).concat(reason).includes(ex.reason), `reason ${ex.reason}: ${ex.message}`);
		assert.ok(ex.message.startsWith(`${name}: `), `message names the file: ${ex.message}`);
		assert.ok(!ex.message.includes('\n'), 'one line');
		if (pattern) {
			assert.match(ex.message, pattern);
		}
		return ex;
	}
	assert.fail(`expected a '${String(reason)}' failure`);
}
