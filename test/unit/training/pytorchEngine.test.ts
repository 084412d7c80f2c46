// The PyTorch engine without Python: the command line a job becomes, the JSON lines read in
// arbitrary chunks (pipe or tailed file), the events and result they become, and how a failure,
// a cancel and a usage error reach the caller. A fake launcher replays scripted output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { TrainingEvent, TrainingJob } from '../../../src/training/engine';
import { PytorchTrainingEngine, pytorchCommand } from '../../../src/training/pytorch/engine';
import type { PythonCommand, PythonLauncher } from '../../../src/training/pytorch/engine';
import { findModelFactories } from '../../../src/training/pytorch/factories';
import { FileTail, LineSplitter, TailBuffer } from '../../../src/training/pytorch/lines';
import { buildPytorchInvocation, PytorchProtocol } from '../../../src/training/pytorch/protocol';

const dir = mkdtempSync(join(tmpdir(), 'crossbar-pytorch-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function job(extra: Partial<TrainingJob> = {}): TrainingJob {
	return {
		modelPath: '/w/digits-cnn.pt',
		dataset: { kind: 'digits' },
		preset: 'digits',
		hyperParameters: { regularizeEpochs: 1, finetuneEpochs: 1 },
		crossbarSize: 16,
		pruneRatios: { ratios: [0, 88, 92] },
		outputPath: '/w/digits-cnn.dub.pt',
		engineOptions: { torchvision: 'digits-cnn' },
		...extra,
	};
}

/** The value after a flag. */
function flag(args: readonly string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

// The protocol of python/README.md, as the engine prints it for digits at T = 16, 1 epoch per phase.
const lines = [
	'{"event":"start","engine":"pytorch","torch":"1.13.0a0","device":"cpu","world":1,"model":"torchvision:digits-cnn","data":"digits","split":"held-out 0.2","train":1438,"test":359,"classes":10,"tile":16,"convLayers":["conv1","conv2","conv3"],"ratios":[0,88,92],"resumeFrom":null,"adcEnergyImprovement":1.0,"levelHistogram":[55,0,0,0,0,0],"testAccuracy":98.9,"checkpoint":"/w/digits-cnn.dub.pt.resume.pt","out":"/w/digits-cnn.dub.pt"}',
	'{"event":"epoch","phase":"regularize","epoch":1,"epochs":1,"loss":0.0117,"trainAccuracy":99.7,"testAccuracy":99.4,"adcEnergyImprovement":1.0,"levelHistogram":[55,0,0,0,0,0],"lr":0.01,"regularizerLoss":0.08,"projectedAdcEnergyImprovement":2.1}',
	'{"event":"checkpoint","path":"/w/digits-cnn.dub.pt.resume.pt","phase":"regularize","epoch":1,"step":0}',
	'{"event":"prune","phase":"dub","method":"dub","ratios":[0,88,92],"testAccuracy":98.05,"adcEnergyImprovement":2.2449,"levelHistogram":[1,13,24,7,5,5],"zeros":10336,"weights":13968,"layers":[{"name":"conv1","ratio":0,"zeros":16,"weights":144},{"name":"conv2","ratio":88,"zeros":4055,"weights":4608},{"name":"conv3","ratio":92,"zeros":8478,"weights":9216}]}',
	'{"event":"epoch","phase":"finetune","epoch":1,"epochs":1,"loss":0.0366,"trainAccuracy":98.9,"testAccuracy":98.6,"adcEnergyImprovement":2.2449,"levelHistogram":[1,13,24,7,5,5],"lr":0.01}',
	'{"event":"prune","phase":"unstructured","method":"unstructured","ratios":[0,88,92],"testAccuracy":91.1,"adcEnergyImprovement":1.8033,"levelHistogram":[2,29,13,1,5,5],"layers":[]}',
	'{"event":"epoch","phase":"baseline","epoch":1,"epochs":1,"loss":0.133,"trainAccuracy":95.1,"testAccuracy":96.7,"adcEnergyImprovement":1.8033,"levelHistogram":[2,29,13,1,5,5],"lr":0.01}',
	'{"event":"done","out":"/w/digits-cnn.dub.pt","baselineStart":"regularized","ratios":[0,88,92],"regularized":{"accuracy":99.4,"adcEnergyImprovement":1.0},"dub":{"accuracy":98.6,"bestAccuracy":98.6,"afterPruneAccuracy":98.05,"adcEnergyImprovement":2.2449,"levelHistogram":[1,13,24,7,5,5]},"unstructured":{"accuracy":96.7,"bestAccuracy":96.7,"afterPruneAccuracy":91.1,"adcEnergyImprovement":1.8033,"levelHistogram":[2,29,13,1,5,5]}}',
];

interface Script {
	/** Output chunks, delivered one per tick. */
	readonly chunks?: readonly string[];
	readonly stderr?: string;
	readonly code?: number | null;
	/** What happens on SIGTERM: more chunks, then exit. Without it the process ignores SIGTERM. */
	readonly onTerm?: readonly string[];
	/** The process id the handle gives. */
	readonly pid?: number;
}

/** A launcher that replays a script on stdout (or appends it to the --events-file when pipesOutput is false). */
function fakeLauncher(script: Script, pipesOutput = true): PythonLauncher & { commands: PythonCommand[]; signals: string[] } {
	const commands: PythonCommand[] = [];
	const signals: string[] = [];
	return {
		pipesOutput,
		commands,
		signals,
		launch(command, output) {
			commands.push(command);
			const eventsFile = flag(command.args, '--events-file');
			const write = (chunk: string): void => {
				if (pipesOutput) output.stdout(Buffer.from(chunk));
				else appendFileSync(eventsFile!, chunk);
			};
			let finish!: (code: number | null) => void;
			// Like a real child process, a running fake keeps the event loop alive.
			const alive = setInterval(() => undefined, 1000);
			const exited = new Promise<{ code: number | null }>((resolve) => (finish = (code) => {
				clearInterval(alive);
				resolve({ code });
			}));
			let terminated = false;
			void (async () => {
				for (const chunk of script.chunks ?? []) {
					if (terminated) return;
					await new Promise((r) => setTimeout(r, 2));
					write(chunk);
				}
				if (script.stderr) output.stderr(Buffer.from(script.stderr));
				if (!terminated && script.code !== undefined) finish(script.code);
			})();
			return {
				kill(signal) {
					signals.push(signal);
					if (signal === 'SIGKILL') {
						terminated = true;
						finish(null);
					} else if (script.onTerm) {
						terminated = true;
						for (const chunk of script.onTerm) write(chunk);
						setTimeout(() => finish(0), 5);
					}
				},
				exited,
				pid: script.pid,
			};
		},
	};
}

/** Splits text at awkward places: inside a line, inside a multi-byte character, across lines. */
function chop(text: string, sizes = [7, 1, 33, 2, 90]): string[] {
	const chunks: string[] = [];
	let i = 0;
	let k = 0;
	while (i < text.length) {
		const n = sizes[k++ % sizes.length];
		chunks.push(text.slice(i, i + n));
		i += n;
	}
	return chunks;
}

void describe('PyTorch engine: command line', () => {
	void it('turns a job into crossbar_lens_train finetune arguments', () => {
		const { args, processes } = buildPytorchInvocation(job({ seed: 3, slices: 2, checkpointDir: '/w/ck', resume: true, force: true, baseline: false, engineOptions: { modelFactory: '/w/train.py:Net', numClasses: 10, device: 'cpu', threads: 2, maxStepsPerEpoch: 20 } }), { eventsFile: '/tmp/e.jsonl' });
		assert.equal(processes, 1);
		assert.deepEqual(args.slice(0, 3), ['-m', 'crossbar_lens_train', 'finetune']);
		assert.equal(flag(args, '--model'), '/w/train.py:Net');
		assert.equal(flag(args, '--torchvision'), undefined);
		assert.equal(flag(args, '--weights'), '/w/digits-cnn.pt');
		assert.equal(flag(args, '--data'), 'digits');
		assert.equal(flag(args, '--tile'), '16');
		assert.equal(flag(args, '--slices'), '2');
		assert.equal(flag(args, '--seed'), '3');
		assert.equal(flag(args, '--split-seed'), '3');
		// The digits preset, with the job's epochs.
		assert.equal(flag(args, '--epochs'), '1');
		assert.equal(flag(args, '--finetune-epochs'), '1');
		assert.equal(flag(args, '--lambda-var'), '0.002');
		assert.equal(flag(args, '--lambda-l2'), '0.0001');
		assert.equal(flag(args, '--lr'), '0.02');
		assert.equal(flag(args, '--finetune-lr'), '0.01');
		assert.equal(flag(args, '--batch-size'), '32');
		assert.equal(flag(args, '--finetune-params'), 'all');
		assert.equal(flag(args, '--ratios'), '0,88,92');
		assert.equal(flag(args, '--out'), '/w/digits-cnn.dub.pt');
		assert.equal(flag(args, '--checkpoint'), '/w/ck/pytorch-resume.pt');
		assert.equal(flag(args, '--num-classes'), '10');
		assert.equal(flag(args, '--device'), 'cpu');
		assert.equal(flag(args, '--threads'), '2');
		assert.equal(flag(args, '--max-steps-per-epoch'), '20');
		assert.equal(flag(args, '--events-file'), '/tmp/e.jsonl');
		for (const f of ['--resume', '--force', '--no-baseline']) assert.ok(args.includes(f), f);
		assert.ok(!args.includes('--augment') && !args.includes('--standardize'));
	});

	void it('uses the launch module (torchrun) for several processes, and the paper preset by default', () => {
		const { args, processes } = buildPytorchInvocation(job({ preset: undefined, hyperParameters: undefined, dataset: { kind: 'cifar10', dir: '/data/cifar' }, pruneRatios: { preset: 'vgg11-cifar10' }, engineOptions: { torchvision: 'vgg11', processes: 4 } }));
		assert.equal(processes, 4);
		assert.deepEqual(args.slice(0, 8), ['-m', 'crossbar_lens_train.launch', '--standalone', '--nproc_per_node', '4', '-m', 'crossbar_lens_train', 'finetune']);
		assert.equal(flag(args, '--torchvision'), 'vgg11');
		assert.equal(flag(args, '--data'), '/data/cifar');
		assert.ok(args.includes('--augment') && args.includes('--standardize'), 'CIFAR-10: crop+flip and per-image standardization');
		assert.equal(flag(args, '--epochs'), '160');
		assert.equal(flag(args, '--finetune-epochs'), '200');
		assert.equal(flag(args, '--finetune-params'), 'convs');
		assert.equal(flag(args, '--ratios'), 'vgg11-cifar10');
		assert.equal(flag(args, '--batch-size'), '128');
		assert.equal(buildPytorchInvocation(job({ pruneRatios: { ratio: 75 } })).args.includes('75'), true);
	});

	void it('passes npz and image folders through, and notes what it cannot do', () => {
		const npz = buildPytorchInvocation(job({ dataset: { kind: 'npz', path: '/d/x.npz', testFraction: 0.1, augment: true, limitTrain: 100 } }));
		assert.equal(flag(npz.args, '--data'), '/d/x.npz');
		assert.equal(flag(npz.args, '--test-fraction'), '0.1');
		assert.ok(npz.args.includes('--augment'));
		assert.match(npz.notes.join(' '), /no image limit/);
		assert.equal(flag(buildPytorchInvocation(job({ dataset: { kind: 'folder', dir: '/d/imgs' } })).args, '--data'), '/d/imgs');
		const idx = buildPytorchInvocation(job({ dataset: { kind: 'idx', dir: '/usr/share/datasets/fashion-mnist' } })).args;
		assert.equal(flag(idx, '--data'), '/usr/share/datasets/fashion-mnist');
		assert.ok(!idx.includes('--augment') && !idx.includes('--standardize'), 'IDX images train as they are unless asked');
	});

	void it('refuses, in one line, what it cannot run', () => {
		assert.throws(() => buildPytorchInvocation(job({ modelPath: '/w/m.onnx' })), (ex: Error) => ex.name === 'UsageError' && /m\.onnx is not one.*TensorFlow\.js/.test(ex.message));
		assert.throws(() => buildPytorchInvocation(job({ engineOptions: {} })), /needs the architecture .*neither/);
		assert.throws(() => buildPytorchInvocation(job({ engineOptions: { torchvision: 'x', modelFactory: 'a:b' } })), /not both/);
		assert.throws(() => buildPytorchInvocation(job({ engineOptions: { torchvision: 'x', processes: 0 } })), /processes must be an integer/);
		assert.throws(() => buildPytorchInvocation(job({ dataset: { kind: 'npz', path: '/d/x.npz', xKey: 'images' } })), /reads the arrays 'x' and 'y'/);
		assert.throws(() => buildPytorchInvocation(job({ dataset: { kind: 'npz', path: '/d/x.npz', layout: 'NHWC' } })), /NHWC/);
		assert.throws(() => buildPytorchInvocation(job({ hyperParameters: { lr: -1 } })), /learning rate must be a positive/);
	});

	void it('puts python/ on PYTHONPATH in front of the user\'s, unbuffered', () => {
		const command = pytorchCommand(job(), { pythonPath: '/opt/py/bin/python', pythonDir: '/ext/python', cwd: '/w', env: { PYTHONPATH: '/mine', HOME: '/h' } });
		assert.equal(command.executable, '/opt/py/bin/python');
		assert.equal(command.cwd, '/w');
		assert.equal(command.env.PYTHONPATH, `/ext/python${process.platform === 'win32' ? ';' : ':'}/mine`);
		assert.equal(command.env.PYTHONUNBUFFERED, '1');
		assert.equal(command.env.HOME, '/h');
		assert.equal(pytorchCommand(job(), { pythonDir: '/ext/python', env: {} }).env.PYTHONPATH, '/ext/python');
	});
});

void describe('PyTorch engine: reading lines', () => {
	void it('LineSplitter gives whole lines from chunks split anywhere, UTF-8 included', () => {
		const text = '{"a":"λ_var"}\r\n{"b":2}\n\n{"c":"über"}\n{"partial":';
		const bytes = Buffer.from(text, 'utf8');
		const splitter = new LineSplitter();
		const out: string[] = [];
		for (let i = 0; i < bytes.length; i += 3) out.push(...splitter.push(bytes.subarray(i, i + 3)));
		assert.deepEqual(out, ['{"a":"λ_var"}', '{"b":2}', '', '{"c":"über"}']);
		assert.deepEqual(splitter.flush(), ['{"partial":']);
		assert.deepEqual(splitter.flush(), []);
	});

	void it('TailBuffer keeps the last non-blank line of stderr', () => {
		const tail = new TailBuffer(3);
		tail.push('Traceback (most recent call last):\n  File "x", line 1\n');
		tail.push('ModuleNotFoundError: No module ');
		tail.push("named 'torch'\n\n");
		assert.equal(tail.lastLine(), "ModuleNotFoundError: No module named 'torch'");
	});

	void it('FileTail follows appends and delivers an unterminated last line on close', async () => {
		const file = join(dir, 'tail.jsonl');
		writeFileSync(file, '');
		const seen: string[] = [];
		const tail = await FileTail.start(file, (line) => seen.push(line), { pollMs: 10 });
		appendFileSync(file, '{"event":"st');
		appendFileSync(file, 'art"}\n{"event":"epoch"}\n');
		for (let i = 0; i < 1000 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
		assert.deepEqual(seen, ['{"event":"start"}', '{"event":"epoch"}']);
		appendFileSync(file, '{"event":"done"}');
		await tail.close();
		assert.deepEqual(seen, ['{"event":"start"}', '{"event":"epoch"}', '{"event":"done"}']);
	});
});

void describe('PyTorch engine: events and result', () => {
	void it('maps the protocol onto the tfjs engine\'s events (the same phase names; prune → phase)', () => {
		const protocol = new PytorchProtocol(job());
		const events = lines.flatMap((l) => protocol.line(l));
		assert.deepEqual(events.filter((e) => e.event !== 'checkpoint' && e.event !== 'log').map((e) => `${e.event}:${e.phase ?? ''}`),
			['start:', 'phase:regularize', 'epoch:regularize', 'phase:prune', 'epoch:finetune', 'phase:baseline', 'epoch:baseline', 'done:']);
		const start = events[0];
		assert.equal(start.engine, 'pytorch');
		assert.equal(start.workers, 1);
		assert.equal(start.backend, 'cpu');
		assert.match(start.message ?? '', /PyTorch 1\.13\.0a0 on cpu; digits \(1438 training \/ 359 held-out images\); 3 conv layers at T=16/);
		const initial = events[1];
		assert.deepEqual([initial.epoch, initial.epochs, initial.testAccuracy, initial.adcEnergyImprovement], [0, 1, 98.9, 1]);
		const reg = events.find((e) => e.event === 'epoch' && e.phase === 'regularize')!;
		assert.equal(reg.projectedAdcEnergyImprovement, 2.1);
		assert.equal(reg.regularizerLoss, 0.08);
		assert.equal(reg.lr, 0.01);
		const prune = events.find((e) => e.event === 'phase' && e.phase === 'prune')!;
		assert.equal(prune.adcEnergyImprovement, 2.2449);
		assert.equal(prune.message, 'D.U.B. prune: conv1 0%, conv2 88%, conv3 92%');
		assert.equal(events.find((e) => e.event === 'checkpoint')!.phase, 'regularize');
		assert.equal(events.find((e) => e.event === 'log')!.path, '/w/digits-cnn.dub.pt');
		const r = protocol.result!;
		assert.equal(events[events.length - 1].result, r);
		assert.equal(r.engine, 'pytorch');
		assert.deepEqual(r.initial, { accuracy: 98.9, adcEnergyImprovement: 1, levelHistogram: [55, 0, 0, 0, 0, 0] });
		assert.equal(r.regularized.accuracy, 99.4);
		assert.deepEqual([r.dub.accuracy, r.dub.bestAccuracy, r.dub.afterPruneAccuracy, r.dub.adcEnergyImprovement], [98.6, 98.6, 98.05, 2.2449]);
		assert.deepEqual(r.dub.layers.map((l) => [l.name, l.ratio, l.zeros]), [['conv1', 0, 16], ['conv2', 88, 4055], ['conv3', 92, 8478]]);
		assert.deepEqual([r.unstructured!.accuracy, r.unstructured!.afterPruneAccuracy, r.unstructured!.adcEnergyImprovement], [96.7, 91.1, 1.8033]);
		assert.equal(r.outputPath, '/w/digits-cnn.dub.pt');
		assert.equal(r.checkpointPath, '/w/digits-cnn.dub.pt.resume.pt');
		assert.ok(JSON.stringify(r).length > 0 && !/NaN/.test(JSON.stringify(Object.values(r))));
	});

	void it('keeps what is not protocol as log lines, null improvements as null, and records stops and errors', () => {
		const protocol = new PytorchProtocol(job());
		assert.deepEqual(protocol.line('Building the model…'), [{ event: 'log', message: 'Building the model…' }]);
		assert.deepEqual(protocol.line('  '), []);
		assert.equal(protocol.line('{"event":"epoch","phase":"finetune","epoch":2,"adcEnergyImprovement":null}')[0].adcEnergyImprovement, null);
		assert.deepEqual(protocol.line('{"event":"stopped","checkpoint":"/w/c.pt","phase":"finetune","epoch":3,"step":7}'), []);
		assert.deepEqual(protocol.stopped, { checkpoint: '/w/c.pt', phase: 'finetune', epoch: 3 });
		assert.deepEqual(protocol.line('{"event":"error","message":"bad","usage":true}'), []);
		assert.deepEqual(protocol.error, { message: 'bad', usage: true, dataset: false });
		assert.equal(protocol.line('{"event":"start","resumeFrom":{"phase":"finetune","epoch":3,"step":7},"device":"cpu","world":1}').length, 1, 'a resumed run has no epoch-0 point');
		// The engine's old name of the regularize phase is not read any more.
		assert.deepEqual(protocol.line('{"event":"epoch","phase":"train","epoch":1}'), [{ event: 'log', message: 'epoch of an unknown phase \'train\'', backend: 'cpu' }]);
	});

	void it('takes the regularized model\'s figures from the done line\'s summary', () => {
		const protocol = new PytorchProtocol(job());
		protocol.line(lines[0]);
		protocol.line('{"event":"done","out":"/w/o.pt","regularized":{"accuracy":97.2,"adcEnergyImprovement":1.5},"dub":{"accuracy":96,"adcEnergyImprovement":2}}');
		assert.deepEqual([protocol.result!.regularized.accuracy, protocol.result!.regularized.adcEnergyImprovement], [97.2, 1.5]);
	});
});

void describe('PyTorch engine: running (fake launcher)', () => {
	const engine = (launcher: PythonLauncher, cancelGraceMs?: number): PytorchTrainingEngine => new PytorchTrainingEngine({ pythonPath: '/usr/bin/python3', pythonDir: '/ext/python', cwd: dir, launcher, cancelGraceMs });

	void it('reads stdout in chunks split mid-line and resolves with the result', async () => {
		const launcher = fakeLauncher({ chunks: ['Loading…\n', ...chop(lines.join('\n') + '\n')], code: 0 });
		const events: TrainingEvent[] = [];
		const result = await engine(launcher).start(job(), (e) => events.push(e), new AbortController().signal);
		assert.equal(result.dub.adcEnergyImprovement, 2.2449);
		assert.deepEqual(events.map((e) => e.event).filter((e) => e !== 'checkpoint'), ['log', 'start', 'phase', 'epoch', 'phase', 'epoch', 'phase', 'epoch', 'log', 'done']);
		assert.equal(launcher.commands.length, 1);
		assert.equal(flag(launcher.commands[0].args, '--events-file'), undefined, 'stdout is read: no events file');
	});

	void it('follows the --events-file when the launcher shows stdout in a terminal', async () => {
		const launcher = fakeLauncher({ chunks: chop(lines.join('\n') + '\n', [50, 3, 200]), code: 0 }, false);
		const events: TrainingEvent[] = [];
		const result = await engine(launcher).start(job(), (e) => events.push(e), new AbortController().signal);
		const file = flag(launcher.commands[0].args, '--events-file');
		assert.ok(file?.endsWith('events.jsonl'), String(file));
		assert.equal(result.unstructured?.adcEnergyImprovement, 1.8033);
		assert.equal(events.filter((e) => e.event === 'epoch').length, 3);
	});

	void it('rejects with the error line\'s message (UsageError for a usage error) and reports it as an error event', async () => {
		const events: TrainingEvent[] = [];
		await assert.rejects(engine(fakeLauncher({ chunks: ['{"event":"error","message":"the dataset\'s images (3x32x32) do not fit the model\'s input"}\n'], stderr: 'crossbar_lens_train: …\n', code: 1 })).start(job(), (e) => events.push(e), new AbortController().signal),
			(ex: Error) => ex.name === 'Error' && ex.message === "the dataset's images (3x32x32) do not fit the model's input");
		assert.deepEqual(events.map((e) => e.event), ['error']);
		await assert.rejects(engine(fakeLauncher({ chunks: ['{"event":"error","message":"out.pt exists; pass --force to replace it","usage":true}\n'], code: 2 })).start(job(), () => undefined, new AbortController().signal),
			(ex: Error) => ex.name === 'UsageError' && /--force/.test(ex.message));
		await assert.rejects(engine(fakeLauncher({ chunks: ['{"event":"error","message":"/d/train-labels-idx1-ubyte: truncated gzip","dataset":true}\n'], code: 1 })).start(job(), () => undefined, new AbortController().signal),
			(ex: Error) => ex.name === 'DatasetError' && ex.message === '/d/train-labels-idx1-ubyte: truncated gzip');
	});

	void it('without an error line: stderr\'s last line, a missing torch named as such, else the exit code', async () => {
		await assert.rejects(engine(fakeLauncher({ stderr: 'Traceback (most recent call last):\n  File "<string>"\nModuleNotFoundError: No module named \'torch\'\n', code: 1 })).start(job(), () => undefined, new AbortController().signal),
			/\/usr\/bin\/python3 has no PyTorch \(ModuleNotFoundError: No module named 'torch'\)/);
		await assert.rejects(engine(fakeLauncher({ stderr: 'Segmentation fault\n', code: 139 })).start(job(), () => undefined, new AbortController().signal), /^Error: The PyTorch engine failed: Segmentation fault$/);
		await assert.rejects(engine(fakeLauncher({ code: 3 }, false)).start(job(), () => undefined, new AbortController().signal), /exited with code 3 \(see the terminal for its output\)/);
		await assert.rejects(engine(fakeLauncher({ chunks: [lines[0] + '\n'], code: 0 })).start(job(), () => undefined, new AbortController().signal), /ended without a result/);
	});

	void it('cancel: SIGTERM, then the stopped line makes an AbortError naming the checkpoint', async () => {
		const controller = new AbortController();
		const launcher = fakeLauncher({ chunks: lines.slice(0, 3).map((l) => `${l}\n`), onTerm: ['{"event":"checkpoint","path":"/w/r.pt","phase":"regularize","epoch":1,"step":4}\n', '{"event":"stopped","checkpoint":"/w/r.pt","phase":"regularize","epoch":1,"step":4}\n'] });
		const events: TrainingEvent[] = [];
		await assert.rejects(engine(launcher).start(job(), (e) => {
			events.push(e);
			if (e.event === 'checkpoint') controller.abort();
		}, controller.signal), (ex: Error) => ex.name === 'AbortError' && /checkpoint \/w\/r\.pt \(regularize epoch 1\) keeps the run/.test(ex.message));
		assert.deepEqual(launcher.signals, ['SIGTERM']);
		assert.ok(!events.some((e) => e.event === 'error'), 'a cancel is not an error');
		assert.equal(events.filter((e) => e.event === 'checkpoint').length, 2, 'the checkpoint written at the stop comes first');
	});

	void it('cancel: a process that ignores SIGTERM is killed after the grace time', async () => {
		const controller = new AbortController();
		const launcher = fakeLauncher({ chunks: [lines[0] + '\n'] });
		const started = engine(launcher, 20).start(job(), (e) => {
			if (e.event === 'start') controller.abort();
		}, controller.signal);
		await assert.rejects(started, (ex: Error) => ex.name === 'AbortError' && /did not stop in time/.test(ex.message));
		assert.deepEqual(launcher.signals, ['SIGTERM', 'SIGKILL']);
	});

	void it('an exit without a code or a last event keeps the events file while the process lives on (a reload), and removes it once the process is gone', async () => {
		const ended = async (pid: number): Promise<string> => {
			const launcher = fakeLauncher({ chunks: lines.slice(0, 2).map((l) => `${l}\n`), code: null, pid }, false);
			await assert.rejects(engine(launcher).start(job(), () => undefined, new AbortController().signal), /exited with code unknown/);
			return flag(launcher.commands[0].args, '--events-file')!;
		};
		const kept = await ended(process.pid);
		assert.ok(existsSync(kept), 'a window reloading leaves the file to the next window');
		rmSync(dirname(kept), { recursive: true, force: true });
		const gone = spawnSync(process.execPath, ['-e', '']).pid;
		assert.ok(!existsSync(await ended(gone)), 'an engine killed by a signal leaves no events folder behind');
	});

	void it('an aborted signal never starts a process', async () => {
		const controller = new AbortController();
		controller.abort();
		const launcher = fakeLauncher({ code: 0 });
		await assert.rejects(engine(launcher).start(job(), () => undefined, controller.signal), (ex: Error) => ex.name === 'AbortError');
		assert.equal(launcher.commands.length, 0);
	});
});

void describe('model factories in a training script', () => {
	void it('finds build_model-style functions first, then nn.Module classes that need no arguments', () => {
		const source = [
			'import torch',
			'from torch import nn',
			'class Block(nn.Module):',
			'    def __init__(self, channels):',
			'        super().__init__()',
			'class SmallCNN(nn.Module):',
			'    def __init__(self, num_classes=10):',
			'        super().__init__()',
			'class Wide(torch.nn.Module):',
			'    def __init__(',
			'        self,',
			'        width: int = 4,',
			'    ):',
			'        pass',
			'class Helper:',
			'    pass',
			'def build_model(num_classes=10):',
			'    return SmallCNN(num_classes)',
			'def make_model(depth):',
			'    pass',
			'def train(model):',
			'    pass',
			'class _Private(nn.Module):',
			'    pass',
			'if __name__ == "__main__":',
			'    def get_model():',
			'        pass',
		].join('\n');
		assert.deepEqual(findModelFactories(source).map((f) => `${f.kind} ${f.name}:${f.line}`), ['function build_model:17', 'class SmallCNN:6', 'class Wide:9']);
		assert.deepEqual(findModelFactories('class Net(Module):\n    pass\n').map((f) => f.name), ['Net']);
		assert.deepEqual(findModelFactories('print("no model here")'), []);
	});
});
