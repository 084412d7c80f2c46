// What the panel shows of a fine-tune run, folded from the engines' events: the curves' points per
// series, the level histogram per phase, the final D.U.B. vs unstructured table; and the command's
// pure choices (the paper schedule scaled, the prune-ratio text).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrainingEvent, TrainingResult } from '../../../src/training/engine';
import { paperScaled, parseRatios, scaleMilestones } from '../../../src/training/fineTunePresets';
import { applyTrainingEvent, createRunView, finishRunView } from '../../../src/training/runView';

const init = {
	runId: 'r1', engine: 'tfjs' as const, modelPath: '/w/m.onnx', modelLabel: 'm.onnx', outputPath: '/w/m.dub.onnx', outputLabel: 'm.dub.onnx',
	datasetLabel: 'digits', presetLabel: 'smoke', crossbarSize: 16, plannedEpochs: { regularize: 2, finetune: 1, baseline: 1 }, startedAt: 1000,
};

const result: TrainingResult = {
	engine: 'tfjs', backend: 'wasm', workers: 1,
	initial: { accuracy: 98.9, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0] },
	regularized: { accuracy: 99.2, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0] },
	dub: { accuracy: 98.6, bestAccuracy: 98.9, afterPruneAccuracy: 98.3, adcEnergyImprovement: 2.24, levelHistogram: [1, 13, 24, 7, 5, 5], layers: [] },
	unstructured: { accuracy: 96.7, bestAccuracy: 96.7, afterPruneAccuracy: 93.3, adcEnergyImprovement: 1.77, levelHistogram: [2, 29, 13, 1, 5, 5], layers: [] },
	outputPath: '/w/m.dub.onnx', checkpointPath: '/w/m.dub.onnx.checkpoint/tfjs-checkpoint.bin', seconds: 1.4,
};

const events: TrainingEvent[] = [
	{ event: 'start', engine: 'tfjs', workers: 1, backend: 'wasm', message: 'wasm; digits; 3 conv layers at T=16' },
	{ event: 'phase', phase: 'regularize', epoch: 0, epochs: 2, testAccuracy: 98.9, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0] },
	{ event: 'epoch', phase: 'regularize', epoch: 1, epochs: 2, loss: 0.5, testAccuracy: 99.0, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0], projectedAdcEnergyImprovement: 2.0 },
	{ event: 'checkpoint', phase: 'regularize', epoch: 1, path: '/w/ck.bin' },
	{ event: 'epoch', phase: 'regularize', epoch: 2, epochs: 2, loss: 0.4, testAccuracy: 99.2, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0] },
	{ event: 'phase', phase: 'prune', epoch: 0, epochs: 0, testAccuracy: 98.3, adcEnergyImprovement: 2.24, levelHistogram: [1, 13, 24, 7, 5, 5], message: 'D.U.B. prune: conv1 0%, conv2 88%, conv3 92%' },
	{ event: 'epoch', phase: 'finetune', epoch: 1, epochs: 1, loss: 0.2, testAccuracy: 98.6, adcEnergyImprovement: 2.24, levelHistogram: [1, 13, 24, 7, 5, 5] },
	{ event: 'log', message: 'Wrote /w/m.dub.onnx', path: '/w/m.dub.onnx' },
	{ event: 'phase', phase: 'baseline', epoch: 0, testAccuracy: 93.3, adcEnergyImprovement: 1.77, levelHistogram: [2, 29, 13, 1, 5, 5] },
	{ event: 'epoch', phase: 'baseline', epoch: 1, epochs: 1, loss: 0.3, testAccuracy: 96.7, adcEnergyImprovement: 1.77, levelHistogram: [2, 29, 13, 1, 5, 5] },
	{ event: 'done', path: '/w/m.dub.onnx', result },
];

void describe('fine-tune run view', () => {
	void it('folds a whole run into curves, per-phase histograms and the final table', () => {
		let view = createRunView(init);
		const seen: string[] = [];
		events.forEach((e, i) => {
			view = applyTrainingEvent(view, e, 1000 + 100 * (i + 1));
			seen.push(`${view.status}:${view.phase ?? '-'}:${view.epoch ?? '-'}${view.outputWritten ? ':out' : ''}`);
		});
		assert.deepEqual(seen, ['running:-:-', 'running:regularize:0', 'running:regularize:1', 'running:regularize:1', 'running:regularize:2', 'running:prune:0', 'running:finetune:1', 'running:finetune:1:out', 'running:baseline:0:out', 'running:baseline:1:out', 'done:baseline:1:out']);
		assert.equal(view.engineLabel, 'TensorFlow.js · wasm · 1 worker');
		assert.equal(view.elapsedMs, 1100);
		assert.deepEqual(view.points.map((p) => `${p.series}${p.epoch}`), ['regularize0', 'regularize1', 'regularize2', 'finetune0', 'finetune1', 'baseline0', 'baseline1']);
		assert.equal(view.points[1].projectedImprovement, 2.0);
		assert.equal(view.points[0].loss, undefined, 'no loss at the starting point');
		assert.deepEqual(view.snapshots.map((s) => `${s.key}${s.final ? '' : '…'} ${s.improvement}`), ['initial 1', 'regularize 1', 'prune 2.24', 'finetune 2.24', 'baseline 1.77']);
		assert.deepEqual(view.summary?.map((r) => `${r.key} ${r.accuracy} ${r.improvement}`), ['initial 98.9 1', 'regularized 99.2 1', 'dub 98.6 2.24', 'unstructured 96.7 1.77']);
		assert.equal(view.summary?.[2].afterPruneAccuracy, 98.3);
		assert.equal(view.checkpointPath, undefined, 'a finished run needs no checkpoint');
		assert.ok(view.notes.includes('D.U.B. prune: conv1 0%, conv2 88%, conv3 92%'));
		assert.doesNotThrow(() => JSON.stringify(view));
	});

	void it('a phase is final once its last epoch is in', () => {
		let view = createRunView(init);
		for (const e of events.slice(0, 3)) view = applyTrainingEvent(view, e);
		assert.equal(view.snapshots.find((s) => s.key === 'regularize')?.final, false);
		view = applyTrainingEvent(view, events[4]);
		assert.equal(view.snapshots.find((s) => s.key === 'regularize')?.final, true);
	});

	void it('keeps the checkpoint and the message of a cancelled or failed run', () => {
		let view = createRunView({ ...init, engine: 'pytorch' });
		view = applyTrainingEvent(view, { event: 'start', engine: 'pytorch', workers: 2, backend: 'cpu' });
		assert.equal(view.engineLabel, 'PyTorch · cpu · 2 processes');
		view = applyTrainingEvent(view, events[3]);
		const cancelled = finishRunView(view, 'cancelled', 'Training was cancelled; the checkpoint /w/ck.bin keeps the run.');
		assert.equal(cancelled.status, 'cancelled');
		assert.equal(cancelled.checkpointPath, '/w/ck.bin');
		assert.equal(cancelled.summary, undefined);
		const failed = applyTrainingEvent(view, { event: 'error', message: 'bad dataset' });
		assert.deepEqual([failed.status, failed.message], ['failed', 'bad dataset']);
	});
});

void describe('fine-tune choices', () => {
	void it('scales the paper CIFAR-10 schedule to N epochs (160 + 200, milestones 50/100/150)', () => {
		const full = paperScaled(160);
		assert.deepEqual([full.regularizeEpochs, full.finetuneEpochs, full.regularizeMilestones, full.finetuneMilestones], [160, 200, [50, 100, 150], [50, 100, 150]]);
		assert.deepEqual([full.lambdaVar, full.lambda2, full.lr, full.batchSize, full.finetuneParams], [1e-3, 1e-3, 0.01, 128, 'conv']);
		const short = paperScaled(16);
		assert.deepEqual([short.regularizeEpochs, short.finetuneEpochs, short.regularizeMilestones, short.finetuneMilestones], [16, 20, [5, 10, 15], [5, 10, 15]]);
		assert.deepEqual(paperScaled(1).regularizeMilestones, []);
		assert.deepEqual(scaleMilestones([50, 100, 150], 160, 3), [1, 2]);
	});

	void it('reads prune ratios as a preset, one number, or one per layer', () => {
		assert.deepEqual(parseRatios('vgg11-cifar10'), { preset: 'vgg11-cifar10' });
		assert.deepEqual(parseRatios(' 75 '), { ratio: 75 });
		assert.deepEqual(parseRatios('0, 88,92'), { ratios: [0, 88, 92] });
		assert.deepEqual(parseRatios('0 88 92'), { ratios: [0, 88, 92] });
		assert.throws(() => parseRatios('100'), /below 100/);
		assert.throws(() => parseRatios('fifty'), /preset: vgg11-cifar10/);
		assert.throws(() => parseRatios(''), /percentages/);
	});
});
