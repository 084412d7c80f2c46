import { basename } from 'node:path';
import * as vscode from 'vscode';
import { isAbortError, ModelFormatError } from '../../core/errors';
import { modelDisplayPath } from '../../formats/registry';
import { crossbarColumns } from '../../hardware/analyze';
import type { HardwareProfile, SweepResultDto } from '../../shared/analysis';
import { analysisViewType, Commands } from '../../shared/commandIds';
import { isWebviewToHost, protocolVersion } from '../../shared/protocol';
import type { AnalysisReason, HostToWebview, ModelInfoDto, ProfileChoiceDto, CrossbarColumnsDto, ViewStateDto, WebviewToHost } from '../../shared/protocol';
import type { AnalysisEntry } from '../analysisStore';
import { describeModel } from '../analysisStore';
import { Disposable } from '../disposable';
import { reportError } from '../reportError';
import { analyzeWithProgress } from '../services';
import type { Services } from '../services';
import { affectsProfile, applyChoice, choiceOf, profileFromSettings } from '../settings';
import { ModelFileWatcher } from './modelFileWatcher';
import type { PanelHost } from './panelHost';
import { DesignSpaceSection } from './designSpaceSection';
import { PrunePreviewSection } from './prunePreviewSection';
import { TradeoffSection } from './tradeoffSection';
import { TrainingSection } from './trainingSection';
import { renderWebviewHtml, webviewOptions } from './webviewHtml';

export interface OpenOptions {
	readonly reason: AnalysisReason;
	/** A finished analysis to show at once (the command ran it with a progress notification). */
	readonly entry?: AnalysisEntry;
	readonly preserveFocus?: boolean;
	readonly revealLayer?: string;
	readonly showPrune?: boolean;
	/** Profile switcher values to start from (a CodeLens of an analysis with this profile). */
	readonly choice?: ProfileChoiceDto;
	/** The caller runs the first analysis itself (with a notification) while the webview boots. */
	readonly deferAnalysis?: boolean;
}

/**
 * One analysis panel per model file: it owns the webview, watches the file (re-analysing when
 * a training run saves a new checkpoint), answers the webview's requests, and restores after
 * a window reload through the serializer (its view state names the model). The analysis
 * section lives here; the prune preview and the training section are their own classes
 * (prunePreviewSection.ts, trainingSection.ts), as in the webview (webview-ui/src/sections).
 */
export class AnalysisPanel extends Disposable implements PanelHost {
	private static readonly panels = new Map<string, AnalysisPanel>();

	/** Opens (or reveals) the panel of a model. */
	static open(services: Services, path: string, options: OpenOptions): AnalysisPanel {
		const existing = AnalysisPanel.panels.get(path);
		if (existing) {
			existing.panel.reveal(undefined, options.preserveFocus);
			existing.apply(options);
			return existing;
		}
		// Next to the other crossbar panels if there are any; else beside the training script (or
		// whatever editor is active); in column one when nothing is open.
		const sibling = [...AnalysisPanel.panels.values()].find((p) => p.panel.viewColumn !== undefined);
		const column = sibling?.panel.viewColumn ?? (vscode.window.activeTextEditor || vscode.window.tabGroups.activeTabGroup.activeTab ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active);
		const panel = vscode.window.createWebviewPanel(analysisViewType, AnalysisPanel.title(path), { viewColumn: column, preserveFocus: options.preserveFocus ?? false }, webviewOptions(services.extensionUri));
		const created = new AnalysisPanel(panel, services, path, options.choice);
		created.apply(options);
		return created;
	}

	/** Restores a panel after a window reload (WebviewPanelSerializer). */
	static revive(panel: vscode.WebviewPanel, services: Services, state: ViewStateDto): AnalysisPanel {
		AnalysisPanel.panels.get(state.modelPath)?.dispose();
		const revived = new AnalysisPanel(panel, services, state.modelPath, state.profile);
		void revived.analyze('restore', 'window').catch(() => undefined);
		return revived;
	}

	static get(path: string): AnalysisPanel | undefined {
		return AnalysisPanel.panels.get(path);
	}

	/** The panel the user looked at last (for Export from the palette). */
	static active(): AnalysisPanel | undefined {
		return [...AnalysisPanel.panels.values()].find((p) => p.panel.active) ?? AnalysisPanel.lastFocused;
	}

	private static lastFocused: AnalysisPanel | undefined;

	private static title(path: string): string {
		return `Crossbar · ${basename(modelDisplayPath(path))}`;
	}

	private entry: AnalysisEntry | undefined;
	private inflight: AbortController | undefined;
	private readonly prune: PrunePreviewSection;
	private readonly training: TrainingSection;
	private readonly tradeoff: TradeoffSection;
	private readonly designSpaceSection: DesignSpaceSection;
	private readyOnce = false;
	/** A message could not be delivered (the panel was hidden): replay the state at the next ready. */
	private missed = false;
	private lastError: Extract<HostToWebview, { type: 'analysis/error' }> | undefined;
	/** Size and mtime of the file as the last analysis found it (a watcher event without a change is ignored). */
	private analyzedVersion: string | undefined;

	private constructor(readonly panel: vscode.WebviewPanel, readonly services: Services, readonly path: string, private choice: ProfileChoiceDto | undefined) {
		super();
		AnalysisPanel.panels.set(path, this);
		AnalysisPanel.lastFocused = this;
		panel.iconPath = { light: vscode.Uri.joinPath(services.extensionUri, 'media', 'panel-light.svg'), dark: vscode.Uri.joinPath(services.extensionUri, 'media', 'panel-dark.svg') };
		panel.webview.options = webviewOptions(services.extensionUri);
		panel.webview.html = renderWebviewHtml(panel.webview, services.extensionUri);
		this.register(panel.onDidDispose(() => this.dispose()));
		this.register(panel.webview.onDidReceiveMessage((message: unknown) => this.receive(message)));
		this.register(panel.onDidChangeViewState(({ webviewPanel }) => {
			if (webviewPanel.active) {
				AnalysisPanel.lastFocused = this;
				services.focus.set(this.path);
			}
		}));
		this.register(vscode.workspace.onDidChangeConfiguration((e) => {
			if (affectsProfile(e)) {
				void this.analyze('profile', 'window').catch(() => undefined);
			}
		}));
		this.prune = new PrunePreviewSection(this);
		this.training = this.register(new TrainingSection(this));
		this.tradeoff = this.register(new TradeoffSection(this, services.workspaceState));
		this.designSpaceSection = this.register(new DesignSpaceSection(this));
		this.register(new ModelFileWatcher(path, {
			changed: () => void this.onFileChanged(),
			deleted: () => void this.post({ type: 'analysis/error', model: this.modelInfoFallback(), reason: 'fileChanged', message: `${basename(path)} was deleted or moved; the panel shows its last analysis.` }),
		}));
		services.focus.set(path);
	}

	/** Applies what an open/reveal asked for. */
	private apply(options: OpenOptions): void {
		if (options.choice) {
			this.choice = options.choice;
		}
		if (options.entry) {
			this.showEntry(options.entry, options.reason);
		} else if (!options.deferAnalysis && (!this.entry || options.reason === 'open')) {
			void this.analyze(options.reason, 'window').catch(() => undefined);
		}
		if (options.revealLayer) {
			void this.post({ type: 'layer/reveal', layer: options.revealLayer });
		}
		if (options.showPrune) {
			void this.post({ type: 'prune/show' });
		}
	}

	/** The design space the panel shows, once computed. */
	get designSpace(): SweepResultDto | undefined {
		return this.designSpaceSection.current;
	}

	/** The latest analysis shown in this panel. */
	get current(): AnalysisEntry | undefined {
		return this.entry;
	}

	/** The profile this panel analyses with: settings, with the panel's switcher on top. */
	profile(): HardwareProfile {
		return applyChoice(profileFromSettings(vscode.Uri.file(this.path)), this.choice);
	}

	/** Starts the accuracy–energy trade-off sweep of this panel's model (its quick picks first). */
	async startTradeoff(): Promise<void> {
		this.panel.reveal(undefined, false);
		await this.tradeoff.start();
	}

	revealLayer(layer: string): void {
		this.panel.reveal(undefined, false);
		void this.post({ type: 'layer/reveal', layer });
	}

	/**
	 * Analyzes the file again and shows the result. A newer request cancels an older one; a
	 * failure is shown in the panel (the last good result stays) and rethrown to the caller.
	 */
	async analyze(reason: AnalysisReason, location: 'notification' | 'window' = 'notification'): Promise<AnalysisEntry | undefined> {
		this.inflight?.abort();
		const controller = new AbortController();
		this.inflight = controller;
		let model = this.modelInfoFallback();
		try {
			model = await describeModel(this.path);
			this.analyzedVersion = `${model.sizeBytes}|${model.mtimeMs}`;
			void this.post({ type: 'analysis/pending', model, reason });
			const entry = await analyzeWithProgress(this.services, this.path, this.profile(), {
				location: location === 'notification' ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
				signal: controller.signal,
			});
			if (controller.signal.aborted || this.isDisposed) {
				return undefined;
			}
			this.showEntry(entry, reason);
			return entry;
		} catch (ex) {
			if (isAbortError(ex) || ex instanceof vscode.CancellationError) {
				// Cancelled by the user (not replaced by a newer request): show the last result again.
				if (this.inflight === controller && this.entry && !this.isDisposed) {
					this.showEntry(this.entry, 'refresh');
				}
				throw ex;
			}
			const message = ex instanceof Error ? ex.message : String(ex);
			this.lastError = { type: 'analysis/error', model, reason, message };
			void this.post(this.lastError);
			throw ex;
		} finally {
			if (this.inflight === controller) {
				this.inflight = undefined;
			}
		}
	}

	/** Sends the current analysis (and any running one) to a webview that was reloaded. */
	private replay(): void {
		if (this.entry) {
			this.postResult(this.entry, 'restore');
		}
		if (this.inflight && this.entry) {
			void this.post({ type: 'analysis/pending', model: this.entry.model, reason: 'refresh' });
		}
		if (this.lastError) {
			void this.post(this.lastError);
		}
		this.training.replay();
		this.tradeoff.replay();
		this.designSpaceSection.replay();
	}

	private showEntry(entry: AnalysisEntry, reason: AnalysisReason): void {
		this.entry = entry;
		this.prune.reset();
		this.lastError = undefined;
		this.postResult(entry, reason);
		this.designSpaceSection.update(entry);
	}

	private postResult(entry: AnalysisEntry, reason: AnalysisReason): void {
		const settingsProfile = (() => {
			try {
				return choiceOf(profileFromSettings(vscode.Uri.file(this.path)));
			} catch {
				return undefined;
			}
		})();
		const used = choiceOf(entry.profile);
		const fromSettings = settingsProfile !== undefined && JSON.stringify(settingsProfile) === JSON.stringify(used);
		if (fromSettings) {
			this.choice = undefined;
		}
		this.panel.title = AnalysisPanel.title(this.path);
		void this.post({
			type: 'analysis/result',
			model: entry.model,
			reason,
			result: entry.result,
			history: this.services.store.history(this.path, entry.profileKey),
			profileFromSettings: fromSettings,
			elapsedMs: Math.round(entry.elapsedMs),
		});
	}

	/**
	 * Sends a message to the webview. Before the page has loaded, VS Code queues messages and
	 * hands them over once the page's scripts have run, so the first analysis is not held back by
	 * a ready round trip.
	 */
	async post(message: HostToWebview): Promise<void> {
		if (this.isDisposed) {
			return;
		}
		// A hidden panel has no page (no retainContextWhenHidden): what it missed is replayed when it says ready.
		if (!this.panel.visible || !(await this.panel.webview.postMessage(message))) {
			this.missed = true;
		}
	}

	private receive(message: unknown): void {
		if (!isWebviewToHost(message)) {
			this.services.log.warn(`panel: dropped a malformed message from the webview: ${JSON.stringify(message)?.slice(0, 200)}`);
			return;
		}
		if (message.type === 'webview/ready') {
			if (message.protocolVersion !== protocolVersion) {
				this.services.log.warn(`panel: webview speaks protocol ${message.protocolVersion}, host ${protocolVersion}`);
			}
			// A hidden webview loses its page (no retainContextWhenHidden): when it comes back it
			// says ready again, and gets the current state again; its view state it kept itself.
			const again = this.readyOnce || this.missed;
			this.readyOnce = true;
			this.missed = false;
			this.prune.ready();
			this.training.ready();
			if (again) {
				this.replay();
			}
			return;
		}
		this.handle(message).catch((ex: unknown) => reportError(ex, this.services.log, 'Crossbar panel'));
	}

	private async handle(message: Exclude<WebviewToHost, { type: 'webview/ready' }>): Promise<void> {
		switch (message.type) {
			case 'profile/change':
				this.choice = message.profile;
				await this.analyze('profile', 'window');
				return;
			case 'profile/reset':
				this.choice = undefined;
				await this.analyze('profile', 'window');
				return;
			case 'model/refresh':
				await this.analyze('refresh', 'notification');
				return;
			case 'crossbar/select': {
				try {
					const columns = await this.columnsOfCrossbar(message.layer, message.block, message.group);
					await this.post({ type: 'crossbar/columns', requestId: message.requestId, columns });
				} catch (ex) {
					await this.post({ type: 'crossbar/columns', requestId: message.requestId, error: ex instanceof Error ? ex.message : String(ex) });
					throw ex;
				}
				return;
			}
			case 'report/export':
				await vscode.commands.executeCommand(Commands.exportReport, vscode.Uri.file(this.path), message.format);
				return;
			case 'prune/preview':
				await this.prune.preview(message.requestId, message.spec);
				return;
			case 'prune/save':
				await this.prune.save(message.requestId);
				return;
			case 'log/error':
				this.services.log.error(`webview: ${message.message}`);
				return;
			case 'training/start':
				await this.training.start();
				return;
			case 'training/action':
				await this.training.action(message.runId, message.action);
				return;
			case 'tradeoff/start':
				await this.tradeoff.start();
				return;
			case 'tradeoff/cancel':
				this.tradeoff.cancel();
				return;
		}
	}

	/** Per-column non-zeros of one crossbar, from the counts the analysis kept. */
	private async columnsOfCrossbar(layerName: string, block: number, group: number): Promise<CrossbarColumnsDto> {
		let entry = this.entry;
		if (!entry) {
			throw new Error('No analysis yet.');
		}
		if (!entry.columnCounts) {
			// Another analysis of this file (other profile) replaced the kept counts: recompute quietly.
			entry = await analyzeWithProgress(this.services, this.path, entry.profile, { location: vscode.ProgressLocation.Window });
			this.entry = entry;
		}
		const layer = entry.result.layers.find((l) => l.name === layerName);
		const counts = entry.columnCounts?.get(layerName);
		if (!layer || !counts) {
			throw new Error(`Layer ${layerName} is not in the current analysis.`);
		}
		return crossbarColumns(layer, counts, entry.result.profile, block, group);
	}

	private async onFileChanged(): Promise<void> {
		// A file written just before its panel opened (a fine-tune's output) reports that write late: no change.
		const now = await describeModel(this.path).then((m) => `${m.sizeBytes}|${m.mtimeMs}`, () => undefined);
		if (now !== undefined && now === this.analyzedVersion) {
			return;
		}
		this.prune.reset();
		try {
			await this.analyze('fileChanged', 'window');
		} catch (ex) {
			// A checkpoint caught half written: one more try once the writer is done.
			if (ModelFormatError.is(ex) && (ex.reason === 'truncated' || ex.reason === 'corrupt' || ex.reason === 'empty' || ex.reason === 'bad-magic')) {
				await new Promise((resolve) => setTimeout(resolve, 1000));
				await this.analyze('fileChanged', 'window').catch((again: unknown) => this.services.log.warn(`re-analysis of ${this.path} after a save failed: ${String(again)}`));
			} else if (!isAbortError(ex)) {
				this.services.log.warn(`re-analysis of ${this.path} after a save failed: ${ex instanceof Error ? ex.message : String(ex)}`);
			}
		}
	}

	private modelInfoFallback(): ModelInfoDto {
		return this.entry?.model ?? { path: this.path, label: vscode.workspace.asRelativePath(vscode.Uri.file(this.path), false), sizeBytes: 0, mtimeMs: 0 };
	}

	override dispose(): void {
		if (AnalysisPanel.panels.get(this.path) === this) {
			AnalysisPanel.panels.delete(this.path);
		}
		if (AnalysisPanel.lastFocused === this) {
			AnalysisPanel.lastFocused = undefined;
		}
		if (this.services.focus.path === this.path) {
			this.services.focus.set(AnalysisPanel.lastFocused?.path);
		}
		this.inflight?.abort();
		super.dispose();
		this.panel.dispose();
	}
}
