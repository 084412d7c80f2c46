/**
 * The prune preview section: a one-shot D.U.B. prune the host computes in memory, compared with
 * unstructured pruning at the same ratios, and saved as a new file only on request.
 */
import type { AnalysisResultDto } from '../../../src/shared/analysis';
import { formatImprovement, formatInteger, formatPercent, formatRatio } from '../../../src/shared/format';
import type { PrunePresetDto, PrunePreviewDto, PruneSpecDto } from '../../../src/shared/protocol';
import { button, select, textField } from '../components';
import { el } from '../dom';
import type { SectionContext } from './context';

export class PrunePreviewSection {
	private open = false;
	private presets: PrunePresetDto[] = [];
	private spec: PruneSpecDto = { method: 'dub', ratioPercent: 50 };
	private busy = false;
	private preview: PrunePreviewDto | undefined;
	private error: string | undefined;
	private saved: string | undefined;
	private request = 0;

	constructor(private readonly root: HTMLElement, private readonly context: SectionContext) {}

	/** The header's toggle button. */
	toggleButton(): HTMLElement {
		return button('Prune preview…', () => {
			this.open = !this.open;
			this.render();
			if (this.open) this.scrollIntoView();
		}, { secondary: true, title: 'One-shot D.U.B. prune, computed here and saved only when you ask', testId: 'prune-toggle' });
	}

	/** A new analysis replaces what a preview was computed from. */
	onResult(): void {
		this.preview = undefined;
		this.saved = undefined;
	}

	setPresets(presets: PrunePresetDto[]): void {
		this.presets = presets;
		if (this.context.analysis()) this.render();
	}

	/** The Prune command asked for this section. */
	show(): void {
		this.open = true;
		if (this.context.analysis()) {
			this.render();
			this.scrollIntoView();
		}
	}

	onResultOfPreview(requestId: number, preview: PrunePreviewDto | undefined, error: string | undefined): void {
		if (requestId !== this.request) return;
		this.busy = false;
		this.preview = preview;
		this.error = error;
		this.render();
	}

	onSaved(path: string | undefined, error: string | undefined): void {
		this.busy = false;
		this.saved = path;
		this.error = error;
		this.render();
	}

	private scrollIntoView(): void {
		this.root.querySelector('.prune')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
	}

	render(): void {
		const section = this.root.querySelector<HTMLElement>('section.prune');
		if (!section || !this.context.analysis()) return;
		section.replaceChildren();
		section.hidden = !this.open;
		if (!this.open) return;
		section.dataset.testid = 'prune';
		section.append(el('h2', undefined, 'D.U.B. prune preview'), el('p', 'hint', 'One-shot pruning computed in memory: the preview shows what D.U.B. would do to this checkpoint; nothing is written until you save.'));
		const spec = this.spec;
		const presetOptions = [{ value: '', label: 'Same ratio for every conv layer' }, ...this.presets.map((p) => ({ value: p.id, label: `${p.id} (${p.layers} layers)`, description: p.label }))];
		const controls = el('div', 'prune-controls',
			select('Method', [{ value: 'dub', label: 'dub: fixed ratio (paper)' }, { value: 'dub-tol', label: 'dub-tol: tolerance' }], spec.method, (v) => {
				this.spec = v === 'dub-tol' ? { method: 'dub-tol', tol: spec.tol ?? 1e-3 } : { method: 'dub', ratioPercent: spec.ratioPercent ?? 50 };
				this.render();
			}, 'prune-method'),
			spec.method === 'dub' ? select('Ratios', presetOptions, spec.preset ?? '', (v) => {
				this.spec = v ? { method: 'dub', preset: v } : { method: 'dub', ratioPercent: 50 };
				this.render();
			}, 'prune-preset') : undefined,
			spec.method === 'dub' && !spec.preset ? textField('Ratio %', String(spec.ratioPercent ?? 50), (v) => {
				const n = Number(v);
				if (Number.isFinite(n) && n >= 0 && n <= 100) this.spec = { method: 'dub', ratioPercent: n };
			}, { type: 'number', min: 0, max: 100, step: 1, testId: 'prune-ratio' }) : undefined,
			spec.method === 'dub-tol' ? textField('θ (tol)', String(spec.tol ?? 1e-3), (v) => {
				const n = Number(v);
				if (Number.isFinite(n) && n >= 0) this.spec = { method: 'dub-tol', tol: n };
			}, { type: 'number', min: 0, step: 0.0001, testId: 'prune-tol' }) : undefined,
			button(this.busy ? 'Computing…' : 'Preview', () => this.requestPreview(), { disabled: this.busy, testId: 'prune-run' }),
		);
		section.append(controls);
		if (this.error) section.append(el('div', 'banner error', this.error));
		const preview = this.preview;
		if (preview) {
			section.append(this.renderComparison(preview));
			section.append(el('div', 'prune-save', button('Save pruned model…', () => {
				this.busy = true;
				this.request = this.context.nextRequestId();
				this.context.post({ type: 'prune/save', requestId: this.request });
				this.render();
			}, { disabled: this.busy, testId: 'prune-save' }), el('span', 'muted', ` Writes a new file in the model's format; the original is never changed. Preview took ${preview.elapsedMs} ms.`)));
		}
		if (this.saved) section.append(el('div', 'banner info', `Saved ${this.saved}`));
	}

	private requestPreview(): void {
		this.busy = true;
		this.error = undefined;
		this.request = this.context.nextRequestId();
		this.context.post({ type: 'prune/preview', requestId: this.request, spec: this.spec });
		this.render();
	}

	private renderComparison(preview: PrunePreviewDto): HTMLElement {
		const rows: [string, AnalysisResultDto | undefined][] = [['now', preview.before], ['D.U.B.', preview.after], ['unstructured, same ratios', preview.unstructured]];
		const table = el('table', 'compare');
		table.append(el('thead', undefined, el('tr', undefined, el('th', undefined, ''), el('th', 'num', 'Zeros'), el('th', 'num', 'ADC bits'), el('th', 'num', 'Improvement'), el('th', undefined, 'Crossbars per level'))));
		const body = el('tbody');
		for (const [label, r] of rows) {
			if (!r) continue;
			body.append(el('tr', undefined, el('th', undefined, label), el('td', 'num', formatPercent(r.totals.zeros, r.totals.weights)), el('td', 'num', `${formatInteger(r.totals.adcBitsDense)} → ${formatInteger(r.totals.adcBits)}`), el('td', 'num strong', formatImprovement(r.totals.adcEnergyImprovement)), el('td', 'levels', r.totals.levelHistogram.join(' '))));
		}
		table.append(body);
		const perLayer = el('table', 'compare per-layer');
		perLayer.append(el('thead', undefined, el('tr', undefined, el('th', undefined, 'Layer'), el('th', 'num', 'Now'), el('th', 'num', 'D.U.B.'), el('th', 'num', 'Unstructured'))));
		const layerBody = el('tbody');
		preview.after.layers.forEach((layer) => {
			const before = preview.before.layers.find((l) => l.name === layer.name);
			const unstructured = preview.unstructured?.layers.find((l) => l.name === layer.name);
			layerBody.append(el('tr', undefined, el('th', undefined, layer.name), el('td', 'num', before ? formatRatio(before.adcEnergyImprovement) : '–'), el('td', 'num strong', formatRatio(layer.adcEnergyImprovement)), el('td', 'num', unstructured ? formatRatio(unstructured.adcEnergyImprovement) : '–')));
		});
		perLayer.append(layerBody);
		const warnings = preview.after.warnings.length > 0 ? el('ul', 'prune-warnings', ...preview.after.warnings.map((w) => el('li', undefined, w))) : undefined;
		return el('div', 'prune-result', table, perLayer, warnings);
	}
}
