// The two regularizers agree: the closed form in TypeScript (src/pruning/regularizer.ts, used by the
// tfjs engine) and the PyTorch engine's (python/crossbar_lens_train/regularizer.py) give the same
// value and the same gradient on seeded random conv weights that torch builds
// (regularizer_crosscheck.py, next to this file): T = 4..64, q = 1 and 2, partial crossbars at
// both edges, exact zeros, an all-zero segment and crossbar, gate on and off, padded channels in
// and out of the variance.
//
// Tolerances. Python runs in float64 on the same float32 weights, and TypeScript sums in float64,
// so the two differ only in the order of additions: the value within 1e-12 relative (measured:
// at most 3.3e-15). TypeScript adds the gradient into a Float32Array, which rounds each element to
// float32: within 2^-23 of the element (twice float32's rounding error; measured: at most 5.9e-8,
// that rounding alone), plus 1e-12 of the largest element for the float64 cancellation between its
// two terms. Exact zeros must agree exactly: a zero weight and a gated-off segment get exactly 0 on
// both sides, so the gates open on the same segments.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { dubRegularizer } from '../../../src/pruning/regularizer';
import { python, repoRoot } from '../cliHarness';

interface Case {
	label: string;
	shape: [number, number, number, number];
	tile: number;
	slices: number;
	gate: boolean;
	excludePadded: boolean;
	lam: number;
	weights: number[];
	loss: number;
	grad: number[];
}

const helper = join(__dirname, 'regularizer_crosscheck.py');
const lossTolerance = 1e-12;
const float32Rounding = 2 ** -23;

void describe('interop: the TypeScript and PyTorch-engine regularizers give the same value and gradient', () => {
	let cases: Case[] = [];
	before(() => {
		const r = spawnSync(python, [helper], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
		assert.equal(r.error, undefined, `${python} ${helper}: ${String(r.error)} (needs Debian's python3-torch)`);
		assert.equal(r.status, 0, `${python} ${helper} failed:\n${r.stderr}`);
		cases = (JSON.parse(r.stdout) as { cases: Case[] }).cases;
		assert.equal(cases.length, 10);
	});

	void it('on every case (value, gradient, and where the gradient is exactly 0)', () => {
		for (const c of cases) {
			const [outChannels, ...rest] = c.shape;
			const fanIn = rest[0] * rest[1] * rest[2];
			const matrix = { values: Float32Array.from(c.weights), outChannels, fanIn };
			assert.deepEqual(Array.from(matrix.values), c.weights, `${c.label}: the weights are float32 values`);
			const grad = new Float32Array(matrix.values.length);
			const loss = dubRegularizer(matrix, { crossbarSize: c.tile, slices: c.slices, lambda: c.lam, gate: c.gate, excludePaddedChannels: c.excludePadded }, grad);

			assert.ok(c.loss > 0, `${c.label}: the case has a variance to regularize`);
			assert.ok(Math.abs(loss - c.loss) <= lossTolerance * c.loss, `${c.label}: value ${loss} (TypeScript) vs ${c.loss} (PyTorch engine)`);

			const largest = c.grad.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
			let zeros = 0;
			for (let i = 0; i < grad.length; i++) {
				const want = c.grad[i];
				assert.equal(grad[i] === 0, want === 0, `${c.label}: gradient ${i} is ${grad[i]} (TypeScript) vs ${want} (PyTorch engine)`);
				assert.ok(Math.abs(grad[i] - want) <= float32Rounding * Math.abs(want) + 1e-12 * largest, `${c.label}: gradient ${i}: ${grad[i]} vs ${want}`);
				if (want === 0) zeros++;
			}
			// Exact zeros in the weights, and (gated) segments below their crossbar's mean, give zeros; most elements do not.
			assert.ok(zeros > 0 && zeros < grad.length, `${c.label}: ${zeros} of ${grad.length} gradient elements are 0`);
		}
	});
});
