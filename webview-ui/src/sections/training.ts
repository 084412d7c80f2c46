/**
 * The training section: a "Run D.U.B. fine-tune" run of (or into) the panel's model, live: its
 * status and buttons, the loss / accuracy / ADC-improvement curves per phase, the level
 * histogram at the end of each phase and the final D.U.B.-vs-unstructured table.
 */
import { formatAccuracy, formatImprovement, formatRatio } from '../../../src/shared/format';
import type { TrainingAction, TrainingCapabilityDto } from '../../../src/shared/protocol';
import type { TrainingPointDto, TrainingRunDto, TrainingSeries } from '../../../src/shared/training';
import { levelHistogram, levelLegend, lineChart } from '../charts';
import type { LineSeries } from '../charts';
import { badge, button, progressRing } from '../components';
import { el } from '../dom';
import type { SectionContext } from './context';

export class TrainingSection {
	private run: TrainingRunDto | undefined;
	private capability: TrainingCapabilityDto | undefined;

	constructor(private readonly root: HTMLElement, private readonly context: SectionContext) {}

	/** The header's "Fine-tune…" button (disabled in an untrusted workspace). */
	startButton(): HTMLElement {
		const capability = this.capability;
		return button('Fine-tune…', () => this.context.post({ type: 'training/start' }), {
			secondary: true,
			disabled: capability?.available === false,
			title: capability?.available === false ? capability.reason : 'Run D.U.B. fine-tune: regularize, prune and fine-tune this model, compared with unstructured pruning',
			testId: 'training-start',
		});
	}

	setCapability(capability: TrainingCapabilityDto): void {
		this.capability = capability;
		this.root.querySelector('[data-testid="training-start"]')?.replaceWith(this.startButton());
	}

	update(run: TrainingRunDto): void {
		this.run = run;
		this.render();
	}

	private action(action: TrainingAction): void {
		if (this.run) this.context.post({ type: 'training/action', runId: this.run.runId, action });
	}

	/**
	 * The run's section: status and actions, the curves, the level histogram per phase, the final
	 * table. While a run streams epochs only the position and the plots are replaced, so the
	 * buttons stay put under the pointer.
	 */
	render(): void {
		const section = this.root.querySelector<HTMLElement>('section.training');
		if (!section) return;
		const run = this.run;
		section.hidden = !run;
		if (!run) {
			section.replaceChildren();
			return;
		}
		const key = `${run.runId}|${run.status}|${run.outputWritten}`;
		const body = section.querySelector<HTMLElement>('.training-body');
		const meta = `${run.modelLabel} → ${run.outputLabel} · ${run.engineLabel} · ${run.datasetLabel} · ${run.presetLabel} · T = ${run.crossbarSize}`;
		if (section.dataset.key === key && body) {
			section.querySelector('.training-position')?.replaceChildren(position(run));
			section.querySelector('.training-meta')?.replaceChildren(meta);
			body.replaceChildren(...this.body(run));
			return;
		}
		section.replaceChildren();
		section.dataset.key = key;
		section.dataset.testid = 'training';
		section.dataset.status = run.status;
		const isOutput = this.context.analysis()?.model.path === run.outputPath;
		const head = el('div', 'training-head',
			el('h2', undefined, isOutput ? 'D.U.B. fine-tune that wrote this model' : 'D.U.B. fine-tune'),
			badge(run.status),
			el('span', 'muted training-meta', meta));
		const actions = el('div', 'actions training-actions');
		if (run.status === 'running') {
			actions.append(el('span', 'training-progress', progressRing('Training'), el('span', 'training-position', position(run))));
			actions.append(button('Cancel', () => this.action('cancel'), { secondary: true, title: 'Stop after the current step; the last complete epoch stays in the checkpoint', testId: 'training-cancel' }));
		}
		if (run.outputWritten) {
			if (!isOutput) actions.append(button('Open', () => this.action('open'), { title: `Analyze ${run.outputLabel} in its own panel`, testId: 'training-open' }));
			actions.append(button('Reveal', () => this.action('reveal'), { secondary: true, title: `Reveal ${run.outputLabel} in the explorer`, testId: 'training-reveal' }));
		}
		section.append(head, actions);
		if (run.status === 'failed' && run.message) section.append(el('div', 'banner error', run.message));
		if (run.status === 'cancelled') section.append(el('div', 'banner info', run.message ?? 'Cancelled.'));
		if (run.status === 'done') section.append(el('div', 'muted training-time', `Finished in ${(run.elapsedMs / 1000).toFixed(1)} s.`));
		section.append(el('div', 'training-body', ...this.body(run)));
	}

	private body(run: TrainingRunDto): HTMLElement[] {
		return [
			charts(run),
			run.snapshots.length > 0 ? levels(run) : undefined,
			run.summary ? summary(run) : undefined,
		].filter((e): e is HTMLElement => e !== undefined);
	}
}

function position(run: TrainingRunDto): string {
	const names: Record<string, string> = { regularize: 'Regularize', prune: 'D.U.B. prune', finetune: 'Fine-tune', baseline: 'Unstructured baseline' };
	if (!run.phase) return 'Starting…';
	return run.phase === 'prune' ? names.prune : `${names[run.phase]} epoch ${run.epoch ?? 0}/${run.epochs ?? '?'} · ${(run.elapsedMs / 1000).toFixed(0)} s`;
}

function charts(run: TrainingRunDto): HTMLElement {
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
	const times = (v: number): string => `${v.toFixed(2)}×`;
	const loss = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(3));
	const figure = (title: string, chart: SVGSVGElement, testId: string): HTMLElement => {
		const f = el('figure', 'training-chart', el('figcaption', undefined, title), chart);
		f.dataset.testid = testId;
		return f;
	};
	const projected = line('regularize', (p) => p.projectedImprovement, times, true, 'regularize: a D.U.B. prune now would give');
	const box = el('div', 'training-charts',
		figure('Training loss', lineChart(all.map((s) => line(s, (p) => p.loss, loss)), { label: 'Training loss per epoch', xMax, marker, format: loss }), 'chart-loss'),
		figure('Held-out accuracy', lineChart(all.map((s) => line(s, (p) => p.testAccuracy, (v) => formatAccuracy(v, 1))), { label: 'Held-out accuracy per epoch', xMax, marker, format: (v) => formatAccuracy(v, 1) }), 'chart-accuracy'),
		figure('ADC energy improvement', lineChart([...all.map((s) => line(s, (p) => p.improvement, times)), projected], { label: 'ADC energy improvement per epoch', xMax, marker, format: times, include: [1] }), 'chart-improvement'));
	box.dataset.testid = 'training-curves';
	const legend = el('ul', 'legend training-legend',
		...all.map((s) => el('li', undefined, el('span', `key series-${s}`), labels[s])),
		projected.points.length > 0 ? el('li', undefined, el('span', 'key series-regularize dashed'), 'regularize: improvement if pruned now') : undefined);
	return el('div', 'training-plots', box, legend);
}

function levels(run: TrainingRunDto): HTMLElement {
	const box = el('div', 'training-levels');
	box.dataset.testid = 'training-levels';
	for (const snapshot of run.snapshots) {
		const caption = `${snapshot.label}${snapshot.final ? '' : ' (so far)'} · ${formatRatio(snapshot.improvement)}${snapshot.testAccuracy !== undefined ? ` · ${formatAccuracy(snapshot.testAccuracy, 1)}` : ''}`;
		box.append(el('figure', `training-level${snapshot.final ? '' : ' live'}`, el('figcaption', undefined, caption), levelHistogram(snapshot.levelHistogram, run.adcBitsByLevel, { compact: true, label: `Crossbars per level: ${snapshot.label}` })));
	}
	return el('div', 'training-levels-wrap', el('div', 'side-title', 'Crossbars per level (all conv layers) at the end of each phase'), box, levelLegend(run.adcBitsByLevel));
}

function summary(run: TrainingRunDto): HTMLElement {
	const table = el('table', 'compare training-summary');
	table.dataset.testid = 'training-summary';
	table.append(el('thead', undefined, el('tr', undefined, el('th', undefined, ''), el('th', 'num', 'Accuracy'), el('th', 'num', 'Best'), el('th', 'num', 'After prune'), el('th', 'num', 'ADC improvement'), el('th', undefined, 'Crossbars per level (k = 0, 1, …)'))));
	const body = el('tbody');
	for (const row of run.summary ?? []) {
		const tr = el('tr', row.key === 'dub' ? 'dub' : undefined, el('th', undefined, row.label), el('td', 'num', formatAccuracy(row.accuracy)), el('td', 'num', formatAccuracy(row.bestAccuracy)), el('td', 'num', formatAccuracy(row.afterPruneAccuracy)), el('td', 'num strong', formatImprovement(row.improvement)), el('td', 'levels', row.levelHistogram.join(' ')));
		tr.dataset.row = row.key;
		body.append(tr);
	}
	table.append(body);
	return el('div', 'training-summary-wrap', el('h3', undefined, 'D.U.B. vs unstructured pruning (same ratios, same fine-tune)'), el('div', 'table-scroll', table));
}
