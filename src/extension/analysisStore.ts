import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { ModelFormatError } from '../core/errors';
import { modelDisplayPath, openModel } from '../formats/registry';
import { analyzeGraph } from '../hardware/analyze';
import type { ColumnCounts } from '../hardware/columnCounts';
import type { AnalysisResultDto, HardwareProfile } from '../shared/analysis';
import { formatBytes, formatImprovement } from '../shared/format';
import type { HistoryPointDto, ModelInfoDto } from '../shared/protocol';
import { profileKey } from './settings';

/** One finished analysis of one version of a model file under one profile. */
export interface AnalysisEntry {
	readonly model: ModelInfoDto;
	readonly profile: HardwareProfile;
	readonly profileKey: string;
	readonly result: AnalysisResultDto;
	/** Per-column counts for the crossbar drill-down (kept for the newest entry of each file only). */
	columnCounts?: ReadonlyMap<string, ColumnCounts>;
	readonly finishedAt: number;
	readonly elapsedMs: number;
}

export interface AnalyzeRequest {
	readonly signal?: AbortSignal;
	readonly onProgress?: (done: number, total: number, layer: string) => void;
}

const historyKey = 'crossbarLens.history.v1';
const maxHistoryPoints = 60;
const maxCachedFiles = 24;

type StoredHistory = Record<string, Record<string, HistoryPointDto[]>>;

/**
 * Runs analyses and remembers their results: the newest per (file, profile) feeds the panel,
 * the CodeLens and the status bar without reading a model again; the history of each file
 * across saves (one point per modification time) survives reloads in workspaceState.
 */
export class AnalysisStore implements vscode.Disposable {
	private readonly entries = new Map<string, Map<string, AnalysisEntry>>();
	private readonly changed = new vscode.EventEmitter<AnalysisEntry>();
	/** Fires after every successful analysis. */
	readonly onDidAnalyze = this.changed.event;

	constructor(private readonly state: vscode.Memento, private readonly log: vscode.LogOutputChannel) {}

	/** Reads and analyzes a model file (tensors one at a time, cancellable between layers). */
	async analyze(path: string, profile: HardwareProfile, request: AnalyzeRequest = {}): Promise<AnalysisEntry> {
		const started = performance.now();
		const model = await describeModel(path);
		const graph = await openModel(path, { inputSize: profile.inputSize, signal: request.signal }, path);
		let run;
		try {
			run = await analyzeGraph(graph, profile, { signal: request.signal, onProgress: request.onProgress, keepColumnCounts: true });
		} finally {
			await graph.close();
		}
		const elapsedMs = performance.now() - started;
		const entry: AnalysisEntry = {
			model,
			profile,
			profileKey: profileKey(profile),
			result: run.result,
			columnCounts: run.columnCounts,
			finishedAt: Date.now(),
			elapsedMs,
		};
		this.remember(entry);
		await this.recordHistory(entry);
		this.log.info(`analyzed ${model.label} (${formatBytes(model.sizeBytes)}) in ${elapsedMs.toFixed(0)} ms: ${run.result.totals.tiles} crossbars, improvement ${formatImprovement(run.result.totals.adcEnergyImprovement)} [${entry.profileKey}]`);
		this.changed.fire(entry);
		return entry;
	}

	/** The newest analysis of a file, under one profile key or any. */
	latest(path: string, key?: string): AnalysisEntry | undefined {
		const perProfile = this.entries.get(path);
		if (!perProfile) {
			return undefined;
		}
		if (key !== undefined) {
			return perProfile.get(key);
		}
		return [...perProfile.values()].sort((a, b) => b.finishedAt - a.finishedAt)[0];
	}

	/** The newest analysis of every file under one profile key, newest first. */
	all(key: string): AnalysisEntry[] {
		return [...this.entries.values()].map((m) => m.get(key)).filter((e): e is AnalysisEntry => e !== undefined).sort((a, b) => b.finishedAt - a.finishedAt);
	}

	/** The improvement of a file across its saves, under one profile, oldest first. */
	history(path: string, key: string): HistoryPointDto[] {
		return this.state.get<StoredHistory>(historyKey, {})[path]?.[key] ?? [];
	}

	forget(path: string): void {
		this.entries.delete(path);
	}

	dispose(): void {
		this.changed.dispose();
	}

	private remember(entry: AnalysisEntry): void {
		const path = entry.model.path;
		const perProfile = this.entries.get(path) ?? new Map<string, AnalysisEntry>();
		// Column counts are the one large part; keep them for the newest entry of the file only.
		// Analyses of an earlier save of the file are stale for every profile: forget them.
		for (const [key, other] of perProfile) {
			other.columnCounts = undefined;
			if (other.model.mtimeMs !== entry.model.mtimeMs || other.model.sizeBytes !== entry.model.sizeBytes) {
				perProfile.delete(key);
			}
		}
		perProfile.set(entry.profileKey, entry);
		this.entries.delete(path);
		this.entries.set(path, perProfile);
		while (this.entries.size > maxCachedFiles) {
			const oldest = this.entries.keys().next().value as string;
			this.entries.delete(oldest);
		}
	}

	private async recordHistory(entry: AnalysisEntry): Promise<void> {
		const all = { ...this.state.get<StoredHistory>(historyKey, {}) };
		const perProfile = { ...(all[entry.model.path] ?? {}) };
		const points = (perProfile[entry.profileKey] ?? []).filter((p) => p.mtimeMs !== entry.model.mtimeMs);
		const { totals } = entry.result;
		points.push({ mtimeMs: entry.model.mtimeMs, improvement: totals.adcEnergyImprovement, adcBits: totals.adcBits, adcBitsDense: totals.adcBitsDense, zeros: totals.zeros, weights: totals.weights });
		points.sort((a, b) => a.mtimeMs - b.mtimeMs);
		perProfile[entry.profileKey] = points.slice(-maxHistoryPoints);
		all[entry.model.path] = perProfile;
		// Keep the stored history small: the 50 most recently analysed files.
		const paths = Object.keys(all);
		if (paths.length > 50) {
			delete all[paths[0]];
		}
		await this.state.update(historyKey, all);
	}
}

/** Size, modification time and a workspace-relative label of a model file. */
export async function describeModel(path: string): Promise<ModelInfoDto> {
	let stat;
	try {
		stat = await fs.stat(path);
	} catch (ex) {
		const code = (ex as NodeJS.ErrnoException).code;
		throw new ModelFormatError(code === 'ENOENT' ? 'not-found' : 'unreadable', `${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(ex)})`}.`);
	}
	// A sharded model is named by its folder (modelDisplayPath); its size is the index's.
	const uri = vscode.Uri.file(modelDisplayPath(path));
	const label = vscode.workspace.getWorkspaceFolder(uri) ? vscode.workspace.asRelativePath(uri, false) : basename(uri.fsPath);
	return { path, label, sizeBytes: stat.size, mtimeMs: stat.mtimeMs };
}
