/**
 * Small SVG charts (no library: each has at most a few hundred marks). Colours come from the
 * level palette or --vscode-* variables through CSS classes, so they follow the theme.
 */
import { formatRatio, formatTime } from '../../src/shared/format';
import { describeLevel, levelCss } from '../../src/shared/levelPalette';
import type { HistoryPointDto } from '../../src/shared/protocol';
import { levelThresholds, linearScale, paddedRange, rangeTicks } from './scales';

const svgNs = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
	const element = document.createElementNS(svgNs, tag);
	for (const [name, value] of Object.entries(attributes)) {
		element.setAttribute(name, String(value));
	}
	if (text !== undefined) element.textContent = text;
	return element;
}

function titled<T extends SVGElement>(element: T, title: string): T {
	element.append(svg('title', {}, title));
	return element;
}

/**
 * Crossbars per level: one bar per level in its palette colour, count above, k and bits below.
 * `adcBitsByLevel` is the analysis's ADC bits per level (`profile.adcBitsByLevel`).
 */
export function levelHistogram(histogram: readonly number[], adcBitsByLevel: readonly number[], options: { compact?: boolean; label: string }): SVGSVGElement {
	const bins = adcBitsByLevel.length;
	// Wide enough for the longest count above its bar.
	const digits = Math.max(...histogram.map((n) => String(n).length), 1);
	const barWidth = Math.max(options.compact ? 18 : 34, digits * 7 + 4);
	const gap = options.compact ? 4 : 8;
	const plot = options.compact ? 48 : 110;
	const top = 16;
	const bottom = options.compact ? 14 : 32;
	const width = histogram.length * (barWidth + gap) + gap;
	const root = svg('svg', { class: 'histogram', viewBox: `0 0 ${width} ${top + plot + bottom}`, width, height: top + plot + bottom, role: 'img', 'aria-label': options.label });
	const max = Math.max(1, ...histogram);
	histogram.forEach((count, k) => {
		const h = count === 0 ? 0 : Math.max(2, Math.round((plot * count) / max));
		const x = gap + k * (barWidth + gap);
		const group = titled(svg('g', { class: 'bar' }), `${describeLevel(k, adcBitsByLevel)} — ${count} crossbar${count === 1 ? '' : 's'}`);
		group.append(svg('rect', { x, y: top + plot - h, width: barWidth, height: h, fill: levelCss(k, adcBitsByLevel), class: 'bar-fill' }));
		group.append(svg('rect', { x, y: top, width: barWidth, height: plot, class: 'bar-hit' }));
		if (count > 0 || !options.compact) {
			group.append(svg('text', { x: x + barWidth / 2, y: top + plot - h - 4, 'text-anchor': 'middle', class: 'count' }, String(count)));
		}
		group.append(svg('text', { x: x + barWidth / 2, y: top + plot + 12, 'text-anchor': 'middle', class: 'axis' }, options.compact ? String(k) : `k=${k}`));
		if (!options.compact) {
			group.append(svg('text', { x: x + barWidth / 2, y: top + plot + 26, 'text-anchor': 'middle', class: 'axis muted' }, k >= bins - 1 ? 'empty' : `${adcBitsByLevel[k]} b`));
		}
		root.append(group);
	});
	return root;
}

/** A legend for the level colours, with what each level costs. */
export function levelLegend(adcBitsByLevel: readonly number[]): HTMLElement {
	const list = document.createElement('ul');
	list.className = 'legend';
	list.setAttribute('aria-label', 'Level colours');
	for (let k = 0; k < adcBitsByLevel.length; k++) {
		const item = document.createElement('li');
		const swatch = document.createElement('span');
		swatch.className = 'swatch';
		swatch.style.background = levelCss(k, adcBitsByLevel);
		item.append(swatch, document.createTextNode(describeLevel(k, adcBitsByLevel).replace(/^level /, 'k=')));
		list.append(item);
	}
	return list;
}

/**
 * Per-column non-zeros of one crossbar: a bar per output channel, the least-sparse column(s)
 * marked, and the level thresholds (n/2, n/4, …) as dashed lines: equal bars = balanced.
 */
export function columnBars(nonZeros: readonly number[], columnLength: number, channelStart: number, bins: number): SVGSVGElement {
	const n = nonZeros.length;
	const barWidth = Math.max(2, Math.min(14, Math.floor(520 / Math.max(1, n))));
	const gap = barWidth >= 6 ? 1 : 0;
	const left = 30;
	const top = 10;
	const plot = 120;
	const width = left + n * barWidth + 8;
	const root = svg('svg', { class: 'columns', viewBox: `0 0 ${width} ${top + plot + 22}`, width, height: top + plot + 22, role: 'img', 'aria-label': `Non-zeros per column of the selected crossbar` });
	const max = Math.max(...nonZeros, 0);
	const y = linearScale(0, Math.max(1, columnLength), top + plot, top);
	let lastLabelY = y(columnLength);
	for (const { level: k, nonZeros: v } of levelThresholds(columnLength, bins)) {
		root.append(titled(svg('line', { x1: left, x2: width - 4, y1: y(v), y2: y(v), class: 'threshold' }), `level ${k} and sparser: every column ≤ ${v} non-zeros`));
		if (y(v) - lastLabelY >= 11) {
			root.append(svg('text', { x: left - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'axis muted' }, `k${k}`));
			lastLabelY = y(v);
		}
	}
	root.append(svg('line', { x1: left, x2: width - 4, y1: y(columnLength), y2: y(columnLength), class: 'threshold full' }));
	root.append(svg('text', { x: left - 4, y: y(columnLength) + 3, 'text-anchor': 'end', class: 'axis muted' }, String(columnLength)));
	nonZeros.forEach((count, i) => {
		const h = top + plot - y(count);
		const isLsc = count === max && max > 0;
		const bar = titled(svg('rect', { x: left + i * barWidth, y: y(count), width: Math.max(1, barWidth - gap), height: Math.max(count > 0 ? 1 : 0, h), class: isLsc ? 'column lsc' : 'column' }), `output channel ${channelStart + i}: ${count} / ${columnLength} non-zeros${isLsc ? ' — least-sparse column (sets the ADC bits)' : ''}`);
		root.append(bar);
	});
	root.append(svg('line', { x1: left, x2: width - 4, y1: top + plot + 0.5, y2: top + plot + 0.5, class: 'baseline' }));
	root.append(svg('text', { x: left, y: top + plot + 16, class: 'axis muted' }, `ch ${channelStart}`));
	root.append(svg('text', { x: width - 6, y: top + plot + 16, 'text-anchor': 'end', class: 'axis muted' }, `ch ${channelStart + n - 1}`));
	return root;
}

/** The improvement across saves of the model file (one point per save). */
export function sparkline(points: readonly HistoryPointDto[]): SVGSVGElement {
	const width = 180;
	const height = 40;
	const values = points.map((p) => p.improvement ?? 0);
	const min = Math.min(...values, 1);
	const max = Math.max(...values, min + 0.01);
	const x = linearScale(0, points.length - 1, 4, width - 4);
	const y = linearScale(min, max, height - 4, 4);
	const root = svg('svg', { class: 'sparkline', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `Improvement across ${points.length} saves` });
	if (points.length > 1) {
		root.append(svg('polyline', { points: values.map((v, i) => `${x(i)},${y(v)}`).join(' '), class: 'line' }));
	}
	points.forEach((p, i) => {
		root.append(titled(svg('circle', { cx: x(i), cy: y(values[i]), r: i === points.length - 1 ? 3.5 : 2.5, class: i === points.length - 1 ? 'dot last' : 'dot' }), `saved ${formatTime(p.mtimeMs)}: ${formatRatio(p.improvement)}, ADC bits ${p.adcBitsDense} → ${p.adcBits}`));
	});
	return root;
}

/** One line of a line chart: its points, a CSS class for its colour, and whether it is dashed. */
export interface LineSeries {
	readonly className: string;
	readonly label: string;
	readonly points: readonly { readonly x: number; readonly y: number; readonly title: string }[];
	readonly dashed?: boolean;
}

export interface LineChartOptions {
	readonly label: string;
	/** x runs from 0 to xMax (epochs). */
	readonly xMax: number;
	/** A vertical marker (the prune between the phases). */
	readonly marker?: { readonly x: number; readonly label: string };
	readonly format: (value: number) => string;
	/** Always include these y values in the range (e.g. 1× for the improvement). */
	readonly include?: readonly number[];
}

/**
 * A small line chart (SVG): one polyline per series, dots with a hover title, y ticks at the
 * range's ends and middle, x labelled in epochs. Colours come from the series' CSS classes.
 */
export function lineChart(series: readonly LineSeries[], options: LineChartOptions): SVGSVGElement {
	const width = 230;
	const height = 130;
	const left = 42;
	const right = 8;
	const top = 8;
	const bottom = 22;
	const plotW = width - left - right;
	const plotH = height - top - bottom;
	// A little room around the data; the ticks sit on the data's own min, middle and max.
	const { dataMin, dataMax, min, max } = paddedRange(series.flatMap((s) => s.points.map((p) => p.y)), options.include);
	const xMax = Math.max(1, options.xMax);
	const x = linearScale(0, xMax, left, left + plotW);
	const y = linearScale(min, max, top + plotH, top);
	const root = svg('svg', { class: 'line-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': options.label });
	root.append(svg('rect', { x: left, y: top, width: plotW, height: plotH, class: 'plot-area' }));
	for (const v of rangeTicks(dataMin, dataMax)) {
		root.append(svg('line', { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: 'grid' }));
		root.append(svg('text', { x: left - 4, y: y(v) + 3.5, 'text-anchor': 'end', class: 'axis muted' }, options.format(v)));
	}
	root.append(svg('text', { x: left, y: height - 6, class: 'axis muted' }, '0'));
	root.append(svg('text', { x: left + plotW, y: height - 6, 'text-anchor': 'end', class: 'axis muted' }, `${xMax} epochs`));
	if (options.marker) {
		const mx = x(options.marker.x);
		root.append(titled(svg('line', { x1: mx, x2: mx, y1: top, y2: top + plotH, class: 'marker' }), options.marker.label));
		root.append(svg('text', { x: mx, y: height - 6, 'text-anchor': 'middle', class: 'axis muted' }, options.marker.label));
	}
	for (const s of series) {
		if (s.points.length === 0) continue;
		const points = [...s.points].sort((a, b) => a.x - b.x);
		if (points.length > 1) {
			root.append(svg('polyline', { points: points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' '), class: `series ${s.className}${s.dashed ? ' dashed' : ''}` }));
		}
		// Dots: every point of a short run, else only the last (hover titles stay on those).
		const dots = points.length <= 60 ? points : points.slice(-1);
		for (const p of dots) {
			root.append(titled(svg('circle', { cx: x(p.x), cy: y(p.y), r: 2.5, class: `dot ${s.className}` }), `${s.label}: ${p.title}`));
		}
	}
	return root;
}

/** One point of an x–y chart; clickable points are buttons (Enter or click). */
export interface XyPoint {
	readonly x: number;
	readonly y: number;
	readonly title: string;
	/** A short text next to the point (a prune ratio, a run's name). */
	readonly label?: string;
	readonly onClick?: () => void;
	/** Extra attributes of the point (data-* for tests and state, e.g. the selected setting). */
	readonly data?: Readonly<Record<string, string>>;
}

/** A series of an x–y chart: joined by a line (sorted by x) unless `line` is false. */
export interface XySeries {
	readonly className: string;
	readonly label: string;
	readonly points: readonly XyPoint[];
	readonly line?: boolean;
	readonly dashed?: boolean;
	/** 'square' marks points that are not part of a sweep (e.g. finished fine-tune runs). */
	readonly marker?: 'dot' | 'square';
}

export interface XyChartOptions {
	readonly label: string;
	readonly xLabel: string;
	readonly yLabel: string;
	readonly xFormat: (value: number) => string;
	readonly yFormat: (value: number) => string;
	/** 'log2' for crossbar sizes; ticks then sit on `xTicks`. */
	readonly xScale?: 'linear' | 'log2';
	readonly xTicks?: readonly number[];
	/** Values each axis must show (1× on an improvement axis). */
	readonly includeX?: readonly number[];
	readonly includeY?: readonly number[];
	readonly width?: number;
	readonly height?: number;
}

/**
 * An x–y chart (SVG): the trade-off of accuracy against ADC improvement, or a design-space line
 * per slicing and law. Axis ticks at the data's ends and middle (or at `xTicks`), a hover title on
 * every point, labels next to labelled points; colours from the series' CSS classes.
 */
export function xyChart(series: readonly XySeries[], options: XyChartOptions): SVGSVGElement {
	const width = options.width ?? 420;
	const height = options.height ?? 240;
	const left = 48;
	const right = 14;
	const top = 10;
	const bottom = 34;
	const plotW = width - left - right;
	const plotH = height - top - bottom;
	const log = options.xScale === 'log2';
	const toX = (v: number): number => (log ? Math.log2(v) : v);
	const xs = paddedRange(series.flatMap((s) => s.points.map((p) => toX(p.x))), (options.includeX ?? []).map(toX).concat((options.xTicks ?? []).map(toX)));
	const ys = paddedRange(series.flatMap((s) => s.points.map((p) => p.y)), options.includeY);
	const x = linearScale(xs.min, xs.max, left, left + plotW);
	const y = linearScale(ys.min, ys.max, top + plotH, top);
	const px = (v: number): number => x(toX(v));
	const root = svg('svg', { class: 'xy-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': options.label });
	root.append(svg('rect', { x: left, y: top, width: plotW, height: plotH, class: 'plot-area' }));
	for (const v of rangeTicks(ys.dataMin, ys.dataMax)) {
		root.append(svg('line', { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: 'grid' }));
		root.append(svg('text', { x: left - 4, y: y(v) + 3.5, 'text-anchor': 'end', class: 'axis muted' }, options.yFormat(v)));
	}
	const xTicks = options.xTicks ?? rangeTicks(xs.dataMin, xs.dataMax);
	for (const v of xTicks) {
		const at = options.xTicks ? px(v) : x(v);
		root.append(svg('line', { x1: at, x2: at, y1: top, y2: top + plotH, class: 'grid' }));
		root.append(svg('text', { x: at, y: top + plotH + 13, 'text-anchor': 'middle', class: 'axis muted' }, options.xFormat(v)));
	}
	root.append(svg('text', { x: left + plotW / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis' }, options.xLabel));
	root.append(svg('text', { x: 10, y: top + plotH / 2, 'text-anchor': 'middle', class: 'axis', transform: `rotate(-90 10 ${top + plotH / 2})` }, options.yLabel));
	for (const s of series) {
		if (s.points.length === 0) continue;
		const points = [...s.points].sort((a, b) => a.x - b.x);
		if (s.line !== false && points.length > 1) {
			root.append(svg('polyline', { points: points.map((p) => `${px(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' '), class: `series ${s.className}${s.dashed ? ' dashed' : ''}` }));
		}
		// Labels that would sit on top of the last one drawn for this series are left to the hover title.
		let lastLabel: { x: number; y: number } | undefined;
		for (const p of points) {
			const cx = px(p.x);
			const cy = y(p.y);
			const mark = s.marker === 'square'
				? svg('rect', { x: cx - 4, y: cy - 4, width: 8, height: 8, class: `dot ${s.className}` })
				: svg('circle', { cx, cy, r: 3.5, class: `dot ${s.className}` });
			for (const [name, value] of Object.entries(p.data ?? {})) mark.setAttribute(`data-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value);
			titled(mark, `${s.label}: ${p.title}`);
			if (p.onClick) {
				const click = p.onClick;
				mark.classList.add('clickable');
				mark.setAttribute('role', 'button');
				mark.setAttribute('tabindex', '0');
				mark.addEventListener('click', click);
				mark.addEventListener('keydown', (event: Event) => {
					if (!(event instanceof KeyboardEvent)) return;
					if (event.key === 'Enter' || event.key === ' ') {
						event.preventDefault();
						click();
					}
				});
			}
			root.append(mark);
			if (p.label && (!lastLabel || Math.hypot(cx - lastLabel.x, cy - lastLabel.y) >= 16)) {
				root.append(svg('text', { x: cx + 5, y: cy - 5, class: `point-label ${s.className}` }, p.label));
				lastLabel = { x: cx, y: cy };
			}
		}
	}
	return root;
}
