// `node --import tsx bench/fuzz.ts [--cases N] [--base B]` (default 1000 per format, a new base each run): the fuzz corpus
// of test/unit/formats/fuzz.test.ts at a larger size and another seed base. Prints, per format,
// the cases run, how many were read / refused, the time per case and the peak memory of a case,
// and every case that broke the contract (exit 0, or exit 3 with one line) with its replay line.
// Asserts nothing; exits 1 when a case broke the contract. Writes bench/FUZZ_RESULTS.md.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { formats } from '../test/fuzz/corpus';
import { contractBreach, runFuzz } from '../test/fuzz/run';
import type { CaseResult } from '../test/fuzz/run';

function option(name: string, fallback: number): number {
	const at = process.argv.indexOf(`--${name}`);
	return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const cases = option('cases', 1000);
const base = option('base', Date.now() % 100000);
/** Formats run in chunks, so that one crash or hang loses one chunk and names its case. */
const chunk = 250;

function percentile(values: number[], p: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

const rows: string[] = [];
const breaches: string[] = [];
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
for (const format of Object.keys(formats)) {
	const results: CaseResult[] = [];
	for (let first = 0; first < cases; first += chunk) {
		const run = runFuzz({ [format]: [Math.min(chunk, cases - first), first] }, base, 600_000);
		results.push(...run.results);
		if (run.failure) {
			breaches.push(`${format}:${run.unfinished?.index} (base ${base}, seed ${run.unfinished?.seed}, ${run.unfinished?.mutation}: ${run.unfinished?.detail}): the driver died or hung: ${run.failure.split('\n')[0]}`);
		}
	}
	for (const result of results) {
		const breach = contractBreach(result);
		if (breach) breaches.push(`${format}:${result.index} (base ${base}, seed ${result.seed}, ${result.mutation}: ${result.detail}): ${breach}`);
	}
	const ms = results.map((r) => r.ms);
	const read = results.filter((r) => r.exitCode === 0).length;
	const refused = results.filter((r) => r.exitCode === 3).length;
	const row = `| ${format} | ${results.length} | ${read} | ${refused} | ${(ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length)).toFixed(1)} | ${percentile(ms, 0.99).toFixed(1)} | ${Math.max(0, ...ms).toFixed(1)} | ${mib(Math.max(0, ...results.map((r) => r.peakBytes)))} |`;
	rows.push(row);
	process.stdout.write(`${row}\n`);
}

const header = '| format | cases | read (exit 0) | refused (exit 3) | ms per case, mean | p99 | max | peak heap + buffers |\n|---|---|---|---|---|---|---|---|';
const report = [
	`# Fuzz results`,
	'',
	`${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}; seed base ${base}, ${cases} cases per format (the CI test runs 50 per format at base 11).`,
	`Replay a case with \`CROSSBAR_FUZZ_BASE=${base} CROSSBAR_FUZZ_CASE=format:index node --import tsx --test test/unit/formats/fuzz.test.ts\`.`,
	'',
	header,
	...rows,
	'',
	breaches.length === 0 ? 'Every case ended with exit 0, or exit 3 and one line.' : `Breaches:\n\n${breaches.map((b) => `- ${b}`).join('\n')}`,
	'',
].join('\n');
writeFileSync(join(__dirname, 'FUZZ_RESULTS.md'), report);
process.stdout.write(`\n${breaches.length === 0 ? 'no breaches' : breaches.join('\n')}\nwrote bench/FUZZ_RESULTS.md\n`);
process.exitCode = breaches.length === 0 ? 0 : 1;
