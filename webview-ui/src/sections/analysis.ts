/**
 * The analysis section of the panel: the header with the profile switcher, the status banner,
 * the totals cards, the level histogram and per-layer energy bars, one heatmap per layer with
 * hover and the per-column drill-down of a clicked crossbar, and the warnings.
 */
import type { AdcLaw, AnalysisResultDto, LayerAnalysisDto } from '../../../src/shared/analysis';
import { adcLaws } from '../../../src/shared/analysis';
import { formatBytes, formatCompact, formatImprovement, formatInteger, formatPercent, formatPj, formatRatio, formatTime } from '../../../src/shared/format';
import { describeLevel } from '../../../src/shared/levelPalette';
import type { AnalysisReason, ExportFormat, ModelInfoDto, ProfileChoiceDto, CrossbarColumnsDto } from '../../../src/shared/protocol';
import { columnBars, levelHistogram, levelLegend, sparkline } from '../charts';
import { badge, button, checkbox, progressRing, select } from '../components';
import { el } from '../dom';
import { Heatmap } from '../heatmap';
import type { CrossbarRef } from '../heatmap';
import type { Analysis, SectionContext } from './context';

const crossbarSizes = [16, 32, 64, 128, 256, 512, 1024];
const sliceCounts = [1, 2, 4, 8, 16];

/** A selected crossbar (kept in the view state across reloads). */
export interface SelectedCrossbar extends CrossbarRef {
	readonly layer: string;
}

export class AnalysisSection {
	/** Set by the app from `analysis/pending`, cleared by the next result or error. */
	pending: { model: ModelInfoDto; reason: AnalysisReason } | undefined;
	/** The last analysis error (the last good result stays on screen). */
	error: string | undefined;
	private selectedCrossbar: SelectedCrossbar | undefined;
	private crossbarColumns: CrossbarColumnsDto | undefined;
	private crossbarError: string | undefined;
	private crossbarRequest = 0;
	private readonly heatmaps = new Map<string, Heatmap>();
	private readonly tooltip = el('div', 'tooltip');
	private observer: IntersectionObserver | undefined;

	constructor(private readonly root: HTMLElement, private readonly context: SectionContext, private readonly onProfileChoice: (choice: ProfileChoiceDto | undefined) => void, selectedCrossbar: SelectedCrossbar | undefined) {
		this.selectedCrossbar = selectedCrossbar;
		this.tooltip.setAttribute('role', 'tooltip');
		document.body.append(this.tooltip);
		window.addEventListener('resize', () => this.layoutHeatmaps());
		// VS Code swaps the body's theme class; heatmap separators use theme colours.
		new MutationObserver(() => this.heatmaps.forEach((h) => h.draw())).observe(document.body, { attributes: true, attributeFilter: ['class'] });
	}

	get selection(): SelectedCrossbar | undefined {
		return this.selectedCrossbar;
	}

	/** A new result arrived: forget a selected crossbar that is not in it, and ask for the selected one's columns again. */
	onResult(result: AnalysisResultDto): void {
		const selected = this.selectedCrossbar;
		if (selected && !result.layers.some((l) => l.name === selected.layer && l.grid.inputBlocks > selected.block && l.grid.channelGroups > selected.group)) {
			this.selectedCrossbar = undefined;
		}
		this.crossbarColumns = undefined;
	}

	/** Asks the host for the selected crossbar's columns (after a render). */
	refreshSelection(): void {
		if (this.selectedCrossbar) this.requestCrossbar(this.selectedCrossbar);
	}

	onCrossbarColumns(requestId: number, columns: CrossbarColumnsDto | undefined, error: string | undefined): void {
		if (requestId !== this.crossbarRequest) return;
		this.crossbarColumns = columns;
		this.crossbarError = error;
		this.renderCrossbarDetail();
	}

	hideTooltip(): void {
		this.tooltip.classList.remove('visible');
	}

	/** Drops the heatmaps of the last render (the app clears the page). */
	clear(): void {
		this.observer?.disconnect();
		this.heatmaps.clear();
	}

	// -------------------------------------------------------------------------------------------
	// Header, status, totals

	/** The title, the actions (with the other sections' buttons) and the profile switcher. */
	renderHeader(analysis: Analysis, sectionButtons: HTMLElement[]): HTMLElement {
		const { model, result } = analysis;
		const name = model.label.split(/[\\/]/).pop() ?? model.label;
		const title = el('div', 'title-row',
			el('div', 'title',
				el('h1', 'model-name', name),
				el('div', 'meta', `${model.label} · ${result.format} · ${formatBytes(model.sizeBytes)} · saved ${formatTime(model.mtimeMs)} · analyzed in ${analysis.elapsedMs} ms`)),
			el('div', 'actions',
				button('Refresh', () => this.context.post({ type: 'model/refresh' }), { secondary: true, title: 'Analyze the file again', testId: 'refresh' }),
				...sectionButtons,
				this.exportButtons()));
		const profile = result.profile;
		const choice: ProfileChoiceDto = { crossbarSize: profile.crossbarSize, slices: profile.slices, adcLaw: profile.adcLaw, includeLinear: profile.includeLinear };
		const change = (patch: Partial<ProfileChoiceDto>): void => {
			const next = { ...choice, ...patch };
			if (next.slices > next.crossbarSize) next.slices = 1;
			this.onProfileChoice(next);
			this.context.post({ type: 'profile/change', profile: next });
		};
		const bar = el('div', 'profile-bar',
			select('Crossbar', crossbarSizes.map((t) => ({ value: String(t), label: `${t}×${t}` })), String(profile.crossbarSize), (v) => change({ crossbarSize: Number(v) }), 'tile-size'),
			select('Slices', sliceCounts.filter((q) => q <= profile.crossbarSize).map((q) => ({ value: String(q), label: String(q) })), String(profile.slices), (v) => change({ slices: Number(v) }), 'slices'),
			select('ADC law', adcLaws.map((law) => ({ value: law, label: law })), profile.adcLaw, (v) => change({ adcLaw: v as AdcLaw }), 'adc-law'),
			checkbox('Include linear layers', profile.includeLinear, (checked) => change({ includeLinear: checked }), 'include-linear'),
			el('span', 'profile-source', analysis.profileFromSettings ? 'from settings' : 'panel only'),
			analysis.profileFromSettings ? undefined : button('Use settings', () => {
				this.onProfileChoice(undefined);
				this.context.post({ type: 'profile/reset' });
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
			group.append(button(label, () => this.context.post({ type: 'report/export', format }), { secondary: format !== 'html', title: `Export the crossbar report as ${format.toUpperCase()}`, testId: `export-${format}` }));
		}
		return group;
	}

	/** Busy ring and banners, into the page's status slot; cheap to redraw without touching the heatmaps. */
	renderStatus(slot: Element): void {
		slot.replaceChildren();
		document.body.classList.toggle('is-pending', this.pending !== undefined);
		const analysis = this.context.analysis();
		if (this.pending) {
			const why: Record<AnalysisReason, string> = { open: 'Analyzing…', profile: 'Re-analyzing with the new profile…', fileChanged: 'The file changed: re-analyzing…', refresh: 'Re-analyzing…', restore: 'Restoring…' };
			slot.append(el('div', 'banner info', progressRing('Analyzing'), why[this.pending.reason]));
		} else if (this.error) {
			slot.append(el('div', 'banner error', `${this.error}`, analysis ? el('span', 'muted', ' — showing the last successful analysis.') : undefined));
		} else if (analysis?.reason === 'fileChanged') {
			slot.append(el('div', 'banner info', `Re-analyzed after a save at ${formatTime(analysis.model.mtimeMs)}.`));
		}
	}

	renderTotals(analysis: Analysis): HTMLElement {
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
			card('Crossbars', formatInteger(t.tiles), `${result.profile.crossbarSize}×${result.profile.crossbarSize} · ${t.layers} layer${t.layers === 1 ? '' : 's'} · ${result.profile.channelsPerCrossbar} channels each`, 'tiles'),
			card('ADC bits', `${formatInteger(t.adcBitsDense)} → ${formatInteger(t.adcBits)}`, 'Σ over crossbars, dense → current', 'adc-bits'),
			card('ADC energy', `${formatCompact(t.adcEnergyDense)} → ${formatCompact(t.adcEnergy)}`, `in units of the ${result.adcLaw.name} law`, 'adc-energy'),
			card('Zero weights', formatPercent(t.zeros, t.weights), `${formatInteger(t.zeros)} of ${formatInteger(t.weights)}`, 'zeros'),
		);
		if (t.perInference) {
			section.append(card('Per inference', `${formatPj(t.perInference.adcEnergyPjDense)} → ${formatPj(t.perInference.adcEnergyPj)}`, `${formatInteger(t.perInference.crossbarActivations)} activations · ${formatRatio(t.perInference.adcEnergyImprovement)}`, 'per-inference'));
		}
		const historyCard = el('div', 'card history');
		historyCard.dataset.testid = 'history';
		historyCard.append(el('div', 'card-label', 'Across saves'));
		if (history.length > 1) {
			const first = history[0];
			const last = history[history.length - 1];
			historyCard.append(sparkline(history), el('div', 'card-detail', `${formatRatio(first.improvement)} → ${formatRatio(last.improvement)} over ${history.length} saves`));
			const list = el('ol', 'history-list');
			for (const point of history.slice(-4).reverse()) {
				list.append(el('li', undefined, `${formatTime(point.mtimeMs)} · ${formatRatio(point.improvement)}`));
			}
			historyCard.append(list);
		} else {
			historyCard.append(el('div', 'card-value small', history.length === 1 ? '1 save' : '–'), el('div', 'card-detail', 'Re-analyzed when a training run saves this file again.'));
		}
		section.append(historyCard);
		return section;
	}

	renderOverview(result: AnalysisResultDto): HTMLElement {
		const bits = result.profile.adcBitsByLevel;
		const histogramBox = el('div', 'box', el('h2', undefined, 'Crossbars per level'), levelHistogram(result.totals.levelHistogram, bits, { label: 'Crossbars per level, whole model' }), levelLegend(bits));
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
			const row = el('button', 'energy-row', el('span', 'energy-name', layer.name), track, el('span', 'energy-ratio', formatRatio(layer.adcEnergyImprovement)));
			row.title = `${layer.name}: ADC energy ${formatCompact(layer.adcEnergyDense)} dense → ${formatCompact(layer.adcEnergy)} (${formatImprovement(layer.adcEnergyImprovement)}); click to show the layer`;
			row.addEventListener('click', () => this.revealLayer(layer.name));
			bars.append(row);
		}
		const energyBox = el('div', 'box', el('h2', undefined, 'ADC energy per layer'), el('div', 'energy-legend', el('span', 'key dense', 'dense'), el('span', 'key current', 'current')), bars);
		energyBox.dataset.testid = 'energy-bars';
		return el('section', 'overview', histogramBox, energyBox);
	}

	renderWarnings(result: AnalysisResultDto): HTMLElement {
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
	// Layers and their heatmaps

	renderLayers(result: AnalysisResultDto): HTMLElement {
		const section = el('section', 'layers', el('h2', undefined, `Layers (${result.layers.length})`), el('p', 'hint', `Each cell is one crossbar: rows are blocks of ${result.profile.crossbarSize} inputs, columns are groups of ${result.profile.channelsPerCrossbar} output channels; colour = level (ADC bits). Hover for numbers, click for the crossbar's columns.`));
		this.observer = new IntersectionObserver((entries) => {
			for (const entry of entries) {
				if (!entry.isIntersecting) continue;
				const name = (entry.target as HTMLElement).dataset.layer ?? '';
				const heatmap = this.heatmaps.get(name);
				if (heatmap && !heatmap.canvas.dataset.drawMs) heatmap.draw();
			}
		}, { rootMargin: '400px 0px' });
		for (const layer of result.layers) {
			section.append(this.renderLayer(layer, result.profile.adcBitsByLevel));
		}
		return section;
	}

	private renderLayer(layer: LayerAnalysisDto, adcBitsByLevel: readonly number[]): HTMLElement {
		const article = el('article', 'layer');
		article.dataset.layer = layer.name;
		article.id = `layer-${layer.name}`;
		const heatmap = new Heatmap(layer, adcBitsByLevel, {
			hover: (crossbar, event) => this.showTooltip(layer, crossbar, event),
			select: (crossbar) => this.selectCrossbar(layer.name, crossbar),
		});
		this.heatmaps.set(layer.name, heatmap);
		if (this.selectedCrossbar?.layer === layer.name) {
			heatmap.setSelected(this.selectedCrossbar);
		}
		const head = el('header', 'layer-head',
			el('h3', 'layer-name', layer.name),
			el('span', 'layer-kind', `${layer.kind} ${layer.shape.join('×')}`),
			el('span', 'layer-stat', `matrix ${layer.matrix[0]}×${layer.matrix[1]}`),
			el('span', 'layer-stat', `${layer.grid.inputBlocks} × ${layer.grid.channelGroups} = ${formatInteger(layer.tiles)} crossbars`),
			el('span', 'layer-stat', `${formatPercent(layer.zeros, layer.weights)} zeros`),
			el('span', 'layer-stat', `ADC ${formatInteger(layer.adcBitsDense)} → ${formatInteger(layer.adcBits)} bits`),
			badge(formatRatio(layer.adcEnergyImprovement), `ADC energy improvement ${formatImprovement(layer.adcEnergyImprovement)}`));
		const side = el('div', 'layer-side',
			el('div', 'side-title', 'Crossbars per level'),
			levelHistogram(layer.levelHistogram, adcBitsByLevel, { compact: true, label: `Crossbars per level in ${layer.name}` }),
			el('div', 'tile-detail'));
		const canvasWrap = el('div', 'heatmap-wrap', heatmap.canvas);
		const body = el('div', 'layer-body', canvasWrap, side);
		article.append(head, body);
		this.observer?.observe(article);
		return article;
	}

	layoutHeatmaps(): void {
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
		if (this.selectedCrossbar) this.renderCrossbarDetail();
	}

	/** Scrolls to a layer and highlights it (a CodeLens or an energy bar was clicked); returns whether it exists. */
	revealLayer(name: string): boolean {
		const article = this.root.querySelector<HTMLElement>(`article.layer[data-layer="${CSS.escape(name)}"]`);
		if (!article) return false;
		article.scrollIntoView({ behavior: 'smooth', block: 'start' });
		article.classList.remove('flash');
		void article.offsetWidth; // restart the highlight animation
		article.classList.add('flash');
		return true;
	}

	// -------------------------------------------------------------------------------------------
	// Crossbars: hover and drill-down

	private showTooltip(layer: LayerAnalysisDto, crossbar: CrossbarRef | undefined, event: MouseEvent | undefined): void {
		const analysis = this.context.analysis();
		if (!crossbar || !event || !analysis) {
			this.hideTooltip();
			return;
		}
		const { profile } = analysis.result;
		const i = crossbar.block * layer.grid.channelGroups + crossbar.group;
		const level = layer.grid.levels[i];
		const inputsStart = crossbar.block * profile.crossbarSize;
		const inputsEnd = Math.min(layer.matrix[1], inputsStart + profile.crossbarSize) - 1;
		const channelStart = crossbar.group * profile.channelsPerCrossbar;
		const channelEnd = Math.min(layer.matrix[0], channelStart + profile.channelsPerCrossbar) - 1;
		this.tooltip.replaceChildren(
			el('div', 'tt-title', `${layer.name} · input block ${crossbar.block}, channel group ${crossbar.group}`),
			el('div', undefined, `inputs ${inputsStart}–${inputsEnd} · output channels ${channelStart}–${channelEnd}`),
			el('div', undefined, `${describeLevel(level, profile.adcBitsByLevel)} (dense ${profile.adcBitsDensePerCrossbar})`),
			el('div', undefined, `least-sparse column: ${layer.grid.lscNonZeros[i]} / ${inputsEnd - inputsStart + 1} non-zeros`),
			el('div', 'muted', 'click for per-column counts'));
		const x = Math.min(event.clientX + 14, window.innerWidth - 300);
		const y = event.clientY + 16 + 110 > window.innerHeight ? event.clientY - 120 : event.clientY + 16;
		this.tooltip.style.left = `${Math.max(4, x)}px`;
		this.tooltip.style.top = `${Math.max(4, y)}px`;
		this.tooltip.classList.add('visible');
	}

	private selectCrossbar(layerName: string, crossbar: CrossbarRef): void {
		const previous = this.selectedCrossbar;
		if (previous && previous.layer !== layerName) {
			this.heatmaps.get(previous.layer)?.setSelected(undefined);
			this.root.querySelector(`article.layer[data-layer="${CSS.escape(previous.layer)}"] .tile-detail`)?.replaceChildren();
		}
		this.selectedCrossbar = { layer: layerName, block: crossbar.block, group: crossbar.group };
		this.heatmaps.get(layerName)?.setSelected(crossbar);
		this.crossbarColumns = undefined;
		this.crossbarError = undefined;
		this.renderCrossbarDetail();
		this.requestCrossbar(this.selectedCrossbar);
		this.context.saveState();
	}

	private requestCrossbar(crossbar: SelectedCrossbar): void {
		this.crossbarRequest = this.context.nextRequestId();
		this.context.post({ type: 'crossbar/select', requestId: this.crossbarRequest, layer: crossbar.layer, block: crossbar.block, group: crossbar.group });
	}

	private renderCrossbarDetail(): void {
		const selected = this.selectedCrossbar;
		const analysis = this.context.analysis();
		if (!selected) return;
		const host = this.root.querySelector(`article.layer[data-layer="${CSS.escape(selected.layer)}"] .tile-detail`);
		if (!host) return;
		host.replaceChildren();
		host.append(el('div', 'side-title', `Crossbar at input block ${selected.block}, channel group ${selected.group}`));
		if (this.crossbarError) {
			host.append(el('div', 'banner error', this.crossbarError));
			return;
		}
		const columns = this.crossbarColumns;
		if (!columns || columns.layer !== selected.layer || columns.block !== selected.block || columns.group !== selected.group || !analysis) {
			host.append(el('div', 'muted', 'Loading columns…'));
			return;
		}
		const { adcBitsByLevel, adcBitsDensePerCrossbar } = analysis.result.profile;
		const max = Math.max(...columns.nonZeros, 0);
		const lsc = columns.nonZeros.indexOf(max);
		const mean = columns.nonZeros.reduce((a, b) => a + b, 0) / Math.max(1, columns.nonZeros.length);
		const balance = max === 0 ? 1 : mean / max;
		const chart = columnBars(columns.nonZeros, columns.columnLength, columns.channelStart, adcBitsByLevel.length);
		const level = describeLevel(columns.level, adcBitsByLevel);
		const summary = el('div', 'tile-summary',
			el('div', undefined, `${level[0].toUpperCase()}${level.slice(1)} (dense ${adcBitsDensePerCrossbar}).`),
			el('div', 'lsc-text', max === 0 ? 'All columns empty.' : `Least-sparse column: output channel ${columns.channelStart + lsc} with ${max} / ${columns.columnLength} non-zeros (sets the ADC).`),
			el('div', 'muted', `Balance (mean ÷ max non-zeros): ${(balance * 100).toFixed(0)}% — ${balance >= 0.9 ? 'balanced: every column is about as dense as the least-sparse one' : 'unbalanced: the ADC is sized for one dense column'}.`));
		const detail = el('div', 'columns-detail', chart, summary);
		detail.dataset.testid = 'tile-columns';
		host.append(detail);
	}
}
