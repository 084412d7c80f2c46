// The tfjs engine end to end on the real example ONNX (examples/digits-cnn.onnx, written by
// Debian's PyTorch) and real data (scikit-learn digits): worker threads, events, checkpoint,
// cancel + resume, the output written in the input's format.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openModel } from '../../../src/formats/registry';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import type { TrainingEvent, TrainingJob } from '../../../src/training/engine';
import { TfjsTrainingEngine } from '../../../src/training/tfjs/engine';
import { writeNpzFile } from '../../unit/training/npzWriter';
import { requireDigits } from '../cliHarness';

const model = resolve('examples/digits-cnn.onnx');
const dir = mkdtempSync(join(tmpdir(), 'crossbar-tfjs-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function job(name: string, extra: Partial<TrainingJob> = {}): TrainingJob {
	return {
		modelPath: model,
		dataset: { kind: 'digits', limitTrain: 256, limitTest: 128 },
		preset: 'digits',
		hyperParameters: { regularizeEpochs: 2, finetuneEpochs: 1, lambdaVar: 0.05, batchSize: 32 },
		crossbarSize: 16,
		pruneRatios: { ratios: [50, 87.5, 87.5] },
		outputPath: join(dir, `${name}.onnx`),
		checkpointDir: join(dir, `${name}.checkpoint`),
		...extra,
	};
}

void describe('tfjs training engine (worker threads, real ONNX and digits)', () => {
	before(requireDigits);

	void it('runs regularize → prune → finetune → baseline on two workers and writes an ONNX the analysis reads', async () => {
		const events: TrainingEvent[] = [];
		const result = await new TfjsTrainingEngine().start(job('run', { engineOptions: { workers: 2 } }), (e) => events.push(e), new AbortController().signal);
		assert.equal(result.engine, 'tfjs');
		assert.equal(result.workers, 2);
		assert.ok(['wasm', 'tensorflow'].includes(result.backend), result.backend);
		const sequence = events.filter((e) => e.event !== 'checkpoint' && e.event !== 'log').map((e) => `${e.event}:${e.phase ?? ''}`);
		assert.deepEqual(sequence, ['start:', 'phase:regularize', 'epoch:regularize', 'epoch:regularize', 'phase:prune', 'epoch:finetune', 'phase:baseline', 'epoch:baseline', 'done:']);
		assert.ok(events.every((e) => e.backend === result.backend), 'every event names the backend');
		for (const e of events.filter((x) => x.event === 'epoch')) {
			for (const field of ['epoch', 'epochs', 'loss', 'trainAccuracy', 'testAccuracy', 'adcEnergyImprovement', 'levelHistogram'] as const) {
				assert.notEqual(e[field], undefined, `${e.phase} epoch event has ${field}`);
			}
			assert.ok(e.testAccuracy! >= 0 && e.testAccuracy! <= 100, 'accuracy in percent');
		}
		assert.equal(events.filter((e) => e.event === 'checkpoint').length, 2 + 1 + 1 + 1 + 1 + 1, 'regularize ×2, prune, finetune, output written, baseline, done');
		assert.ok(existsSync(result.checkpointPath));
		assert.ok(result.dub.adcEnergyImprovement! > 1.5, `D.U.B. ${result.dub.adcEnergyImprovement}`);
		assert.ok(result.dub.adcEnergyImprovement! > result.unstructured!.adcEnergyImprovement!);
		// The written model: ONNX again, and the analysis sees the same crossbars as the engine.
		const graph = await openModel(result.outputPath);
		try {
			assert.equal(graph.format, 'onnx');
			const { result: analysis } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
			assert.equal(analysis.totals.adcEnergyImprovement, result.dub.adcEnergyImprovement);
			assert.deepEqual(analysis.totals.levelHistogram, result.dub.levelHistogram);
		} finally {
			await graph.close();
		}
	});

	void it('cancels between steps keeping the last epoch\'s checkpoint, then resumes to the same end', async () => {
		const controller = new AbortController();
		const first: TrainingEvent[] = [];
		const cancelled = job('resume', { engineOptions: { workers: 1 } });
		await assert.rejects(new TfjsTrainingEngine().start(cancelled, (e) => {
			first.push(e);
			if (e.event === 'checkpoint' && e.phase === 'regularize') controller.abort();
		}, controller.signal), (ex: Error) => ex.name === 'AbortError');
		assert.ok(!first.some((e) => e.event === 'error'), 'a cancel is not reported as an error');
		assert.ok(existsSync(join(dir, 'resume.checkpoint', 'tfjs-checkpoint.bin')));
		assert.ok(!existsSync(cancelled.outputPath));
		const second: TrainingEvent[] = [];
		const result = await new TfjsTrainingEngine().start({ ...cancelled, resume: true }, (e) => second.push(e), new AbortController().signal);
		assert.match(second[0].message ?? '', /resumed at regularize epoch 1/);
		assert.equal(second.filter((e) => e.event === 'epoch' && e.phase === 'regularize').length, 1, 'only the missing epoch runs');
		assert.ok(existsSync(result.outputPath));
	});

	void it('stops before training with one line when the dataset does not fit, or the output exists', async () => {
		const npz = join(dir, 'rgb.npz');
		writeNpzFile(npz, { x: { descr: '<f4', shape: [10, 3, 8, 8], values: new Array(1920).fill(0.5) }, y: { descr: '<i4', shape: [10], values: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] } });
		const events: TrainingEvent[] = [];
		await assert.rejects(new TfjsTrainingEngine().start(job('rgb', { dataset: { kind: 'npz', path: npz, testFraction: 0.5 }, engineOptions: { workers: 1 } }), (e) => events.push(e), new AbortController().signal),
			(ex: Error) => ex.name === 'UsageError' && /^The dataset .*rgb\.npz.* has 3×8×8 images but digits-cnn\.onnx expects 1×8×8 inputs\.$/.test(ex.message));
		assert.deepEqual(events.map((e) => e.event), ['error']);
		const existing = join(dir, 'exists.onnx');
		writeFileSync(existing, 'x');
		await assert.rejects(new TfjsTrainingEngine().start(job('exists', { outputPath: existing, engineOptions: { workers: 1 } }), () => undefined, new AbortController().signal), /Refusing to overwrite .*exists\.onnx/);
	});
});
