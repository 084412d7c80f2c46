import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from '../disposable';

/** Quiet time after the last write before a checkpoint is read again (a save is many writes). */
export const reanalyzeDebounceMs = 500;

/**
 * Watches one model file (also outside the workspace) and calls back once per burst of
 * writes: training scripts save by truncating and rewriting, so reading on the first event
 * would catch half a file.
 */
export class ModelFileWatcher extends Disposable {
	private timer: ReturnType<typeof setTimeout> | undefined;

	constructor(path: string, private readonly on: { changed(): void; deleted(): void }, debounceMs = reanalyzeDebounceMs) {
		super();
		const watcher = this.register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dirname(path)), basename(path))));
		const schedule = (): void => {
			clearTimeout(this.timer);
			this.timer = setTimeout(() => {
				this.timer = undefined;
				this.on.changed();
			}, debounceMs);
		};
		this.register(watcher.onDidChange(schedule));
		this.register(watcher.onDidCreate(schedule));
		this.register(watcher.onDidDelete(() => {
			// A save by rename (write temp, move over) is a delete then a create: wait before saying "deleted".
			clearTimeout(this.timer);
			this.timer = setTimeout(() => {
				this.timer = undefined;
				void vscode.workspace.fs.stat(vscode.Uri.file(path)).then(() => this.on.changed(), () => this.on.deleted());
			}, debounceMs);
		}));
	}

	override dispose(): void {
		clearTimeout(this.timer);
		super.dispose();
	}
}
