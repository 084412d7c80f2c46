/**
 * The panel app: receives the host's messages and hands each to its section (analysis, prune
 * preview, training: webview-ui/src/sections), lays the page out, and keeps only view state
 * (selection, scroll, profile choice) in setState. Everything else it asks the host for.
 */
import { isHostToWebview, isViewState, protocolVersion, upgradeViewState } from '../../src/shared/protocol';
import type { HostToWebview, ViewStateDto, WebviewToHost } from '../../src/shared/protocol';
import { el } from './dom';
import { AnalysisSection } from './sections/analysis';
import { DesignSpaceSection } from './sections/designSpace';
import type { Analysis, SectionContext } from './sections/context';
import { PrunePreviewSection } from './sections/prunePreview';
import { TradeoffSection } from './sections/tradeoff';
import { TrainingSection } from './sections/training';
import { vscode } from './vscodeApi';

export class App implements SectionContext {
	private current: Analysis | undefined;
	private view: ViewStateDto | undefined;
	private requestIds = 1;
	private scrollTimer: ReturnType<typeof setTimeout> | undefined;
	private pendingTimer: ReturnType<typeof setTimeout> | undefined;
	private firstResult = true;
	private readonly analysisSection: AnalysisSection;
	private readonly prune: PrunePreviewSection;
	private readonly designSpace: DesignSpaceSection;
	private readonly tradeoff: TradeoffSection;
	private readonly training: TrainingSection;

	constructor(private readonly root: HTMLElement) {
		const state = vscode.getState();
		this.view = isViewState(state) ? upgradeViewState(state) : undefined;
		this.analysisSection = new AnalysisSection(root, this, (profile) => {
			this.view = { ...this.currentView(), profile };
			this.saveState();
		}, this.view?.selectedCrossbar);
		this.prune = new PrunePreviewSection(root, this);
		this.designSpace = new DesignSpaceSection(root, this);
		this.tradeoff = new TradeoffSection(root, this);
		this.training = new TrainingSection(root, this);
		window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
		window.addEventListener('scroll', () => this.onScroll(), { passive: true });
		window.addEventListener('error', (event) => this.post({ type: 'log/error', message: `${event.message} at ${event.filename}:${event.lineno}` }));
		window.addEventListener('unhandledrejection', (event) => this.post({ type: 'log/error', message: String(event.reason) }));
		this.post({ type: 'webview/ready', protocolVersion });
		this.root.dataset.readyMs = performance.now().toFixed(0);
	}

	// SectionContext

	analysis(): Analysis | undefined {
		return this.current;
	}

	post(message: WebviewToHost): void {
		vscode.postMessage(message);
	}

	nextRequestId(): number {
		return this.requestIds++;
	}

	saveState(): void {
		const view = this.currentView();
		if (view.modelPath) {
			this.view = view;
			vscode.setState(view);
		}
	}

	// Messages

	private receive(data: unknown): void {
		if (!isHostToWebview(data)) {
			return;
		}
		const message: HostToWebview = data;
		switch (message.type) {
			case 'analysis/pending': {
				// Most analyses take a few ms: show "busy" only if this one is still running after 250 ms.
				const pending = { model: message.model, reason: message.reason };
				this.analysisSection.pending = pending;
				clearTimeout(this.pendingTimer);
				this.pendingTimer = setTimeout(() => {
					if (this.analysisSection.pending === pending) this.renderStatus();
				}, 250);
				break;
			}
			case 'analysis/result':
				this.root.dataset.firstResultMs ??= performance.now().toFixed(0);
				this.analysisSection.pending = undefined;
				this.analysisSection.error = undefined;
				this.current = { model: message.model, result: message.result, history: message.history, profileFromSettings: message.profileFromSettings, reason: message.reason, elapsedMs: message.elapsedMs };
				this.prune.onResult();
				this.analysisSection.onResult(message.result);
				this.render();
				this.analysisSection.refreshSelection();
				if (this.firstResult) {
					this.firstResult = false;
					if (this.view?.scrollY) window.scrollTo(0, this.view.scrollY);
				}
				this.saveState();
				break;
			case 'analysis/error':
				this.analysisSection.pending = undefined;
				this.analysisSection.error = message.message;
				if (!this.current) {
					this.render();
				} else {
					this.renderStatus();
				}
				break;
			case 'crossbar/columns':
				this.analysisSection.onCrossbarColumns(message.requestId, message.columns, message.error);
				break;
			case 'layer/reveal':
				if (this.analysisSection.revealLayer(message.layer)) {
					this.view = { ...this.currentView(), selectedLayer: message.layer };
					this.saveState();
				}
				break;
			case 'designSpace/pending':
				this.designSpace.onPending(message.progress);
				break;
			case 'designSpace/result':
				this.designSpace.onResult(message.result);
				break;
			case 'designSpace/error':
				this.designSpace.onError(message.message);
				break;
			case 'prune/presets':
				this.prune.setPresets(message.presets);
				break;
			case 'prune/show':
				this.prune.show();
				break;
			case 'prune/result':
				this.prune.onResultOfPreview(message.requestId, message.preview, message.error);
				break;
			case 'prune/saved':
				this.prune.onSaved(message.path, message.error);
				break;
			case 'training/capability':
				this.training.setCapability(message.capability);
				break;
			case 'training/update':
				this.training.update(message.run);
				break;
			case 'tradeoff/update':
				this.tradeoff.update(message.view);
				break;
		}
	}

	// Layout

	private render(): void {
		const started = performance.now();
		this.analysisSection.clear();
		this.root.replaceChildren();
		this.root.removeAttribute('aria-busy');
		const analysis = this.current;
		if (!analysis) {
			this.root.append(el('div', 'empty-state', this.analysisSection.error ? el('div', 'banner error', this.analysisSection.error) : el('p', 'loading', 'Analyzing…')));
			return;
		}
		const { result } = analysis;
		const section = this.analysisSection;
		this.root.append(
			section.renderHeader(analysis, [this.prune.toggleButton(), this.tradeoff.startButton(), this.training.startButton()]),
			el('div', 'status-slot'),
			el('section', 'training'),
			el('section', 'tradeoff'),
			section.renderTotals(analysis),
			section.renderOverview(result),
			el('section', 'design-space'),
			el('section', 'prune'),
			section.renderLayers(result),
			section.renderWarnings(result),
		);
		this.renderStatus();
		this.training.render();
		this.tradeoff.render();
		this.designSpace.render();
		this.prune.render();
		section.layoutHeatmaps();
		// Exposed for the e2e suite's responsiveness figures (printed, never asserted).
		this.root.dataset.renderMs = (performance.now() - started).toFixed(1);
		this.root.dataset.firstPaintMs ??= performance.now().toFixed(0);
	}

	private renderStatus(): void {
		const slot = this.root.querySelector('.status-slot');
		if (slot) {
			this.analysisSection.renderStatus(slot);
		} else if (!this.current) {
			this.render();
		}
	}

	// View state

	private currentView(): ViewStateDto {
		const modelPath = this.current?.model.path ?? this.view?.modelPath ?? '';
		const profile = this.current && !this.current.profileFromSettings
			? { crossbarSize: this.current.result.profile.crossbarSize, slices: this.current.result.profile.slices, adcLaw: this.current.result.profile.adcLaw, includeLinear: this.current.result.profile.includeLinear }
			: this.current ? undefined : this.view?.profile;
		return { ...this.view, modelPath, profile, selectedCrossbar: this.analysisSection.selection, scrollY: window.scrollY };
	}

	private onScroll(): void {
		this.analysisSection.hideTooltip();
		clearTimeout(this.scrollTimer);
		this.scrollTimer = setTimeout(() => this.saveState(), 250);
	}
}
