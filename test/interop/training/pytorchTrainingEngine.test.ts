// The PyTorch engine through the TrainingEngine interface, on a real interpreter (Debian's
// /usr/bin/python3 with torch 1.13) and real data: the digits CNN checkpoint of examples/, the
// digits dataset, 1 epoch per phase at T = 16. The events match the tfjs engine's, the output is
// a checkpoint the analysis reads with the engine's figures, a cancel keeps the checkpoint and a
// resume finishes, the events-file path (the VS Code task mode) gives the same run, and a run
// whose window was reloaded is followed again from its events file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openModel } from '../../../src/formats/registry';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import type { TrainingEvent, TrainingJob } from '../../../src/training/engine';
import { describeEpoch } from '../../../src/cli/finetuneCommand';
import { checkPythonTorch, isEngineProcess, PytorchTrainingEngine, pytorchCommand } from '../../../src/training/pytorch/engine';
import type { PythonLauncher } from '../../../src/training/pytorch/engine';
import { python, repoRoot, requirePython } from '../cliHarness';

const model = join(repoRoot, 'examples', 'digits-cnn.pt');
const dir = mkdtempSync(join(tmpdir(), 'crossbar-pytorch-interop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' };

function job(name: string, extra: Partial<TrainingJob> = {}): TrainingJob {
	return {
		modelPath: model,
		dataset: { kind: 'digits' },
		preset: 'digits',
		hyperParameters: { regularizeEpochs: 1, finetuneEpochs: 1, batchSize: 64 },
		crossbarSize: 16,
		pruneRatios: { ratios: [0, 88, 92] },
		outputPath: join(dir, `${name}.pt`),
		engineOptions: { torchvision: 'digits-cnn', threads: 1 },
		...extra,
	};
}

/**
 * The engine started as a VS Code task starts it (own process group, output to a terminal, events
 * to a file in a crossbar-lens-events- folder), with no engine object reading it: as a run is
 * after a window reload, when the extension host that started it is gone.
 */
function startAsTask(j: TrainingJob): { job: TrainingJob; pid: number; eventsFile: string; eventsDir: string; exited: Promise<number | null> } {
	const eventsDir = mkdtempSync(join(tmpdir(), 'crossbar-lens-events-'));
	const eventsFile = join(eventsDir, 'events.jsonl');
	writeFileSync(eventsFile, '');
	const command = pytorchCommand(j, { pythonPath: python, pythonDir: join(repoRoot, 'python'), cwd: dir, env }, eventsFile);
	const child = spawn(command.executable, [...command.args], { cwd: command.cwd, env: command.env, stdio: 'ignore', detached: true });
	const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
	after(() => {
		if (child.exitCode === null) child.kill('SIGKILL');
		rmSync(eventsDir, { recursive: true, force: true });
	});
	return { job: j, pid: child.pid!, eventsFile, eventsDir, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

const engine = (launcher?: PythonLauncher): PytorchTrainingEngine => new PytorchTrainingEngine({ pythonPath: python, pythonDir: join(repoRoot, 'python'), cwd: dir, env, launcher });

void describe('interop: the PyTorch training engine on a real interpreter', () => {
	before(() => requirePython('torch', 'sklearn'));

	void it('checks the interpreter for torch', async () => {
		assert.match(await checkPythonTorch(python), /^\d+\.\d+/);
		await assert.rejects(checkPythonTorch(join(dir, 'no-python')), /does not exist/);
	});

	void it('runs regularize → prune → finetune → baseline and writes a checkpoint the analysis reads alike', async () => {
		const events: TrainingEvent[] = [];
		const result = await engine().start(job('run'), (e) => events.push(e), new AbortController().signal);
		const sequence = events.filter((e) => e.event !== 'checkpoint' && e.event !== 'log').map((e) => `${e.event}:${e.phase ?? ''}`);
		assert.deepEqual(sequence, ['start:', 'phase:regularize', 'epoch:regularize', 'phase:prune', 'epoch:finetune', 'phase:baseline', 'epoch:baseline', 'done:']);
		assert.equal(result.engine, 'pytorch');
		assert.equal(result.backend, 'cpu');
		assert.equal(result.workers, 1);
		for (const e of events.filter((x) => x.event === 'epoch')) {
			for (const field of ['epoch', 'epochs', 'loss', 'trainAccuracy', 'testAccuracy', 'adcEnergyImprovement', 'levelHistogram'] as const) {
				assert.notEqual(e[field], undefined, `${e.phase} epoch event has ${field}`);
			}
		}
		assert.ok(result.initial.accuracy >= 90, `the example model starts at ${result.initial.accuracy} %`);
		assert.ok(result.dub.adcEnergyImprovement! > 1.5, `D.U.B. ${result.dub.adcEnergyImprovement}`);
		assert.ok(result.dub.adcEnergyImprovement! > result.unstructured!.adcEnergyImprovement!, 'D.U.B. above unstructured at the same ratios');
		assert.deepEqual(result.dub.layers.map((l) => l.ratio), [0, 88, 92]);
		assert.ok(!existsSync(result.checkpointPath), 'the engine removes its resume file once the output is written');
		const graph = await openModel(result.outputPath);
		try {
			assert.equal(graph.format, 'pytorch');
			const { result: analysis } = await analyzeGraph(graph, resolveProfile({ crossbarSize: 16 }));
			assert.ok(Math.abs(analysis.totals.adcEnergyImprovement! - result.dub.adcEnergyImprovement!) < 1e-9, `${analysis.totals.adcEnergyImprovement} vs ${result.dub.adcEnergyImprovement}`);
			assert.deepEqual(analysis.totals.levelHistogram, result.dub.levelHistogram);
		} finally {
			await graph.close();
		}
	});

	void it('cancel (SIGTERM) keeps the checkpoint; resume finishes the run', async () => {
		const controller = new AbortController();
		const cancelled = job('resume', { hyperParameters: { regularizeEpochs: 3, finetuneEpochs: 1, batchSize: 64 } });
		const first: TrainingEvent[] = [];
		await assert.rejects(engine().start(cancelled, (e) => {
			first.push(e);
			if (e.event === 'checkpoint' && e.phase === 'regularize') controller.abort();
		}, controller.signal), (ex: Error) => ex.name === 'AbortError' && /keeps the run/.test(ex.message));
		assert.ok(!first.some((e) => e.event === 'error'));
		assert.ok(existsSync(`${cancelled.outputPath}.resume.pt`), 'the resume file is kept');
		assert.ok(!existsSync(cancelled.outputPath));
		const second: TrainingEvent[] = [];
		const result = await engine().start({ ...cancelled, resume: true }, (e) => second.push(e), new AbortController().signal);
		assert.match(second[0].message ?? '', /resumed at regularize/);
		assert.ok(existsSync(result.outputPath));
	});

	void it('the events-file mode (the VS Code task) reads the run from the file; the terminal shows readable lines, no JSON', async () => {
		// What the task's terminal would show; the engine object reads nothing of it.
		let terminalText = '';
		const terminal: PythonLauncher = {
			pipesOutput: false,
			launch(command) {
				const child = spawn(command.executable, [...command.args], { cwd: command.cwd, env: command.env, stdio: ['ignore', 'pipe', 'pipe'] });
				child.stdout.on('data', (chunk: Buffer) => (terminalText += chunk.toString('utf8')));
				child.stderr.on('data', (chunk: Buffer) => (terminalText += chunk.toString('utf8')));
				return {
					kill: (signal) => child.kill(signal),
					exited: new Promise((resolve) => child.on('close', (code) => resolve({ code }))),
				};
			},
		};
		const events: TrainingEvent[] = [];
		const result = await engine(terminal).start(job('task', { baseline: false }), (e) => events.push(e), new AbortController().signal);
		const epochs = events.filter((e) => e.event === 'epoch');
		assert.deepEqual(epochs.map((e) => e.phase), ['regularize', 'finetune']);
		assert.equal(result.unstructured, undefined);
		assert.ok(existsSync(result.outputPath));
		const lines = terminalText.trim().split('\n');
		assert.deepEqual(lines.filter((l) => l.trimStart().startsWith('{')), [], 'no JSON in the terminal');
		assert.equal(lines[0], events.find((e) => e.event === 'start')!.message, 'the start line reads as the panel\'s note');
		// Each epoch reads as `crossbar-lens finetune` prints it, e.g. "regularize 1/1  loss 0.0117  test 99.44 %  ADC 1.000×".
		assert.deepEqual(lines.filter((l) => /^(regularize|finetune|baseline) \d/.test(l)), epochs.map(describeEpoch));
		assert.equal(lines[lines.length - 1], `wrote ${result.outputPath}`);
	});

	void it('a run that outlived its window is followed again from its events file: the epochs so far, then to the end', async () => {
		const task = startAsTask(job('followed', { hyperParameters: { regularizeEpochs: 2, finetuneEpochs: 1, batchSize: 64 } }));
		await waitFor(() => /"event": ?"epoch"/.test(readFileSync(task.eventsFile, 'utf8')), task.eventsFile);
		// Held mid-run while the new engine catches up, so the rest is followed live.
		process.kill(task.pid, 'SIGSTOP');
		const events: TrainingEvent[] = [];
		const following = engine().follow(task.job, task, (e) => events.push(e), new AbortController().signal);
		await waitFor(() => events.some((e) => e.event === 'epoch'), 'the replayed epoch');
		assert.ok(isEngineProcess(task.pid, task.eventsFile), 'the engine process is still running when it is followed');
		process.kill(task.pid, 'SIGCONT');
		const result = await following;
		const sequence = events.filter((e) => e.event !== 'checkpoint' && e.event !== 'log').map((e) => `${e.event}:${e.phase ?? ''}${e.event === 'epoch' ? e.epoch : ''}`);
		// The events written before it was followed come first: the run's curves are whole again.
		assert.deepEqual(sequence, ['start:', 'phase:regularize', 'epoch:regularize1', 'epoch:regularize2', 'phase:prune', 'epoch:finetune1', 'phase:baseline', 'epoch:baseline1', 'done:']);
		assert.ok(result.dub.adcEnergyImprovement! > 1.5, `D.U.B. ${result.dub.adcEnergyImprovement}`);
		assert.ok(existsSync(result.outputPath));
		assert.ok(!existsSync(task.eventsDir), 'the followed run\'s events folder is removed at its end');
	});

	void it('cancel of a followed run stops the process with its checkpoint kept', async () => {
		const task = startAsTask(job('followed-cancel', { hyperParameters: { regularizeEpochs: 4, finetuneEpochs: 1, batchSize: 64 } }));
		await waitFor(() => /"event": ?"start"/.test(readFileSync(task.eventsFile, 'utf8')), task.eventsFile);
		const controller = new AbortController();
		await assert.rejects(engine().follow(task.job, task, (e) => {
			if (e.event === 'checkpoint') controller.abort();
		}, controller.signal), (ex: Error) => ex.name === 'AbortError' && /keeps the run/.test(ex.message));
		assert.ok(existsSync(`${task.job.outputPath}.resume.pt`), 'the resume file is kept');
		assert.ok(!existsSync(task.job.outputPath));
		assert.equal(await task.exited, 0, 'the engine stopped on SIGTERM after writing its checkpoint');
	});

	void it('a usage error of the engine is one line, before any training', async () => {
		const events: TrainingEvent[] = [];
		await assert.rejects(engine().start(job('bad', { pruneRatios: { ratios: [10, 20] } }), (e) => events.push(e), new AbortController().signal), /3 conv layers/);
		assert.deepEqual(events.map((e) => e.event), ['error']);
	});
});
