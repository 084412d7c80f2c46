// Runs fuzz cases through the CLI's own main() in this process, one after another, and writes one
// JSON line per case to a results file: a `start` line before the case (so a crash or a hang names
// it) and a result line after it with the exit code, the stderr lines, the time and the peak
// memory the case reached. Started by test/unit/formats/fuzz.test.ts and bench/fuzz.ts:
//
//   node --max-old-space-size=512 --import tsx test/fuzz/driver.ts RESULTS WORKDIR BASE FORMAT:COUNT[:FIRST] …
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { main } from '../../src/cli/main';
import { fuzzCase } from './corpus';

export interface CaseResult {
	readonly format: string;
	readonly index: number;
	readonly seed: number;
	readonly mutation: string;
	readonly detail: string;
	readonly entry: string;
	readonly exitCode: number;
	readonly stderr: string[];
	readonly ms: number;
	/** The most heap + ArrayBuffer memory seen while the case ran (sampled every 2 ms and at its end). */
	readonly peakBytes: number;
}

async function run(): Promise<void> {
	const [results, work, baseText, ...specs] = process.argv.slice(2);
	const base = Number(baseText);
	const out: string[] = [];
	const err: string[] = [];
	// The CLI writes with process.stdout/stderr.write; the driver keeps both for the case.
	process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
	process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
	const memory = (): number => {
		const m = process.memoryUsage();
		return m.heapUsed + m.arrayBuffers;
	};
	for (const spec of specs) {
		const [format, countText, firstText] = spec.split(':');
		const first = Number(firstText ?? 0);
		for (let index = first; index < first + Number(countText); index++) {
			const c = fuzzCase(format, index, base);
			appendFileSync(results, `${JSON.stringify({ start: true, format, index, seed: c.seed, mutation: c.mutation, detail: c.detail })}\n`);
			const folder = join(work, `${format}-${index}`);
			mkdirSync(folder, { recursive: true });
			for (const [name, bytes] of Object.entries(c.sample.files)) {
				mkdirSync(dirname(join(folder, name)), { recursive: true });
				writeFileSync(join(folder, name), bytes);
			}
			out.length = 0;
			err.length = 0;
			let peak = memory();
			const sampler = setInterval(() => {
				peak = Math.max(peak, memory());
			}, 2);
			const started = performance.now();
			const exitCode = await main(['analyze', join(folder, c.sample.entry), '--json', ...(index % 2 ? ['--include-linear'] : [])]);
			const ms = performance.now() - started;
			clearInterval(sampler);
			peak = Math.max(peak, memory());
			rmSync(folder, { recursive: true, force: true });
			const result: CaseResult = {
				format, index, seed: c.seed, mutation: c.mutation, detail: c.detail, entry: c.sample.entry, exitCode,
				stderr: err.join('').split('\n').filter((l) => l.trim() !== ''), ms, peakBytes: peak,
			};
			appendFileSync(results, `${JSON.stringify(result)}\n`);
		}
	}
}

run().then(() => process.exit(0), (ex: unknown) => {
	appendFileSync(process.argv[2], `${JSON.stringify({ crashed: String(ex instanceof Error ? ex.stack : ex) })}\n`);
	process.exit(1);
});
