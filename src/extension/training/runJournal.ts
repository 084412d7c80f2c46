import { existsSync } from 'node:fs';
import type * as vscode from 'vscode';
import { tfjsCheckpointPath } from '../../training/engine';
import { isEngineProcess, processAlive } from '../../training/pytorch/engine';
import type { FineTunePlan } from './fineTuneChoices';

const journalKey = 'crossbarLens.fineTune.inFlight';

/** A fine-tune that was running when the journal was last written. */
export interface InFlightRun {
	readonly runId: string;
	readonly plan: FineTunePlan;
	readonly startedAt: number;
	/** The extension host that ran it (a tfjs run lives in its worker threads). */
	readonly hostPid: number;
	/** The PyTorch engine's process (its task's), once it started. */
	readonly pid?: number;
	/** The file that process writes its events to (followed again after a reload). */
	readonly eventsFile?: string;
}

/**
 * The fine-tunes in flight, in the workspace state: a run is listed when it starts and removed
 * however it ends in this window. A run still listed when the extension starts again was cut off
 * by a window reload or close (the tfjs engine's worker threads end with the extension host; a
 * PyTorch task may live on in its terminal).
 */
export class RunJournal {
	constructor(private readonly state: Pick<vscode.Memento, 'get' | 'update'>) {}

	list(): InFlightRun[] {
		const runs = this.state.get<unknown>(journalKey, []);
		return Array.isArray(runs) ? runs.filter((r): r is InFlightRun => typeof r === 'object' && r !== null && typeof (r as InFlightRun).runId === 'string' && typeof (r as InFlightRun).plan?.outputPath === 'string') : [];
	}

	async add(run: InFlightRun): Promise<void> {
		await this.state.update(journalKey, [...this.list().filter((r) => r.runId !== run.runId), run]);
	}

	async setProcess(runId: string, pid: number, eventsFile: string | undefined): Promise<void> {
		await this.state.update(journalKey, this.list().map((r) => (r.runId === runId ? { ...r, pid, eventsFile } : r)));
	}

	async remove(runId: string): Promise<void> {
		await this.state.update(journalKey, this.list().filter((r) => r.runId !== runId));
	}
}

/** Where a plan's run keeps its resume checkpoint (tfjs: `<output>.checkpoint/`; PyTorch: `<output>.resume.pt`). */
export function resumeCheckpointOf(plan: FineTunePlan): string {
	return plan.engine === 'tfjs' ? tfjsCheckpointPath({ outputPath: plan.outputPath }) : `${plan.outputPath}.resume.pt`;
}

/**
 * What a run in the journal is now, seen from the extension host `self`: still running (a PyTorch
 * task that outlived its window — its process alive and, where that can be read, still the one
 * writing the run's events file — or a run of another window on this workspace, whose extension
 * host lives), resumable from its checkpoint, or lost (no epoch had completed).
 */
export function interruptedRunState(run: InFlightRun, self: number = process.pid, alive: (pid: number) => boolean = processAlive, exists: (path: string) => boolean = existsSync, isEngine: (pid: number, eventsFile: string) => boolean = isEngineProcess): 'running' | 'elsewhere' | 'resumable' | 'lost' {
	if (run.pid !== undefined && (run.eventsFile ? isEngine(run.pid, run.eventsFile) : alive(run.pid))) return 'running';
	if (run.hostPid !== self && alive(run.hostPid)) return 'elsewhere';
	return exists(resumeCheckpointOf(run.plan)) ? 'resumable' : 'lost';
}
