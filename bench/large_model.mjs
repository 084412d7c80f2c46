// A ~2-billion-parameter float16 model, sharded as Hugging Face shards it, analysed with
// --include-linear against `cat` of the same shards from the page cache (issue #13: wall time ≤
// 1.5× cat, peak memory < 1 GB). Prints a table and writes bench/LARGE_RESULTS.md; asserts nothing.
//
//   node esbuild.mjs && node bench/large_model.mjs          (npm run bench:large; a few minutes)
//
// The model is written by hand in the safetensors format (8-byte little-endian header length,
// JSON header, raw little-endian data) into bench/.data/large-2b/: four shards of ~1 GB and a
// model.safetensors.index.json whose weight_map names each tensor's shard (what
// src/formats/sharded.ts reads). Layers: 64 linear 4096×4096, 16 linear 11008×4096, 40 conv
// 512×512×3×3 and 12 conv 1024×1024×3×3 (2.00 B weights), with biases. Weights are drawn from
// four pools of random halves with 10, 40, 70 and 90 % zeros, so crossbars land on every level.
// The ~4 GB are deleted at the end unless BENCH_KEEP_LARGE=1. BENCH_RUNS sets the timed runs (5).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folder = join(root, 'bench', '.data', 'large-2b');
const index = join(folder, 'model.safetensors.index.json');
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const keep = process.env.BENCH_KEEP_LARGE === '1';
const shardCount = 4;

/** name, shape of every tensor, in module order. */
function tensors() {
	const list = [];
	for (let i = 0; i < 40; i++) list.push([`stem.${i}.conv.weight`, [512, 512, 3, 3]], [`stem.${i}.conv.bias`, [512]]);
	for (let i = 0; i < 12; i++) list.push([`down.${i}.conv.weight`, [1024, 1024, 3, 3]], [`down.${i}.conv.bias`, [1024]]);
	for (let i = 0; i < 16; i++) {
		for (const p of ['q', 'k', 'v', 'o']) list.push([`layers.${i}.attn.${p}.weight`, [4096, 4096]]);
		list.push([`layers.${i}.mlp.up.weight`, [11008, 4096]], [`layers.${i}.norm.bias`, [4096]]);
	}
	return list;
}

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

/** Pools of random finite halves (|x| in [2^-14, 2)) with a given share of +0. */
function pools() {
	let state = 0x9e3779b9;
	const next = () => {
		state ^= state << 13;
		state ^= state >>> 17;
		state ^= state << 5;
		return state >>> 0;
	};
	return [0.1, 0.4, 0.7, 0.9].map((zeros) => {
		const pool = new Uint16Array(8 * 1024 * 1024 + 4096);
		for (let i = 0; i < pool.length; i++) {
			const r = next();
			// sign | exponent 1..15 | mantissa: a finite normal half, never NaN or ∞.
			pool[i] = (r & 0xffff) / 65536 < zeros ? 0 : (r & 0x8000) | ((1 + ((r >>> 16) % 15)) << 10) | ((r >>> 4) & 0x3ff);
		}
		return pool;
	});
}

function writeModel() {
	rmSync(folder, { recursive: true, force: true });
	mkdirSync(folder, { recursive: true });
	const list = tensors();
	const total = list.reduce((n, [, s]) => n + numel(s) * 2, 0);
	const perShard = Math.ceil(total / shardCount);
	const shards = [];
	let current = [];
	let size = 0;
	for (const t of list) {
		current.push(t);
		size += numel(t[1]) * 2;
		if (size >= perShard) {
			shards.push(current);
			current = [];
			size = 0;
		}
	}
	if (current.length) shards.push(current);
	const sources = pools();
	const weightMap = {};
	let seed = 1;
	let tensorIndex = 0;
	shards.forEach((members, s) => {
		const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
		const header = { __metadata__: { format: 'pt' } };
		let offset = 0;
		for (const [tensor, shape] of members) {
			const bytes = numel(shape) * 2;
			header[tensor] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
			offset += bytes;
			weightMap[tensor] = name;
		}
		let json = JSON.stringify(header);
		json += ' '.repeat((8 - (json.length % 8)) % 8); // the data section starts 8-aligned, as safetensors writes it
		const fd = openSync(join(folder, name), 'w');
		const length = Buffer.alloc(8);
		length.writeBigUInt64LE(BigInt(json.length));
		writeSync(fd, length);
		writeSync(fd, json);
		for (const [, shape] of members) {
			// Each tensor from one pool (in turn), copied in 16 MB pieces from pseudo-random places.
			const pool = sources[tensorIndex++ % sources.length];
			let left = numel(shape);
			while (left > 0) {
				seed = (seed * 1103515245 + 12345) >>> 0;
				const take = Math.min(left, 8 * 1024 * 1024);
				const start = seed % (pool.length - take + 1);
				writeSync(fd, pool.subarray(start, start + take));
				left -= take;
			}
		}
		closeSync(fd);
	});
	writeFileSync(index, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
	return { files: shards.map((_, s) => join(folder, `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`)), weights: list.filter(([n]) => n.endsWith('.weight')).reduce((n, [, s]) => n + numel(s), 0), total };
}

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall seconds of each of `runs` runs after one warm-up, stdout discarded. */
function timeRuns(command, args) {
	const times = [];
	for (let i = 0; i <= runs; i++) {
		const t0 = process.hrtime.bigint();
		const r = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
		const s = Number(process.hrtime.bigint() - t0) / 1e9;
		if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
		if (i > 0) times.push(s);
	}
	return times;
}

function peakRssMiB(command, args) {
	const out = join(folder, 'time.out');
	const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%M', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
	if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
	const kib = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
	rmSync(out);
	return kib / 1024;
}

function main() {
	if (!existsSync(cli)) {
		console.error(`${relative(root, cli)} is missing: run 'node esbuild.mjs' first.`);
		process.exit(1);
	}
	const started = new Date();
	console.log(`writing ~4 GB of float16 shards to ${relative(root, folder)}/ …`);
	const t0 = Date.now();
	const model = writeModel();
	const bytes = model.files.reduce((n, f) => n + statSync(f).size, 0);
	console.log(`  ${model.files.length} shards, ${(bytes / 1e9).toFixed(2)} GB, ${(model.weights / 1e9).toFixed(3)} B weights, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	try {
		const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
		const analyzeArgs = [cli, 'analyze', index, '--include-linear', '--json'];
		// Interleaved, so that both see the same machine: cat, then analyze, `runs` times each.
		const cat = timeRuns('cat', model.files);
		const analyze = timeRuns(process.execPath, analyzeArgs);
		const cat2 = timeRuns('cat', model.files);
		const catAll = [...cat, ...cat2];
		const rss = peakRssMiB(process.execPath, analyzeArgs);
		const summary = JSON.parse(spawnSync(process.execPath, analyzeArgs, { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout).totals;
		const loadAfter = loadavg().map((l) => l.toFixed(2)).join(' ');
		const ratio = median(analyze) / median(catAll);
		const s = (x) => `${x.toFixed(2)} s`;
		console.log(`  cat (page cache)        ${s(median(catAll))} (runs ${catAll.map(s).join(', ')})`);
		console.log(`  analyze --include-linear ${s(median(analyze))} (runs ${analyze.map(s).join(', ')}), ${ratio.toFixed(2)}× cat; peak RSS ${rss.toFixed(0)} MiB`);
		console.log(`  ${summary.layers} layers, ${summary.tiles} crossbars, improvement ${summary.adcEnergyImprovement.toFixed(3)}×; load ${loadBefore} → ${loadAfter}`);
		const lines = [
			'# Large model: `crossbar-lens analyze` of a 2-billion-parameter float16 sharded model',
			'',
			'Made by `npm run bench:large` (bench/large_model.mjs). Figures only; nothing is asserted.',
			'',
			`* date: ${started.toISOString()}`,
			`* machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the end); node ${process.version}`,
			`* load average: ${loadBefore} before the timed runs, ${loadAfter} after (2 CPUs shared with other jobs: read the ratio, not the seconds)`,
			`* model: ${model.files.length} safetensors shards + model.safetensors.index.json, ${(bytes / 1e9).toFixed(2)} GB, ${model.weights.toLocaleString('en-US')} weights (64 linear 4096×4096, 16 linear 11008×4096, 40 conv 512×512×3×3, 12 conv 1024×1024×3×3), F16`,
			`* wall times: median of ${runs} runs after a warm-up (files in the page cache); \`cat\` timed ${runs} times before and ${runs} times after the analyses`,
			'',
			'| | wall (median) | runs | peak RSS |',
			'|---|---|---|---|',
			`| \`cat\` of the ${model.files.length} shards > /dev/null | ${s(median(catAll))} | ${catAll.map(s).join(', ')} | |`,
			`| \`crossbar-lens analyze model.safetensors.index.json --include-linear --json\` | ${s(median(analyze))} | ${analyze.map(s).join(', ')} | ${rss.toFixed(0)} MiB |`,
			'',
			`analyze / cat: **${ratio.toFixed(2)}×** (goal ≤ 1.5×, ${ratio <= 1.5 ? 'met' : 'missed'}); peak memory ${rss.toFixed(0)} MiB (goal < 1 GiB, ${rss < 1024 ? 'met' : 'missed'}).`,
			'',
			`Result: ${summary.layers} layers, ${summary.tiles.toLocaleString('en-US')} crossbars at T = 64, ${(100 * summary.zeros / summary.weights).toFixed(1)} % zeros, ADC energy improvement ${summary.adcEnergyImprovement.toFixed(3)}×.`,
			'',
		];
		writeFileSync(join(root, 'bench', 'LARGE_RESULTS.md'), lines.join('\n'));
		console.log(`wrote bench/LARGE_RESULTS.md`);
	} finally {
		if (!keep) {
			rmSync(folder, { recursive: true, force: true });
			console.log(`deleted ${relative(root, folder)}/ (BENCH_KEEP_LARGE=1 keeps it)`);
		}
	}
}

main();
