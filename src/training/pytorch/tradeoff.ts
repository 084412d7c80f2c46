/**
 * The trade-off sweep on the PyTorch engine: `python -m crossbar_lens_train tradeoff` in the user's
 * interpreter (the checkpoint read by the restricted unpickler, the architecture from the user's
 * factory or torchvision, python/crossbar_lens_train/tradeoff.py), its JSON lines read as
 * SweepEvents. Cancel sends SIGTERM (the engine stops at once: a sweep has nothing to save), then
 * SIGKILL after a grace period.
 */

import { basename } from 'node:path';
import { UsageError } from '../../core/errors';
import { tradeoffMethods } from '../../shared/tradeoff';
import type { TradeoffMethod } from '../../shared/tradeoff';
import type { SweepEvent, TradeoffPlan } from '../tradeoffPlan';
import { childProcessLauncher, defaultPythonPath, engineFailure, exitOrCancel, pythonEnvironment } from './engine';
import type { PythonCommand, PythonProcess, PytorchEngineSettings } from './engine';
import { LineSplitter, TailBuffer } from './lines';
import { datasetArgs } from './protocol';
import { isRecord } from '../../shared/isRecord';

const num = (value: number): string => String(value);

/** The interpreter command of a sweep (exported for the tests). */
export function pytorchTradeoffCommand(plan: TradeoffPlan, settings: PytorchEngineSettings = {}): PythonCommand & { notes: string[] } {
	const o = plan.engineOptions;
	const notes: string[] = [];
	const args = ['-m', 'crossbar_lens_train', 'tradeoff'];
	if (o.modelFactory) args.push('--model', o.modelFactory);
	else if (o.torchvision) args.push('--torchvision', o.torchvision);
	else throw new UsageError(`The PyTorch engine needs the architecture of ${basename(plan.modelPath)}: a model factory or a torchvision name.`);
	if (o.numClasses !== undefined) args.push('--num-classes', num(o.numClasses));
	args.push('--weights', plan.modelPath);
	if (o.trustCheckpoint) args.push('--trust-checkpoint');
	args.push(...datasetArgs(plan.dataset, notes), '--split-seed', num(plan.seed));
	args.push('--tile', num(plan.crossbarSize), '--slices', num(plan.slices));
	args.push('--sweep', plan.ratios.map(num).join(','), '--methods', plan.methods.join(','));
	if (plan.preset !== undefined) args.push('--preset', plan.preset);
	if (o.device) args.push('--device', o.device);
	if (o.threads) args.push('--threads', num(o.threads));
	return {
		executable: settings.pythonPath ?? defaultPythonPath(),
		args,
		env: pythonEnvironment(settings),
		cwd: settings.cwd ?? process.cwd(),
		title: `Trade-off sweep of ${basename(plan.modelPath)}`,
		notes,
	};
}

type Raw = Record<string, unknown>;
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isNumbers = (value: unknown): value is number[] => Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));

/** The measurement fields of a dense or point line, or undefined when one is missing or malformed. */
function measurement(e: Raw): { accuracy: number; levelHistogram: number[]; zeros: number; weights: number } | undefined {
	const { accuracy, levelHistogram, zeros, weights } = e;
	if (typeof accuracy !== 'number' || !Number.isFinite(accuracy) || !isNumbers(levelHistogram) || !isCount(zeros) || !isCount(weights)) return undefined;
	return { accuracy, levelHistogram, zeros, weights };
}

/** Reads the engine's lines; `line()` never throws (text that is not an event becomes a log line). */
export class TradeoffLineReader {
	/** Set by an `error` line. */
	error: { message: string; usage: boolean } | undefined;
	/** Set by a `stopped` line (the engine obeyed SIGTERM). */
	stopped = false;
	/** Set by a `done` line. */
	done = false;

	line(raw: string): SweepEvent[] {
		const trimmed = raw.trim();
		if (trimmed === '') return [];
		let e: unknown;
		try {
			e = JSON.parse(trimmed);
		} catch {
			e = undefined;
		}
		if (!isRecord(e) || typeof e.event !== 'string') {
			// The user's model code may print; keep it as a log line.
			return [{ event: 'log', message: trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed }];
		}
		switch (e.event) {
			case 'start': {
				const device = typeof e.device === 'string' ? e.device : 'cpu';
				const convLayers = Array.isArray(e.convLayers) ? e.convLayers.map(String) : [];
				const dataset = `${String(e.data ?? '?')}, ${String(e.split ?? '')}, ${String(e.train ?? '?')} train / ${String(e.test ?? '?')} held-out`;
				return [{
					event: 'start', backend: device, dataset, testImages: isCount(e.test) ? e.test : 0, convLayers,
					message: `PyTorch ${String(e.torch ?? '?')} on ${device}; ${dataset}; ${convLayers.length} conv layers at T=${String(e.tile ?? '?')}`,
				}];
			}
			case 'dense': {
				const m = measurement(e);
				return m ? [{ event: 'dense', ...m }] : [{ event: 'log', message: `malformed dense line: ${trimmed.slice(0, 200)}` }];
			}
			case 'point': {
				const m = measurement(e);
				const method = tradeoffMethods.includes(e.method as TradeoffMethod) ? (e.method as TradeoffMethod) : undefined;
				if (!m || !method || typeof e.ratio !== 'number' || !isNumbers(e.layerRatios)) {
					return [{ event: 'log', message: `malformed point line: ${trimmed.slice(0, 200)}` }];
				}
				return [{ event: 'point', method, ratio: e.ratio, layerRatios: e.layerRatios, ...m }];
			}
			case 'error':
				this.error = { message: String(e.message ?? 'unknown error'), usage: e.usage === true };
				return [];
			case 'stopped':
				this.stopped = true;
				return [];
			case 'done':
				this.done = true;
				return [];
			default:
				return [{ event: 'log', message: trimmed.slice(0, 500) }];
		}
	}
}

/** Runs the sweep; resolves when the engine said `done`, rejects with what went wrong. */
export async function runPytorchSweep(plan: TradeoffPlan, onEvent: (e: SweepEvent) => void, signal: AbortSignal, settings: PytorchEngineSettings = {}): Promise<void> {
	const command = pytorchTradeoffCommand(plan, settings);
	for (const note of command.notes) onEvent({ event: 'log', message: note });
	if (signal.aborted) throw new DOMException('The trade-off sweep was cancelled before it started.', 'AbortError');
	const launcher = settings.launcher?.pipesOutput ? settings.launcher : childProcessLauncher;
	const reader = new TradeoffLineReader();
	const stdout = new LineSplitter();
	const stderr = new TailBuffer();
	let failure: Error | undefined;
	// Set once launched; `deliver` may need to stop the process.
	const running: { child?: PythonProcess } = {};
	const deliver = (line: string): void => {
		if (failure) return;
		try {
			for (const event of reader.line(line)) onEvent(event);
		} catch (ex) {
			// The collector refused what the engine reported: stop the engine, report that.
			failure = ex instanceof Error ? ex : new Error(String(ex));
			running.child?.kill('SIGKILL');
		}
	};
	const child = launcher.launch(command, { stdout: (chunk) => stdout.push(chunk).forEach(deliver), stderr: (chunk) => stderr.push(chunk) });
	running.child = child;
	const exit = await exitOrCancel(child, signal, settings.cancelGraceMs ?? 10_000);
	stdout.flush().forEach(deliver);
	if (failure) throw failure;
	if (signal.aborted) throw new DOMException('The trade-off sweep was cancelled.', 'AbortError');
	if (reader.done) return;
	if (reader.error) throw reader.error.usage ? new UsageError(reader.error.message) : new Error(reader.error.message);
	const last = stderr.lastLine();
	if (last) throw engineFailure(command.executable, last);
	throw new Error(`The PyTorch engine (${command.executable}) exited with code ${exit.code ?? 'unknown'} before the sweep was done.`);
}
