// `npm run repro:digits [-- --quick]`: the D.U.B. reproduction on scikit-learn's digits with
// both engines (TensorFlow.js in worker threads, then PyTorch), each in its own process. Each
// engine's reproduction is the one its acceptance test runs (--quick there):
// test/interop/training/tfjsReproDigits.ts and python/crossbar_lens_train/repro.py.
// Prints each engine's own report, a side-by-side table, and as the last lines one JSON object
// per engine: engine, baselineAccuracy, dubAccuracy, dubImprovement, unstructuredAccuracy,
// unstructuredImprovement (accuracies in percent on the held-out split, improvements under the
// paper law at T = 16). Exit 1 when an engine misses its targets.
import { runEngines } from './engines.mjs';

const passThrough = process.argv.slice(2);
const python = process.env.CROSSBAR_LENS_PYTHON ?? '/usr/bin/python3';
const runs = [
	{ engine: 'tfjs', command: process.execPath, args: ['--import', 'tsx', 'test/interop/training/tfjsReproDigits.ts', ...passThrough], env: {} },
	{ engine: 'pytorch', command: python, args: ['-m', 'crossbar_lens_train', 'repro-digits', ...passThrough], env: { PYTHONPATH: 'python' } },
];

const { results, failed: engineFailed } = await runEngines('repro:digits', runs);
let failed = engineFailed;

// The targets: at least 3.5× for at most 0.5 points below the dense model in full mode; the quick CI
// version (fewer epochs) is held to 2× and 1 point.
const target = passThrough.includes('--quick') ? { improvement: 2, drop: 1 } : { improvement: 3.5, drop: 0.5 };
const pct = (v) => (typeof v === 'number' ? `${v.toFixed(2)} %` : '–');
const x = (v) => (typeof v === 'number' ? `${v.toFixed(2)}×` : '–');
console.log(`\nengine   baseline   D.U.B. (drop)         D.U.B. ADC   unstructured   unstr. ADC   targets (≥ ${target.improvement}× at ≤ ${target.drop} points below dense)`);
for (const r of results) {
	const drop = r.baselineAccuracy - r.dubAccuracy;
	const met = r.baselineAccuracy >= 95 && r.dubImprovement >= target.improvement && drop <= target.drop && r.dubImprovement > r.unstructuredImprovement;
	console.log(`${r.engine.padEnd(8)} ${pct(r.baselineAccuracy).padStart(8)}   ${pct(r.dubAccuracy).padStart(8)} (${drop >= 0 ? '−' : '+'}${Math.abs(drop).toFixed(2)})   ${x(r.dubImprovement).padStart(10)}   ${pct(r.unstructuredAccuracy).padStart(12)}   ${x(r.unstructuredImprovement).padStart(10)}   ${met ? 'met' : 'MISSED'}`);
	failed ||= !met;
}
for (const r of results) {
	const { engine, baselineAccuracy, dubAccuracy, dubImprovement, unstructuredAccuracy, unstructuredImprovement } = r;
	console.log(JSON.stringify({ engine, baselineAccuracy, dubAccuracy, dubImprovement, unstructuredAccuracy, unstructuredImprovement }));
}
process.exitCode = failed ? 1 : 0;
