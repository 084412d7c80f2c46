// How fast `crossbar-lens prune` prunes a ResNet-18 checkpoint (--preset resnet18-imagenet, T=64)
// and a 100M-parameter checkpoint (--ratio 70, T=64) end to end, against the same D.U.B. prune in
// NumPy (bench/prune_numpy.py: load, prune, stats and save timed separately). Prints a table and
// writes bench/PRUNE_RESULTS.md; asserts nothing.
//
//   node esbuild.mjs && node bench/prune.mjs
//
// Checkpoints live in bench/.data/ (git-ignored): resnet18.pt and conv100m.pt are reused when
// present (bench/numpy_stats.py makes the same ones), else made by bench/prune_numpy.py make with
// Debian's PyTorch (/usr/bin/python3, or $CROSSBAR_LENS_PYTHON). Pruned outputs go to
// bench/.data/prune-out/ and are deleted at the end. BENCH_CLI points at another CLI build;
// BENCH_BEFORE at an older build to time in the same run, interleaved (a before/after column);
// BENCH_RUNS changes the number of timed runs (default 5).
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(root, 'bench', '.data');
const outDir = join(dataDir, 'prune-out');
const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const before = process.env.BENCH_BEFORE;
const numpyScript = join(root, 'bench', 'prune_numpy.py');

// Goals of issue #13 (wall seconds of the whole command).
const goals = { 'ResNet-18': 0.5, '100M conv': 2.5 };
/** The authors' reference code prunes ResNet-18 in 15.1 s on one thread (issue #13). */
const referenceSeconds = 15.1;

const cases = [
	{ name: 'ResNet-18', file: join(dataDir, 'resnet18.pt'), args: ['--preset', 'resnet18-imagenet', '--tile', '64'], numpyArgs: ['--preset', 'resnet18-imagenet', '--tile', '64'] },
	{ name: '100M conv', file: join(dataDir, 'conv100m.pt'), args: ['--ratio', '70', '--tile', '64'], numpyArgs: ['--ratio', '70', '--tile', '64'] },
];

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function run(command, args, { stdout = 'pipe' } = {}) {
	const t0 = process.hrtime.bigint();
	const r = spawnSync(command, args, { cwd: root, stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
	const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
	if (r.error) throw r.error;
	if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
	return { seconds, stdout: r.stdout };
}

/**
 * Wall seconds of each command (stdout to /dev/null): one warm-up each, then `runs` rounds that
 * run them in turn, so that all see the same machine; the median and every run of each.
 */
function wallSeconds(...commands) {
	const devNull = openSync('/dev/null', 'w');
	const timeFile = join(outDir, 'cpu.out');
	try {
		const times = commands.map(() => []);
		const cpu = commands.map(() => []);
		for (let i = 0; i <= runs; i++) {
			commands.forEach(([command, args], c) => {
				// CPU seconds (user + sys) by GNU time: on a shared machine they move less than wall times.
				const timed = existsSync('/usr/bin/time');
				const { seconds } = timed ? run('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', command, ...args], { stdout: devNull }) : run(command, args, { stdout: devNull });
				if (i > 0) {
					times[c].push(seconds);
					if (timed) cpu[c].push(readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number).reduce((a, b) => a + b, 0));
				}
			});
		}
		return times.map((all, c) => ({ median: median(all), all, cpu: cpu[c].length ? median(cpu[c]) : undefined }));
	} finally {
		closeSync(devNull);
		rmSync(timeFile, { force: true });
	}
}

/** Peak RSS (bytes) of one run, by GNU time's %M; undefined without /usr/bin/time. */
function peakRss(command, args) {
	if (!existsSync('/usr/bin/time')) return undefined;
	const out = join(outDir, 'time.out');
	run('/usr/bin/time', ['-o', out, '-f', '%M', command, ...args], { stdout: 'ignore' });
	return Number(readFileSync(out, 'utf8').trim().split('\n').pop()) * 1024;
}

/** The I/O floor: copy the checkpoint and fsync the copy (what any writer of a new file must do). */
function copyFloor(file) {
	const times = [];
	const target = join(outDir, 'copy.tmp');
	for (let i = 0; i <= runs; i++) {
		const t0 = process.hrtime.bigint();
		copyFileSync(file, target);
		const fd = openSync(target, 'r+');
		fsyncSync(fd);
		closeSync(fd);
		if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
		rmSync(target);
	}
	return median(times);
}

function ensureData() {
	if (cases.every((c) => existsSync(c.file))) return;
	console.log('making checkpoints in bench/.data/ (once) …');
	run(python, [numpyScript, 'make', dataDir], { stdout: 'inherit' });
}

function machine() {
	const cpu = cpus();
	let pythonVersions = '';
	try {
		pythonVersions = run(python, ['-c', 'import sys, numpy, torch; print(sys.version.split()[0], numpy.__version__, torch.__version__)']).stdout.trim();
	} catch {
		pythonVersions = 'unavailable';
	}
	const [py, np, torch] = pythonVersions.split(' ');
	return {
		date: new Date().toISOString(),
		nproc: run('nproc', []).stdout.trim(),
		cpu: cpu[0]?.model ?? 'unknown',
		memGiB: (Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024 ** 2).toFixed(1),
		node: process.version,
		python: py,
		numpy: np,
		torch,
		load: loadavg().map((l) => l.toFixed(2)).join(' '),
	};
}

const mb = (bytes) => (bytes / 1024 ** 2).toFixed(0);
const s = (seconds) => seconds.toFixed(2);

function main() {
	if (!existsSync(cli)) {
		console.error(`${relative(root, cli)} is missing: run 'node esbuild.mjs' first.`);
		process.exit(1);
	}
	mkdirSync(outDir, { recursive: true });
	ensureData();
	const info = machine();
	console.log(`crossbar-lens prune bench · ${info.date} · ${info.nproc} CPUs (${info.cpu}) · node ${info.node} · load ${info.load}`);
	const rows = [];
	try {
		for (const c of cases) {
			const size = statSync(c.file).size;
			const cliOut = join(outDir, 'cli.pt');
			const npOut = join(outDir, 'numpy.pt');
			console.log(`\n${c.name}: ${relative(root, c.file)} (${mb(size)} MB)`);
			// One run with --json: what the CLI computed (for the agreement check), not timed.
			const doc = JSON.parse(run(process.execPath, [cli, 'prune', c.file, '--out', cliOut, ...c.args, '--json', '--force']).stdout);
			const cliArgs = [cli, 'prune', c.file, '--out', cliOut, ...c.args, '--force'];
			const [cliWall, analyzeWall, beforeWall] = wallSeconds([process.execPath, cliArgs], [process.execPath, [cli, 'analyze', c.file, '--tile', '64']],
				...(before ? [[process.execPath, [before, 'prune', c.file, '--out', cliOut, ...c.args, '--force']]] : []));
			const cliRss = peakRss(process.execPath, cliArgs);
			const cpuText = (w) => (w.cpu !== undefined ? `, CPU ${s(w.cpu)} s` : '');
			console.log(`  CLI prune      ${s(cliWall.median)} s (runs ${cliWall.all.map(s).join(', ')}${cpuText(cliWall)}), peak RSS ${cliRss ? mb(cliRss) + ' MB' : 'n/a'}; goal ≤ ${goals[c.name]} s`);
			if (beforeWall) console.log(`  before (${relative(root, before)}) ${s(beforeWall.median)} s (runs ${beforeWall.all.map(s).join(', ')}${cpuText(beforeWall)})`);
			console.log(`  CLI analyze    ${s(analyzeWall.median)} s (read + levels only, for scale)`);
			const floor = copyFloor(c.file);
			console.log(`  copy + fsync   ${s(floor)} s (I/O floor of writing the output)`);
			const np = JSON.parse(run(python, [numpyScript, 'run', c.file, '--out', npOut, ...c.numpyArgs, '--repeat', String(runs)]).stdout);
			const npRss = peakRss(python, [numpyScript, 'run', c.file, '--out', npOut, ...c.numpyArgs, '--repeat', '0']);
			console.log(`  NumPy          ${s(np.total_s)} s = load ${s(np.load_s)} + prune ${s(np.prune_s)} + stats ${s(np.stats_s)} + save ${s(np.save_s)}, peak RSS ${npRss ? mb(npRss) + ' MB' : 'n/a'}`);
			const agree = JSON.stringify(np.totals.levelHistogram) === JSON.stringify(doc.after.totals.levelHistogram) && np.totals.zeros === doc.after.totals.zeros;
			console.log(`  agree          ${agree ? 'yes' : 'NO'} (levels ${doc.after.totals.levelHistogram.join(' ')}; zeros ${doc.after.totals.zeros} vs NumPy ${np.totals.zeros}); improvement ${doc.before.totals.adcEnergyImprovement.toFixed(3)}× → ${doc.after.totals.adcEnergyImprovement.toFixed(3)}× (unstructured ${doc.unstructured.totals.adcEnergyImprovement.toFixed(3)}×)`);
			rows.push({ c, size, weights: doc.after.totals.weights, cliWall, cliRss, analyzeWall, beforeWall, floor, np, npRss, agree, doc });
			rmSync(cliOut, { force: true });
			rmSync(npOut, { force: true });
		}
	} finally {
		rmSync(join(outDir, 'time.out'), { force: true });
		rmSync(outDir, { recursive: true, force: true });
	}
	writeResults(info, rows);
	console.log(`\nwrote ${relative(root, join(root, 'bench', 'PRUNE_RESULTS.md'))}`);
}

function writeResults(info, rows) {
	const lines = [
		'# `crossbar-lens prune` benchmark',
		'',
		'Made by `node esbuild.mjs && node bench/prune.mjs` (bench/prune.mjs, bench/prune_numpy.py). Figures only; nothing is asserted.',
		'',
		`* date: ${info.date}`,
		`* machine: ${info.nproc} CPUs (\`nproc\`), ${info.cpu}, ${info.memGiB} GiB RAM; load average at start ${info.load}`,
		`* node ${info.node}; Python ${info.python}, NumPy ${info.numpy}, torch ${info.torch}`,
		`* wall times: median of ${runs} runs after one warm-up (page cache warm), the CLI commands interleaved; peak RSS from one run under \`/usr/bin/time -f %M\``,
		...(before ? [`* before: \`${relative(root, before)}\` (the code before this change), timed in the same rounds`] : []),
		'',
		'| model | file | conv weights | CLI prune (wall) | goal | CLI CPU (user+sys) | CLI / NumPy total | CLI peak RSS | NumPy total | NumPy load | NumPy prune | NumPy stats | NumPy save+fsync | NumPy peak RSS | CLI analyze | copy+fsync floor | same result |' + (before ? ' before (wall) | before CPU |' : ''),
		'|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|' + (before ? '---|---|' : ''),
	];
	for (const r of rows) {
		const goal = goals[r.c.name];
		lines.push(`| ${r.c.name} (\`${r.c.args.join(' ')}\`) | ${mb(r.size)} MB | ${(r.weights / 1e6).toFixed(1)} M | ${s(r.cliWall.median)} s | ≤ ${goal} s: ${r.cliWall.median <= goal ? 'met' : 'missed'} | ${r.cliWall.cpu !== undefined ? s(r.cliWall.cpu) + ' s' : 'n/a'} | ${(r.cliWall.median / r.np.total_s).toFixed(2)}× | ${r.cliRss ? mb(r.cliRss) + ' MB' : 'n/a'} | ${s(r.np.total_s)} s | ${s(r.np.load_s)} s | ${s(r.np.prune_s)} s | ${s(r.np.stats_s)} s | ${s(r.np.save_s)} s | ${r.npRss ? mb(r.npRss) + ' MB' : 'n/a'} | ${s(r.analyzeWall.median)} s | ${s(r.floor)} s | ${r.agree ? 'yes' : 'NO'} |` + (r.beforeWall ? ` ${s(r.beforeWall.median)} s | ${r.beforeWall.cpu !== undefined ? s(r.beforeWall.cpu) + ' s' : 'n/a'} |` : ''));
	}
	lines.push('');
	lines.push('Individual CLI prune runs (s): ' + rows.map((r) => `${r.c.name}: ${r.cliWall.all.map(s).join(', ')}`).join('; ') + (before ? '; before: ' + rows.map((r) => `${r.c.name}: ${r.beforeWall.all.map(s).join(', ')}`).join('; ') : '') + '.');
	const resnet = rows.find((r) => r.c.name === 'ResNet-18');
	if (resnet) lines.push('', `ResNet-18 against the authors' reference code (15.1 s on one thread, issue #13): ${(referenceSeconds / resnet.cliWall.median).toFixed(0)}× faster (goal ≥ 30×).`);
	lines.push('');
	lines.push('ADC-energy improvement (paper law, T=64): ' + rows.map((r) => `${r.c.name} ${r.doc.before.totals.adcEnergyImprovement.toFixed(3)}× → D.U.B. ${r.doc.after.totals.adcEnergyImprovement.toFixed(3)}× (unstructured at the same ratios ${r.doc.unstructured.totals.adcEnergyImprovement.toFixed(3)}×)`).join('; ') + '.');
	lines.push('');
	lines.push('Notes:');
	lines.push('');
	lines.push('* The CLI figure is the whole command: start-up, reading the checkpoint, the analysis before, the D.U.B. prune, the analysis after, the unstructured baseline at the same ratios (its column counts come from the same pass that prunes each crossbar), and the atomic write (temp file, fsync, link). NumPy does only load, prune, one histogram and save, inside a warm Python (no interpreter start-up, no `import torch`), so it is not the same amount of work.');
	lines.push('* NumPy prunes with one `numpy.percentile(axis=1)` call per (column length, q*) group and layer, the fastest plain-NumPy form we have; its result (zero count and level histogram) is checked against the CLI\'s (`same result`). test/interop/prune/ checks the weights bit for bit.');
	lines.push('* `copy+fsync floor`: copying the input to a new file and fsyncing it, the least any safe writer of a new checkpoint of that size pays on this disk.');
	lines.push('* Checkpoints: bench/.data/resnet18.pt (torchvision ResNet-18 state_dict, random init, conv weights randomly 10–90 % zero) and bench/.data/conv100m.pt (24×(512,512,3,3) + 9×(1024,512,3,3) + (1024,1024,1,1) = 100,139,008 conv weights, N(0, 0.02²), 10–90 % zero, with biases).');
	lines.push(`* The machine is shared with other jobs (load average ${info.load} at start, on ${info.nproc} CPUs): expect noise; compare runs on the same machine only.`);
	lines.push('');
	writeFileSync(join(root, 'bench', 'PRUNE_RESULTS.md'), lines.join('\n'));
}

main();
