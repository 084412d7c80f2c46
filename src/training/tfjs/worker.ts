/**
 * The tfjs training worker (worker_threads): runs one job's pipeline on its share of every
 * batch and posts events to the engine; never runs on the extension-host thread. The same
 * worker evaluates a trade-off sweep when it is given a plan instead of a job
 * (src/training/tfjs/tradeoff.ts). Bundled as dist/trainingWorker.js; the engine starts one or
 * two of them (data parallel), a sweep one.
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { TrainingEvent, TrainingJob, TrainingResult } from '../engine';
import type { SweepEvent, TradeoffPlan } from '../tradeoffPlan';
import { initTrainingBackend } from './backend';
import { LocalCollective, SharedMemoryCollective } from './collective';
import type { Collective } from './collective';
import { runPipeline } from './pipeline';
import { runSweepInWorker } from './tradeoff';

/** What the engine passes in workerData. */
export interface WorkerInput {
	readonly job: TrainingJob;
	readonly rank: number;
	readonly size: number;
	/** The gradient-exchange buffer when size > 1. */
	readonly shared?: SharedArrayBuffer;
}

/** What src/training/tfjs/tradeoffEngine.ts passes in workerData for a sweep. */
export interface SweepWorkerInput {
	readonly tradeoff: TradeoffPlan;
}

/** Messages a worker posts. */
export type WorkerMessage =
	| { readonly type: 'event'; readonly event: TrainingEvent }
	| { readonly type: 'result'; readonly result: TrainingResult }
	| { readonly type: 'sweep'; readonly event: SweepEvent }
	| { readonly type: 'sweep-done' }
	| { readonly type: 'error'; readonly name: string; readonly message: string; readonly stack?: string };

function postError(port: NonNullable<typeof parentPort>, ex: unknown): void {
	const error = ex instanceof Error ? ex : new Error(String(ex));
	port.postMessage({ type: 'error', name: error.name, message: error.message, stack: error.stack } satisfies WorkerMessage);
}

async function sweep(port: NonNullable<typeof parentPort>, input: SweepWorkerInput): Promise<void> {
	try {
		const options = input.tradeoff.engineOptions;
		const backend = await initTrainingBackend(options.backend ?? 'auto', { wasmDir: options.wasmDir });
		await runSweepInWorker(input.tradeoff, backend, (event) => port.postMessage({ type: 'sweep', event } satisfies WorkerMessage));
		port.postMessage({ type: 'sweep-done' } satisfies WorkerMessage);
	} catch (ex) {
		postError(port, ex);
	} finally {
		port.close();
	}
}

async function main(): Promise<void> {
	const port = parentPort;
	if (!port) {
		throw new Error('src/training/tfjs/worker.ts runs as a worker thread; start it through TfjsTrainingEngine.');
	}
	if ('tradeoff' in (workerData as object)) {
		await sweep(port, workerData as SweepWorkerInput);
		return;
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
		postError(port, ex);
	} finally {
		port.close();
	}
}

void main();
