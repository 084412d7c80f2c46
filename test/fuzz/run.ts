// Starts the fuzz driver in a child process with a bounded heap and a time limit, and reads back
// its results: what test/unit/formats/fuzz.test.ts asserts and bench/fuzz.ts reports.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseResult } from './driver';

export type { CaseResult } from './driver';

export interface FuzzRun {
	readonly results: CaseResult[];
	/** The case that was running when the child died or was killed, if it did not finish. */
	readonly unfinished?: { format: string; index: number; seed: number; mutation: string; detail: string };
	/** Why the child ended early: its exit status, signal or crash text. */
	readonly failure?: string;
}

/** The V8 heap limit of the child: a case that needs more than this is a failure, not a slow pass. */
export const heapLimitMb = 512;

/** `counts`: format → [number of cases, first index]. */
export function runFuzz(counts: Readonly<Record<string, readonly [number, number]>>, base: number, timeoutMs: number): FuzzRun {
	const work = mkdtempSync(join(tmpdir(), 'crossbar-fuzz-'));
	const results = join(work, 'results.jsonl');
	try {
		const specs = Object.entries(counts).map(([format, [count, first]]) => `${format}:${count}:${first}`);
		const r = spawnSync(process.execPath, [`--max-old-space-size=${heapLimitMb}`, '--import', 'tsx', join(__dirname, 'driver.ts'), results, join(work, 'cases'), String(base), ...specs], {
			encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, CROSSBAR_LENS_DEBUG: '' },
		});
		const lines = existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
		const done = lines.filter((l) => 'exitCode' in l) as unknown as CaseResult[];
		const starts = lines.filter((l) => l.start === true);
		const crash = lines.find((l) => 'crashed' in l);
		const finished = r.status === 0 && starts.length === done.length;
		return {
			results: done,
			unfinished: finished ? undefined : (starts[done.length] as FuzzRun['unfinished']),
			failure: finished ? undefined : (crash ? String(crash.crashed) : `driver ended with status ${r.status} signal ${r.signal} ${r.error ? String(r.error) : ''}: ${r.stderr.slice(-1500)}`),
		};
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
}

/** Why a result breaks the contract (exit 0, or exit 3 with one line naming the file), or undefined. */
export function contractBreach(result: CaseResult): string | undefined {
	if (result.exitCode === 0) {
		return result.stderr.length === 0 ? undefined : `exit 0 with stderr: ${result.stderr.join(' / ')}`;
	}
	if (result.exitCode !== 3) {
		return `exit ${result.exitCode}: ${result.stderr.join(' / ')}`;
	}
	if (result.stderr.length !== 1) {
		return `exit 3 with ${result.stderr.length} stderr lines: ${result.stderr.join(' / ')}`;
	}
	const line = result.stderr[0];
	if (!line.startsWith('crossbar-lens: ') || !/\[[a-z-]+\]$/.test(line)) {
		return `exit 3 with an unexpected line: ${line}`;
	}
	// The file, one of its shards, or (a sharded model, named by its folder) the case's folder.
	if (!line.includes(result.entry.split('/').pop() as string) && !/\.(safetensors|bin|json)\b/.test(line) && !line.includes(`${result.format}-${result.index}`)) {
		return `the line does not name the file: ${line}`;
	}
	return undefined;
}
