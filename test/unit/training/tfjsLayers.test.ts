// TF.js layers models (model.json + shards) in the tfjs engine: the GraphSpec built from the Keras
// topology computes what a NumPy forward pass (explicit conv loops, NHWC flatten order) computes,
// trained values go back to the file's layouts, and a 1-epoch-per-phase run writes a model.json
// whose analysis reports the engine's ADC figures. Fixtures: test/fixtures/make_tfjs_train_fixture.py.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { openModel } from '../../../src/formats/registry';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import { defaultDigitsPath } from '../../../src/training/datasets';
import type { TrainingJob } from '../../../src/training/engine';
import { initTrainingBackend } from '../../../src/training/tfjs/backend';
import { TfjsTrainingEngine } from '../../../src/training/tfjs/engine';
import { loadTrainableGraph } from '../../../src/training/tfjs/layersModel';
import { TrainableModel } from '../../../src/training/tfjs/model';

const fixtures = resolve('test/fixtures/tfjs-train');
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as {
	inputs: { shape: [number, number, number, number]; values: number[] };
	models: { file: string; logits: number[]; convs: string[] }[];
};
const dir = mkdtempSync(join(tmpdir(), 'crossbar-tfjs-layers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('tfjs engine: TF.js layers models', () => {
	before(async () => {
		await initTrainingBackend('wasm');
	});

	for (const entry of expected.models) {
		void it(`${entry.file}: the built model's forward pass equals the NumPy one (NHWC flatten order)`, async () => {
			const { spec, graph, toFile } = await loadTrainableGraph(join(fixtures, entry.file));
			const model = new TrainableModel(spec);
			try {
				assert.deepEqual(spec.inputShape, [1, 8, 8]);
				assert.equal(model.outputs, 10);
				assert.deepEqual(model.convs.map((c) => c.layer), entry.convs);
				const logits = tf.tidy(() => model.forward(tf.tensor4d(expected.inputs.values, expected.inputs.shape), false).dataSync());
				assert.equal(logits.length, entry.logits.length);
				const worst = Math.max(...entry.logits.map((v, i) => Math.abs(v - logits[i])));
				assert.ok(worst < 1e-4, `max |tfjs − numpy| = ${worst}`);
				// Every parameter converts back to exactly the file's values.
				const files = new Map(graph.tensors.map((t) => [t.name, t]));
				for (const p of model.params) {
					const original = await files.get(p.name)!.load();
					assert.deepEqual(toFile(p.name, p.values), original, p.name);
				}
			} finally {
				model.dispose();
				await graph.close();
			}
		});
	}

	void it('a model whose first layers sit in a nested Sequential trains as the flat one (one topology walk with the reader)', async () => {
		const json = JSON.parse(readFileSync(join(fixtures, 'digits-seq.json'), 'utf8')) as { modelTopology: { config: { layers: unknown[] } } };
		const layers = json.modelTopology.config.layers;
		json.modelTopology.config.layers = [{ class_name: 'Sequential', config: { name: 'stem', layers: layers.slice(0, 3) } }, ...layers.slice(3)];
		const path = join(dir, 'nested.json');
		writeFileSync(path, JSON.stringify(json));
		copyFileSync(join(fixtures, 'digits-seq-shard1of1.bin'), join(dir, 'digits-seq-shard1of1.bin'));
		const entry = expected.models.find((m) => m.file === 'digits-seq.json');
		assert.ok(entry);
		const { spec, graph } = await loadTrainableGraph(path);
		const model = new TrainableModel(spec);
		try {
			assert.deepEqual(model.convs.map((c) => c.layer), entry.convs);
			const logits = tf.tidy(() => model.forward(tf.tensor4d(expected.inputs.values, expected.inputs.shape), false).dataSync());
			assert.ok(Math.max(...entry.logits.map((v, i) => Math.abs(v - logits[i]))) < 1e-4);
		} finally {
			model.dispose();
			await graph.close();
		}
	});

	void it('refuses an unsupported layer with one line naming its class', async () => {
		const json = readFileSync(join(fixtures, 'digits-seq.json'), 'utf8').replace('"class_name": "Dropout"', '"class_name": "GaussianNoise"');
		const path = join(dir, 'noise.json');
		writeFileSync(path, json);
		copyFileSync(join(fixtures, 'digits-seq-shard1of1.bin'), join(dir, 'digits-seq-shard1of1.bin'));
		await assert.rejects(loadTrainableGraph(path), (ex: Error) => ex.name === 'UsageError' && /layer 'dropout' of class GaussianNoise/.test(ex.message) && !ex.message.includes('\n'));
	});

	void it('trains the Sequential digits CNN (1 epoch per phase) and writes a model.json the analysis agrees with', { skip: existsSync(defaultDigitsPath) ? false : 'python3-sklearn (digits) is not installed' }, async () => {
		const job: TrainingJob = {
			modelPath: join(fixtures, 'digits-seq.json'),
			dataset: { kind: 'digits', limitTrain: 256, limitTest: 128 },
			preset: 'digits',
			hyperParameters: { regularizeEpochs: 1, finetuneEpochs: 1, lambdaVar: 0.05, batchSize: 32 },
			crossbarSize: 16,
			pruneRatios: { ratios: [50, 75] },
			outputPath: join(dir, 'out', 'digits-dub.json'),
			checkpointDir: join(dir, 'out.checkpoint'),
			engineOptions: { workers: 1, maxStepsPerEpoch: 4 },
		};
		const result = await new TfjsTrainingEngine().start(job, () => undefined, new AbortController().signal);
		assert.ok(existsSync(join(dir, 'out', 'digits-dub-group1-shard1of1.bin')));
		assert.ok(result.dub.adcEnergyImprovement! > 1, `D.U.B. ${result.dub.adcEnergyImprovement}`);
		const graph = await openModel(result.outputPath);
		try {
			assert.equal(graph.format, 'tfjs');
			assert.deepEqual(graph.layers.filter((l) => l.kind === 'conv').map((l) => l.name), ['conv2d', 'conv2d_1']);
			const { result: analysis } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
			assert.equal(analysis.totals.adcEnergyImprovement, result.dub.adcEnergyImprovement);
			assert.deepEqual(analysis.totals.levelHistogram, result.dub.levelHistogram);
		} finally {
			await graph.close();
		}
		// The written model trains again (its layers and weights read back) and keeps the pruned zeros.
		const { spec, graph: again } = await loadTrainableGraph(result.outputPath);
		try {
			for (const [i, name] of ['conv2d/kernel', 'conv2d_1/kernel'].entries()) {
				const zeros = spec.initializers.get(name)!.values.filter((v) => v === 0).length;
				assert.ok(zeros >= result.dub.layers[i].zeros && result.dub.layers[i].zeros > 0, `${name}: ${zeros} zeros, pruned ${result.dub.layers[i].zeros}`);
			}
		} finally {
			await again.close();
		}
	});
});
