import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { UsageError } from '../../../src/core/errors';
import { analyzeGraph } from '../../../src/hardware/analyze';
import { resolveProfile } from '../../../src/hardware/profile';
import { designSpaceSettings, sweepGraph } from '../../../src/hardware/sweep';
import { csvField, renderCsvReport } from '../../../src/report/csvReport';
import { heatmapCellSize, heatmapPixels, renderHtmlReport } from '../../../src/report/htmlReport';
import { encodePng } from '../../../src/report/png';
import { writeReports } from '../../../src/report/writeReports';
import type { AnalysisResultDto } from '../../../src/shared/analysis';
import { adcBitsByLevel } from '../../../src/hardware/levels';
import { levelRgba } from '../../../src/shared/levelPalette';
import { memoryGraph } from '../../helpers/graphs';

/** conv1 dense; conv2 with half its output channels zero (sparse crossbars); fc linear. */
async function sampleResult(options: { includeLinear?: boolean } = {}): Promise<AnalysisResultDto> {
	const conv2 = new Float32Array(32 * 16 * 9).fill(0.5);
	conv2.fill(0, 0, 16 * 16 * 9);
	const graph = memoryGraph([{ name: 'conv1', shape: [16, 3, 3, 3] }, { name: 'conv<2>', shape: [32, 16, 3, 3], values: conv2 }, { name: 'fc', shape: [10, 32] }]);
	return (await analyzeGraph(graph, resolveProfile({ crossbarSize: 16, includeLinear: options.includeLinear }))).result;
}

const work = mkdtempSync(join(tmpdir(), 'crossbar-report-'));
after(() => rmSync(work, { recursive: true, force: true }));

void describe('HTML report', () => {
	void it('is self-contained: no script, no external URL, a strict CSP', async () => {
		const html = renderHtmlReport(await sampleResult(), { generatedAt: new Date('2025-01-02T03:04:05Z'), generator: 'crossbar-lens test' });
		assert.match(html, /^<!DOCTYPE html>/);
		assert.doesNotMatch(html, /<script/i);
		assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
		assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"/);
		assert.match(html, /generated 2025-01-02 03:04:05 UTC by crossbar-lens test/);
	});

	void it('has the totals, the profile with the law and its source, a row and a heatmap per layer', async () => {
		const result = await sampleResult();
		const html = renderHtmlReport(result);
		assert.match(html, new RegExp(`${result.totals.tiles}</div>`));
		assert.match(html, /ADC energy improvement/);
		assert.match(html, /1\.\d{3}×/);
		assert.match(html, /<b>paper<\/b>: E ∝ bits/);
		assert.match(html, /reproduces 7\.13×/);
		assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, result.layers.length);
		assert.match(html, /<a href="#layer-conv_2_">conv&lt;2&gt;<\/a>/, 'layer names are escaped');
		assert.match(html, /1 linear layer is not counted/);
	});

	void it('draws the design space when given: one point per setting, the report\'s own ringed, the table of every setting', async () => {
		const conv2 = new Float32Array(32 * 16 * 9).fill(0.5);
		conv2.fill(0, 0, 16 * 16 * 9);
		const graph = memoryGraph([{ name: 'conv1', shape: [16, 3, 3, 3] }, { name: 'conv2', shape: [32, 16, 3, 3], values: conv2 }]);
		const profile = resolveProfile({ crossbarSize: 16 });
		const result = (await analyzeGraph(graph, profile)).result;
		const designSpace = await sweepGraph(graph, profile, designSpaceSettings(profile));
		assert.deepEqual(designSpace.crossbarSizes, [16, 32, 64, 128, 256, 512]);
		const html = renderHtmlReport(result, { designSpace });
		assert.match(html, /Design space: which crossbar size\?/);
		assert.equal((html.match(/<circle /g) ?? []).length, designSpace.points.length);
		assert.equal((html.match(/r="5"/g) ?? []).length, 1, 'one ringed point: T=16, q=1, paper');
		const own = designSpace.points.find((p) => p.crossbarSize === 16 && p.slices === 1 && p.adcLaw === 'paper');
		assert.equal(own?.totals.adcEnergyImprovement, result.totals.adcEnergyImprovement);
		assert.doesNotMatch(renderHtmlReport(result), /Design space/);
	});

	void it('draws one cell per crossbar in the level colour', async () => {
		const result = await sampleResult();
		const layer = result.layers[1];
		const bits = result.profile.adcBitsByLevel;
		const { inputBlocks, channelGroups, levels } = layer.grid;
		const { cell, gap } = heatmapCellSize(layer.grid);
		const { width, height, rgba } = heatmapPixels(layer.grid, bits, cell, gap);
		assert.equal(width, channelGroups * cell);
		assert.equal(height, inputBlocks * cell);
		for (let r = 0; r < inputBlocks; r++) {
			for (let c = 0; c < channelGroups; c++) {
				const offset = ((r * cell) * width + c * cell) * 4;
				assert.deepEqual([...rgba.subarray(offset, offset + 4)], [...levelRgba(levels[r * channelGroups + c], bits)]);
			}
		}
		// Empty crossbars (all 16 channels of group 0 are zero) and dense ones differ.
		assert.notDeepEqual(levelRgba(0, bits), levelRgba(bits.length - 1, bits));
	});

	void it('keeps a 10,000-crossbar layer small', () => {
		const grid = { inputBlocks: 100, channelGroups: 100, levels: Array.from({ length: 10_000 }, (_, i) => i % 8), lscNonZeros: new Array(10_000).fill(1) };
		const { cell, gap } = heatmapCellSize(grid);
		assert.ok(cell * grid.channelGroups <= 720 && cell * grid.inputBlocks <= 480);
		const { width, height, rgba } = heatmapPixels(grid, adcBitsByLevel(64), cell, gap);
		assert.ok(encodePng(width, height, rgba).length < 200_000);
	});
});

void describe('PNG encoder', () => {
	void it('writes a valid PNG whose pixels decode back', () => {
		const rgba = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
		const png = encodePng(3, 2, rgba);
		assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
		const view = new DataView(png.buffer, png.byteOffset);
		assert.equal(String.fromCharCode(...png.subarray(12, 16)), 'IHDR');
		assert.equal(view.getUint32(16), 3);
		assert.equal(view.getUint32(20), 2);
		const idatLength = view.getUint32(33);
		assert.equal(String.fromCharCode(...png.subarray(37, 41)), 'IDAT');
		const raw = inflateSync(png.subarray(41, 41 + idatLength));
		assert.deepEqual([...raw], [0, ...rgba.subarray(0, 12), 0, ...rgba.subarray(12)]);
		assert.throws(() => encodePng(2, 2, rgba), RangeError);
	});
});

void describe('CSV report', () => {
	void it('has a stable header, one row per layer and a total row', async () => {
		const result = await sampleResult({ includeLinear: true });
		const csv = renderCsvReport(result);
		const lines = csv.trimEnd().split('\r\n');
		assert.equal(lines.length, 1 + result.layers.length + 1);
		const header = lines[0].split(',');
		assert.deepEqual(header.slice(0, 8), ['layer', 'kind', 'shape', 'layout', 'groups', 'matrix_rows', 'matrix_cols', 'tiles']);
		assert.ok(header.includes(`tiles_level_${result.profile.sparsityBins - 1}`));
		const total = lines[lines.length - 1].split(',');
		assert.equal(total[0], 'total');
		assert.equal(Number(total[header.indexOf('tiles')]), result.totals.tiles);
		assert.equal(Number(total[header.indexOf('adc_bits')]), result.totals.adcBits);
		assert.ok(Math.abs(Number(total[header.indexOf('adc_energy_improvement')]) - (result.totals.adcEnergyImprovement ?? 0)) < 1e-9);
		const conv2 = lines.find((l) => l.startsWith('conv<2>'));
		assert.ok(conv2);
		assert.equal(conv2.split(',')[header.indexOf('zeros')], String(result.layers[1].zeros));
	});

	void it('quotes fields with commas or quotes and defuses formulas', () => {
		assert.equal(csvField('a,b'), '"a,b"');
		assert.equal(csvField('say "hi"'), '"say ""hi"""');
		assert.equal(csvField('=SUM(A1)'), "'=SUM(A1)");
		assert.equal(csvField(3.5), '3.5');
	});
});

void describe('writing reports', () => {
	void it('writes every requested format and refuses to overwrite without force', async () => {
		const result = await sampleResult();
		const html = join(work, 'r.html');
		const csv = join(work, 'r.csv');
		const json = join(work, 'r.json');
		assert.deepEqual(await writeReports(result, { html, csv, json }), [html, csv, json]);
		assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), JSON.parse(JSON.stringify(result)));
		assert.match(readFileSync(html, 'utf8'), /Crossbar report/);
		writeFileSync(csv, 'keep me');
		await assert.rejects(writeReports(result, { csv }), (ex: unknown) => ex instanceof UsageError && /already exists \(use --force/.test(ex.message));
		assert.equal(readFileSync(csv, 'utf8'), 'keep me');
		await writeReports(result, { csv }, { force: true });
		assert.match(readFileSync(csv, 'utf8'), /^layer,kind/);
		assert.deepEqual(readdirSync(work).filter((f) => f.endsWith('.tmp')), [], 'no temp files left behind');
	});

	void it('never writes over the model itself, even with force', async () => {
		const model = join(work, 'model.pt');
		writeFileSync(model, 'weights');
		await assert.rejects(writeReports(await sampleResult(), { html: model }, { force: true, inputPath: model }), UsageError);
		assert.equal(readFileSync(model, 'utf8'), 'weights');
		assert.ok(existsSync(model));
	});
});
