// `npm run bench` (= node esbuild.mjs && node bench/analyze.mjs): how fast `crossbar-lens analyze`
// reads and analyses a ResNet-18-sized and a 100M-parameter checkpoint, against the page cache
// and against NumPy. Prints a table, writes bench/RESULTS.md; asserts nothing.
//
//   node bench/analyze.mjs              the figures
//   node bench/analyze.mjs --profile    also a CPU profile of each CLI run (top functions by self time)
//
// Checkpoints are made once into bench/.data/ (git-ignored) by bench/numpy_stats.py with Debian's
// PyTorch (/usr/bin/python3, or $CROSSBAR_LENS_PYTHON). BENCH_CLI points at another CLI build.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(root, 'bench', '.data');
const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const runs = 5;
const profile = process.argv.includes('--profile');

const goals = { resnetSeconds: 0.4, bigSeconds: 1.0, bigRssBytes: 1024 ** 3 };

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall seconds of `command args` with stdout to /dev/null (one warm-up, then the median of `runs`). */
function wallSeconds(command, args, { warm = 1, n = runs } = {}) {
	const devNull = openSync('/dev/null', 'w');
	try {
		const times = [];
		for (let i = 0; i < warm + n; i++) {
			const t0 = process.hrtime.bigint();
			const r = spawnSync(command, args, { cwd: root, stdio: ['ignore', devNull, 'pipe'], maxBuffer: 64 * 1024 * 1024 });
			const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
			if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
			if (i >= warm) times.push(seconds);
		}
		return median(times);
	} finally {
		closeSync(devNull);
	}
}

/** Peak RSS in bytes of one run: GNU time's %M, else VmHWM polled from /proc. */
async function peakRss(command, args) {
	if (existsSync('/usr/bin/time')) {
		const out = join(dataDir, 'time.out');
		const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%M', command, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
		if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${r.stderr}`);
		return { bytes: Number(readFileSync(out, 'utf8').trim().split('\n').pop()) * 1024, how: '/usr/bin/time %M' };
	}
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'ignore'] });
		let peak = 0;
		const poll = setInterval(() => {
			try {
				const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
				if (m) peak = Math.max(peak, Number(m[1]) * 1024);
			} catch { /* exited */ }
		}, 2);
		child.on('error', reject);
		child.on('exit', () => {
			clearInterval(poll);
			resolve({ bytes: peak, how: '/proc VmHWM polled every 2 ms (a lower bound)' });
		});
	});
}

function run(command, args, options = {}) {
	const r = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
	if (r.error || r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.error ?? r.stderr}`);
	return r.stdout;
}

/** The same analysis inside one Node process (open + analyse, warm, median), to compare kernels with NumPy's in-process time. */
function buildInProcessDriver() {
	const out = join(dataDir, 'inprocess.cjs');
	const source = `
import { openModel } from './src/formats/registry';
import { analyzeGraph } from './src/hardware/analyze';
import { resolveProfile } from './src/hardware/profile';
async function main(): Promise<void> {
	const [file, n] = process.argv.slice(2);
	const profile = resolveProfile({});
	const times: number[] = [];
	let totals: unknown;
	for (let i = 0; i <= Number(n); i++) {
		const t0 = performance.now();
		const graph = await openModel(file, {});
		try {
			totals = (await analyzeGraph(graph, profile)).result.totals;
		} finally {
			await graph.close();
		}
		if (i > 0) times.push((performance.now() - t0) / 1000);
	}
	times.sort((a, b) => a - b);
	process.stdout.write(JSON.stringify({ seconds: times[times.length >> 1], totals }));
}
void main();
`;
	const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
import * as esbuild from 'esbuild';
await esbuild.build({ stdin: { contents: ${JSON.stringify(source)}, resolveDir: ${JSON.stringify(root)}, loader: 'ts', sourcefile: 'inprocess.ts' },
	bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: ${JSON.stringify(out)}, logLevel: 'error' });
`], { cwd: root, encoding: 'utf8' });
	return r.status === 0 ? out : undefined;
}

/** An unminified CLI bundle (readable function names in profiles). */
function buildProfileCli() {
	const out = join(dataDir, 'profile-cli', 'cli.js');
	run(process.execPath, ['--input-type=module', '-e', `
import * as esbuild from 'esbuild';
await esbuild.build({ entryPoints: ['src/cli/main.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
	outfile: ${JSON.stringify(out)}, minify: false, logLevel: 'error' });
`]);
	return out;
}

/** Top functions by self time of a .cpuprofile. */
function summarizeProfile(file, top = 12) {
	const prof = JSON.parse(readFileSync(file, 'utf8'));
	const self = new Map();
	const byId = new Map(prof.nodes.map((n) => [n.id, n]));
	const dt = prof.timeDeltas;
	const counts = new Map();
	prof.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
	let total = 0;
	for (const [id, us] of counts) {
		const f = byId.get(id).callFrame;
		const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : ''}`.trim();
		self.set(key, (self.get(key) ?? 0) + us);
		total += us;
	}
	return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
}

function fmtS(s) {
	return s === undefined ? 'n/a' : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

function fmtBytes(b) {
	return b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`;
}

function table(rows) {
	const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
	return rows.map((r, i) => {
		const line = `| ${r.map((cell, c) => String(cell).padEnd(widths[c])).join(' | ')} |`;
		return i === 0 ? `${line}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|` : line;
	}).join('\n');
}

async function main() {
	mkdirSync(dataDir, { recursive: true });
	if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`node esbuild.mjs\` first (npm run bench does).`);
	console.log(`checkpoints in ${relative(root, dataDir)}/ (made once by bench/numpy_stats.py) …`);
	const files = run(python, [join(root, 'bench', 'numpy_stats.py'), 'make', dataDir], { env: { ...process.env, PYTHONWARNINGS: 'ignore' } }).trim().split('\n');
	const inProcess = buildInProcessDriver();
	const profileCli = profile ? buildProfileCli() : undefined;

	// Node's start-up plus loading the CLI bundle, doing no work: the floor of every CLI run.
	const startup = wallSeconds(process.execPath, [cli, '--version']);
	const results = [];
	for (const file of files) {
		const name = file.endsWith('resnet18.pt') ? 'ResNet-18' : '100M conv';
		const size = statSync(file).size;
		console.log(`${name}: ${relative(root, file)} (${fmtBytes(size)})`);
		const cliArgs = [cli, 'analyze', file, '--json'];
		const cat = wallSeconds('cat', [file]);
		const cliWall = wallSeconds(process.execPath, cliArgs);
		const rss = await peakRss(process.execPath, cliArgs);
		const cliJson = JSON.parse(run(process.execPath, cliArgs));
		const inproc = inProcess ? JSON.parse(run(process.execPath, [inProcess, file, String(runs)])) : undefined;
		const numpy = JSON.parse(run(python, [join(root, 'bench', 'numpy_stats.py'), 'stats', file, '--repeat', String(runs)]));
		const numpyProcess = wallSeconds(python, [join(root, 'bench', 'numpy_stats.py'), 'stats', file, '--repeat', '0'], { warm: 1, n: 3 });
		const agree = JSON.stringify(cliJson.totals.levelHistogram) === JSON.stringify(numpy.totals.levelHistogram)
			&& cliJson.totals.zeros === numpy.totals.zeros && cliJson.totals.tiles === numpy.totals.tiles;
		let prof;
		if (profileCli) {
			const dir = join(dataDir, 'prof');
			rmSync(dir, { recursive: true, force: true });
			run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200', profileCli, 'analyze', file, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
			prof = summarizeProfile(join(dir, readdirSync(dir)[0]));
		}
		results.push({ name, file, size, weights: cliJson.totals.weights, cat, cliWall, rss, inproc, numpy, numpyProcess, agree, prof });
	}

	const [resnet, big] = results;
	const rows = [['model', 'file', 'conv weights', 'cat (page cache)', 'CLI end to end', 'of which start-up', 'CLI peak RSS', 'CLI in-process (open+analyse)', 'NumPy torch.load', 'NumPy stats', 'NumPy process (python+import+load+stats)', 'same numbers']];
	for (const r of results) {
		rows.push([r.name, fmtBytes(r.size), r.weights.toLocaleString('en-US'), fmtS(r.cat), fmtS(r.cliWall), fmtS(startup), fmtBytes(r.rss.bytes), fmtS(r.inproc?.seconds),
			fmtS(r.numpy.load_s), fmtS(r.numpy.stats_s), fmtS(r.numpyProcess), r.agree ? 'yes' : 'NO']);
	}
	const met = (ok) => (ok ? 'met' : 'MISSED');
	const goalRows = [['goal', 'measured', '']];
	goalRows.push([`ResNet-18 end to end < ${goals.resnetSeconds} s`, fmtS(resnet.cliWall), met(resnet.cliWall < goals.resnetSeconds)]);
	goalRows.push([`100M end to end < ${goals.bigSeconds} s`, fmtS(big.cliWall), met(big.cliWall < goals.bigSeconds)]);
	goalRows.push(['100M peak RSS < 1 GiB', fmtBytes(big.rss.bytes), met(big.rss.bytes < goals.bigRssBytes)]);
	for (const r of results) {
		const np = r.numpy.load_s + r.numpy.stats_s;
		goalRows.push([`${r.name}: faster than NumPy — CLI end to end vs torch.load + stats (warm Python)`, `${fmtS(r.cliWall)} vs ${fmtS(np)}`, met(r.cliWall < np)]);
		if (r.inproc) {
			goalRows.push([`${r.name}: faster than NumPy — in-process open+analyse vs torch.load + stats`, `${fmtS(r.inproc.seconds)} vs ${fmtS(np)}`, met(r.inproc.seconds < np)]);
		}
		goalRows.push([`${r.name}: faster than NumPy — CLI process vs Python process`, `${fmtS(r.cliWall)} vs ${fmtS(r.numpyProcess)}`, met(r.cliWall < r.numpyProcess)]);
	}
	const cpuModel = (/model name\s*:\s*(.*)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '') ?? [])[1] ?? cpus()[0]?.model ?? 'unknown';
	const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(cpus().length);
	const machine = `${nproc} CPUs (nproc), ${cpuModel}, Node ${process.version}, ${spawnSync(python, ['-c', 'import numpy, torch; print("NumPy", numpy.__version__, "· PyTorch", torch.__version__)'], { encoding: 'utf8' }).stdout.trim()}`;
	const load = `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`;
	const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
	const profiles = results.filter((r) => r.prof).map((r) => `\n### CPU profile, ${r.name} (unminified CLI, self time)\n\n${table([['function', 'self ms', 'share'], ...r.prof.map((p) => [p.name, p.ms.toFixed(1), `${(100 * p.share).toFixed(1)}%`])])}\n`).join('');
	const report = `# Benchmark: crossbar-lens analyze

${date} · ${machine} · ${load}

\`npm run bench\` (bench/analyze.mjs). Wall times are medians of ${runs} warm runs (files in the
page cache). "CLI end to end" is \`node dist/cli.js analyze FILE --json > /dev/null\`, Node's
start-up included ("of which start-up": \`node dist/cli.js --version\`, the floor of any run).
Peak RSS by ${results[0].rss.how}. "CLI in-process" opens and analyses the file inside one warm
Node process (the same src/ code, bundled by the bench). NumPy: \`torch.load\` of the same file,
then per-column non-zero counts with vectorised \`np.count_nonzero\` (bench/numpy_stats.py),
timed separately inside one warm Python process; "NumPy process" is the median of 3 runs of
\`python3 bench/numpy_stats.py stats FILE --repeat 0\` (interpreter start-up, \`import torch\`, one
load, stats). On a shared machine single figures move by ±30 % from run to run.

${table(rows)}

${table(goalRows)}
${profiles}`;
	console.log(`\n${report}`);
	writeFileSync(join(root, 'bench', 'RESULTS.md'), report);
	console.log('written to bench/RESULTS.md');
}

main().catch((ex) => {
	console.error(ex instanceof Error ? ex.message : ex);
	process.exitCode = 1;
});
