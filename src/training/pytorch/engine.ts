/**
 * The PyTorch training engine: runs python/crossbar_lens_train in the user's interpreter (one
 * process, or several under torchrun) and turns its JSON lines into TrainingEvents. How the
 * process is started is pluggable: a child process with piped stdout (the default; the CLI and
 * tests), or a VS Code task whose output the user watches in a terminal, in which case the
 * engine asks for `--events-file` and follows that file instead of stdout. Such a run outlives
 * a window reload; the next window follows it again from that file (`follow`).
 */

import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { UsageError } from '../../core/errors';
import { DatasetError } from '../datasets/errors';
import type { TrainingEngine, TrainingEvent, TrainingJob, TrainingResult } from '../engine';
import { FileTail, LineSplitter, TailBuffer } from './lines';
import { buildPytorchInvocation, PytorchProtocol } from './protocol';

/** One interpreter run. */
export interface PythonCommand {
	readonly executable: string;
	readonly args: readonly string[];
	/** The full environment of the process. */
	readonly env: Readonly<Record<string, string>>;
	readonly cwd: string;
	/** A short title (a task or terminal name). */
	readonly title: string;
	/** The `--events-file` the engine writes its JSON lines to, when it was asked for one. */
	readonly eventsFile?: string;
}

/** A started process. */
export interface PythonProcess {
	/** SIGTERM: the engine stops after the current step and writes its checkpoint; SIGKILL: at once (the whole process group). */
	kill(signal: 'SIGTERM' | 'SIGKILL'): void;
	/** Settles when the process has exited (code null: killed by a signal, or the exit code is unknown). */
	readonly exited: Promise<{ readonly code: number | null }>;
	/** The engine's process id, once it is known. */
	readonly pid?: number;
}

/**
 * Waits for the engine to exit. An abort of `signal` asks it to stop (SIGTERM, so it keeps its
 * checkpoint) and ends it (SIGKILL) if it has not stopped after `graceMs`; `killed` says so.
 */
export async function exitOrCancel(child: PythonProcess, signal: AbortSignal, graceMs: number): Promise<{ readonly code: number | null; readonly killed: boolean }> {
	let killTimer: NodeJS.Timeout | undefined;
	let killed = false;
	const onAbort = (): void => {
		child.kill('SIGTERM');
		killTimer = setTimeout(() => {
			killed = true;
			child.kill('SIGKILL');
		}, graceMs);
		killTimer.unref?.();
	};
	signal.addEventListener('abort', onAbort, { once: true });
	try {
		const { code } = await child.exited;
		return { code, killed };
	} finally {
		signal.removeEventListener('abort', onAbort);
		clearTimeout(killTimer);
	}
}

/** The error for an engine that ended with `lastLine` on stderr: a missing torch says which interpreter to change. */
export function engineFailure(executable: string, lastLine: string): Error {
	return new Error(/No module named '?torch'?/.test(lastLine)
		? `${executable} has no PyTorch (${lastLine}); choose an interpreter with torch installed.`
		: `The PyTorch engine failed: ${lastLine}`);
}

/** Starts interpreter processes; `pipesOutput: false` means stdout is not readable (a terminal) and the engine follows an events file. */
export interface PythonLauncher {
	readonly pipesOutput: boolean;
	/** `output` receives stdout and stderr chunks when `pipesOutput` is true. */
	launch(command: PythonCommand, output: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void }): PythonProcess;
}

/** The default launcher: a child process in its own process group, stdout and stderr piped. */
export const childProcessLauncher: PythonLauncher = {
	pipesOutput: true,
	launch(command, output) {
		const child = spawn(command.executable, [...command.args], { cwd: command.cwd, env: command.env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
		child.stdout.on('data', (chunk: Buffer) => output.stdout(chunk));
		child.stderr.on('data', (chunk: Buffer) => output.stderr(chunk));
		const exited = new Promise<{ code: number | null }>((resolve) => {
			child.on('error', (ex) => {
				output.stderr(Buffer.from(`${command.executable}: ${ex.message}\n`));
				resolve({ code: null });
			});
			// 'close': the process ended and its stdout/stderr were read to the end.
			child.on('close', (code) => resolve({ code }));
		});
		return {
			kill(signal) {
				if (child.pid === undefined || child.exitCode !== null) return;
				try {
					// SIGKILL goes to the group: torchrun's workers must not outlive it.
					if (signal === 'SIGKILL' && process.platform !== 'win32') process.kill(-child.pid, signal);
					else child.kill(signal);
				} catch {
					// already gone
				}
			},
			exited,
			pid: child.pid,
		};
	},
};

export interface PytorchEngineSettings {
	/** The interpreter with torch (default: `defaultPythonPath()`). */
	readonly pythonPath?: string;
	/** The folder that holds crossbar_lens_train (default: `findPythonDir()`). */
	readonly pythonDir?: string;
	/** Working directory; a `package.module:function` factory is imported from here (default: the process's). */
	readonly cwd?: string;
	/** Environment (default: this process's), with PYTHONPATH put in front. */
	readonly env?: Readonly<Record<string, string | undefined>>;
	readonly launcher?: PythonLauncher;
	/** After a cancel, a process that has not stopped within this time is killed (default 60 s). */
	readonly cancelGraceMs?: number;
}

/** Debian's /usr/bin/python3 when it exists (the pyenv python3 first on PATH may lack torch), else python3 (python on Windows). */
export function defaultPythonPath(): string {
	if (process.platform === 'win32') return 'python';
	return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * The torch version an interpreter imports (a quick check before a long run). Rejects with a
 * one-line UsageError when the interpreter is missing or has no torch.
 */
export function checkPythonTorch(pythonPath: string, timeoutMs = 60_000): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile(pythonPath, ['-c', 'import torch; print(torch.__version__)'], { timeout: timeoutMs, env: { ...process.env, PYTHONWARNINGS: 'ignore' } }, (error, stdout, stderr) => {
			if (!error) {
				resolve(String(stdout).trim());
				return;
			}
			const code = (error as NodeJS.ErrnoException).code;
			const last = String(stderr).trim().split('\n').pop();
			reject(new UsageError(code === 'ENOENT'
				? `The Python interpreter ${pythonPath} does not exist.`
				: `${pythonPath} cannot import torch${last ? ` (${last})` : error.killed ? ' (timed out)' : ''}.`));
		});
	});
}

/** python/ of the extension: next to dist/ in the bundle, or the repository's from source. */
export function findPythonDir(): string {
	const candidates = [join(__dirname, '..', 'python'), join(__dirname, '..', '..', '..', 'python')];
	const found = candidates.find((dir) => existsSync(join(dir, 'crossbar_lens_train', '__main__.py')));
	if (!found) {
		throw new Error(`The PyTorch engine's Python package (crossbar_lens_train) is missing; looked in ${candidates.join(' and ')}.`);
	}
	return found;
}

/** The engine's environment: the settings' (default this process's) with python/ first on PYTHONPATH, unbuffered. */
export function pythonEnvironment(settings: Pick<PytorchEngineSettings, 'pythonDir' | 'env'> = {}): Record<string, string> {
	const pythonDir = settings.pythonDir ?? findPythonDir();
	const env: Record<string, string> = {};
	for (const [key, value] of Object.entries(settings.env ?? process.env)) {
		if (value !== undefined) env[key] = value;
	}
	env.PYTHONPATH = env.PYTHONPATH ? `${pythonDir}${delimiter}${env.PYTHONPATH}` : pythonDir;
	// The JSON lines must reach the reader as they are printed.
	env.PYTHONUNBUFFERED = '1';
	return env;
}

/** The interpreter command of a job (exported for the tests and for a "show the command" action). */
export function pytorchCommand(job: TrainingJob, settings: PytorchEngineSettings = {}, eventsFile?: string): PythonCommand & { notes: string[] } {
	const invocation = buildPytorchInvocation(job, { eventsFile });
	return {
		executable: settings.pythonPath ?? defaultPythonPath(),
		args: invocation.args,
		env: pythonEnvironment(settings),
		cwd: settings.cwd ?? process.cwd(),
		title: invocation.processes > 1 ? `D.U.B. fine-tune (${invocation.processes} processes)` : 'D.U.B. fine-tune',
		eventsFile,
		notes: invocation.notes,
	};
}

const abortError = (message: string): DOMException => new DOMException(message, 'AbortError');

/** The folders the engine makes for its events files (only such a folder is removed after a followed run). */
const eventsDirPrefix = 'crossbar-lens-events-';

export function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (ex) {
		return (ex as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Whether `pid` is still the engine process that writes `eventsFile`: alive and, where the
 * process's command line can be read (Linux /proc), one with that events file in it, so that a
 * process id reused after a reboot is not taken for the run.
 */
export function isEngineProcess(pid: number, eventsFile: string, alive: (pid: number) => boolean = processAlive, commandLine: (pid: number) => string | undefined = procCommandLine): boolean {
	if (!alive(pid)) return false;
	const line = commandLine(pid);
	return line === undefined || line.includes(eventsFile);
}

function procCommandLine(pid: number): string | undefined {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
	} catch {
		return undefined;
	}
}

/**
 * Signals an engine process by id. It leads its own process group (a task's pty session, or a
 * detached child), so SIGKILL goes to the group and ends torchrun's workers too.
 */
export function signalEngineProcess(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
	try {
		process.kill(signal === 'SIGKILL' && process.platform !== 'win32' ? -pid : pid, signal);
	} catch {
		try {
			process.kill(pid, signal);
		} catch {
			// gone
		}
	}
}

/** A run started elsewhere, followed: the process is signalled by id, and its end is noticed by polling. */
function attachedProcess(pid: number, pollMs = 500): PythonProcess {
	return {
		kill: (signal) => signalEngineProcess(pid, signal),
		pid,
		exited: new Promise((resolve) => {
			const timer = setInterval(() => {
				if (!processAlive(pid)) {
					clearInterval(timer);
					resolve({ code: null });
				}
			}, pollMs);
		}),
	};
}

/** A run whose process an earlier extension host started and that is still going (a task terminal that outlived a window reload). */
export interface RunningEngineProcess {
	readonly pid: number;
	readonly eventsFile: string;
}

export class PytorchTrainingEngine implements TrainingEngine {
	readonly id = 'pytorch' as const;

	constructor(private readonly settings: PytorchEngineSettings = {}) {}

	start(job: TrainingJob, onProgress: (e: TrainingEvent) => void, signal: AbortSignal): Promise<TrainingResult> {
		if (signal.aborted) {
			return Promise.reject(abortError('Training was cancelled before it started.'));
		}
		return this.settle(this.run(job, onProgress, signal), onProgress);
	}

	/**
	 * Follows a run of `job` that is already going in `running` (started by an earlier extension
	 * host): its events file is read from the start, so the events of the epochs done so far come
	 * first, then it is followed until the process ends. Cancel signals the process as for a run
	 * started here.
	 */
	follow(job: TrainingJob, running: RunningEngineProcess, onProgress: (e: TrainingEvent) => void, signal: AbortSignal): Promise<TrainingResult> {
		if (signal.aborted) {
			return Promise.reject(abortError('Following the run was cancelled before it started.'));
		}
		return this.settle(this.run(job, onProgress, signal, running), onProgress);
	}

	private settle(result: Promise<TrainingResult>, onProgress: (e: TrainingEvent) => void): Promise<TrainingResult> {
		return result.catch((ex: unknown) => {
			const error = ex instanceof Error ? ex : new Error(String(ex));
			if (error.name !== 'AbortError') onProgress({ event: 'error', message: error.message });
			throw error;
		});
	}

	private async run(job: TrainingJob, onProgress: (e: TrainingEvent) => void, signal: AbortSignal, running?: RunningEngineProcess): Promise<TrainingResult> {
		const launcher = this.settings.launcher ?? childProcessLauncher;
		const followedDir = running && basename(dirname(running.eventsFile)).startsWith(eventsDirPrefix) ? dirname(running.eventsFile) : undefined;
		const eventsDir = running ? followedDir : launcher.pipesOutput ? undefined : await mkdtemp(join(tmpdir(), eventsDirPrefix));
		const eventsFile = running ? running.eventsFile : eventsDir ? join(eventsDir, 'events.jsonl') : undefined;
		let tail: FileTail | undefined;
		// An exit without a code or a last event, not asked for, while the process lives on, is this
		// window going away (a reload) with the engine going on in its terminal: its events file stays
		// for the next window. An engine that died by a signal leaves nothing behind.
		let mayLiveOn = false;
		try {
			const command = pytorchCommand(job, this.settings, eventsFile);
			const protocol = new PytorchProtocol(job);
			const deliver = (line: string): void => {
				for (const event of protocol.line(line)) onProgress(event);
			};
			// A followed run's notes were given when it started.
			if (!running) for (const note of command.notes) onProgress({ event: 'log', message: note });
			const stderr = new TailBuffer();
			const stdout = new LineSplitter();
			if (eventsFile) {
				if (!running) await writeFile(eventsFile, '');
				tail = await FileTail.start(eventsFile, deliver);
			}
			if (signal.aborted) throw abortError('Training was cancelled before it started.');
			const child = running ? attachedProcess(running.pid) : launcher.launch(command, {
				stdout: (chunk) => stdout.push(chunk).forEach(deliver),
				stderr: (chunk) => stderr.push(chunk),
			});
			const exit = await exitOrCancel(child, signal, this.settings.cancelGraceMs ?? 60_000);
			stdout.flush().forEach(deliver);
			await tail?.close();
			mayLiveOn = exit.code === null && !signal.aborted && !protocol.result && !protocol.stopped && !protocol.error && (child.pid === undefined || processAlive(child.pid));
			if (protocol.result) {
				return protocol.result;
			}
			if (protocol.stopped) {
				const where = protocol.stopped.phase ? ` (${protocol.stopped.phase} epoch ${protocol.stopped.epoch ?? '?'})` : '';
				throw abortError(`Training was cancelled; the checkpoint ${protocol.stopped.checkpoint}${where} keeps the run (resume to continue).`);
			}
			if (signal.aborted) {
				throw abortError(exit.killed
					? 'Training was cancelled; the engine did not stop in time and was ended (the last complete epoch is in the checkpoint).'
					: 'Training was cancelled.');
			}
			if (protocol.error) {
				throw protocol.error.usage ? new UsageError(protocol.error.message) : protocol.error.dataset ? new DatasetError(protocol.error.message) : new Error(protocol.error.message);
			}
			const last = stderr.lastLine();
			const where = running || !launcher.pipesOutput ? ' (see the terminal for its output)' : '';
			if (last) throw engineFailure(command.executable, last);
			throw new Error(exit.code === 0
				? `The PyTorch engine (${command.executable}) ended without a result${where}.`
				: `The PyTorch engine (${command.executable}) exited with code ${exit.code ?? 'unknown'}${where}.`);
		} finally {
			// Also on cancel-before-launch and launch failures: no handle or poll timer is left behind.
			await tail?.close().catch(() => undefined);
			if (eventsDir && !mayLiveOn) await rm(eventsDir, { recursive: true, force: true }).catch(() => undefined);
		}
	}
}
