import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FineTunePlan } from '../../../src/extension/training/fineTuneChoices';
import { interruptedRunState, resumeCheckpointOf, RunJournal } from '../../../src/extension/training/runJournal';
import type { InFlightRun } from '../../../src/extension/training/runJournal';
import { isEngineProcess } from '../../../src/training/pytorch/engine';

/** A Memento in memory (the journal keeps its list in the workspace state). */
function memento(): { get<T>(key: string, fallback?: T): T; update(key: string, value: unknown): Promise<void> } {
	const values = new Map<string, unknown>();
	return {
		get: <T>(key: string, fallback?: T): T => (values.has(key) ? structuredClone(values.get(key)) as T : fallback as T),
		update: async (key: string, value: unknown) => {
			values.set(key, structuredClone(value));
		},
	};
}

const plan = (engine: 'tfjs' | 'pytorch'): FineTunePlan => ({
	modelPath: '/w/digits-cnn.onnx', engine, processes: 1, dataset: { kind: 'digits' }, datasetLabel: 'digits', preset: 'smoke', presetLabel: 'smoke',
	hyperParameters: { lambdaVar: 1e-3, lambda2: 1e-3, lr: 0.01, finetuneLr: 0.01, momentum: 0.9, regularizeEpochs: 1, finetuneEpochs: 1, regularizeMilestones: [], finetuneMilestones: [], gamma: 0.1, batchSize: 32, finetuneParams: 'all' },
	crossbarSize: 16, slices: 1, pruneRatios: { ratios: [0, 88, 92] }, outputPath: '/w/out.onnx', force: false,
});

void describe('fine-tune run journal (runs cut off by a window reload)', () => {
	void it('lists a run from its start until it is removed, with its process once known', async () => {
		const journal = new RunJournal(memento());
		await journal.add({ runId: 'a', plan: plan('pytorch'), startedAt: 1, hostPid: 10 });
		await journal.add({ runId: 'b', plan: plan('tfjs'), startedAt: 2, hostPid: 10 });
		await journal.setProcess('a', 4242, '/tmp/crossbar-lens-events-x/events.jsonl');
		assert.deepEqual(journal.list().map((r) => [r.runId, r.pid, r.eventsFile]), [['a', 4242, '/tmp/crossbar-lens-events-x/events.jsonl'], ['b', undefined, undefined]]);
		await journal.remove('a');
		assert.deepEqual(journal.list().map((r) => r.runId), ['b']);
	});

	void it('ignores what is not a run in the stored state', () => {
		const state = memento();
		void state.update('crossbarLens.fineTune.inFlight', [{ runId: 'x' }, 'junk', null, { runId: 'ok', plan: plan('tfjs'), startedAt: 0, hostPid: 1 }]);
		assert.deepEqual(new RunJournal(state).list().map((r) => r.runId), ['ok']);
	});

	void it('tells a live task, another window\'s run, a resumable run and a lost one apart', () => {
		const run = (over: Partial<InFlightRun>): InFlightRun => ({ runId: 'r', plan: plan('pytorch'), startedAt: 0, hostPid: 100, ...over });
		const alive = (pids: number[]) => (pid: number): boolean => pids.includes(pid);
		const exists = (paths: string[]) => (path: string): boolean => paths.includes(path);
		const checkpoint = resumeCheckpointOf(plan('pytorch'));
		assert.equal(checkpoint, '/w/out.onnx.resume.pt');
		// The PyTorch task outlived the window that started it.
		assert.equal(interruptedRunState(run({ pid: 7 }), 200, alive([7]), exists([checkpoint])), 'running');
		// Another window (its extension host alive) still runs it.
		assert.equal(interruptedRunState(run({}), 200, alive([100]), exists([checkpoint])), 'elsewhere');
		// This window's reload ended it: resumable with a checkpoint, lost without.
		assert.equal(interruptedRunState(run({ pid: 7 }), 200, alive([]), exists([checkpoint])), 'resumable');
		assert.equal(interruptedRunState(run({}), 200, alive([]), exists([])), 'lost');
		assert.equal(interruptedRunState(run({ plan: plan('tfjs') }), 200, alive([]), exists([resumeCheckpointOf(plan('tfjs'))])), 'resumable');
		assert.match(resumeCheckpointOf(plan('tfjs')), /out\.onnx\.checkpoint[\\/]tfjs-checkpoint\.bin$/);
	});

	void it('takes a live process id for the run only while it is still the engine writing the run\'s events file', () => {
		const events = '/tmp/crossbar-lens-events-a/events.jsonl';
		const run: InFlightRun = { runId: 'r', plan: plan('pytorch'), startedAt: 0, hostPid: 100, pid: 7, eventsFile: events };
		const checkpoint = resumeCheckpointOf(plan('pytorch'));
		const exists = (path: string): boolean => path === checkpoint;
		const alive = (pid: number): boolean => pid === 7;
		const engine = (cmdline: string | undefined) => (pid: number, file: string): boolean => isEngineProcess(pid, file, alive, () => cmdline);
		assert.equal(interruptedRunState(run, 200, alive, exists, engine(`/usr/bin/python3 -m crossbar_lens_train finetune --events-file ${events}`)), 'running');
		// Process id 7 now belongs to something else (reused after a reboot): the checkpoint is what is left.
		assert.equal(interruptedRunState(run, 200, alive, exists, engine('/usr/sbin/sshd -D')), 'resumable');
		// Where no command line can be read, a live process id is taken as the run.
		assert.equal(interruptedRunState(run, 200, alive, exists, engine(undefined)), 'running');
		assert.equal(interruptedRunState({ ...run, pid: 8 }, 200, alive, exists, engine('x')), 'resumable');
		// The real /proc check: this test's own process is alive but writes no such events file.
		assert.equal(isEngineProcess(process.pid, events), process.platform !== 'linux');
		assert.equal(isEngineProcess(process.pid, process.argv[1] ?? ''), true);
	});
});
