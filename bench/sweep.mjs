// How long `crossbar-lens sweep` (6 crossbar sizes × 3 slicings, one read) takes against one
// `crossbar-lens analyze` and against the 18 separate analyses it replaces, on the ResNet-18 and
// 100M-parameter checkpoints of bench/prune.mjs (issue #13: goal ≤ 1.5× one analysis). Checks
// that every point equals its separate analysis. Prints a table and writes bench/SWEEP_RESULTS.md;
// asserts nothing.
//
//   node esbuild.mjs && node bench/sweep.mjs        (part of npm run bench)
//
// BENCH_CLI points at another CLI build; BENCH_RUNS changes the number of timed runs (default 5).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(root, 'bench', '.data');
const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const sizes = [16, 32, 64, 128, 256, 512];
const slicings = [1, 2, 4];
const models = [
	{ name: 'ResNet-18', file: join(dataDir, 'resnet18.pt') },
	{ name: '100M conv', file: join(dataDir, 'conv100m.pt') },
];

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall seconds and stdout of one CLI run. */
function run(args) {
	const t0 = process.hrtime.bigint();
	const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
	const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
	if (r.status !== 0) throw new Error(`crossbar-lens ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
	return { seconds, stdout: r.stdout };
}

function main() {
	if (!existsSync(cli)) {
		console.error(`${relative(root, cli)} is missing: run 'node esbuild.mjs' first.`);
		process.exit(1);
	}
	if (!models.every((m) => existsSync(m.file))) {
		console.log('making checkpoints in bench/.data/ (once) …');
		const r = spawnSync(python, [join(root, 'bench', 'prune_numpy.py'), 'make', dataDir], { stdio: 'inherit' });
		if (r.status !== 0) process.exit(1);
	}
	const date = new Date().toISOString();
	const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
	const loadStart = load();
	console.log(`crossbar-lens sweep bench · ${date} · ${cpus().length} CPUs · node ${process.version} · load ${loadStart}`);
	const rows = [];
	for (const m of models) {
		const sweepArgs = ['sweep', m.file, '--json', '--tiles', sizes.join(','), '--slices', slicings.join(',')];
		run(sweepArgs); // warm-up (page cache)
		const sweep = [];
		const one = [];
		const separate = [];
		let points;
		let agree = true;
		for (let i = 0; i < runs; i++) {
			// Interleaved: sweep, one analysis, then the 18 analyses the sweep replaces.
			const s = run(sweepArgs);
			sweep.push(s.seconds);
			points ??= JSON.parse(s.stdout).points;
			one.push(run(['analyze', m.file, '--json']).seconds);
			let total = 0;
			for (const point of points) {
				const a = run(['analyze', m.file, '--json', '--tile', String(point.crossbarSize), '--slices', String(point.slices)]);
				total += a.seconds;
				if (i === 0) agree &&= JSON.stringify(JSON.parse(a.stdout).totals) === JSON.stringify(point.totals);
			}
			separate.push(total);
		}
		const row = { name: m.name, file: m.file, sweep: median(sweep), one: median(one), separate: median(separate), sweepRuns: sweep, oneRuns: one, agree, points: points.length };
		console.log(`  ${m.name}: sweep ${row.sweep.toFixed(2)} s (${(row.sweep / row.one).toFixed(2)}× one analysis ${row.one.toFixed(2)} s); ${points.length} separate analyses ${row.separate.toFixed(2)} s; same totals: ${agree ? 'yes' : 'NO'}`);
		rows.push(row);
	}
	const loadEnd = load();
	const s = (x) => `${x.toFixed(2)} s`;
	const lines = [
		'# `crossbar-lens sweep` benchmark',
		'',
		'Made by `node esbuild.mjs && node bench/sweep.mjs` (part of `npm run bench`). Figures only; nothing is asserted.',
		'',
		`* date: ${date}`,
		`* machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; load average ${loadStart} at the start, ${loadEnd} at the end (shared with other jobs: read the ratios)`,
		`* sweep: \`crossbar-lens sweep FILE --json --tiles ${sizes.join(',')} --slices ${slicings.join(',')}\` (${sizes.length * slicings.length} settings, the paper's law); medians of ${runs} runs, interleaved with \`analyze FILE --json\` and with the ${sizes.length * slicings.length} separate analyses (one per setting, summed)`,
		'',
		'| model | sweep (18 settings) | one analysis | sweep / one analysis | 18 separate analyses | same totals |',
		'|---|---|---|---|---|---|',
		...rows.map((r) => `| ${r.name} (\`${relative(root, r.file)}\`) | ${s(r.sweep)} | ${s(r.one)} | **${(r.sweep / r.one).toFixed(2)}×** (goal ≤ 1.5×) | ${s(r.separate)} | ${r.agree ? 'yes' : 'NO'} |`),
		'',
		'Runs (s): ' + rows.map((r) => `${r.name} sweep ${r.sweepRuns.map((x) => x.toFixed(2)).join(', ')} / analyze ${r.oneRuns.map((x) => x.toFixed(2)).join(', ')}`).join('; ') + '.',
		'',
	];
	writeFileSync(join(root, 'bench', 'SWEEP_RESULTS.md'), lines.join('\n'));
	console.log('wrote bench/SWEEP_RESULTS.md');
}

main();
