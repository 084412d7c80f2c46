import { formatCompact, formatImprovement, formatInteger, formatPercent, formatPj } from '../shared/format';
import type { AnalysisResultDto, CrossbarGridDto, SweepResultDto, LayerAnalysisDto } from '../shared/analysis';
import { describeLevel, levelCss, levelPalette, levelPaletteIndex } from '../shared/levelPalette';
import { pngDataUri } from './png';

export interface HtmlReportOptions {
	/** Shown as the title; defaults to the file name of `result.file`. */
	readonly title?: string;
	/** When the report was made (defaults to now); fixed in tests. */
	readonly generatedAt?: Date;
	/** e.g. `crossbar-lens 0.1.0`. */
	readonly generator?: string;
	/** The model's design space (src/hardware/sweep.ts), drawn as its own section when given. */
	readonly designSpace?: SweepResultDto;
}

/** Largest heatmap image, in CSS pixels (very tall grids get smaller cells, never below 1 px). */
const maxHeatmapWidth = 720;
const maxHeatmapHeight = 480;
const maxCell = 18;

/**
 * A self-contained HTML report of one analysis: totals, the profile and ADC law with its
 * source, the level histogram, a per-layer table and one heatmap per layer as an embedded PNG.
 * No script, no network: a strict CSP in the file says so, and it reads in light and dark mode.
 */
export function renderHtmlReport(result: AnalysisResultDto, options: HtmlReportOptions = {}): string {
	const { totals, profile } = result;
	const bins = profile.sparsityBins;
	const bits = profile.adcBitsByLevel;
	const title = options.title ?? baseName(result.file);
	const generatedAt = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
	const perInference = totals.perInference;
	const cards = [
		card('ADC energy improvement', formatImprovement(totals.adcEnergyImprovement), `${result.adcLaw.name} law, per crossbar (the paper's accounting)`, 'improvement'),
		card('Crossbars', formatInteger(totals.tiles), `${profile.crossbarSize}×${profile.crossbarSize}, ${totals.layers} layer${totals.layers === 1 ? '' : 's'}`),
		card('ADC bits', `${formatInteger(totals.adcBitsDense)} → ${formatInteger(totals.adcBits)}`, 'Σ over crossbars, dense → current'),
		card('ADC energy', `${formatCompact(totals.adcEnergyDense)} → ${formatCompact(totals.adcEnergy)}`, `units of the ${result.adcLaw.name} law`),
		card('Zero weights', formatPercent(totals.zeros, totals.weights), `${formatInteger(totals.zeros)} of ${formatInteger(totals.weights)}`),
		...(perInference ? [card('Per inference', `${formatPj(perInference.adcEnergyPjDense)} → ${formatPj(perInference.adcEnergyPj)}`, `${formatInteger(perInference.crossbarActivations)} crossbar activations, ${formatImprovement(perInference.adcEnergyImprovement)}`)] : []),
	];
	const profileRows: [string, string][] = [
		['Crossbar', `${profile.crossbarSize} × ${profile.crossbarSize} (${profile.channelsPerCrossbar} output channels per crossbar)`],
		['Slices per weight', String(profile.slices)],
		['Zero tolerance', profile.tol === 0 ? '0 (exact zeros)' : `|w| ≤ ${profile.tol}`],
		['Dense ADC', `${profile.adcBitsDensePerCrossbar} bits per crossbar`],
		['Layers counted', profile.includeLinear ? 'convolution and linear' : 'convolution only (as in the paper)'],
		['Input bits', String(profile.inputBits)],
		['ADC energy at 8 bits', `${profile.adcEnergyPjAt8Bits} pJ per conversion`],
		...(profile.inputSize ? [['Input size', profile.inputSize.join(' × ')] as [string, string]] : []),
		['ADC law', `<b>${esc(result.adcLaw.name)}</b>: ${esc(result.adcLaw.formula)}<br><small>${esc(result.adcLaw.source)}</small>`],
	];
	return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="generator" content="${esc(options.generator ?? 'crossbar-lens')}">
<title>Crossbar report — ${esc(title)}</title>
<style>${css}</style>
</head>
<body>
<header>
<h1>Crossbar report: ${esc(title)}</h1>
<p class="sub">${esc(result.file)} · ${esc(result.format)} · ${formatInteger(totals.weights)} weights · generated ${esc(generatedAt)} by ${esc(options.generator ?? 'crossbar-lens')}</p>
</header>
<section class="cards" aria-label="Totals">${cards.join('')}</section>
<section>
<h2>Hardware profile</h2>
<table class="profile">${profileRows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${k === 'ADC law' ? v : esc(v)}</td></tr>`).join('')}</table>
</section>
<section>
<h2>Crossbars per sparsity level</h2>
${histogramSvg(totals.levelHistogram, bits)}
${legend(bits)}
</section>
<section>
<h2>Layers</h2>
<table class="layers">
<thead><tr><th>Layer</th><th>Kind</th><th>Matrix</th><th class="num">Crossbars</th><th class="num">Zeros</th><th>Crossbars per level k=0..${bins - 1}</th><th class="num">ADC bits</th><th class="num">ADC energy</th><th class="num">Improvement</th></tr></thead>
<tbody>
${result.layers.map(layerRow).join('\n')}
</tbody>
<tfoot><tr><th scope="row">Total</th><td></td><td></td><td class="num">${formatInteger(totals.tiles)}</td><td class="num">${formatPercent(totals.zeros, totals.weights)}</td><td class="levels">${totals.levelHistogram.join(' ')}</td><td class="num">${totals.adcBitsDense} → ${totals.adcBits}</td><td class="num">${formatCompact(totals.adcEnergyDense)} → ${formatCompact(totals.adcEnergy)}</td><td class="num"><b>${esc(formatImprovement(totals.adcEnergyImprovement))}</b></td></tr></tfoot>
</table>
</section>
<section>
<h2>Crossbar heatmaps</h2>
<p class="note">One cell per crossbar: grid rows are blocks of ${profile.crossbarSize} inputs, columns are groups of ${profile.channelsPerCrossbar} output channels; the colour is the crossbar's level (ADC bits its least-sparse column needs).</p>
${legend(bits)}
<div class="heatmaps">
${result.layers.map((layer) => heatmapFigure(layer, bits)).join('\n')}
</div>
</section>
${options.designSpace ? designSpaceSection(options.designSpace, profile) : ''}
${result.warnings.length > 0 ? `<section><h2>Warnings</h2><ul class="warnings">${result.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></section>` : ''}
<footer>Levels and ADC resolution follow D.U.B. (arXiv 2403.13082): a crossbar at level k needs log2 T − k ADC bits; an empty crossbar needs none.</footer>
</body>
</html>
`;
}

function card(label: string, value: string, detail: string, extraClass = ''): string {
	return `<div class="card ${extraClass}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="detail">${esc(detail)}</div></div>`;
}

function layerRow(layer: LayerAnalysisDto): string {
	return `<tr><th scope="row"><a href="#layer-${anchor(layer.name)}">${esc(layer.name)}</a></th><td>${layer.kind}</td><td class="num">${layer.matrix[0]}×${layer.matrix[1]}</td><td class="num">${formatInteger(layer.tiles)}</td><td class="num">${formatPercent(layer.zeros, layer.weights)}</td><td class="levels">${layer.levelHistogram.join(' ')}</td><td class="num">${layer.adcBitsDense} → ${layer.adcBits}</td><td class="num">${formatCompact(layer.adcEnergyDense)} → ${formatCompact(layer.adcEnergy)}</td><td class="num">${esc(formatImprovement(layer.adcEnergyImprovement))}</td></tr>`;
}

/** The cell size (CSS px) of a grid's heatmap, and whether to leave a 1 px gap between cells. */
export function heatmapCellSize(grid: Pick<CrossbarGridDto, 'inputBlocks' | 'channelGroups'>): { cell: number; gap: number } {
	const cell = Math.max(1, Math.min(maxCell, Math.floor(maxHeatmapWidth / grid.channelGroups), Math.floor(maxHeatmapHeight / grid.inputBlocks)));
	return { cell, gap: cell >= 6 ? 1 : 0 };
}

/** RGBA pixels of a layer's heatmap at `cell` px per crossbar (gaps transparent). */
export function heatmapPixels(grid: CrossbarGridDto, adcBitsByLevel: readonly number[], cell: number, gap: number): { width: number; height: number; rgba: Uint8Array } {
	const width = grid.channelGroups * cell;
	const height = grid.inputBlocks * cell;
	const rgba = new Uint8Array(width * height * 4);
	const palette = levelPalette(adcBitsByLevel);
	for (let block = 0; block < grid.inputBlocks; block++) {
		for (let group = 0; group < grid.channelGroups; group++) {
			const color = palette[levelPaletteIndex(grid.levels[block * grid.channelGroups + group], palette.length)];
			for (let y = block * cell; y < (block + 1) * cell - gap; y++) {
				for (let x = group * cell; x < (group + 1) * cell - gap; x++) {
					rgba.set(color, (y * width + x) * 4);
				}
			}
		}
	}
	return { width, height, rgba };
}

function heatmapFigure(layer: LayerAnalysisDto, adcBitsByLevel: readonly number[]): string {
	const { cell, gap } = heatmapCellSize(layer.grid);
	const { width, height, rgba } = heatmapPixels(layer.grid, adcBitsByLevel, cell, gap);
	const counts = layer.levelHistogram.map((n, k) => (n > 0 ? `${n} at ${describeLevel(k, adcBitsByLevel)}` : '')).filter(Boolean).join('; ');
	return `<figure id="layer-${anchor(layer.name)}">
<figcaption><b>${esc(layer.name)}</b> · ${layer.kind} ${layer.matrix[0]}×${layer.matrix[1]} · ${layer.grid.inputBlocks} × ${layer.grid.channelGroups} crossbars · ADC ${layer.adcBitsDense} → ${layer.adcBits} bits · ${esc(formatImprovement(layer.adcEnergyImprovement))}</figcaption>
<img src="${pngDataUri(width, height, rgba)}" width="${width}" height="${height}" alt="${esc(`${layer.name}: ${counts}`)}">
</figure>`;
}

function histogramSvg(histogram: readonly number[], adcBitsByLevel: readonly number[]): string {
	const barWidth = 44;
	const gap = 10;
	const plotHeight = 120;
	const max = Math.max(1, ...histogram);
	const width = histogram.length * (barWidth + gap) + gap;
	const bars = histogram.map((n, k) => {
		const h = n === 0 ? 0 : Math.max(2, Math.round((plotHeight * n) / max));
		const x = gap + k * (barWidth + gap);
		const bits = k >= adcBitsByLevel.length - 1 ? '∅' : `${adcBitsByLevel[k]}b`;
		return `<g><title>${esc(`${describeLevel(k, adcBitsByLevel)}: ${n} crossbar${n === 1 ? '' : 's'}`)}</title>`
			+ `<rect x="${x}" y="${20 + plotHeight - h}" width="${barWidth}" height="${h}" fill="${levelCss(k, adcBitsByLevel)}" stroke="currentColor" stroke-opacity="0.35"/>`
			+ `<text x="${x + barWidth / 2}" y="${14 + plotHeight - h}" text-anchor="middle">${n}</text>`
			+ `<text x="${x + barWidth / 2}" y="${plotHeight + 36}" text-anchor="middle">k=${k}</text>`
			+ `<text x="${x + barWidth / 2}" y="${plotHeight + 50}" text-anchor="middle" class="muted">${bits}</text></g>`;
	}).join('');
	return `<svg class="histogram" role="img" aria-label="Crossbars per level" viewBox="0 0 ${width} ${plotHeight + 56}" width="${width}" height="${plotHeight + 56}">${bars}</svg>`;
}

function legend(adcBitsByLevel: readonly number[]): string {
	return `<ul class="legend" aria-label="Legend">${adcBitsByLevel.map((_, k) => `<li><span class="swatch" style="background:${levelCss(k, adcBitsByLevel)}"></span>${esc(describeLevel(k, adcBitsByLevel))}</li>`).join('')}</ul>`;
}

const css = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa; --border: #d1d9e0; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --border: #3d444d; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--border); padding-bottom: 4px; }
.sub, .note, .muted, footer, small { color: var(--muted); fill: var(--muted); }
a { color: var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; margin-top: 16px; }
.card { border: 1px solid var(--border); border-radius: 6px; padding: 10px 14px; background: var(--panel); }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card.improvement .value { color: var(--accent); font-size: 28px; }
.card .detail { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--border); vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); }
table.profile th { width: 200px; font-weight: 500; }
.num { text-align: right; white-space: nowrap; }
.levels { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
tfoot th, tfoot td { border-top: 2px solid var(--border); }
svg.histogram { max-width: 100%; height: auto; font-size: 11px; fill: var(--fg); }
.legend { list-style: none; padding: 0; margin: 8px 0; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { width: 14px; height: 14px; border: 1px solid var(--border); border-radius: 2px; display: inline-block; }
.heatmaps { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
figure { margin: 0; padding: 10px; border: 1px solid var(--border); border-radius: 6px; background: var(--panel); max-width: 100%; }
figure img { display: block; margin-top: 6px; image-rendering: pixelated; max-width: 100%; height: auto; }
figcaption { font-size: 12px; }
.warnings li { margin: 2px 0; }
footer { margin-top: 32px; font-size: 12px; }
`;

/** Escapes text for HTML content and attribute values. */
export function esc(text: string): string {
	return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function anchor(name: string): string {
	return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function baseName(path: string): string {
	return path.split(/[\\/]/).pop() || path;
}

/**
 * The design space as a figure: the ADC improvement against crossbar size (log2 axis), one line
 * per slicing and law, the report's own setting ringed; and the table of every setting.
 */
function designSpaceSection(space: SweepResultDto, profile: AnalysisResultDto['profile']): string {
	const width = 560, height = 260, left = 52, right = 120, top = 12, bottom = 36;
	const plotW = width - left - right, plotH = height - top - bottom;
	const sizes = space.crossbarSizes;
	const values = space.points.flatMap((p) => (p.totals.adcEnergyImprovement === null ? [] : [p.totals.adcEnergyImprovement]));
	const yMax = Math.max(1, ...values) * 1.08;
	const yMin = Math.min(1, ...values) * 0.95;
	const lo = Math.log2(Math.min(...sizes)), hi = Math.log2(Math.max(...sizes));
	const x = (t: number): number => left + (hi === lo ? plotW / 2 : ((Math.log2(t) - lo) / (hi - lo)) * plotW);
	const y = (v: number): number => top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
	const colours = ['#3794ff', '#d18616', '#388a34', '#b180d7', '#f14c4c', '#cca700'];
	const lines = space.slices.flatMap((q) => space.adcLaws.map((law) => ({ q, law })));
	const marks: string[] = [];
	lines.forEach(({ q, law }, i) => {
		const colour = colours[i % colours.length];
		const points = space.points.filter((p) => p.slices === q && p.adcLaw === law && p.totals.adcEnergyImprovement !== null).sort((a, b) => a.crossbarSize - b.crossbarSize);
		if (points.length > 1) marks.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.8" points="${points.map((p) => `${x(p.crossbarSize).toFixed(1)},${y(p.totals.adcEnergyImprovement as number).toFixed(1)}`).join(' ')}"/>`);
		for (const p of points) {
			const current = p.crossbarSize === profile.crossbarSize && p.slices === profile.slices && p.adcLaw === profile.adcLaw;
			marks.push(`<circle cx="${x(p.crossbarSize).toFixed(1)}" cy="${y(p.totals.adcEnergyImprovement as number).toFixed(1)}" r="${current ? 5 : 3.5}" fill="${colour}"${current ? ' stroke="currentColor" stroke-width="2"' : ''}><title>${esc(`T=${p.crossbarSize}, q=${q}, ${law}: ${formatImprovement(p.totals.adcEnergyImprovement)}, ${p.totals.tiles} crossbars, ADC bits ${p.totals.adcBitsDense} → ${p.totals.adcBits}${current ? ' (this report)' : ''}`)}</title></circle>`);
		}
		marks.push(`<text x="${left + plotW + 8}" y="${top + 14 + i * 15}" fill="${colour}" font-size="11">q = ${q}, ${esc(law)}</text>`);
	});
	const axis = [
		`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="currentColor" stroke-opacity="0.3"/>`,
		...sizes.map((t) => `<text x="${x(t).toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle" font-size="10">${t}</text>`),
		...[yMin, (yMin + yMax) / 2, yMax].map((v) => `<text x="${left - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end" font-size="10">${v.toFixed(2)}×</text>`),
		`<text x="${left + plotW / 2}" y="${height - 4}" text-anchor="middle" font-size="11">crossbar size T</text>`,
	];
	const rows = space.points.map((p) => `<tr><td>${p.crossbarSize}×${p.crossbarSize}</td><td class="num">${p.slices}</td><td>${esc(p.adcLaw)}</td><td class="num">${formatInteger(p.totals.tiles)}</td><td class="num">${formatInteger(p.totals.adcBitsDense)} → ${formatInteger(p.totals.adcBits)}</td><td class="num">${esc(formatImprovement(p.totals.adcEnergyImprovement))}</td></tr>`);
	return `<section>
<h2>Design space: which crossbar size?</h2>
<p class="note">The same weights at every crossbar size, slicing and ADC energy law; the ringed point is this report's setting.</p>
<svg class="design-space" role="img" aria-label="ADC energy improvement against crossbar size" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${axis.join('')}${marks.join('')}</svg>
<table class="layers"><thead><tr><th>T</th><th class="num">q</th><th>law</th><th class="num">Crossbars</th><th class="num">ADC bits</th><th class="num">Improvement</th></tr></thead><tbody>${rows.join('')}</tbody></table>
</section>`;
}
