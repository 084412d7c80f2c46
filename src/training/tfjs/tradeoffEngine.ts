/**
 * Starts a trade-off sweep in one tfjs worker thread (the training worker, given a plan) and relays
 * its events. Cancel ends the worker at once: a sweep only evaluates, so there is nothing to save.
 */

import { Worker } from 'node:worker_threads';
import { UsageError } from '../../core/errors';
import type { SweepEvent, TradeoffPlan } from '../tradeoffPlan';
import { resolveWorkerScript } from './engine';
import type { TfjsEngineSettings } from './engine';
import type { SweepWorkerInput, WorkerMessage } from './worker';

export function runTfjsSweep(plan: TradeoffPlan, onEvent: (e: SweepEvent) => void, signal: AbortSignal, settings: TfjsEngineSettings = {}): Promise<void> {
	if (signal.aborted) {
		return Promise.reject(new DOMException('The trade-off sweep was cancelled before it started.', 'AbortError'));
	}
	const script = resolveWorkerScript(settings.workerPath);
	const input: SweepWorkerInput = { tradeoff: plan };
	const worker = new Worker(script.path, { workerData: input, eval: script.eval, stdout: false, stderr: false });
	return new Promise<void>((resolve, reject) => {
		let settled = false;
		const finish = (error?: Error) => {
			if (settled) return;
			settled = true;
			signal.removeEventListener('abort', onAbort);
			void worker.terminate();
			if (error) reject(error);
			else resolve();
		};
		const onAbort = () => finish(new DOMException('The trade-off sweep was cancelled.', 'AbortError'));
		signal.addEventListener('abort', onAbort, { once: true });
		worker.on('message', (message: WorkerMessage) => {
			if (settled) return;
			if (message.type === 'sweep') {
				try {
					onEvent(message.event);
				} catch (ex) {
					finish(ex instanceof Error ? ex : new Error(String(ex)));
				}
			} else if (message.type === 'sweep-done') {
				finish();
			} else if (message.type === 'error') {
				finish(message.name === 'UsageError' ? new UsageError(message.message) : new Error(message.message));
			}
		});
		worker.on('error', (ex) => finish(ex instanceof Error ? ex : new Error(String(ex))));
		worker.on('exit', (code) => finish(new Error(`The trade-off worker exited (code ${code}) before the sweep was done.`)));
	});
}
