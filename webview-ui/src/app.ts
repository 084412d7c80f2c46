import type { AdcLaw, AnalysisResultDto, LayerAnalysisDto } from '../../src/shared/analysis';
import { adcLaws } from '../../src/shared/analysis';
import { describeLevel } from '../../src/shared/levelPalette';
import { isHostToWebview, isViewState, protocolVersion } from '../../src/shared/protocol';
import type { AnalysisReason, ExportFormat, HistoryPointDto, HostToWebview, ModelInfoDto, ProfileChoiceDto, PruneCapabilityDto, PrunePreviewDto, PruneSpecDto, TileColumnsDto, TrainingAction, TrainingCapabilityDto, ViewStateDto } from '../../src/shared/protocol';
import type { TrainingPointDto, TrainingRunDto, TrainingSeries } from '../../src/shared/training';
import { columnBars, levelHistogram, levelLegend, lineChart, sparkline } from './charts';
import type { LineSeries } from './charts';
import { badge, button, checkbox, progressRing, select, textField } from './components';
import { bytes, compact, formatImprovement, integer, percent, picojoules, shortRatio, time } from './format';
import { Heatmap } from './heatmap';
import type { TileRef } from './heatmap';
import { vscode } from './vscodeApi';

interface Analysis {
	readonly model: ModelInfoDto;
	readonly result: AnalysisResultDto;
	readonly history: HistoryPointDto[];
	readonly profileFromSettings: boolean;
	readonly reason: AnalysisReason;
	readonly elapsedMs: number;
}

interface PruneState {
	open: boolean;
	capability?: PruneCapabilityDto;
	spec: PruneSpecDto;
	busy: boolean;
	preview?: PrunePreviewDto;
	error?: string;
	saved?: string;
}

const tileSizes = [16, 32, 64, 128, 256, 512, 1024];
const sliceCounts = [1, 2, 4, 8, 16];

/** Element factory: `el('div', 'class', children…)`. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, ...children: (Node | string | undefined | false)[]): HTMLElementTagNameMap[K] {
	const element = document.createElement(tag);
	if (className) element.className = className;
	for (const child of children) {
		if (child !== undefined && child !== false) element.append(child);
	}
	return element;
}

/**
 * The panel app: renders the analysis it is sent, keeps only view state (selection, scroll,
 * profile choice) in setState, and asks the host for everything else.
 */
export class App {
	private analysis: Analysis | undefined;
	private pending: { model: ModelInfoDto; reason: AnalysisReason } | undefined;
	private error: string | undefined;
	private view: ViewStateDto | undefined;
	private selectedTile: { layer: string; row: number; col: number } | undefined;
	private tileColumns: TileColumnsDto | undefined;
	private tileError: string | undefined;
	private readonly heatmaps = new Map<string, Heatmap>();
	private readonly prune: PruneState = { open: false, busy: false, spec: { variant: 'fixed', ratioPercent: 50 } };
	private nextRequestId = 1;
	private tileRequest = 0;
	private pruneRequest = 0;
	private readonly tooltip = el('div', 'tooltip');
	private observer: IntersectionObserver | undefined;
	private scrollTimer: ReturnType<typeof setTimeout> | undefined;
	private pendingTimer: ReturnType<typeof setTimeout> | undefined;
	private firstResult = true;
	private training: TrainingRunDto | undefined;
	private trainingCapability: TrainingCapabilityDto | undefined;

	constructor(private readonly root: HTMLElement) {
		const state = vscode.getState();
		this.view = isViewState(state) ? state : undefined;
		this.selectedTile = this.view?.selectedTile;
		this.tooltip.setAttribute('role', 'tooltip');
		document.body.append(this.tooltip);
		window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
		window.addEventListener('scroll', () => this.onScroll(), { passive: true });
		window.addEventListener('resize', () => this.layoutHeatmaps());
		// VS Code swaps the body's theme class; heatmap separators use theme colours.
		new MutationObserver(() => this.heatmaps.forEach((h) => h.draw())).observe(document.body, { attributes: true, attributeFilter: ['class'] });
		window.addEventListener('error', (event) => vscode.postMessage({ type: 'log/error', message: `${event.message} at ${event.filename}:${event.lineno}` }));
		window.addEventListener('unhandledrejection', (event) => vscode.postMessage({ type: 'log/error', message: String(event.reason) }));
		vscode.postMessage({ type: 'webview/ready', protocolVersion });
		this.root.dataset.readyMs = performance.now().toFixed(0);
	}

	private receive(data: unknown): void {
		if (!isHostToWebview(data)) {
			return;
		}
		const message: HostToWebview = data;
		switch (message.type) {
			case 'analysis/pending': {
				// Most analyses take a few ms: show "busy" only if this one is still running after 250 ms.
				const pending = { model: message.model, reason: message.reason };
				this.pending = pending;
				clearTimeout(this.pendingTimer);
				this.pendingTimer = setTimeout(() => {
					if (this.pending === pending) this.renderStatus();
				}, 250);
				break;
			}
			case 'analysis/result':
				this.root.dataset.firstResultMs ??= performance.now().toFixed(0);
				this.pending = undefined;
				this.error = undefined;
				this.analysis = { model: message.model, result: message.result, history: message.history, profileFromSettings: message.profileFromSettings, reason: message.reason, elapsedMs: message.elapsedMs };
				this.prune.preview = undefined;
				this.prune.saved = undefined;
				if (this.selectedTile && !message.result.layers.some((l) => l.name === this.selectedTile?.layer && l.grid.rows > this.selectedTile.row && l.grid.cols > this.selectedTile.col)) {
					this.selectedTile = undefined;
				}
				this.tileColumns = undefined;
				this.render();
				if (this.selectedTile) {
					this.requestTile(this.selectedTile.layer, this.selectedTile);
				}
				if (this.firstResult) {
					this.firstResult = false;
					if (this.view?.scrollY) window.scrollTo(0, this.view.scrollY);
				}
				this.saveState();
				break;
			case 'analysis/error':
				this.pending = undefined;
				this.error = message.message;
				if (!this.analysis) {
					this.render();
				} else {
					this.renderStatus();
				}
				break;
			case 'tile/columns':
				if (message.requestId !== this.tileRequest) return;
				this.tileColumns = message.columns;
				this.tileError = message.error;
				this.renderTileDetail();
				break;
			case 'layer/reveal':
				this.revealLayer(message.layer);
				break;
			case 'prune/capability':
				this.prune.capability = message.capability;
				if (this.analysis) this.renderPrune();
				break;
			case 'prune/show':
				this.prune.open = true;
				if (this.analysis) {
					this.renderPrune();
					this.root.querySelector('.prune')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
				}
				break;
			case 'prune/result':
				if (message.requestId !== this.pruneRequest) return;
				this.prune.busy = false;
				this.prune.preview = message.preview;
				this.prune.error = message.error;
				this.renderPrune();
				break;
			case 'prune/saved':
				this.prune.busy = false;
				this.prune.saved = message.path;
				this.prune.error = message.error;
				this.renderPrune();
				break;
			case 'training/capability':
				this.trainingCapability = message.capability;
				this.updateTrainingButton();
				break;
			case 'training/update':
				this.training = message.run;
				this.renderTraining();
				break;
		}
	}

	// -------------------------------------------------------------------------------------------
	// Rendering

	private render(): void {
		const started = performance.now();
		this.observer?.disconnect();
		this.heatmaps.clear();
		this.root.replaceChildren();
		this.root.removeAttribute('aria-busy');
		const analysis = this.analysis;
		if (!analysis) {
			this.root.append(el('div', 'empty-state', this.error ? el('div', 'banner error', this.error) : el('p', 'loading', 'Analyzing…')));
			return;
		}
		const { result } = analysis;
		this.root.append(
			this.renderHeader(analysis),
			el('div', 'status-slot'),
			el('section', 'training'),
			this.renderTotals(analysis),
			this.renderOverview(result),
			el('section', 'prune'),
			this.renderLayers(result),
			this.renderWarnings(result),
		);
		this.renderStatus();
		this.renderTraining();
		this.renderPrune();
		this.layoutHeatmaps();
		// Exposed for the e2e suite's responsiveness figures (printed, never asserted).
		this.root.dataset.renderMs = (performance.now() - started).toFixed(1);
		this.root.dataset.firstPaintMs ??= performance.now().toFixed(0);
	}

	private renderHeader(analysis: Analysis): HTMLElement {
		const { model, result } = analysis;
		const name = model.label.split(/[\\/]/).pop() ?? model.label;
		const title = el('div', 'title-row',
			el('div', 'title',
				el('h1', 'model-name', name),
				el('div', 'meta', `${model.label} · ${result.format} · ${bytes(model.sizeBytes)} · saved ${time(model.mtimeMs)} · analyzed in ${analysis.elapsedMs} ms`)),
			el('div', 'actions',
				button('Refresh', () => vscode.postMessage({ type: 'model/refresh' }), { secondary: true, title: 'Analyze the file again', testId: 'refresh' }),
				button('Prune preview…', () => {
					this.prune.open = !this.prune.open;
					this.renderPrune();
					if (this.prune.open) this.root.querySelector('.prune')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
				}, { secondary: true, title: 'One-shot D.U.B. prune, computed here and saved only when you ask', testId: 'prune-toggle' }),
				this.trainingButton(),
				this.exportButtons()));
		const profile = result.profile;
		const choice: ProfileChoiceDto = { tileRows: profile.tileRows, slices: profile.slices, adcLaw: profile.adcLaw, includeLinear: profile.includeLinear };
		const change = (patch: Partial<ProfileChoiceDto>): void => {
			const next = { ...choice, ...patch };
			if (next.slices > next.tileRows) next.slices = 1;
			this.view = { ...this.currentView(), profile: next };
			this.saveState();
			vscode.postMessage({ type: 'profile/change', profile: next });
		};
		const bar = el('div', 'profile-bar',
			select('Crossbar', tileSizes.map((t) => ({ value: String(t), label: `${t}×${t}` })), String(profile.tileRows), (v) => change({ tileRows: Number(v) }), 'tile-size'),
			select('Slices', sliceCounts.filter((q) => q <= profile.tileRows).map((q) => ({ value: String(q), label: String(q) })), String(profile.slices), (v) => change({ slices: Number(v) }), 'slices'),
			select('ADC law', adcLaws.map((law) => ({ value: law, label: law })), profile.adcLaw, (v) => change({ adcLaw: v as AdcLaw }), 'adc-law'),
			checkbox('Include linear layers', profile.includeLinear, (checked) => change({ includeLinear: checked }), 'include-linear'),
			el('span', 'profile-source', analysis.profileFromSettings ? 'from settings' : 'panel only'),
			analysis.profileFromSettings ? undefined : button('Use settings', () => {
				this.view = { ...this.currentView(), profile: undefined };
				this.saveState();
				vscode.postMessage({ type: 'profile/reset' });
			}, { secondary: true, title: 'Back to the crossbarLens.hardware.* settings', testId: 'profile-reset' }),
			el('span', 'law', `${result.adcLaw.formula}`),
		);
		bar.querySelector('.law')?.setAttribute('title', result.adcLaw.source);
		return el('header', 'header', title, bar);
	}

	private exportButtons(): HTMLElement {
		const group = el('div', 'export-group');
		const formats: [ExportFormat, string][] = [['html', 'Export HTML'], ['json', 'JSON'], ['csv', 'CSV']];
		for (const [format, label] of formats) {
			group.append(button(label, () => vscode.postMessage({ type: 'report/export', format }), { secondary: format !== 'html', title: `Export the crossbar report as ${format.toUpperCase()}`, testId: `export-${format}` }));
		}
		return group;
	}

	/** Busy ring and banners; cheap to redraw without touching the heatmaps. */
	private renderStatus(): void {
		const slot = this.root.querySelector('.status-slot');
		if (!slot) {
			if (!this.analysis) this.render();
			return;
		}
		slot.replaceChildren();
		document.body.classList.toggle('is-pending', this.pending !== undefined);
		if (this.pending) {
			const why: Record<AnalysisReason, string> = { open: 'Analyzing…', profile: 'Re-analyzing with the new profile…', fileChanged: 'The file changed: re-analyzing…', refresh: 'Re-analyzing…', restore: 'Restoring…' };
			slot.append(el('div', 'banner info', progressRing('Analyzing'), why[this.pending.reason]));
		} else if (this.error) {
			slot.append(el('div', 'banner error', `${this.error}`, this.analysis ? el('span', 'muted', ' — showing the last successful analysis.') : undefined));
		} else if (this.analysis?.reason === 'fileChanged') {
			slot.append(el('div', 'banner info', `Re-analyzed after a save at ${time(this.analysis.model.mtimeMs)}.`));
		}
	}

	private renderTotals(analysis: Analysis): HTMLElement {
		const { result, history } = analysis;
		const t = result.totals;
		const card = (label: string, value: string, detail: string, testId: string, extra = ''): HTMLElement => {
			const c = el('div', `card ${extra}`, el('div', 'card-label', label), el('div', 'card-value', value), el('div', 'card-detail', detail));
			c.dataset.testid = testId;
			return c;
		};
		const section = el('section', 'totals');
		section.setAttribute('aria-label', 'Totals');
		section.append(
			card('ADC energy improvement', formatImprovement(t.adcEnergyImprovement), `${result.adcLaw.name} law · dense ÷ current, per crossbar`, 'improvement', 'hero'),
			card('Crossbars', integer(t.tiles), `${result.profile.tileRows}×${result.profile.tileRows} · ${t.layers} layer${t.layers === 1 ? '' : 's'} · ${result.profile.outputChannelsPerCrossbar} channels each`, 'tiles'),
			card('ADC bits', `${integer(t.adcBitsDense)} → ${integer(t.adcBits)}`, 'Σ over crossbars, dense → current', 'adc-bits'),
			card('ADC energy', `${compact(t.adcEnergyDense)} → ${compact(t.adcEnergy)}`, `in units of the ${result.adcLaw.name} law`, 'adc-energy'),
			card('Zero weights', percent(t.zeros, t.weights), `${integer(t.zeros)} of ${integer(t.weights)}`, 'zeros'),
		);
		if (t.perInference) {
			section.append(card('Per inference', `${picojoules(t.perInference.adcEnergyPjDense)} → ${picojoules(t.perInference.adcEnergyPj)}`, `${integer(t.perInference.crossbarActivations)} activations · ${shortRatio(t.perInference.adcEnergyImprovement)}`, 'per-inference'));
		}
		const historyCard = el('div', 'card history');
		historyCard.dataset.testid = 'history';
		historyCard.append(el('div', 'card-label', 'Across saves'));
		if (history.length > 1) {
			const first = history[0];
			const last = history[history.length - 1];
			historyCard.append(sparkline(history), el('div', 'card-detail', `${shortRatio(first.improvement)} → ${shortRatio(last.improvement)} over ${history.length} saves`));
			const list = el('ol', 'history-list');
			for (const point of history.slice(-4).reverse()) {
				list.append(el('li', undefined, `${time(point.mtimeMs)} · ${shortRatio(point.improvement)}`));
			}
			historyCard.append(list);
		} else {
			historyCard.append(el('div', 'card-value small', history.length === 1 ? '1 save' : '–'), el('div', 'card-detail', 'Re-analyzed when a training run saves this file again.'));
		}
		section.append(historyCard);
		return section;
	}

	private renderOverview(result: AnalysisResultDto): HTMLElement {
		const bins = result.profile.sparsityBins;
		const histogramBox = el('div', 'box', el('h2', undefined, 'Crossbars per level'), levelHistogram(result.totals.levelHistogram, bins, { label: 'Crossbars per level, whole model' }), levelLegend(bins));
		histogramBox.dataset.testid = 'model-histogram';
		const max = Math.max(...result.layers.map((l) => l.adcEnergyDense), 1);
		const bars = el('div', 'energy-bars');
		for (const layer of result.layers) {
			const track = el('div', 'energy-track');
			const dense = el('div', 'energy-dense');
			dense.style.width = `${(100 * layer.adcEnergyDense) / max}%`;
			const current = el('div', 'energy-current');
			current.style.width = `${(100 * layer.adcEnergy) / max}%`;
			track.append(dense, current);
			const row = el('button', 'energy-row', el('span', 'energy-name', layer.name), track, el('span', 'energy-ratio', shortRatio(layer.adcEnergyImprovement)));
			row.title = `${layer.name}: ADC energy ${compact(layer.adcEnergyDense)} dense → ${compact(layer.adcEnergy)} (${formatImprovement(layer.adcEnergyImprovement)}); click to show the layer`;
			row.addEventListener('click', () => this.revealLayer(layer.name));
			bars.append(row);
		}
		const energyBox = el('div', 'box', el('h2', undefined, 'ADC energy per layer'), el('div', 'energy-legend', el('span', 'key dense', 'dense'), el('span', 'key current', 'current')), bars);
		energyBox.dataset.testid = 'energy-bars';
		return el('section', 'overview', histogramBox, energyBox);
	}

	private renderLayers(result: AnalysisResultDto): HTMLElement {
		const section = el('section', 'layers', el('h2', undefined, `Layers (${result.layers.length})`), el('p', 'hint', `Each cell is one crossbar: rows are blocks of ${result.profile.tileRows} inputs, columns are groups of ${result.profile.outputChannelsPerCrossbar} output channels; colour = level (ADC bits). Hover for numbers, click for the crossbar's columns.`));
		const bins = result.profile.sparsityBins;
		this.observer = new IntersectionObserver((entries) => {
			for (const entry of entries) {
				if (!entry.isIntersecting) continue;
				const name = (entry.target as HTMLElement).dataset.layer ?? '';
				const heatmap = this.heatmaps.get(name);
				if (heatmap && !heatmap.canvas.dataset.drawMs) heatmap.draw();
			}
		}, { rootMargin: '400px 0px' });
		for (const layer of result.layers) {
			section.append(this.renderLayer(layer, bins));
		}
		return section;
	}

	private renderLayer(layer: LayerAnalysisDto, bins: number): HTMLElement {
		const article = el('article', 'layer');
		article.dataset.layer = layer.name;
		article.id = `layer-${layer.name}`;
		const heatmap = new Heatmap(layer, bins, {
			hover: (tile, event) => this.showTooltip(layer, tile, event),
			select: (tile) => this.selectTile(layer.name, tile),
		});
		this.heatmaps.set(layer.name, heatmap);
		if (this.selectedTile?.layer === layer.name) {
			heatmap.setSelected(this.selectedTile);
		}
		const head = el('header', 'layer-head',
			el('h3', 'layer-name', layer.name),
			el('span', 'layer-kind', `${layer.kind} ${layer.shape.join('×')}`),
			el('span', 'layer-stat', `matrix ${layer.matrix[0]}×${layer.matrix[1]}`),
			el('span', 'layer-stat', `${layer.grid.rows} × ${layer.grid.cols} = ${integer(layer.tiles)} crossbars`),
			el('span', 'layer-stat', `${percent(layer.zeros, layer.weights)} zeros`),
			el('span', 'layer-stat', `ADC ${integer(layer.adcBitsDense)} → ${integer(layer.adcBits)} bits`),
			badge(shortRatio(layer.adcEnergyImprovement), `ADC energy improvement ${formatImprovement(layer.adcEnergyImprovement)}`));
		const side = el('div', 'layer-side',
			el('div', 'side-title', 'Crossbars per level'),
			levelHistogram(layer.levelHistogram, bins, { compact: true, label: `Crossbars per level in ${layer.name}` }),
			el('div', 'tile-detail'));
		const canvasWrap = el('div', 'heatmap-wrap', heatmap.canvas);
		const body = el('div', 'layer-body', canvasWrap, side);
		article.append(head, body);
		this.observer?.observe(article);
		return article;
	}

	private layoutHeatmaps(): void {
		const width = Math.max(120, Math.min(640, (this.root.clientWidth || window.innerWidth) - 300));
		for (const heatmap of this.heatmaps.values()) {
			heatmap.layout(width);
			if (heatmap.canvas.dataset.drawMs) heatmap.draw();
		}
		// Draw what is on screen now; the observer draws the rest as it scrolls in.
		for (const heatmap of this.heatmaps.values()) {
			const rect = heatmap.canvas.getBoundingClientRect();
			if (rect.top < window.innerHeight + 400 && rect.bottom > -400) heatmap.draw();
		}
		if (this.selectedTile) this.renderTileDetail();
	}

	private renderWarnings(result: AnalysisResultDto): HTMLElement {
		const section = el('section', 'warnings');
		if (result.warnings.length === 0) {
			return section;
		}
		section.append(el('h2', undefined, `Warnings (${result.warnings.length})`));
		const list = el('ul');
		for (const warning of result.warnings) list.append(el('li', undefined, warning));
		section.append(list);
		return section;
	}

	// -------------------------------------------------------------------------------------------
	// Tiles

	private showTooltip(layer: LayerAnalysisDto, tile: TileRef | undefined, event: MouseEvent | undefined): void {
		if (!tile || !event || !this.analysis) {
			this.tooltip.classList.remove('visible');
			return;
		}
		const { profile } = this.analysis.result;
		const i = tile.row * layer.grid.cols + tile.col;
		const level = layer.grid.levels[i];
		const inputsStart = tile.row * profile.tileRows;
		const inputsEnd = Math.min(layer.matrix[1], inputsStart + profile.tileRows) - 1;
		const channelStart = tile.col * profile.outputChannelsPerCrossbar;
		const channelEnd = Math.min(layer.matrix[0], channelStart + profile.outputChannelsPerCrossbar) - 1;
		this.tooltip.replaceChildren(
			el('div', 'tt-title', `${layer.name} · crossbar row ${tile.row}, column ${tile.col}`),
			el('div', undefined, `inputs ${inputsStart}–${inputsEnd} · output channels ${channelStart}–${channelEnd}`),
			el('div', undefined, `${describeLevel(level, profile.sparsityBins)} (dense ${profile.adcBitsDensePerCrossbar})`),
			el('div', undefined, `least-sparse column: ${layer.grid.lscNonZeros[i]} / ${inputsEnd - inputsStart + 1} non-zeros`),
			el('div', 'muted', 'click for per-column counts'));
		const x = Math.min(event.clientX + 14, window.innerWidth - 300);
		const y = event.clientY + 16 + 110 > window.innerHeight ? event.clientY - 120 : event.clientY + 16;
		this.tooltip.style.left = `${Math.max(4, x)}px`;
		this.tooltip.style.top = `${Math.max(4, y)}px`;
		this.tooltip.classList.add('visible');
	}

	private selectTile(layerName: string, tile: TileRef): void {
		const previous = this.selectedTile;
		if (previous && previous.layer !== layerName) {
			this.heatmaps.get(previous.layer)?.setSelected(undefined);
			this.root.querySelector(`article.layer[data-layer="${CSS.escape(previous.layer)}"] .tile-detail`)?.replaceChildren();
		}
		this.selectedTile = { layer: layerName, row: tile.row, col: tile.col };
		this.heatmaps.get(layerName)?.setSelected(tile);
		this.tileColumns = undefined;
		this.tileError = undefined;
		this.renderTileDetail();
		this.requestTile(layerName, tile);
		this.saveState();
	}

	private requestTile(layer: string, tile: TileRef): void {
		this.tileRequest = this.nextRequestId++;
		vscode.postMessage({ type: 'tile/select', requestId: this.tileRequest, layer, row: tile.row, col: tile.col });
	}

	private renderTileDetail(): void {
		const selected = this.selectedTile;
		if (!selected) return;
		const host = this.root.querySelector(`article.layer[data-layer="${CSS.escape(selected.layer)}"] .tile-detail`);
		if (!host) return;
		host.replaceChildren();
		host.append(el('div', 'side-title', `Crossbar row ${selected.row}, column ${selected.col}`));
		if (this.tileError) {
			host.append(el('div', 'banner error', this.tileError));
			return;
		}
		const columns = this.tileColumns;
		if (!columns || columns.layer !== selected.layer || columns.row !== selected.row || columns.col !== selected.col || !this.analysis) {
			host.append(el('div', 'muted', 'Loading columns…'));
			return;
		}
		const bins = this.analysis.result.profile.sparsityBins;
		const max = Math.max(...columns.nonZeros, 0);
		const lsc = columns.nonZeros.indexOf(max);
		const mean = columns.nonZeros.reduce((a, b) => a + b, 0) / Math.max(1, columns.nonZeros.length);
		const balance = max === 0 ? 1 : mean / max;
		const chart = columnBars(columns.nonZeros, columns.columnLength, columns.channelStart, bins);
		const summary = el('div', 'tile-summary',
			el('div', undefined, `${describeLevel(columns.level, bins)[0].toUpperCase()}${describeLevel(columns.level, bins).slice(1)} (dense ${this.analysis.result.profile.adcBitsDensePerCrossbar}).`),
			el('div', 'lsc-text', max === 0 ? 'All columns empty.' : `Least-sparse column: output channel ${columns.channelStart + lsc} with ${max} / ${columns.columnLength} non-zeros (sets the ADC).`),
			el('div', 'muted', `Balance (mean ÷ max non-zeros): ${(balance * 100).toFixed(0)}% — ${balance >= 0.9 ? 'balanced: every column is about as dense as the least-sparse one' : 'unbalanced: the ADC is sized for one dense column'}.`));
		const detail = el('div', 'columns-detail', chart, summary);
		detail.dataset.testid = 'tile-columns';
		host.append(detail);
	}

	private revealLayer(name: string): void {
		const article = this.root.querySelector<HTMLElement>(`article.layer[data-layer="${CSS.escape(name)}"]`);
		if (!article) return;
		article.scrollIntoView({ behavior: 'smooth', block: 'start' });
		article.classList.remove('flash');
		void article.offsetWidth; // restart the highlight animation
		article.classList.add('flash');
		this.view = { ...this.currentView(), selectedLayer: name };
		this.saveState();
	}

	// -------------------------------------------------------------------------------------------
	// Prune preview

	private renderPrune(): void {
		const section = this.root.querySelector<HTMLElement>('section.prune');
		if (!section || !this.analysis) return;
		section.replaceChildren();
		section.hidden = !this.prune.open;
		if (!this.prune.open) return;
		section.dataset.testid = 'prune';
		const capability = this.prune.capability;
		section.append(el('h2', undefined, 'D.U.B. prune preview'), el('p', 'hint', 'One-shot pruning computed in memory: the preview shows what D.U.B. would do to this checkpoint; nothing is written until you save.'));
		if (capability && !capability.available) {
			section.append(el('div', 'banner info', capability.reason ?? 'Pruning is not available.'));
		}
		const spec = this.prune.spec;
		const presetOptions = [{ value: '', label: 'Same ratio for every conv layer' }, ...(capability?.presets ?? []).map((p) => ({ value: p.id, label: `${p.id} (${p.layers} layers)`, description: p.label }))];
		const controls = el('div', 'prune-controls',
			select('Variant', [{ value: 'fixed', label: 'fixed ratio (paper)' }, { value: 'tol', label: 'tolerance' }], spec.variant, (v) => {
				this.prune.spec = v === 'tol' ? { variant: 'tol', tol: spec.tol ?? 1e-3 } : { variant: 'fixed', ratioPercent: spec.ratioPercent ?? 50 };
				this.renderPrune();
			}, 'prune-variant'),
			spec.variant === 'fixed' ? select('Ratios', presetOptions, spec.preset ?? '', (v) => {
				this.prune.spec = v ? { variant: 'fixed', preset: v } : { variant: 'fixed', ratioPercent: 50 };
				this.renderPrune();
			}, 'prune-preset') : undefined,
			spec.variant === 'fixed' && !spec.preset ? textField('Ratio %', String(spec.ratioPercent ?? 50), (v) => {
				const n = Number(v);
				if (Number.isFinite(n) && n >= 0 && n <= 100) this.prune.spec = { variant: 'fixed', ratioPercent: n };
			}, { type: 'number', min: 0, max: 100, step: 1, testId: 'prune-ratio' }) : undefined,
			spec.variant === 'tol' ? textField('θ (tol)', String(spec.tol ?? 1e-3), (v) => {
				const n = Number(v);
				if (Number.isFinite(n) && n >= 0) this.prune.spec = { variant: 'tol', tol: n };
			}, { type: 'number', min: 0, step: 0.0001, testId: 'prune-tol' }) : undefined,
			button(this.prune.busy ? 'Computing…' : 'Preview', () => this.requestPrune(), { disabled: this.prune.busy || capability?.available === false, testId: 'prune-run' }),
		);
		section.append(controls);
		if (this.prune.error) section.append(el('div', 'banner error', this.prune.error));
		const preview = this.prune.preview;
		if (preview) {
			section.append(this.renderPruneComparison(preview));
			section.append(el('div', 'prune-save', button('Save pruned model…', () => {
				this.prune.busy = true;
				this.pruneRequest = this.nextRequestId++;
				vscode.postMessage({ type: 'prune/save', requestId: this.pruneRequest });
				this.renderPrune();
			}, { disabled: this.prune.busy, testId: 'prune-save' }), el('span', 'muted', ` Writes a new file in the model's format; the original is never changed. Preview took ${preview.elapsedMs} ms.`)));
		}
		if (this.prune.saved) section.append(el('div', 'banner info', `Saved ${this.prune.saved}`));
	}

	private requestPrune(): void {
		this.prune.busy = true;
		this.prune.error = undefined;
		this.pruneRequest = this.nextRequestId++;
		vscode.postMessage({ type: 'prune/preview', requestId: this.pruneRequest, spec: this.prune.spec });
		this.renderPrune();
	}

	private renderPruneComparison(preview: PrunePreviewDto): HTMLElement {
		const rows: [string, AnalysisResultDto | undefined][] = [['now', preview.before], ['D.U.B.', preview.after], ['unstructured, same ratios', preview.unstructured]];
		const table = el('table', 'compare');
		table.append(el('thead', undefined, el('tr', undefined, el('th', undefined, ''), el('th', 'num', 'Zeros'), el('th', 'num', 'ADC bits'), el('th', 'num', 'Improvement'), el('th', undefined, 'Crossbars per level'))));
		const body = el('tbody');
		for (const [label, r] of rows) {
			if (!r) continue;
			body.append(el('tr', undefined, el('th', undefined, label), el('td', 'num', percent(r.totals.zeros, r.totals.weights)), el('td', 'num', `${integer(r.totals.adcBitsDense)} → ${integer(r.totals.adcBits)}`), el('td', 'num strong', formatImprovement(r.totals.adcEnergyImprovement)), el('td', 'levels', r.totals.levelHistogram.join(' '))));
		}
		table.append(body);
		const perLayer = el('table', 'compare per-layer');
		perLayer.append(el('thead', undefined, el('tr', undefined, el('th', undefined, 'Layer'), el('th', 'num', 'Now'), el('th', 'num', 'D.U.B.'), el('th', 'num', 'Unstructured'))));
		const layerBody = el('tbody');
		preview.after.layers.forEach((layer) => {
			const before = preview.before.layers.find((l) => l.name === layer.name);
			const unstructured = preview.unstructured?.layers.find((l) => l.name === layer.name);
			layerBody.append(el('tr', undefined, el('th', undefined, layer.name), el('td', 'num', before ? shortRatio(before.adcEnergyImprovement) : '–'), el('td', 'num strong', shortRatio(layer.adcEnergyImprovement)), el('td', 'num', unstructured ? shortRatio(unstructured.adcEnergyImprovement) : '–')));
		});
		perLayer.append(layerBody);
		const warnings = preview.after.warnings.length > 0 ? el('ul', 'prune-warnings', ...preview.after.warnings.map((w) => el('li', undefined, w))) : undefined;
		return el('div', 'prune-result', table, perLayer, warnings);
	}

	// -------------------------------------------------------------------------------------------
	// Fine-tune runs

	private trainingButton(): HTMLElement {
		const capability = this.trainingCapability;
		const b = button('Fine-tune…', () => vscode.postMessage({ type: 'training/start' }), {
			secondary: true,
			disabled: capability?.available === false,
			title: capability?.available === false ? capability.reason : 'Run D.U.B. fine-tune: regularize, prune and fine-tune this model, compared with unstructured pruning',
			testId: 'training-start',
		});
		return b;
	}

	private updateTrainingButton(): void {
		const old = this.root.querySelector('[data-testid="training-start"]');
		old?.replaceWith(this.trainingButton());
	}

	private trainingAction(action: TrainingAction): void {
		if (this.training) vscode.postMessage({ type: 'training/action', runId: this.training.runId, action });
	}

	/**
	 * The run's section: status and actions, the curves, the level histogram per phase, the final
	 * table. While a run streams epochs only the position and the plots are replaced, so the
	 * buttons stay put under the pointer.
	 */
	private renderTraining(): void {
		const section = this.root.querySelector<HTMLElement>('section.training');
		if (!section) return;
		const run = this.training;
		section.hidden = !run;
		if (!run) {
			section.replaceChildren();
			return;
		}
		const key = `${run.runId}|${run.status}|${run.outputWritten}`;
		const body = section.querySelector<HTMLElement>('.training-body');
		const meta = `${run.modelLabel} → ${run.outputLabel} · ${run.engineLabel} · ${run.datasetLabel} · ${run.presetLabel} · T = ${run.tileRows}`;
		if (section.dataset.key === key && body) {
			section.querySelector('.training-position')?.replaceChildren(this.trainingPosition(run));
			section.querySelector('.training-meta')?.replaceChildren(meta);
			body.replaceChildren(...this.trainingBody(run));
			return;
		}
		section.replaceChildren();
		section.dataset.key = key;
		section.dataset.testid = 'training';
		section.dataset.status = run.status;
		const statusText: Record<TrainingRunDto['status'], string> = { running: 'running', done: 'done', cancelled: 'cancelled', failed: 'failed' };
		const isOutput = this.analysis?.model.path === run.outputPath;
		const head = el('div', 'training-head',
			el('h2', undefined, isOutput ? 'D.U.B. fine-tune that wrote this model' : 'D.U.B. fine-tune'),
			badge(statusText[run.status]),
			el('span', 'muted training-meta', meta));
		const actions = el('div', 'actions training-actions');
		if (run.status === 'running') {
			actions.append(el('span', 'training-progress', progressRing('Training'), el('span', 'training-position', this.trainingPosition(run))));
			actions.append(button('Cancel', () => this.trainingAction('cancel'), { secondary: true, title: 'Stop after the current step; the last complete epoch stays in the checkpoint', testId: 'training-cancel' }));
		}
		if (run.outputWritten) {
			if (!isOutput) actions.append(button('Open', () => this.trainingAction('open'), { title: `Analyze ${run.outputLabel} in its own panel`, testId: 'training-open' }));
			actions.append(button('Reveal', () => this.trainingAction('reveal'), { secondary: true, title: `Reveal ${run.outputLabel} in the explorer`, testId: 'training-reveal' }));
		}
		section.append(head, actions);
		if (run.status === 'failed' && run.message) section.append(el('div', 'banner error', run.message));
		if (run.status === 'cancelled') section.append(el('div', 'banner info', run.message ?? 'Cancelled.'));
		if (run.status === 'done') section.append(el('div', 'muted training-time', `Finished in ${(run.elapsedMs / 1000).toFixed(1)} s.`));
		section.append(el('div', 'training-body', ...this.trainingBody(run)));
	}

	private trainingBody(run: TrainingRunDto): HTMLElement[] {
		return [
			this.renderTrainingCharts(run),
			run.snapshots.length > 0 ? this.renderTrainingLevels(run) : undefined,
			run.summary ? this.renderTrainingSummary(run) : undefined,
		].filter((e): e is HTMLElement => e !== undefined);
	}

	private trainingPosition(run: TrainingRunDto): string {
		const names: Record<string, string> = { regularize: 'Regularize', prune: 'D.U.B. prune', finetune: 'Fine-tune', baseline: 'Unstructured baseline' };
		if (!run.phase) return 'Starting…';
		return run.phase === 'prune' ? names.prune : `${names[run.phase]} epoch ${run.epoch ?? 0}/${run.epochs ?? '?'} · ${(run.elapsedMs / 1000).toFixed(0)} s`;
	}

	private renderTrainingCharts(run: TrainingRunDto): HTMLElement {
		const regularize = run.plannedEpochs.regularize;
		const xMax = regularize + Math.max(run.plannedEpochs.finetune, run.plannedEpochs.baseline);
		const labels: Record<TrainingSeries, string> = { regularize: 'regularize', finetune: 'D.U.B. fine-tune', baseline: 'unstructured baseline' };
		const xOf = (p: TrainingPointDto): number => (p.series === 'regularize' ? p.epoch : regularize + p.epoch);
		const line = (series: TrainingSeries, value: (p: TrainingPointDto) => number | null | undefined, format: (v: number) => string, dashed = false, label = labels[series]): LineSeries => ({
			className: `series-${series}`,
			label,
			dashed,
			points: run.points.filter((p) => p.series === series).flatMap((p) => {
				const v = value(p);
				return v === null || v === undefined || !Number.isFinite(v) ? [] : [{ x: xOf(p), y: v, title: `${p.series === 'regularize' ? 'epoch' : 'fine-tune epoch'} ${p.epoch}: ${format(v)}` }];
			}),
		});
		const marker = { x: regularize, label: 'prune' };
		const all: TrainingSeries[] = ['regularize', 'finetune', 'baseline'];
		const pct = (v: number): string => `${v.toFixed(1)} %`;
		const times = (v: number): string => `${v.toFixed(2)}×`;
		const loss = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(3));
		const figure = (title: string, chart: SVGSVGElement, testId: string): HTMLElement => {
			const f = el('figure', 'training-chart', el('figcaption', undefined, title), chart);
			f.dataset.testid = testId;
			return f;
		};
		const projected = line('regularize', (p) => p.projectedImprovement, times, true, 'regularize: a D.U.B. prune now would give');
		const charts = el('div', 'training-charts',
			figure('Training loss', lineChart(all.map((s) => line(s, (p) => p.loss, loss)), { label: 'Training loss per epoch', xMax, marker, format: loss }), 'chart-loss'),
			figure('Held-out accuracy', lineChart(all.map((s) => line(s, (p) => p.testAccuracy, pct)), { label: 'Held-out accuracy per epoch', xMax, marker, format: pct }), 'chart-accuracy'),
			figure('ADC energy improvement', lineChart([...all.map((s) => line(s, (p) => p.improvement, times)), projected], { label: 'ADC energy improvement per epoch', xMax, marker, format: times, include: [1] }), 'chart-improvement'));
		charts.dataset.testid = 'training-curves';
		const legend = el('ul', 'legend training-legend',
			...all.map((s) => el('li', undefined, el('span', `key series-${s}`), labels[s])),
			projected.points.length > 0 ? el('li', undefined, el('span', 'key series-regularize dashed'), 'regularize: improvement if pruned now') : undefined);
		return el('div', 'training-plots', charts, legend);
	}

	private renderTrainingLevels(run: TrainingRunDto): HTMLElement {
		const bins = run.snapshots[0].levelHistogram.length;
		const box = el('div', 'training-levels');
		box.dataset.testid = 'training-levels';
		for (const snapshot of run.snapshots) {
			const caption = `${snapshot.label}${snapshot.final ? '' : ' (so far)'} · ${shortRatio(snapshot.improvement)}${snapshot.testAccuracy !== undefined ? ` · ${snapshot.testAccuracy.toFixed(1)} %` : ''}`;
			box.append(el('figure', `training-level${snapshot.final ? '' : ' live'}`, el('figcaption', undefined, caption), levelHistogram(snapshot.levelHistogram, bins, { compact: true, label: `Crossbars per level: ${snapshot.label}` })));
		}
		return el('div', 'training-levels-wrap', el('div', 'side-title', 'Crossbars per level (all conv layers) at the end of each phase'), box, levelLegend(bins));
	}

	private renderTrainingSummary(run: TrainingRunDto): HTMLElement {
		const table = el('table', 'compare training-summary');
		table.dataset.testid = 'training-summary';
		const acc = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : `${v.toFixed(2)} %`);
		table.append(el('thead', undefined, el('tr', undefined, el('th', undefined, ''), el('th', 'num', 'Accuracy'), el('th', 'num', 'Best'), el('th', 'num', 'After prune'), el('th', 'num', 'ADC improvement'), el('th', undefined, 'Crossbars per level (k = 0, 1, …)'))));
		const body = el('tbody');
		for (const row of run.summary ?? []) {
			const tr = el('tr', row.key === 'dub' ? 'dub' : undefined, el('th', undefined, row.label), el('td', 'num', acc(row.accuracy)), el('td', 'num', acc(row.bestAccuracy)), el('td', 'num', acc(row.afterPruneAccuracy)), el('td', 'num strong', formatImprovement(row.improvement)), el('td', 'levels', row.levelHistogram.join(' ')));
			tr.dataset.row = row.key;
			body.append(tr);
		}
		table.append(body);
		return el('div', 'training-summary-wrap', el('h3', undefined, 'D.U.B. vs unstructured pruning (same ratios, same fine-tune)'), el('div', 'table-scroll', table));
	}

	// -------------------------------------------------------------------------------------------
	// View state

	private currentView(): ViewStateDto {
		const modelPath = this.analysis?.model.path ?? this.view?.modelPath ?? '';
		const profile = this.analysis && !this.analysis.profileFromSettings
			? { tileRows: this.analysis.result.profile.tileRows, slices: this.analysis.result.profile.slices, adcLaw: this.analysis.result.profile.adcLaw, includeLinear: this.analysis.result.profile.includeLinear }
			: this.analysis ? undefined : this.view?.profile;
		return { ...this.view, modelPath, profile, selectedTile: this.selectedTile, scrollY: window.scrollY };
	}

	private saveState(): void {
		const view = this.currentView();
		if (view.modelPath) {
			this.view = view;
			vscode.setState(view);
		}
	}

	private onScroll(): void {
		this.tooltip.classList.remove('visible');
		clearTimeout(this.scrollTimer);
		this.scrollTimer = setTimeout(() => this.saveState(), 250);
	}
}
