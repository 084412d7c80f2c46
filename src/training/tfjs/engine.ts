/**
 * The TensorFlow.js training engine: starts the training worker(s) and relays their events.
 * Nothing heavy runs on the caller's thread; cancel is a message (workers stop after the current
 * step and keep the last complete epoch's checkpoint).
 */

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../../core/errors';
import { DatasetError } from '../datasets/errors';
import { numel } from '../../core/model';
import { openModel } from '../../formats/registry';
import { resolveHyperParameters } from '../engine';
import type { TrainingEngine, TrainingEvent, TrainingJob, TrainingResult } from '../engine';
import { abortSharedBuffer, createSharedBuffer } from './collective';
import type { WorkerInput, WorkerMessage } from './worker';

export interface TfjsEngineSettings {
	/** The worker script: default dist/trainingWorker.js next to this bundle, or worker.ts (through tsx) from source. */
	readonly workerPath?: string;
	/** After a cancel, workers that have not stopped within this time are terminated (default 30 s). */
	readonly cancelGraceMs?: number;
}

/** Where the worker script is and how to start it. */
export function resolveWorkerScript(workerPath?: string): { path: string; eval: boolean } {
	const path = workerPath ?? (__filename.endsWith('.ts') ? join(__dirname, 'worker.ts') : join(__dirname, 'trainingWorker.js'));
	if (!existsSync(path)) {
		throw new Error(`The training worker ${path} is missing (esbuild builds it next to the extension bundle).`);
	}
	if (path.endsWith('.ts')) {
		// From source (tests, benches): a CommonJS bootstrap that registers tsx, then loads the worker.
		return { path: `require('tsx/cjs'); require(${JSON.stringify(path)});`, eval: true };
	}
	return { path, eval: false };
}

/** Multiply-accumulates per step below which a second worker costs more in lockstep than it saves. */
const dataParallelMinMacsPerStep = 2e8;

/**
 * 1 or 2 data-parallel workers. 'auto': 2 when the machine has two cores, tfjs-node (itself
 * multi-threaded) is not installed and a step is big enough (conv/linear MACs × batch ≥ 2e8, or
 * unknown); tiny models such as the 8×8 digits CNN run faster on one.
 */
export async function chooseWorkers(job: TrainingJob): Promise<number> {
	const asked = job.engineOptions?.workers ?? 'auto';
	if (asked === 1 || asked === 2) return asked;
	if (asked !== 'auto') throw new UsageError(`workers must be 1, 2 or 'auto' (got ${String(asked)}).`);
	const backend = job.engineOptions?.backend ?? 'auto';
	if (availableParallelism() < 2 || backend === 'tensorflow') return 1;
	if (backend === 'auto') {
		try {
			createRequire(__filename).resolve('@tensorflow/tfjs-node');
			return 1;
		} catch {
			// not installed: wasm or cpu, one core each
		}
	}
	const macs = await macsPerImage(job.modelPath);
	const batch = resolveHyperParameters(job).batchSize;
	return macs === undefined || macs * batch >= dataParallelMinMacsPerStep ? 2 : 1;
}

/** Σ weights × invocations over conv and linear layers, when the graph gives every output size. */
async function macsPerImage(modelPath: string): Promise<number | undefined> {
	try {
		const graph = await openModel(modelPath);
		try {
			let macs = 0;
			for (const layer of graph.layers) {
				if (layer.invocationsPerInference === undefined) return undefined;
				macs += numel(layer.tensor.shape) * layer.invocationsPerInference;
			}
			return macs;
		} finally {
			await graph.close();
		}
	} catch {
		return undefined; // the worker reports the real problem
	}
}

export class TfjsTrainingEngine implements TrainingEngine {
	readonly id = 'tfjs' as const;

	constructor(private readonly settings: TfjsEngineSettings = {}) {}

	start(job: TrainingJob, onProgress: (e: TrainingEvent) => void, signal: AbortSignal): Promise<TrainingResult> {
		if (signal.aborted) {
			return Promise.reject(new DOMException('Training was cancelled before it started.', 'AbortError'));
		}
		return chooseWorkers(job).then((size) => this.run(job, size, onProgress, signal));
	}

	private run(job: TrainingJob, size: number, onProgress: (e: TrainingEvent) => void, signal: AbortSignal): Promise<TrainingResult> {
		if (signal.aborted) {
			return Promise.reject(new DOMException('Training was cancelled before it started.', 'AbortError'));
		}
		const script = resolveWorkerScript(this.settings.workerPath);
		const shared = size > 1 ? createSharedBuffer(size) : undefined;
		const workers: Worker[] = [];
		return new Promise<TrainingResult>((resolve, reject) => {
			let settled = false;
			let graceTimer: NodeJS.Timeout | undefined;
			const finish = (error: Error | undefined, result?: TrainingResult) => {
				if (settled) return;
				settled = true;
				if (graceTimer) clearTimeout(graceTimer);
				signal.removeEventListener('abort', onAbort);
				if (shared && error) abortSharedBuffer(shared);
				for (const w of workers) void w.terminate();
				if (error) {
					if (error.name !== 'AbortError') {
						onProgress({ event: 'error', message: error.message });
					}
					reject(error);
				} else {
					resolve(result!);
				}
			};
			const onAbort = () => {
				for (const w of workers) w.postMessage({ type: 'cancel' });
				graceTimer = setTimeout(() => finish(new DOMException('Training was cancelled; the workers did not stop in time and were ended (the last complete epoch is in the checkpoint).', 'AbortError')), this.settings.cancelGraceMs ?? 30_000);
				graceTimer.unref?.();
			};
			signal.addEventListener('abort', onAbort, { once: true });
			for (let rank = 0; rank < size; rank++) {
				const input: WorkerInput = { job, rank, size, shared };
				const worker = new Worker(script.path, { workerData: input, eval: script.eval, stdout: false, stderr: false });
				workers.push(worker);
				let answered = false;
				worker.on('message', (message: WorkerMessage) => {
					if (message.type !== 'event') answered = true;
					if (message.type === 'event') {
						if (!settled) onProgress(message.event);
					} else if (message.type === 'result') {
						if (rank === 0) finish(undefined, message.result);
					} else if (message.type === 'error') {
						const error = message.name === 'AbortError' ? new DOMException(message.message, 'AbortError')
							: message.name === 'UsageError' ? new UsageError(message.message)
								: message.name === 'DatasetError' ? new DatasetError(message.message) : new Error(message.message);
						// A peer's "another worker stopped" only echoes the first failure.
						if (rank === 0 || !/Another training worker stopped/.test(message.message)) finish(error);
					}
				});
				worker.on('error', (ex) => finish(ex instanceof Error ? ex : new Error(String(ex))));
				worker.on('exit', (code) => {
					if (!settled && !answered) finish(new Error(`The training worker ${rank} exited (code ${code}) without a result.`));
				});
			}
		});
	}
}
