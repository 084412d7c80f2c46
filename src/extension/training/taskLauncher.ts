import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { childProcessLauncher, processAlive, signalEngineProcess } from '../../training/pytorch/engine';
import type { PythonCommand, PythonLauncher, PythonProcess } from '../../training/pytorch/engine';

/** The task type of the fine-tune runs (package.json contributes.taskDefinitions). */
export const fineTuneTaskType = 'crossbarLens';

/**
 * Runs the PyTorch engine as a VS Code task (ProcessExecution: no shell, no quoting), so its
 * output shows in a terminal the user can watch; the engine reads the events from the
 * `--events-file` it asked for (`pipesOutput: false`). Cancel sends SIGTERM to the task's process
 * (the engine stops after the current step and writes its checkpoint; torchrun passes it on to its
 * workers), SIGKILL goes to its process group. When the task cannot start (no task support in
 * this host), the run falls back to a plain child process whose output goes to the log.
 */
export class TaskPythonLauncher implements PythonLauncher {
	readonly pipesOutput = false;

	/** `onProcess` learns the task's process id and events file (the run journal keeps them, to follow the run again after a reload). */
	constructor(private readonly folder: vscode.WorkspaceFolder | undefined, private readonly log: vscode.LogOutputChannel, private readonly onProcess?: (pid: number, eventsFile: string | undefined) => void) {}

	launch(command: PythonCommand): PythonProcess {
		const id = randomUUID();
		const definition: vscode.TaskDefinition = { type: fineTuneTaskType, run: id };
		const execution = new vscode.ProcessExecution(command.executable, [...command.args], { cwd: command.cwd, env: { ...command.env } });
		const task = new vscode.Task(definition, this.folder ?? vscode.TaskScope.Workspace, command.title, 'Crossbar', execution);
		// VS Code reconnects a background task's terminal after a window reload (task.reconnection, on
		// by default), so the user keeps its output; the new window follows the engine's events.
		task.isBackground = true;
		task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, focus: false, clear: true, echo: true, showReuseMessage: false };
		const ours = (e: { execution: vscode.TaskExecution }): boolean => (e.execution.task.definition as { run?: string }).run === id;
		let pid: number | undefined;
		let running: vscode.TaskExecution | undefined;
		let fallback: PythonProcess | undefined;
		const subscriptions: vscode.Disposable[] = [];
		const exited = new Promise<{ code: number | null }>((resolve) => {
			const done = (code: number | null): void => {
				subscriptions.forEach((s) => s.dispose());
				resolve({ code });
			};
			subscriptions.push(
				vscode.tasks.onDidStartTaskProcess((e) => {
					if (!ours(e)) return;
					pid = e.processId;
					this.onProcess?.(e.processId, command.eventsFile);
				}),
				vscode.tasks.onDidEndTaskProcess((e) => {
					if (ours(e)) done(e.exitCode ?? null);
				}),
				// A task whose process never started (bad interpreter path) ends without an end-process event.
				// A window that is reloading also sees its task end while the engine goes on in its terminal:
				// the run is over for this window only when its process is gone (else the engine's events
				// file, which the next window follows, would be deleted under the running engine).
				vscode.tasks.onDidEndTask((e) => {
					if (!ours(e)) return;
					const whenGone = (): void => {
						if (pid !== undefined && processAlive(pid)) setTimeout(whenGone, 1000).unref?.();
						else done(null);
					};
					setTimeout(whenGone, 200);
				}),
			);
			vscode.tasks.executeTask(task).then((started) => {
				running = started;
			}, (ex: unknown) => {
				this.log.warn(`fine-tune: could not start the task (${ex instanceof Error ? ex.message : String(ex)}); running the engine as a child process, its output goes to this log`);
				fallback = childProcessLauncher.launch(command, {
					stdout: (chunk) => this.log.info(`[python] ${chunk.toString('utf8').trimEnd()}`),
					stderr: (chunk) => this.log.info(`[python] ${chunk.toString('utf8').trimEnd()}`),
				});
				void fallback.exited.then(({ code }) => done(code));
			});
		});
		return {
			kill: (signal) => {
				if (fallback) {
					fallback.kill(signal);
					return;
				}
				if (pid === undefined) {
					running?.terminate();
					return;
				}
				signalEngineProcess(pid, signal);
				if (signal === 'SIGKILL') running?.terminate();
			},
			exited,
			get pid() {
				return fallback ? fallback.pid : pid;
			},
		};
	}
}
