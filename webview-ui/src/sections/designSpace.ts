/**
 * The design-space section: "which crossbar size?" — the model's ADC improvement and total ADC
 * bits at every crossbar size, one line per slicing and energy law, computed by the host in the
 * background from one read of the file. Clicking a point switches the panel's profile to it.
 */
import type { AdcLaw, SweepResultDto, SweepPointDto } from '../../../src/shared/analysis';
import { formatImprovement, formatInteger, formatRatio } from '../../../src/shared/format';
import { xyChart } from '../charts';
import type { XySeries } from '../charts';
import { progressRing } from '../components';
import { el } from '../dom';
import type { SectionContext } from './context';

/** The panel's current setting, marked on the charts. */
interface Current {
	readonly crossbarSize: number;
	readonly slices: number;
	readonly adcLaw: AdcLaw;
}

export class DesignSpaceSection {
	private result: SweepResultDto | undefined;
	private progress: string | undefined;
	private error: string | undefined;

	constructor(private readonly root: HTMLElement, private readonly context: SectionContext) {}

	/** The host started a sweep (or reports how far it is). */
	onPending(progress: string): void {
		this.progress = progress;
		this.error = undefined;
		this.render();
	}

	onResult(result: SweepResultDto): void {
		this.result = result;
		this.progress = undefined;
		this.error = undefined;
		this.render();
	}

	onError(message: string): void {
		this.progress = undefined;
		this.error = message;
		this.render();
	}

	render(): void {
		const section = this.root.querySelector<HTMLElement>('section.design-space');
		const analysis = this.context.analysis();
		if (!section || !analysis) return;
		section.dataset.testid = 'design-space';
		const profile = analysis.result.profile;
		const current: Current = { crossbarSize: profile.crossbarSize, slices: profile.slices, adcLaw: profile.adcLaw };
		section.replaceChildren(el('h2', undefined, 'Design space: which crossbar size?'),
			el('p', 'hint', 'The same weights at every crossbar size, slicing and ADC energy law, from one read of the file. Click a point to switch the panel to that setting.'));
		if (this.progress) section.append(el('div', 'banner info', progressRing('Computing'), this.progress));
		if (this.error) section.append(el('div', 'banner error', this.error));
		const result = this.result;
		if (!result || result.file !== analysis.result.file) return;
		section.dataset.points = String(result.points.length);
		section.append(el('div', 'design-charts', ...charts(result, current, (point) => this.select(point))));
		section.append(table(result, current));
	}

	private select(point: SweepPointDto): void {
		const profile = this.context.analysis()?.result.profile;
		if (!profile) return;
		this.context.post({ type: 'profile/change', profile: { crossbarSize: point.crossbarSize, slices: point.slices, adcLaw: point.adcLaw, includeLinear: profile.includeLinear } });
	}
}

const isCurrent = (p: SweepPointDto, c: Current): boolean => p.crossbarSize === c.crossbarSize && p.slices === c.slices && p.adcLaw === c.adcLaw;
const settingLabel = (slices: number, law: AdcLaw): string => `q = ${slices}, ${law}`;

function charts(result: SweepResultDto, current: Current, select: (p: SweepPointDto) => void): HTMLElement[] {
	// Colour by slicing, dash pattern by law (the legend says which is which).
	const lines = result.slices.flatMap((slices, i) => result.adcLaws.map((law) => ({ slices, law, className: `design-q${i % 4} design-law-${law}` })));
	const point = (p: SweepPointDto, v: number, text: string, isMarked: boolean) => ({
		x: p.crossbarSize,
		y: v,
		title: `${p.crossbarSize}×${p.crossbarSize}: ${text}${isMarked ? ' (current)' : ''}`,
		onClick: () => select(p),
		data: { crossbarSize: String(p.crossbarSize), slices: String(p.slices), law: p.adcLaw, ...(isMarked ? { current: 'true' } : {}) },
	});
	const improvementSeries: XySeries[] = lines.map(({ slices, law, className }) => ({
		className,
		label: settingLabel(slices, law),
		points: result.points.filter((p) => p.slices === slices && p.adcLaw === law && p.totals.adcEnergyImprovement !== null)
			.map((p) => point(p, p.totals.adcEnergyImprovement as number, `${formatImprovement(p.totals.adcEnergyImprovement)}, ${formatInteger(p.totals.tiles)} crossbars`, isCurrent(p, current))),
	}));
	// ADC bits do not depend on the law: one line per slicing, at the panel's law.
	const bitsSeries: XySeries[] = result.slices.map((slices, i) => ({
		className: `design-q${i % 4} design-law-paper`,
		label: `q = ${slices}`,
		points: result.points.filter((p) => p.slices === slices && p.adcLaw === current.adcLaw)
			.map((p) => point(p, p.totals.adcBits, `${formatInteger(p.totals.adcBitsDense)} → ${formatInteger(p.totals.adcBits)} ADC bits`, isCurrent(p, current))),
	}));
	const common = { xLabel: 'crossbar size T', xScale: 'log2' as const, xTicks: result.crossbarSizes, xFormat: (v: number) => String(v) };
	const improvement = xyChart(improvementSeries, { ...common, label: 'ADC energy improvement against crossbar size', yLabel: 'ADC energy improvement', yFormat: (v) => formatRatio(v), includeY: [1] });
	const bits = xyChart(bitsSeries, { ...common, label: 'Total ADC bits against crossbar size', yLabel: 'total ADC bits', yFormat: (v) => formatInteger(Math.round(v)), includeY: [0] });
	for (const chart of [improvement, bits]) {
		chart.querySelectorAll('[data-current="true"]').forEach((mark) => mark.classList.add('selected'));
	}
	const legend = el('ul', 'legend design-legend', ...lines.map(({ slices, law, className }) => el('li', undefined, el('span', `key ${className}`), settingLabel(slices, law))));
	const figure = (caption: string, chart: SVGSVGElement, testId: string): HTMLElement => {
		const f = el('figure', 'design-chart', el('figcaption', undefined, caption), chart);
		f.dataset.testid = testId;
		return f;
	};
	return [figure('ADC energy improvement', improvement, 'design-improvement'), figure('Total ADC bits (any law)', bits, 'design-bits'), legend];
}

function table(result: SweepResultDto, current: Current): HTMLElement {
	const t = el('table', 'compare design-table');
	t.append(el('thead', undefined, el('tr', undefined, el('th', undefined, 'T'), el('th', 'num', 'q'), el('th', undefined, 'law'), el('th', 'num', 'Crossbars'), el('th', 'num', 'ADC bits'), el('th', 'num', 'Improvement'))));
	const body = el('tbody');
	for (const p of result.points) {
		const row = el('tr', isCurrent(p, current) ? 'current' : undefined, el('td', undefined, `${p.crossbarSize}×${p.crossbarSize}`), el('td', 'num', String(p.slices)), el('td', undefined, p.adcLaw), el('td', 'num', formatInteger(p.totals.tiles)), el('td', 'num', `${formatInteger(p.totals.adcBitsDense)} → ${formatInteger(p.totals.adcBits)}`), el('td', 'num strong', formatImprovement(p.totals.adcEnergyImprovement)));
		body.append(row);
	}
	t.append(body);
	return el('details', 'design-details', el('summary', undefined, `All ${result.points.length} settings`), el('div', 'table-scroll', t));
}
