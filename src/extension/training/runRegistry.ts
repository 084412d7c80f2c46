import * as vscode from 'vscode';
import type { TrainingRunDto } from '../../shared/training';

interface RunEntry {
	view: TrainingRunDto;
	cancel?: () => void;
}

/**
 * The fine-tune runs of this window, by id: the panels of the input and output models show the
 * latest view of the run that concerns them (also when opened or restored later), and the
 * panel's Cancel reaches the run. Runs stay listed after they end, so their curves and table
 * remain in the panels until the window closes.
 */
export class TrainingRunRegistry implements vscode.Disposable {
	private readonly runs = new Map<string, RunEntry>();
	private readonly changed = new vscode.EventEmitter<TrainingRunDto>();
	readonly onDidChange = this.changed.event;

	/** Publishes a run's new state. */
	update(view: TrainingRunDto, cancel?: () => void): void {
		const entry = this.runs.get(view.runId);
		this.runs.set(view.runId, { view, cancel: view.status === 'running' ? (cancel ?? entry?.cancel) : undefined });
		this.changed.fire(view);
	}

	get(runId: string): TrainingRunDto | undefined {
		return this.runs.get(runId)?.view;
	}

	/** Asks a running run to stop (its engine keeps the last checkpoint); false when it is not running. */
	cancel(runId: string): boolean {
		const entry = this.runs.get(runId);
		if (!entry?.cancel || entry.view.status !== 'running') return false;
		entry.cancel();
		return true;
	}

	/** The runs still going. */
	running(): TrainingRunDto[] {
		return [...this.runs.values()].map((e) => e.view).filter((v) => v.status === 'running');
	}

	/** The finished runs that started from this model, oldest first. */
	finished(path: string): TrainingRunDto[] {
		return [...this.runs.values()].map((e) => e.view).filter((v) => v.modelPath === path && v.status === 'done').sort((a, b) => a.startedAt - b.startedAt);
	}

	/** The latest run that trains this model, or that wrote it. */
	forPath(path: string): TrainingRunDto | undefined {
		let found: TrainingRunDto | undefined;
		for (const { view } of this.runs.values()) {
			if (concerns(view, path) && (!found || view.startedAt >= found.startedAt)) found = view;
		}
		return found;
	}

	/**
	 * At a window reload or close: a TensorFlow.js run (worker threads of this extension host) is
	 * stopped, which keeps its last checkpoint. A PyTorch run is left to its task, whose terminal
	 * outlives a reload: the next window follows it (offerInterruptedRuns).
	 */
	dispose(): void {
		for (const entry of this.runs.values()) {
			if (entry.view.engine !== 'pytorch') entry.cancel?.();
		}
		this.runs.clear();
		this.changed.dispose();
	}
}

/** A run is shown in the panel of its input model, and in its output's once that file exists. */
export function concerns(view: TrainingRunDto, path: string): boolean {
	return view.modelPath === path || (view.outputPath === path && view.outputWritten);
}
