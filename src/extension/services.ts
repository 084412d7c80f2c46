import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { HardwareProfile } from '../shared/analysis';
import type { AnalysisEntry, AnalysisStore } from './analysisStore';
import type { RunJournal } from './training/runJournal';
import type { TrainingRunRegistry } from './training/runRegistry';
import { abortSignalFor } from './reportError';

/** What every part of the extension shares; built once in activate(). */
export interface Services {
	readonly extensionUri: vscode.Uri;
	readonly log: vscode.LogOutputChannel;
	readonly store: AnalysisStore;
	readonly focus: ModelFocus;
	/** The fine-tune runs of this window (the panels show the ones of their model). */
	readonly trainingRuns: TrainingRunRegistry;
	/** The fine-tunes in flight, kept across window reloads. */
	readonly journal: RunJournal;
	/** What the workspace remembers (the quick picks' last choices). */
	readonly workspaceState: vscode.Memento;
}

/** Which model the user looks at now (the focused panel), for the status bar and commands. */
export class ModelFocus implements vscode.Disposable {
	private current: string | undefined;
	private readonly changed = new vscode.EventEmitter<string | undefined>();
	readonly onDidChange = this.changed.event;

	get path(): string | undefined {
		return this.current;
	}

	set(path: string | undefined): void {
		if (path !== this.current) {
			this.current = path;
			this.changed.fire(path);
		}
	}

	dispose(): void {
		this.changed.dispose();
	}
}

export interface ProgressOptions {
	/** Notification (with Cancel) for what the user asked for; Window for background re-analyses. */
	readonly location: vscode.ProgressLocation.Notification | vscode.ProgressLocation.Window;
	readonly signal?: AbortSignal;
}

/**
 * Analyzes a model with visible progress (layer by layer) and cancellation. The analysis runs
 * on the host but yields between layers (each tensor is read asynchronously), so the window
 * stays responsive even on a big checkpoint.
 */
export function analyzeWithProgress(services: Services, path: string, profile: HardwareProfile, options: ProgressOptions): Promise<AnalysisEntry> {
	return Promise.resolve(vscode.window.withProgress(
		{ location: options.location, title: `Crossbar: analyzing ${basename(path)}`, cancellable: options.location === vscode.ProgressLocation.Notification },
		async (progress, token) => {
			const abort = abortSignalFor(token, options.signal);
			try {
				return await services.store.analyze(path, profile, {
					signal: abort.signal,
					onProgress: (done, total, layer) => progress.report({ message: `${layer} (${done}/${total})`, increment: 100 / total }),
				});
			} finally {
				abort.dispose();
			}
		},
	));
}
