// The trade-off sweep without an engine: the ratios and methods a user can give, the per-layer
// ratios of a preset sweep, the DTO the events fold into (the energy under each law from the level
// histograms, the points exactly the plan's), the fine-tune runs as extra points, and the PyTorch
// runner's command line, lines, failures and cancel against a fake interpreter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/core/errors';
import { costOfHistogram } from '../../../src/hardware/energy';
import { ratioPresets } from '../../../src/pruning/ratios';
import type { TradeoffProgress } from '../../../src/shared/tradeoff';
import type { PythonCommand, PythonLauncher } from '../../../src/training/pytorch/engine';
import { pytorchTradeoffCommand, runPytorchSweep, TradeoffLineReader } from '../../../src/training/pytorch/tradeoff';
import { fineTunePoints, measureOf, TradeoffCollector } from '../../../src/training/tradeoff';
import { defaultPresetScales, defaultSweepRatios, parseSweepRatios, parseTradeoffMethods, resolveTradeoffJob, sweepLayerRatios, sweepOrder } from '../../../src/training/tradeoffPlan';
import type { SweepEvent, TradeoffJob, TradeoffPlan } from '../../../src/training/tradeoffPlan';
import { formatTradeoffCsv, formatTradeoffTable } from '../../../src/cli/tradeoffCommand';

const vgg11 = ratioPresets['vgg11-cifar10'];
const vggLayers = vgg11.shapes.map((shape, i) => ({ name: `features.${3 * i}`, shape, kind: 'conv' as const }));

function job(extra: Partial<TradeoffJob> = {}): TradeoffJob {
	return { modelPath: '/w/digits-cnn.onnx', dataset: { kind: 'digits' }, crossbarSize: 16, ...extra };
}

/** What an engine reports for a plan at T=16 (B = 6): histograms of 55 crossbars, more zeros at higher ratios. */
function engineEvents(plan: TradeoffPlan): SweepEvent[] {
	const events: SweepEvent[] = [
		{ event: 'start', backend: 'wasm', dataset: 'digits, 359 held-out', testImages: 359, convLayers: ['conv1', 'conv2', 'conv3'], message: 'started' },
		{ event: 'dense', accuracy: 98.5, levelHistogram: [55, 0, 0, 0, 0, 0], zeros: 0, weights: 13968 },
	];
	for (const { method, ratio } of sweepOrder(plan)) {
		const moved = Math.round((ratio / 100) * (method === 'dub' ? 40 : 20));
		events.push({ event: 'point', method, ratio, layerRatios: [ratio, ratio, ratio], accuracy: 98 - ratio / 10, levelHistogram: [55 - moved, moved - Math.floor(moved / 2), Math.floor(moved / 2), 0, 0, 0], zeros: Math.round(ratio * 139.68), weights: 13968 });
	}
	return events;
}

void describe('trade-off sweep: ratios, methods and the plan', () => {
	void it('parses sweep ratios ascending, each once, below 100 (up to 100 of a preset)', () => {
		assert.deepEqual(parseSweepRatios('90, 0,50 70'), [0, 50, 70, 90]);
		assert.deepEqual(parseSweepRatios('100', true), [100]);
		for (const bad of ['', '50,50', '100', '-1', 'x', '50,,abc']) {
			assert.throws(() => parseSweepRatios(bad), UsageError, bad);
		}
		assert.throws(() => parseSweepRatios('101', true), /0 to 100/);
	});

	void it('parses the methods and keeps their order', () => {
		assert.deepEqual(parseTradeoffMethods('unstructured,dub'), ['unstructured', 'dub']);
		for (const bad of ['', 'dub,dub', 'tiles', 'dub-tol']) {
			assert.throws(() => parseTradeoffMethods(bad), UsageError, bad);
		}
	});

	void it('fills the defaults: at least 8 ratios, both methods, the engine from the file type', () => {
		const plan = resolveTradeoffJob(job());
		assert.deepEqual(plan.ratios, defaultSweepRatios);
		assert.ok(plan.ratios.length >= 8);
		assert.deepEqual(plan.methods, ['dub', 'unstructured']);
		assert.equal(plan.engine, 'tfjs');
		assert.equal(plan.adcLaw, 'paper');
		assert.equal(plan.slices, 1);
		assert.equal(plan.seed, 0);
		assert.deepEqual(resolveTradeoffJob(job({ preset: 'vgg11-cifar10' })).ratios, defaultPresetScales);
		assert.ok(defaultPresetScales.length >= 8 && defaultPresetScales.at(-1) === 100);
		const pt = resolveTradeoffJob(job({ modelPath: '/w/m.pth', engineOptions: { torchvision: 'resnet18' } }));
		assert.equal(pt.engine, 'pytorch');
	});

	void it('refuses what cannot run, in one line', () => {
		assert.throws(() => resolveTradeoffJob(job({ crossbarSize: 24 })), /power of two/);
		assert.throws(() => resolveTradeoffJob(job({ preset: 'vgg99' })), /Unknown ratio preset 'vgg99'/);
		assert.throws(() => resolveTradeoffJob(job({ ratios: [50, 100] })), /below 100/);
		assert.throws(() => resolveTradeoffJob(job({ methods: [] })), UsageError);
		assert.throws(() => resolveTradeoffJob(job({ modelPath: '/w/m.pt' })), /neither/);
		assert.throws(() => resolveTradeoffJob(job({ modelPath: '/w/m.pt', engineOptions: { torchvision: 'a', modelFactory: 'b.py:f' } })), /both/);
		assert.throws(() => resolveTradeoffJob(job({ modelPath: '/w/m.pt', engine: 'tfjs' })), /PyTorch checkpoint, which holds weights without the graph/);
		assert.throws(() => resolveTradeoffJob(job({ engine: 'pytorch', engineOptions: { torchvision: 'x' } })), /evaluates PyTorch checkpoints/);
	});

	void it('gives every conv layer the ratio, or scales a preset layer by layer', () => {
		assert.deepEqual(sweepLayerRatios(vggLayers, 70), new Array(8).fill(70));
		assert.deepEqual(sweepLayerRatios(vggLayers, 100, 'vgg11-cifar10'), vgg11.ratios);
		assert.deepEqual(sweepLayerRatios(vggLayers, 50, 'vgg11-cifar10'), vgg11.ratios.map((r) => (r * 50) / 100));
		assert.deepEqual(sweepLayerRatios(vggLayers, 0, 'vgg11-cifar10'), new Array(8).fill(0));
		const swapped = [vggLayers[0], vggLayers[2], vggLayers[1], ...vggLayers.slice(3)];
		assert.throws(() => sweepLayerRatios(swapped, 50, 'vgg11-cifar10'), /does not fit/);
	});

	void it('orders the points ratio by ratio, the methods at each', () => {
		assert.deepEqual(sweepOrder({ ratios: [0, 50], methods: ['unstructured', 'dub'] }), [
			{ method: 'unstructured', ratio: 0 }, { method: 'dub', ratio: 0 }, { method: 'unstructured', ratio: 50 }, { method: 'dub', ratio: 50 },
		]);
	});
});

void describe('trade-off sweep: the DTO', () => {
	for (const law of ['paper', 'walden', 'thermal'] as const) {
		void it(`folds the engine's events into the points asked, with the ${law} law's figures`, () => {
			const plan = resolveTradeoffJob(job({ adcLaw: law, ratios: [0, 50, 90] }));
			const collector = new TradeoffCollector(plan);
			const progress = engineEvents(plan).map((e) => collector.add(e)).filter((p): p is TradeoffProgress => p !== undefined);
			const result = collector.result();
			assert.deepEqual(progress.map((p) => p.kind), ['start', 'dense', 'point', 'point', 'point', 'point', 'point', 'point']);
			const points = progress.filter((p) => p.kind === 'point');
			assert.deepEqual(points.map((p) => `${p.index}/${p.total}`), ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
			assert.deepEqual(result.points.map((p) => [p.method, p.ratio]), [['dub', 0], ['unstructured', 0], ['dub', 50], ['unstructured', 50], ['dub', 90], ['unstructured', 90]]);
			assert.deepEqual(result.ratios, [0, 50, 90]);
			assert.equal(result.profile.adcLaw, law);
			assert.deepEqual(result.profile.adcBitsByLevel, [4, 3, 2, 1, 0, 0]);
			assert.equal(result.adcBitsDense, 55 * 4);
			assert.equal(result.dense.improvement, 1);
			assert.equal(result.dense.adcBits, 220);
			for (const p of result.points) {
				const cost = costOfHistogram(p.levelHistogram, 16, law);
				assert.equal(p.improvement, cost.adcEnergyDense / cost.adcEnergy, `${p.method} ${p.ratio}`);
				assert.equal(p.adcBits, cost.adcBits);
				assert.equal(p.zerosFraction, Math.round(p.ratio * 139.68) / 13968);
			}
			const dub90 = result.points.find((p) => p.method === 'dub' && p.ratio === 90)!;
			const uns90 = result.points.find((p) => p.method === 'unstructured' && p.ratio === 90)!;
			assert.ok(dub90.improvement! > uns90.improvement!, 'more crossbars moved up a level: more improvement');
			assert.deepEqual(JSON.parse(JSON.stringify(result)), result, 'JSON-safe');
		});
	}

	void it('refuses points out of plan, wrong histograms and a sweep that ended early', () => {
		const plan = resolveTradeoffJob(job({ ratios: [0, 50] }));
		const events = engineEvents(plan);
		const skip = new TradeoffCollector(plan);
		events.slice(0, 2).forEach((e) => skip.add(e));
		assert.throws(() => skip.add(events[3]), /reported unstructured at 0 % where the sweep expected dub at 0 %/);
		const bins = new TradeoffCollector(plan);
		bins.add(events[0]);
		assert.throws(() => bins.add({ ...events[1], levelHistogram: [55, 0, 0] } as SweepEvent), /3 levels for the dense model; T=16 has 6/);
		const early = new TradeoffCollector(plan);
		events.slice(0, 4).forEach((e) => early.add(e));
		assert.throws(() => early.result(), /ended after 2 of 4 points/);
		const extra = new TradeoffCollector(plan);
		events.forEach((e) => extra.add(e));
		assert.throws(() => extra.add(events[2]), /where the sweep expected no more points/);
	});

	void it('gives every crossbar empty as a null improvement', () => {
		const m = measureOf({ accuracy: 10, levelHistogram: [0, 0, 0, 0, 0, 55], zeros: 13968, weights: 13968 }, 16, 'paper');
		assert.equal(m.improvement, null);
		assert.equal(m.adcBits, 0);
		assert.equal(m.zerosFraction, 1);
	});

	void it('puts finished fine-tune runs on the chart under the chart\'s law', () => {
		const branch = { accuracy: 97.5, bestAccuracy: 97.6, afterPruneAccuracy: 95, adcEnergyImprovement: 2, levelHistogram: [1, 13, 24, 7, 5, 5], layers: [] };
		const points = fineTunePoints({ dub: branch, unstructured: { ...branch, accuracy: 96, levelHistogram: [2, 29, 13, 1, 5, 5] }, outputPath: '/w/digits-cnn.dub.pt' }, 16, 'walden');
		assert.deepEqual(points.map((p) => [p.label, p.method, p.accuracy]), [['D.U.B. fine-tuned (digits-cnn.dub.pt)', 'dub', 97.5], ['unstructured fine-tuned (digits-cnn.dub.pt)', 'unstructured', 96]]);
		const cost = costOfHistogram(branch.levelHistogram, 16, 'walden');
		assert.equal(points[0].improvement, cost.adcEnergyDense / cost.adcEnergy);
	});

	void it('prints the table, one row per ratio, and CSV, one row per point', () => {
		const plan = resolveTradeoffJob(job({ ratios: [0, 90] }));
		const collector = new TradeoffCollector(plan);
		engineEvents(plan).forEach((e) => collector.add(e));
		const result = collector.result();
		const table = formatTradeoffTable(result);
		assert.match(table, /^digits-cnn\.onnx · tfjs \(wasm\) · digits, 359 held-out$/m);
		assert.match(table, /crossbar 16×16 \(16 output channels, 1 slice per weight\) · ADC law: paper/);
		const rows = table.split('\n').filter((l) => /^(dense|\d+ %)/.test(l));
		assert.deepEqual(rows.map((l) => l.split(/\s{2,}/)[0]), ['dense', '0 %', '90 %']);
		assert.match(rows[2], /89\.00 %\s+1\.\d{3}×\s+90\.0%\s+89\.00 %/);
		const csv = formatTradeoffCsv(result).split('\r\n').filter(Boolean);
		assert.equal(csv.length, 1 + 1 + 4);
		assert.ok(csv[0].startsWith('method,ratio,accuracy,adc_energy_improvement,adc_bits,adc_bits_dense,zero_fraction,layer_ratios,tiles_level_0'));
		assert.ok(csv[1].startsWith('dense,,98.5,1,220,220,0,,55,'));
		assert.ok(csv[4].startsWith('dub,90,89,'));
	});
});

/** A fake interpreter: replays lines on stdout, then exits; SIGTERM makes it print `stopped` and exit 0. */
function fakePython(lines: readonly string[], options: { code?: number; stderr?: string; holdAfter?: number } = {}): PythonLauncher & { commands: PythonCommand[]; signals: string[] } {
	const commands: PythonCommand[] = [];
	const signals: string[] = [];
	return {
		pipesOutput: true,
		commands,
		signals,
		launch(command, output) {
			commands.push(command);
			let finish!: (code: number | null) => void;
			const alive = setInterval(() => undefined, 1000);
			const exited = new Promise<{ code: number | null }>((resolve) => (finish = (code) => {
				clearInterval(alive);
				resolve({ code });
			}));
			let stopped = false;
			void (async () => {
				for (const [i, line] of lines.entries()) {
					if (stopped) return;
					if (i === options.holdAfter) return; // hangs here until signalled
					await new Promise((r) => setTimeout(r, 1));
					output.stdout(Buffer.from(`${line}\n`));
				}
				if (options.stderr) output.stderr(Buffer.from(options.stderr));
				finish(options.code ?? 0);
			})();
			return {
				kill(signal) {
					signals.push(signal);
					stopped = true;
					if (signal === 'SIGTERM') output.stdout(Buffer.from('{"event":"stopped"}\n'));
					setTimeout(() => finish(signal === 'SIGKILL' ? null : 0), 1);
				},
				exited,
			};
		},
	};
}

function pythonLines(plan: TradeoffPlan): string[] {
	return [
		JSON.stringify({ event: 'start', engine: 'pytorch', torch: '1.13.0a0', device: 'cpu', data: 'digits', split: 'held-out 0.2 (stratified, seed 0)', train: 1438, test: 359, tile: 16, convLayers: ['conv1', 'conv2', 'conv3'] }),
		'a line the user\'s model printed',
		...engineEvents(plan).slice(1).map((e) => JSON.stringify(e)),
		'{"event":"done","seconds":1.5}',
	];
}

void describe('trade-off sweep: the PyTorch runner', () => {
	const plan = resolveTradeoffJob(job({ modelPath: '/w/digits-cnn.pt', ratios: [0, 90], preset: undefined, seed: 3, engineOptions: { modelFactory: '/w/train_digits.py:DigitsCNN', threads: 2 } }));

	void it('runs crossbar_lens_train tradeoff with the plan', () => {
		const { args, env } = pytorchTradeoffCommand(plan, { pythonDir: '/x/python', env: { PATH: '/bin' } });
		assert.deepEqual(args, ['-m', 'crossbar_lens_train', 'tradeoff', '--model', '/w/train_digits.py:DigitsCNN', '--weights', '/w/digits-cnn.pt',
			'--data', 'digits', '--split-seed', '3', '--tile', '16', '--slices', '1', '--sweep', '0,90', '--methods', 'dub,unstructured', '--threads', '2']);
		assert.equal(env.PYTHONPATH, '/x/python');
		const preset = pytorchTradeoffCommand(resolveTradeoffJob({ ...job({ modelPath: '/w/v.pt', preset: 'vgg11-cifar10', engineOptions: { torchvision: 'vgg11' } }) }), { pythonDir: '/x' }).args;
		assert.deepEqual(preset.slice(preset.indexOf('--sweep')), ['--sweep', defaultPresetScales.join(','), '--methods', 'dub,unstructured', '--preset', 'vgg11-cifar10']);
	});

	void it('reads its lines as sweep events and the collector makes the DTO', async () => {
		const launcher = fakePython(pythonLines(plan));
		const collector = new TradeoffCollector(plan);
		const seen: SweepEvent[] = [];
		await runPytorchSweep(plan, (e) => {
			seen.push(e);
			collector.add(e);
		}, new AbortController().signal, { launcher, pythonDir: '/x' });
		assert.deepEqual(seen.map((e) => e.event), ['start', 'log', 'dense', 'point', 'point', 'point', 'point']);
		const result = collector.result();
		assert.equal(result.engine, 'pytorch');
		assert.equal(result.backend, 'cpu');
		assert.equal(result.dataset, 'digits, held-out 0.2 (stratified, seed 0), 1438 train / 359 held-out');
		assert.equal(result.points.length, 4);
	});

	void it('turns an error line into a UsageError or an Error, and a crash into its last stderr line', async () => {
		const usage = fakePython(['{"event":"error","message":"x.npz: no such dataset","usage":true}'], { code: 2 });
		await assert.rejects(runPytorchSweep(plan, () => undefined, new AbortController().signal, { launcher: usage, pythonDir: '/x' }), (ex: Error) => ex instanceof UsageError && ex.message === 'x.npz: no such dataset');
		const crash = fakePython([pythonLines(plan)[0]], { code: 1, stderr: 'Traceback…\nRuntimeError: mat1 and mat2 shapes cannot be multiplied\n' });
		await assert.rejects(runPytorchSweep(plan, () => undefined, new AbortController().signal, { launcher: crash, pythonDir: '/x' }), /The PyTorch engine failed: RuntimeError: mat1 and mat2/);
		const notorch = fakePython([], { code: 1, stderr: "ModuleNotFoundError: No module named 'torch'\n" });
		await assert.rejects(runPytorchSweep(plan, () => undefined, new AbortController().signal, { launcher: notorch, pythonDir: '/x' }), /has no PyTorch/);
	});

	void it('stops the engine when what it reports is out of plan', async () => {
		const lines = pythonLines(plan);
		const launcher = fakePython([...lines.slice(0, 3), lines[4], lines[3], ...lines.slice(5)]);
		const collector = new TradeoffCollector(plan);
		await assert.rejects(runPytorchSweep(plan, (e) => collector.add(e), new AbortController().signal, { launcher, pythonDir: '/x' }), /expected dub at 0 %/);
		assert.deepEqual(launcher.signals, ['SIGKILL']);
	});

	void it('cancels with SIGTERM and rejects with an AbortError', async () => {
		const launcher = fakePython(pythonLines(plan), { holdAfter: 4 });
		const abort = new AbortController();
		const run = runPytorchSweep(plan, (e) => {
			if (e.event === 'point') abort.abort();
		}, abort.signal, { launcher, pythonDir: '/x' });
		await assert.rejects(run, (ex: Error) => ex.name === 'AbortError');
		assert.deepEqual(launcher.signals, ['SIGTERM']);
	});

	void it('keeps what the user\'s code prints as log lines', () => {
		const reader = new TradeoffLineReader();
		assert.deepEqual(reader.line('epoch 3 done'), [{ event: 'log', message: 'epoch 3 done' }]);
		assert.deepEqual(reader.line('{"event":"point","method":"dub"}')[0].event, 'log');
		assert.deepEqual(reader.line('   '), []);
	});
});
