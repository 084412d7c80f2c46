/**
 * The tfjs training worker (worker_threads): runs one job's pipeline on its share of every
 * batch and posts events to the engine; never runs on the extension-host thread.
 * Bundled as dist/trainingWorker.js; the engine starts one or two of them (data parallel).
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { TrainingEvent, TrainingJob, TrainingResult } from '../engine';
import { initTrainingBackend } from './backend';
import { LocalCollective, SharedMemoryCollective } from './collective';
import type { Collective } from './collective';
import { runPipeline } from './pipeline';

/** What the engine passes in workerData. */
export interface WorkerInput {
	readonly job: TrainingJob;
	readonly rank: number;
	readonly size: number;
	/** The gradient-exchange buffer when size > 1. */
	readonly shared?: SharedArrayBuffer;
}

/** Messages a worker posts. */
export type WorkerMessage =
	| { readonly type: 'event'; readonly event: TrainingEvent }
	| { readonly type: 'result'; readonly result: TrainingResult }
	| { readonly type: 'error'; readonly name: string; readonly message: string; readonly stack?: string };

async function main(): Promise<void> {
	const port = parentPort;
	if (!port) {
		throw new Error('src/training/tfjs/worker.ts runs as a worker thread; start it through TfjsTrainingEngine.');
	}
	const input = workerData as WorkerInput;
	let cancelled = false;
	port.on('message', (message: { type?: string }) => {
		if (message?.type === 'cancel') cancelled = true;
	});
	const collective: Collective = input.size > 1 && input.shared ? new SharedMemoryCollective(input.shared, input.rank, input.size) : new LocalCollective();
	try {
		const options = input.job.engineOptions ?? {};
		const backend = await initTrainingBackend(options.backend ?? 'auto', { wasmDir: options.wasmDir });
		const result = await runPipeline(input.job, {
			collective,
			backend,
			emit: (event) => port.postMessage({ type: 'event', event } satisfies WorkerMessage),
			shouldStop: () => cancelled,
		});
		port.postMessage({ type: 'result', result } satisfies WorkerMessage);
	} catch (ex) {
		collective.abort();
		const error = ex instanceof Error ? ex : new Error(String(ex));
		port.postMessage({ type: 'error', name: error.name, message: error.message, stack: error.stack } satisfies WorkerMessage);
	} finally {
		port.close();
	}
}

void main();
