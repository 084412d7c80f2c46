// Shared by the interop tests: builds the CLI once per test run, runs it as a child process with
// a safety timeout, and runs the Python generator (Debian's /usr/bin/python3 with torch).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDigitsPath } from '../../src/training/datasets';

export const repoRoot = join(__dirname, '..', '..');
/** The built CLI; CROSSBAR_LENS_TEST_CLI points the tests at another build (and skips building). */
export const cliPath = process.env.CROSSBAR_LENS_TEST_CLI ?? join(repoRoot, 'dist', 'cli.js');
/** The Python with torch, torchvision, onnx and scikit-learn (the first python3 on PATH may lack them). */
export const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';

/** The Debian package of each Python module the interop tests import. */
const debianPackages: Readonly<Record<string, string>> = {
	torch: 'python3-torch', torchvision: 'python3-torchvision', numpy: 'python3-numpy', onnx: 'python3-onnx', sklearn: 'python3-sklearn', h5py: 'python3-h5py',
};
const pythonChecked = new Map<string, string | undefined>();

/**
 * Fails, never skips, when `python` cannot import `modules`: the interop suite runs every test
 * (CI installs these packages), so a missing one is a failure that says what to install.
 */
export function requirePython(...modules: string[]): void {
	const key = modules.join(', ');
	if (!pythonChecked.has(key)) {
		const r = spawnSync(python, ['-c', `import ${key}`], { encoding: 'utf8', timeout: 120_000 });
		pythonChecked.set(key, r.status === 0 ? undefined : (r.error ? String(r.error) : r.stderr.trim().split('\n').pop()));
	}
	const problem = pythonChecked.get(key);
	assert.ok(problem === undefined, `${python} cannot import ${key} (${problem}): the interop tests need apt-get install ${modules.map((m) => debianPackages[m] ?? m).join(' ')}, or CROSSBAR_LENS_PYTHON set to an interpreter that has them`);
}

/** Fails when scikit-learn's digits are missing (python3-sklearn's data file, which the tfjs engine reads without Python). */
export function requireDigits(): void {
	assert.ok(existsSync(defaultDigitsPath), `${defaultDigitsPath} is missing: the interop tests train on scikit-learn's digits (apt-get install python3-sklearn)`);
}

/** Every CLI run must end by itself well before this (it is a hang detector, not a timing test). */
const cliTimeoutMs = 20_000;

function sleep(ms: number): void {
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * `node esbuild.mjs`, once per test run: the interop files run in parallel under one `node --test`
 * parent, so the first one to take the lock builds and writes the parent's pid to a stamp; the
 * others wait for the lock and skip (a rebuild could truncate dist/cli.js under a running CLI).
 */
export function buildCliOnce(): void {
	if (process.env.CROSSBAR_LENS_TEST_CLI) return;
	// Lock and stamp live in the temp folder (not dist/, which is packaged), keyed by this checkout.
	const key = createHash('sha256').update(repoRoot).digest('hex').slice(0, 12);
	const lock = join(tmpdir(), `crossbar-lens-interop-build-${key}.lock`);
	const stamp = join(tmpdir(), `crossbar-lens-interop-build-${key}.stamp`);
	const deadline = Date.now() + 120_000;
	for (;;) {
		try {
			mkdirSync(lock);
			break;
		} catch {
			// A lock left by a killed run is stale after a minute.
			if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 60_000) rmdirSync(lock);
			assert.ok(Date.now() < deadline, 'timed out waiting for another test file to build the CLI');
			sleep(100);
		}
	}
	try {
		const runId = String(process.ppid);
		if (existsSync(stamp) && readFileSync(stamp, 'utf8') === runId && existsSync(cliPath)) return;
		const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
		assert.equal(r.status, 0, `node esbuild.mjs failed:\n${r.stdout}\n${r.stderr}`);
		assert.ok(existsSync(cliPath), 'the build made no dist/cli.js');
		writeFileSync(stamp, runId);
	} finally {
		rmdirSync(lock);
	}
}

export interface CliRun {
	readonly status: number;
	readonly stdout: string;
	readonly stderr: string;
}

/** The environment without CROSSBAR_LENS_DEBUG (it would add stack traces to error messages). */
function cliEnv(): NodeJS.ProcessEnv {
	const env = { ...process.env };
	delete env.CROSSBAR_LENS_DEBUG;
	return env;
}

/** Runs `node dist/cli.js ...args` and checks it exited by itself within the safety timeout. */
export function runCli(args: readonly string[], options: { cwd?: string } = {}): CliRun {
	const r = spawnSync(process.execPath, [cliPath, ...args], {
		cwd: options.cwd ?? repoRoot,
		encoding: 'utf8',
		timeout: cliTimeoutMs,
		killSignal: 'SIGKILL',
		maxBuffer: 256 * 1024 * 1024,
		env: cliEnv(),
	});
	assert.equal(r.error, undefined, `crossbar-lens ${args.join(' ')}: ${String(r.error)}`);
	assert.equal(r.signal, null, `crossbar-lens ${args.join(' ')} did not exit by itself within ${cliTimeoutMs / 1000} s (killed by ${String(r.signal)})`);
	assert.notEqual(r.status, null);
	return { status: r.status as number, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI with --json, expects exit 0 and returns the parsed document. */
export function analyzeJson<T = AnalysisJson>(file: string, extra: readonly string[] = []): T {
	const args = ['analyze', file, '--json', ...extra];
	const r = runCli(args);
	assert.equal(r.status, 0, `crossbar-lens ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
	return JSON.parse(r.stdout) as T;
}

/** Runs test/interop/make_checkpoints.py into a fresh temp folder and returns the folder. */
export function generate(set: 'models' | 'errors'): string {
	const dir = mkdtempSync(join(tmpdir(), `crossbar-lens-interop-${set}-`));
	const r = spawnSync(python, [join(__dirname, 'make_checkpoints.py'), '--out', dir, '--set', set], {
		cwd: repoRoot,
		encoding: 'utf8',
		timeout: 300_000,
		maxBuffer: 64 * 1024 * 1024,
		env: { ...process.env, PYTHONWARNINGS: 'ignore', OMP_NUM_THREADS: '2' },
	});
	assert.equal(r.error, undefined, `${python} make_checkpoints.py: ${String(r.error)} (needs Debian's python3-torch python3-torchvision python3-onnx)`);
	assert.equal(r.status, 0, `make_checkpoints.py --set ${set} failed:\n${r.stdout}\n${r.stderr}`);
	return dir;
}

export function readJson<T>(path: string): T {
	return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The fields of `crossbar-lens analyze --json` the interop tests compare (a subset of the DTO). */
export interface StatsJson {
	name?: string;
	matrix?: number[];
	tiles: number;
	weights: number;
	zeros: number;
	levelHistogram: number[];
	adcBitsDense: number;
	adcBits: number;
	adcEnergyImprovement: number | null;
}

export interface AnalysisJson {
	format: string;
	profile: Record<string, unknown>;
	warnings: string[];
	layers: (StatsJson & { name: string; kind: string; shape: number[]; matrix: number[] })[];
	totals: StatsJson & { layers: number; perInference?: { crossbarActivations: number } };
}
