import { basename, dirname, extname } from 'node:path';
import * as vscode from 'vscode';
import { isAbortError } from '../../core/errors';
import { openFileSource } from '../../formats/byteSource';
import { hasSuffix, openModel, openModelSource, shardIndexSuffix } from '../../formats/registry';
import { writeModel } from '../../formats/writers';
import { pruneGraph } from '../../pruning/pruneModel';
import type { PruneOutcome, PruneSpec } from '../../pruning/pruneModel';
import { ratioPresets } from '../../pruning/ratios';
import type { HardwareProfile } from '../../shared/analysis';
import { Commands } from '../../shared/commandIds';
import type { PrunePresetDto, PruneSpecDto } from '../../shared/protocol';
import { describeModel } from '../analysisStore';
import { abortSignalFor } from '../reportError';
import type { PanelHost } from './panelHost';

/** The panel's spec as pruneModel's (the method names are the CLI's). */
export function toPruneSpec(spec: PruneSpecDto): PruneSpec {
	if (spec.method === 'dub-tol') {
		return { method: 'dub-tol', pruneTol: spec.tol ?? 1e-3 };
	}
	return { method: 'dub', ratios: spec.preset !== undefined ? { preset: spec.preset } : { ratio: spec.ratioPercent ?? 50 } };
}

/** The ratio presets of docs/method.md §6.2, for the panel's preset picker. */
export function prunePresets(): PrunePresetDto[] {
	return Object.values(ratioPresets).map((preset) => ({ id: preset.id, label: preset.description, layers: preset.ratios.length }));
}

interface PendingPrune {
	readonly profile: HardwareProfile;
	readonly outcome: PruneOutcome;
	readonly mtimeMs: number;
}

/**
 * The panel's prune preview: a one-shot D.U.B. prune computed in memory (src/pruning), kept
 * until the user saves it as a new file through the format's writer, or until the model changes.
 */
export class PrunePreviewSection {
	private pending: PendingPrune | undefined;

	constructor(private readonly host: PanelHost) {}

	/** The webview (re)loaded: it needs the presets. */
	ready(): void {
		void this.host.post({ type: 'prune/presets', presets: prunePresets() });
	}

	/** The model was analysed again or changed: a preview of the old weights can no longer be saved. */
	reset(): void {
		this.pending = undefined;
	}

	async preview(requestId: number, spec: PruneSpecDto): Promise<void> {
		const { path } = this.host;
		// As the CLI: with dub-tol θ is the pruning threshold, and the analysis counts exact zeros.
		const profile = spec.method === 'dub-tol' ? { ...this.host.profile(), tol: 0 } : this.host.profile();
		const model = await describeModel(path);
		const started = performance.now();
		try {
			const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Crossbar: D.U.B. prune preview of ${basename(path)}`, cancellable: true }, async (progress, token) => {
				const abort = abortSignalFor(token);
				try {
					const graph = await openModel(path, { inputSize: profile.inputSize, signal: abort.signal }, path);
					try {
						return await pruneGraph(graph, profile, toPruneSpec(spec), {
							signal: abort.signal,
							onProgress: (done, total, layer) => progress.report({ message: `${layer} (${done}/${total})`, increment: 100 / total }),
						});
					} finally {
						await graph.close();
					}
				} finally {
					abort.dispose();
				}
			});
			this.pending = { profile, outcome, mtimeMs: model.mtimeMs };
			await this.host.post({ type: 'prune/result', requestId, preview: { spec, before: outcome.before, after: outcome.after, ...(outcome.unstructured ? { unstructured: outcome.unstructured } : {}), elapsedMs: Math.round(performance.now() - started) } });
		} catch (ex) {
			await this.host.post({ type: 'prune/result', requestId, error: isAbortError(ex) ? 'Cancelled.' : ex instanceof Error ? ex.message : String(ex) });
			if (!isAbortError(ex)) throw ex;
		}
	}

	/** Saves the last preview as a new file the user picks; the original is never overwritten. */
	async save(requestId: number): Promise<void> {
		const { path } = this.host;
		const pending = this.pending;
		if (!pending) {
			await this.host.post({ type: 'prune/saved', requestId, error: 'Preview a prune first.' });
			return;
		}
		const changed = async (): Promise<boolean> => (await describeModel(path)).mtimeMs !== pending.mtimeMs;
		if (await changed()) {
			await this.host.post({ type: 'prune/saved', requestId, error: `${basename(path)} changed since the preview; preview again.` });
			return;
		}
		// A sharded model keeps its shard names, so its copy goes to a sibling folder.
		const ext = extname(path);
		const defaultUri = vscode.Uri.file(hasSuffix(path, [shardIndexSuffix]) ? `${dirname(path)}.dub/${basename(path)}` : `${dirname(path)}/${basename(path, ext)}.dub${ext}`);
		const target = await vscode.window.showSaveDialog({ defaultUri, title: 'Save the pruned model as', saveLabel: 'Save pruned model' });
		if (!target) {
			await this.host.post({ type: 'prune/saved', requestId });
			return;
		}
		if (target.fsPath === path) {
			await this.host.post({ type: 'prune/saved', requestId, error: 'Choose a new file: the original model is never overwritten.' });
			return;
		}
		// A training run may have saved a new checkpoint while the dialog was open.
		if (await changed()) {
			await this.host.post({ type: 'prune/saved', requestId, error: `${basename(path)} changed since the preview; preview again.` });
			return;
		}
		let notes: string[];
		try {
			notes = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Crossbar: writing ${basename(target.fsPath)}` }, async () => {
				const source = await openFileSource(path);
				const graph = await openModelSource(source, { inputSize: pending.profile.inputSize });
				try {
					// The save dialog already asked before replacing a file; the input itself is always refused.
					return await writeModel(source, graph, pending.outcome.updates, target.fsPath, { force: true, inputPath: path });
				} finally {
					await graph.close();
				}
			});
		} catch (ex) {
			await this.host.post({ type: 'prune/saved', requestId, error: ex instanceof Error ? ex.message : String(ex) });
			throw ex;
		}
		await this.host.post({ type: 'prune/saved', requestId, path: target.fsPath });
		// What the writer did beyond the weights (prune masks kept, a whole pickled model saved as its state_dict, …).
		for (const note of notes) this.host.services.log.info(`prune: ${note}`);
		void vscode.window.showInformationMessage(`Pruned model saved: ${vscode.workspace.asRelativePath(target)}${notes.length > 0 ? ` (${notes.join(' ')})` : ''}`, 'Analyze', 'Reveal').then((choice) => {
			if (choice === 'Analyze') void vscode.commands.executeCommand(Commands.analyzeModel, target);
			if (choice === 'Reveal') void vscode.commands.executeCommand('revealInExplorer', target);
		});
	}
}
