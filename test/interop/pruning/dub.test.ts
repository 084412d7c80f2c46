// D.U.B. pruning (src/pruning/dub.ts) against an independent implementation of docs/method.md §6 in NumPy, run by
// Debian's python3 (the reference's loop on numpy arrays): the same zero pattern, thresholds and
// levels on seeded random layers, and percentiles bit-exact. The pure-TypeScript checks of the same
// code are in test/unit/pruning/dub.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pruneDubFixedRatio, pruneDubTol } from '../../../src/pruning/dub';
import { percentileLinear } from '../../../src/pruning/percentile';
import { randomInt, randomNormal, seededRandom } from '../../unit/pruning/random';
import { python, requirePython } from '../cliHarness';

// The reference's loop (REPO:c1…class.py) on numpy arrays: float32 tile, float32 fraction,
// np.histogram bins, np.percentile thresholds compared in float32 (torch's scalar rounding).
const numpyScript = String.raw`
import json, math, sys
import numpy as np
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    W = np.fromfile(c['file'], dtype=np.float32).reshape(c['O'], c['K'])
    T, q = c['T'], c['q']
    R = int(T / q)
    B = int(math.ceil(math.log2(T))) + 2
    bins = [1 - (2 ** (-k)) for k in range(0, B)] + [1.0]
    if c['variant'] == 'fixed':
        thr = np.percentile(np.abs(W).reshape(-1), c['ratio'])
    else:
        thr = c['tol']
    thr32 = np.float32(thr)
    levels = []
    for i in range(0, W.shape[0], R):
        for j in range(0, W.shape[1], T):
            A = np.abs(W[i:i + R, j:j + T])
            per = np.float32((A <= thr32).sum(axis=1).min()) / np.float32(A.shape[1])
            k = np.histogram(float(per), bins)[0].argmax()
            levels.append(int(k))
            if k == B - 1:
                A[A <= thr32] = 0.0
            elif k == B - 2 and c['variant'] == 'tol':
                A[A >= 0.0] = 0.0
            else:
                if k == B - 2:
                    pct = bins[k] * 100.0
                else:
                    mid = (bins[k] + bins[k + 1]) / 2
                    pct = bins[k + 1] * 100.0 if float(per) >= mid else bins[k] * 100.0
                for r in range(A.shape[0]):
                    th = np.percentile(A[r], pct)
                    A[r][A[r] <= np.float32(th)] = 0.0
            W[i:i + R, j:j + T][A == 0.0] = 0.0
    W.tofile(c['file'] + '.out')
    # The reference loops channel group outer; reports index crossbars block-major (block * groups + group).
    groups = len(range(0, W.shape[0], R))
    levels = np.array(levels).reshape(groups, -1).T.reshape(-1).tolist()
    out.append({'threshold': float(thr), 'levels': levels})
pcts = []
for p in json.load(open(sys.argv[2])):
    a = np.fromfile(p['file'], dtype=np.float32)
    pcts.append(float(np.percentile(a, p['p'])))
json.dump({'cases': out, 'percentiles': pcts}, open(sys.argv[3], 'w'))
`;

void describe('interop: D.U.B. pruning against an independent NumPy implementation of §6', () => {
	before(() => requirePython('numpy'));

	void it('same zero pattern, thresholds and levels on random layers; percentiles bit-exact', () => {
		const dir = mkdtempSync(join(tmpdir(), 'dub-numpy-'));
		try {
			// Normal weights; one case quantized to 1/64 steps so ties and exact zeros occur.
			const quantized = randomNormal(40 * 90, 9, 0.05).map((v) => Math.round(v * 64) / 64);
			const cases = [
				{ O: 70, K: 147, T: 16, q: 1, variant: 'fixed', ratio: 60, values: randomNormal(70 * 147, 1, 0.1) },
				{ O: 37, K: 75, T: 8, q: 2, variant: 'fixed', ratio: 75, values: randomNormal(37 * 75, 2, 0.1) },
				{ O: 64, K: 27, T: 32, q: 1, variant: 'fixed', ratio: 2.37, values: randomNormal(64 * 27, 3, 0.1) },
				{ O: 50, K: 200, T: 64, q: 1, variant: 'fixed', ratio: 98.67, values: randomNormal(50 * 200, 4, 0.1) },
				{ O: 40, K: 90, T: 16, q: 1, variant: 'fixed', ratio: 55, values: quantized },
				{ O: 33, K: 70, T: 8, q: 1, variant: 'tol', tol: 0.08, values: randomNormal(33 * 70, 5, 0.1) },
			];
			const spec = cases.map((c, i) => {
				const file = join(dir, `case${i}.f32`);
				writeFileSync(file, c.values);
				return { file, O: c.O, K: c.K, T: c.T, q: c.q, variant: c.variant, ratio: c.ratio, tol: c.tol };
			});
			const random = seededRandom(77);
			const percentiles = Array.from({ length: 40 }, (_, i) => {
				const n = i % 5 === 4 ? randomInt(random, 20000, 60000) : randomInt(random, 1, 500);
				const values = i % 3 === 0 ? randomNormal(n, 100 + i).map((v) => Math.round(v * 8) / 8) : randomNormal(n, 100 + i, 10 ** (random() * 4 - 3));
				const p = i % 4 === 0 ? [2.37, 98.67, 99.84, 96.875][i % 16 / 4] : Math.round(random() * 1e6) / 1e4;
				const file = join(dir, `p${i}.f32`);
				writeFileSync(file, values);
				return { file, p, values };
			});
			writeFileSync(join(dir, 'cases.json'), JSON.stringify(spec));
			writeFileSync(join(dir, 'percentiles.json'), JSON.stringify(percentiles.map(({ file, p }) => ({ file, p }))));
			writeFileSync(join(dir, 'script.py'), numpyScript);
			const run = spawnSync(python, [join(dir, 'script.py'), join(dir, 'cases.json'), join(dir, 'percentiles.json'), join(dir, 'result.json')], { encoding: 'utf8' });
			assert.equal(run.status, 0, run.stderr);
			const expected = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { cases: { threshold: number; levels: number[] }[]; percentiles: number[] };

			cases.forEach((c, i) => {
				const m = { values: c.values, outChannels: c.O, fanIn: c.K };
				const options = { crossbarSize: c.T, slices: c.q };
				const result = c.variant === 'fixed' ? pruneDubFixedRatio(m, c.ratio as number, options) : pruneDubTol(m, { ...options, tol: c.tol });
				const numpyValues = new Float32Array(readFileSync(`${spec[i].file}.out`).buffer.slice(0));
				assert.equal(result.threshold, expected.cases[i].threshold, `case ${i} threshold`);
				assert.deepEqual(Array.from(result.crossbars.levelBefore), expected.cases[i].levels, `case ${i} levels`);
				const mismatches = numpyValues.reduce((count, v, j) => count + ((v === 0) !== (result.values[j] === 0) ? 1 : 0), 0);
				assert.equal(mismatches, 0, `case ${i}: zero patterns differ in ${mismatches} places`);
				assert.ok(result.prunedCount > 0, `case ${i} pruned nothing`);
			});
			percentiles.forEach(({ values, p }, i) => assert.equal(percentileLinear(values, p), expected.percentiles[i], `percentile ${i} (n=${values.length}, p=${p})`));
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
