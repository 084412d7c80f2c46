// `npm run repro:fashion [-- --quick] [-- --seed N]`: D.U.B. at real scale, on Fashion-MNIST
// (Debian's dataset-fashion-mnist), with both engines, each in its own process: the PyTorch engine
// in full (python/crossbar_lens_train/repro_fashion.py), then the TensorFlow.js engine on a reduced
// budget (bench/train/tfjs-repro-fashion.ts). Both compare, at T = 32 and the same per-layer ratios,
// epochs, seed and fine-tune: (a) unstructured pruning, (b) the D.U.B. prune without the regularizer,
// (c) the full D.U.B. pipeline, (d) whole crossbars only.
//
// Prints each engine's report, a table with the goals (PyTorch engine), and as the last lines
// one JSON object per engine: engine, baselineAccuracy, dubAccuracy, dubImprovement,
// unstructuredAccuracy, unstructuredImprovement, pruneOnlyAccuracy, pruneOnlyImprovement,
// tilesAccuracy, tilesImprovement, tile, ratios, minutes, reducedBudget (accuracies in percent on
// the held-out set, improvements under the paper law).
import { runEngines } from './engines.mjs';

const passThrough = process.argv.slice(2);
const quick = passThrough.includes('--quick');
const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';
// One torch thread: on this 2-core machine, shared with other jobs, a second thread mostly waits
// for the first (oneDNN's threads spin at every barrier), which made steps slower, not faster.
const threads = process.env.REPRO_THREADS ?? '1';
const runs = [
	{ engine: 'pytorch', command: python, args: ['-m', 'crossbar_lens_train', 'repro-fashion', '--threads', threads, ...passThrough], env: { PYTHONPATH: 'python' } },
	{ engine: 'tfjs', command: process.execPath, args: ['--import', 'tsx', 'bench/train/tfjs-repro-fashion.ts', ...passThrough], env: {} },
];

const { results, failed: engineFailed } = await runEngines('repro:fashion', runs);
let failed = engineFailed;

const pct = (v) => (typeof v === 'number' ? `${v.toFixed(2)} %` : '–');
const x = (v) => (typeof v === 'number' ? `${v.toFixed(2)}×` : '–');
console.log('\nengine    dense      (a) unstructured     (b) D.U.B. prune only  (c) D.U.B.            (d) tiles             minutes');
for (const r of results) {
	const cell = (acc, imp) => `${pct(acc).padStart(8)} ${x(imp).padStart(7)}    `;
	console.log(`${r.engine.padEnd(8)} ${pct(r.baselineAccuracy).padStart(8)}   ${cell(r.unstructuredAccuracy, r.unstructuredImprovement)}${cell(r.pruneOnlyAccuracy, r.pruneOnlyImprovement)}${cell(r.dubAccuracy, r.dubImprovement)}${cell(r.tilesAccuracy, r.tilesImprovement)}${String(r.minutes).padStart(6)}${r.reducedBudget ? '  (reduced budget)' : ''}`);
}
// The goals, for the PyTorch engine's full run.
const full = results.find((r) => r.engine === 'pytorch' && !r.reducedBudget);
if (full) {
	const drop = full.baselineAccuracy - full.dubAccuracy;
	const goals = [
		[`dense held-out accuracy ≥ 92.5 % (${pct(full.baselineAccuracy)})`, full.baselineAccuracy >= 92.5],
		[`D.U.B. ≥ 4× ADC energy improvement (${x(full.dubImprovement)})`, full.dubImprovement >= 4],
		[`D.U.B. ≤ 1.0 point below dense (${drop.toFixed(2)})`, drop <= 1],
		[`D.U.B. more improvement than unstructured (${x(full.dubImprovement)} vs ${x(full.unstructuredImprovement)})`, full.dubImprovement > full.unstructuredImprovement],
		[`D.U.B. accuracy ≥ unstructured (${pct(full.dubAccuracy)} vs ${pct(full.unstructuredAccuracy)})`, full.dubAccuracy >= full.unstructuredAccuracy],
		[`full run under 60 minutes (${full.minutes})`, full.minutes < 60],
	];
	console.log('');
	for (const [goal, met] of goals) console.log(`${met ? 'met   ' : 'MISSED'} ${goal}`);
	console.log(`regularizer's contribution, (c) − (b): ${(full.dubAccuracy - full.pruneOnlyAccuracy).toFixed(2)} points, ${(full.dubImprovement / full.pruneOnlyImprovement).toFixed(3)}× the improvement`);
	failed ||= goals.some(([, met]) => !met);
} else if (!quick) {
	failed = true;
}
const fields = ['engine', 'baselineAccuracy', 'dubAccuracy', 'dubImprovement', 'unstructuredAccuracy', 'unstructuredImprovement', 'pruneOnlyAccuracy', 'pruneOnlyImprovement', 'tilesAccuracy', 'tilesImprovement', 'tile', 'ratios', 'minutes', 'reducedBudget'];
for (const r of results) {
	console.log(JSON.stringify(Object.fromEntries(fields.map((f) => [f, r[f]]))));
}
process.exitCode = failed ? 1 : 0;
