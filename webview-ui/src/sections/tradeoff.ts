/**
 * The trade-off section: held-out accuracy against ADC energy improvement for a one-shot prune
 * sweep of the model (D.U.B. and unstructured at each ratio, no fine-tune), drawn as the points
 * arrive, with the dense model and finished fine-tunes of the same model as their own markers.
 * The plot users decide from: how far can I prune before accuracy falls, and what does it save?
 */
import { formatAccuracy, formatImprovement, formatPercent, formatRatio } from '../../../src/shared/format';
import type { TradeoffPointDto, TradeoffViewDto } from '../../../src/shared/tradeoff';
import { xyChart } from '../charts';
import type { XyPoint, XySeries } from '../charts';
import { badge, button, progressRing } from '../components';
import { el } from '../dom';
import type { SectionContext } from './context';

const methodLabel = { dub: 'D.U.B., one-shot', unstructured: 'unstructured, one-shot' } as const;

export class TradeoffSection {
	private view: TradeoffViewDto | undefined;

	constructor(private readonly root: HTMLElement, private readonly context: SectionContext) {}

	/** The header's button. */
	startButton(): HTMLElement {
		return button('Trade-off…', () => this.context.post({ type: 'tradeoff/start' }), {
			secondary: true,
			title: 'Sweep the prune ratio one-shot (D.U.B. and unstructured) and plot held-out accuracy against ADC energy improvement',
			testId: 'tradeoff-start',
		});
	}

	update(view: TradeoffViewDto): void {
		this.view = view;
		this.render();
	}

	render(): void {
		const section = this.root.querySelector<HTMLElement>('section.tradeoff');
		if (!section) return;
		const view = this.view;
		section.hidden = !view;
		if (!view) {
			section.replaceChildren();
			return;
		}
		section.dataset.testid = 'tradeoff';
		section.dataset.status = view.status;
		section.dataset.points = String(view.points.length);
		const { profile } = view;
		const head = el('div', 'training-head',
			el('h2', undefined, 'Accuracy–energy trade-off'),
			badge(view.status),
			el('span', 'muted', `${view.engineLabel} · ${view.datasetLabel} · T = ${profile.crossbarSize}${profile.slices > 1 ? `, q = ${profile.slices}` : ''} · ${profile.adcLaw} law · one-shot, no fine-tune`));
		const actions = el('div', 'actions');
		if (view.status === 'running') {
			actions.append(el('span', 'training-progress', progressRing('Sweeping'), `point ${view.done} of ${view.total}`),
				button('Cancel', () => this.context.post({ type: 'tradeoff/cancel' }), { secondary: true, testId: 'tradeoff-cancel' }));
		} else {
			actions.append(button('Run again…', () => this.context.post({ type: 'tradeoff/start' }), { secondary: true, testId: 'tradeoff-again' }));
		}
		section.replaceChildren(head, actions);
		if (view.message) section.append(el('div', `banner ${view.status === 'failed' ? 'error' : 'info'}`, view.message));
		if (view.status === 'done' && view.seconds !== undefined) section.append(el('div', 'muted', `${view.points.length} points in ${view.seconds.toFixed(1)} s.`));
		if (view.dense || view.points.length > 0) {
			section.append(el('div', 'tradeoff-body', chart(view), legend(view)), table(view));
		}
	}
}

function pointOf(p: TradeoffPointDto): XyPoint[] {
	// An all-empty model (∞) cannot sit on the axis; the table lists it.
	return p.improvement === null ? [] : [{ x: p.improvement, y: p.accuracy, label: `${p.ratio}`, title: `${p.ratio} %: ${formatAccuracy(p.accuracy)}, ${formatImprovement(p.improvement)} (${formatPercent(p.zerosFraction, 1)} zeros)`, data: { method: p.method, ratio: String(p.ratio) } }];
}

function chart(view: TradeoffViewDto): HTMLElement {
	const series: XySeries[] = (['dub', 'unstructured'] as const).map((method) => ({
		className: `tradeoff-${method}`,
		label: methodLabel[method],
		points: view.points.filter((p) => p.method === method).flatMap(pointOf),
	}));
	if (view.dense && view.dense.improvement !== null) {
		series.push({ className: 'tradeoff-dense', label: 'the model as it is', line: false, points: [{ x: view.dense.improvement, y: view.dense.accuracy, label: 'now', title: `${formatAccuracy(view.dense.accuracy)}, ${formatImprovement(view.dense.improvement)}` }] });
	}
	const runs = view.extraPoints.filter((p) => p.improvement !== null);
	if (runs.length > 0) {
		series.push({ className: 'tradeoff-finetuned', label: 'fine-tuned', line: false, marker: 'square', points: runs.map((p) => ({ x: p.improvement as number, y: p.accuracy, title: `${p.label}: ${formatAccuracy(p.accuracy)}, ${formatImprovement(p.improvement)}`, data: { method: p.method } })) });
	}
	const svg = xyChart(series, {
		label: 'Held-out accuracy against ADC energy improvement',
		xLabel: `ADC energy improvement (${view.profile.adcLaw} law)`,
		yLabel: 'held-out accuracy (%)',
		xFormat: (v) => formatRatio(v),
		yFormat: (v) => `${v.toFixed(1)}`,
		includeX: [1],
		width: 520,
		height: 300,
	});
	const figure = el('figure', 'tradeoff-chart', svg);
	figure.dataset.testid = 'tradeoff-chart';
	return figure;
}

function legend(view: TradeoffViewDto): HTMLElement {
	return el('ul', 'legend tradeoff-legend',
		el('li', undefined, el('span', 'key tradeoff-dub'), methodLabel.dub),
		el('li', undefined, el('span', 'key tradeoff-unstructured'), methodLabel.unstructured),
		el('li', undefined, el('span', 'dot-key tradeoff-dense'), 'the model as it is'),
		view.extraPoints.length > 0 ? el('li', undefined, el('span', 'square-key tradeoff-finetuned'), 'finished fine-tunes of this model') : undefined,
		el('li', 'muted', 'labels: prune ratio (%) of every conv layer'));
}

function table(view: TradeoffViewDto): HTMLElement {
	const t = el('table', 'compare tradeoff-table');
	t.append(el('thead', undefined, el('tr', undefined, el('th', 'num', 'Ratio'), el('th', 'num', 'D.U.B. accuracy'), el('th', 'num', 'D.U.B. ADC'), el('th', 'num', 'Unstructured accuracy'), el('th', 'num', 'Unstructured ADC'))));
	const body = el('tbody');
	const ratios = [...new Set(view.points.map((p) => p.ratio))];
	const cell = (p: TradeoffPointDto | undefined, what: 'accuracy' | 'improvement'): HTMLElement => el('td', 'num', p === undefined ? '…' : what === 'accuracy' ? formatAccuracy(p.accuracy) : formatRatio(p.improvement));
	if (view.dense) body.append(el('tr', 'dense', el('th', 'num', 'now'), el('td', 'num', formatAccuracy(view.dense.accuracy)), el('td', 'num', formatRatio(view.dense.improvement)), el('td', 'num', ''), el('td', 'num', '')));
	for (const ratio of ratios) {
		const dub = view.points.find((p) => p.ratio === ratio && p.method === 'dub');
		const unstructured = view.points.find((p) => p.ratio === ratio && p.method === 'unstructured');
		body.append(el('tr', undefined, el('th', 'num', `${ratio} %`), cell(dub, 'accuracy'), cell(dub, 'improvement'), cell(unstructured, 'accuracy'), cell(unstructured, 'improvement')));
	}
	for (const p of view.extraPoints) {
		body.append(el('tr', 'finetuned', el('th', undefined, p.label), el('td', 'num', p.method === 'dub' ? formatAccuracy(p.accuracy) : ''), el('td', 'num', p.method === 'dub' ? formatRatio(p.improvement) : ''), el('td', 'num', p.method === 'unstructured' ? formatAccuracy(p.accuracy) : ''), el('td', 'num', p.method === 'unstructured' ? formatRatio(p.improvement) : '')));
	}
	t.append(body);
	return el('details', 'tradeoff-details', el('summary', undefined, 'The numbers'), el('div', 'table-scroll', t));
}
