// End-to-end suite: the packaged .vsix installed into a fresh code-server 4.100.3 (VS Code
// 1.100.3), driven by Debian's chromium through playwright-core. It proves the wiring a user
// touches: the explorer menu, the panel's numbers against the CLI, the profile switcher, the
// tile drill-down, CodeLens, a checkpoint saved again, the palette, export, reload, themes.
//
//   node test/e2e/run.mjs            run (screenshots in test-results/)
//   node test/e2e/run.mjs --keep     keep the temp workspace and server log
//
// Last line: `e2e: N passed, N failed`; exit 1 on any failure or missing tool.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildAndPackage, chromiumBin, cliAnalyze, improvementText, installExtension, lensRatio, makeWorkDir, makeWorkspace, missingTools, removeWorkDir, repo, startServer, writeUserSettings } from './lib.mjs';

const keep = process.argv.includes('--keep');
const results = [];
const started = Date.now();
const shots = join(repo, 'test-results');

function finish(code) {
	const passed = results.filter((r) => r.ok).length;
	const failed = results.length - passed;
	console.log(`\ne2e: ${passed} passed, ${failed} failed`);
	process.exit(code ?? (failed > 0 ? 1 : 0));
}

const missing = missingTools();
if (missing.length > 0) {
	for (const m of missing) console.error(`e2e: ${m}`);
	results.push({ name: 'tools present', ok: false });
	finish(1);
}

const { chromium } = await import('playwright-core');

mkdirSync(shots, { recursive: true });
for (const file of readdirSync(shots)) if (file.startsWith('e2e-')) rmSync(join(shots, file));

console.log('e2e: building and packaging the extension…');
const vsix = buildAndPackage();
const dirs = makeWorkDir();
console.log(`e2e: workspace ${dirs.workspace}`);
makeWorkspace(dirs);
const model = join(dirs.workspace, 'cnn.pt');
const other = join(dirs.workspace, 'checkpoints', 'cnn-step3.pt');
const expected = {
	t16: cliAnalyze(model, ['--tile', '16']),
	t32: cliAnalyze(model, ['--tile', '32']),
	step2t32: cliAnalyze(join(dirs.spare, 'cnn-step2.pt'), ['--tile', '32']),
	other16: cliAnalyze(other, ['--tile', '16']),
};
writeUserSettings(dirs, 'Default Dark Modern');
installExtension(dirs, vsix);
const server = await startServer(dirs);
console.log(`e2e: code-server on ${server.url}`);

const browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
const page = await context.newPage();
page.setDefaultTimeout(20_000);
const consoleErrors = [];
page.on('console', (message) => {
	if (message.type() === 'error' && /crossbar|Content Security Policy|Refused to/i.test(message.text())) consoleErrors.push(message.text());
});

let shotIndex = 0;
async function shot(name) {
	shotIndex++;
	const file = join(shots, `e2e-${String(shotIndex).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: file });
	return file;
}

async function step(name, fn) {
	const t0 = Date.now();
	try {
		await fn();
		results.push({ name, ok: true });
		console.log(`  ✔ ${name} (${Date.now() - t0} ms)`);
	} catch (ex) {
		results.push({ name, ok: false });
		console.log(`  ✖ ${name} (${Date.now() - t0} ms)\n      ${String(ex?.stack ?? ex).split('\n').slice(0, 6).join('\n      ')}`);
		await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => undefined);
	}
}

function expect(condition, message) {
	if (!condition) throw new Error(message);
}

async function poll(what, fn, timeoutMs = 20_000) {
	const deadline = Date.now() + timeoutMs;
	let last;
	while (Date.now() < deadline) {
		try {
			last = await fn();
			if (last) return last;
		} catch (ex) {
			last = ex;
		}
		await page.waitForTimeout(150);
	}
	throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : last !== undefined ? ` (last: ${JSON.stringify(last)})` : ''}`);
}

/** The visible crossbar panel's document (VS Code nests it in two iframes). */
function panel() {
	return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

async function panelText(testId) {
	return (await panel().locator(`[data-testid="${testId}"] .card-value`).first().textContent({ timeout: 3000 }))?.trim();
}

async function explorerRow(name) {
	const row = page.locator('.explorer-folders-view .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace('.', '\\.')}$`) }) });
	await row.first().waitFor();
	return row.first();
}

async function runPaletteCommand(title) {
	await poll(`the palette command "${title}"`, async () => {
		await page.keyboard.press('Escape');
		await page.keyboard.press('F1');
		const input = page.locator('.quick-input-widget input');
		await input.waitFor({ timeout: 3000 });
		await input.fill(`>${title}`);
		const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first();
		await row.waitFor({ timeout: 2500 });
		await page.keyboard.press('Enter');
		return true;
	}, 30_000);
}

function lensExpected(result, layerName, head) {
	const layer = result.layers.find((l) => l.name === layerName);
	return `${head} · ${layer.tiles} crossbars · ADC ${layer.adcBitsDense}→${layer.adcBits} bits (${lensRatio(layer.adcEnergyImprovement)})`;
}

try {
	await page.goto(`${server.url}/?folder=${encodeURIComponent(dirs.workspace)}`);

	await step('workbench opens the fixture workspace', async () => {
		await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
		await explorerRow('cnn.pt');
		await explorerRow('train_cnn.py');
		await shot('workbench');
	});

	await step('CodeLens shows crossbars and dense ADC bits above the conv lines', async () => {
		await (await explorerRow('train_cnn.py')).click();
		const lens = page.locator('.contentWidgets .codelens-decoration');
		await poll('the conv 16→32 CodeLens', async () => (await lens.allTextContents()).some((t) => t.includes('conv 16→32 3×3 · 18 crossbars · ADC 72 bits dense')), 40_000);
		const texts = await lens.allTextContents();
		expect(texts.some((t) => t.includes('conv 3→16 3×3 · 2 crossbars · ADC 8 bits dense')), `no lens for conv 3→16 in ${JSON.stringify(texts)}`);
		expect(texts.some((t) => t.includes('conv 64→64 3×3 · 144 crossbars')), `no lens for the two-line conv in ${JSON.stringify(texts)}`);
		expect(texts.some((t) => t.includes('linear 64→10')), `no lens for the linear layer in ${JSON.stringify(texts)}`);
		expect(texts.some((t) => t.includes('Analyze crossbar sparsity')), `no Analyze lens above torch.load("cnn.pt") in ${JSON.stringify(texts)}`);
		await shot('codelens-before-analysis');
	});

	await step('explorer context menu → Analyze crossbar sparsity opens the panel with the CLI totals', async () => {
		await (await explorerRow('cnn.pt')).click({ button: 'right' });
		const item = page.locator('.context-view .monaco-menu .action-item').filter({ hasText: 'Analyze crossbar sparsity' });
		await item.first().waitFor();
		await shot('explorer-context-menu');
		await item.first().click();
		const want = improvementText(expected.t16.totals.adcEnergyImprovement);
		await poll(`improvement ${want}`, async () => (await panelText('improvement')) === want, 30_000);
		expect((await panelText('tiles')) === expected.t16.totals.tiles.toLocaleString('en-US'), `tiles ${await panelText('tiles')} ≠ ${expected.t16.totals.tiles}`);
		expect((await panelText('adc-bits')) === `${expected.t16.totals.adcBitsDense} → ${expected.t16.totals.adcBits}`, `ADC bits ${await panelText('adc-bits')}`);
		const layers = await panel().locator('article.layer').count();
		expect(layers === expected.t16.layers.length, `${layers} layer cards, CLI has ${expected.t16.layers.length}`);
		// Heatmaps on screen are drawn at once, the others as they scroll in.
		const drawn = await poll('the first heatmap drawn', async () => {
			const times = await panel().locator('canvas.heatmap').evaluateAll((canvases) => canvases.map((c) => c.dataset.drawMs ?? '-'));
			return times[0] !== '-' ? times : undefined;
		});
		console.log(`      heatmap draw times (ms): ${drawn.join(', ')}`);
		const status = await page.locator('.statusbar-item').filter({ hasText: '×' }).first().textContent();
		expect(status?.includes(`${expected.t16.totals.adcEnergyImprovement.toFixed(2)}×`), `status bar shows ${status}`);
		await page.waitForTimeout(300);
		await shot('panel-dark');
	});

	await step('CodeLens shows the measured levels once the checkpoint is analyzed', async () => {
		const want = lensExpected(expected.t16, 'features.2', 'conv 16→32 3×3');
		const lens = page.locator('.contentWidgets .codelens-decoration');
		await poll(`"${want}"`, async () => (await lens.allTextContents()).some((t) => t.includes(want)), 20_000);
		const wantFirst = lensExpected(expected.t16, 'features.0', 'conv 3→16 3×3');
		expect((await lens.allTextContents()).some((t) => t.includes(wantFirst)), `no "${wantFirst}"`);
		await shot('codelens-measured');
	});

	await step('clicking a tile shows its per-column non-zeros with the least-sparse column marked', async () => {
		const canvas = panel().locator('article.layer[data-layer="features.2"] canvas.heatmap');
		await canvas.scrollIntoViewIfNeeded();
		const box = await canvas.boundingBox();
		const layer = expected.t16.layers.find((l) => l.name === 'features.2');
		// Centre of tile (row 0, col 0).
		await canvas.hover({ position: { x: box.width / layer.grid.cols / 2, y: box.height / layer.grid.rows / 2 } });
		await panel().locator('.tooltip.visible').waitFor();
		await shot('tile-hover');
		await canvas.click({ position: { x: box.width / layer.grid.cols / 2, y: box.height / layer.grid.rows / 2 } });
		const detail = panel().locator('article.layer[data-layer="features.2"] [data-testid="tile-columns"]');
		await detail.waitFor();
		const bars = await detail.locator('rect.column').count();
		expect(bars === Math.min(expected.t16.profile.outputChannelsPerCrossbar, layer.matrix[0]), `${bars} column bars`);
		const lsc = await detail.locator('rect.column.lsc').count();
		expect(lsc >= 1 || layer.grid.lscNonZeros[0] === 0, 'no least-sparse column marked');
		const text = await detail.textContent();
		expect(text.includes(`${layer.grid.lscNonZeros[0]} / ${Math.min(16, layer.matrix[1])} non-zeros`), `detail says: ${text}`);
		await shot('tile-columns');
	});

	await step('switching the profile (tile 16 → 32) re-analyzes in the host', async () => {
		const select = panel().locator('[data-testid="tile-size"]');
		await select.scrollIntoViewIfNeeded();
		await select.click();
		// The dropdown's options are <li role=option> in the element's shadow root.
		const option = select.locator('li[role="option"]').filter({ hasText: '32×32' });
		await option.first().waitFor();
		await shot('profile-dropdown');
		await option.first().click();
		const want = improvementText(expected.t32.totals.adcEnergyImprovement);
		await poll(`improvement ${want} at tile 32`, async () => (await panelText('improvement')) === want, 20_000);
		expect((await panelText('tiles')) === expected.t32.totals.tiles.toLocaleString('en-US'), `tiles ${await panelText('tiles')} ≠ ${expected.t32.totals.tiles}`);
		expect(expected.t32.totals.tiles !== expected.t16.totals.tiles, 'fixture: 16 and 32 should differ');
		await shot('profile-32');
	});

	await step('a new checkpoint saved over the file is re-analyzed and the history moves', async () => {
		copyFileSync(join(dirs.spare, 'cnn-step2.pt'), model);
		const now = new Date();
		utimesSync(model, now, now);
		const want = improvementText(expected.step2t32.totals.adcEnergyImprovement);
		await poll(`improvement ${want} after the save`, async () => (await panelText('improvement')) === want, 20_000);
		const history = await panel().locator('[data-testid="history"]').textContent();
		expect(/over 2 saves/.test(history), `history says: ${history}`);
		await shot('live-update');
	});

	await step('Export HTML from the panel writes a self-contained report', async () => {
		await panel().locator('[data-testid="export-html"]').click();
		const input = page.locator('.quick-input-widget input');
		await input.waitFor();
		await shot('export-dialog');
		await page.keyboard.press('Enter');
		const report = join(dirs.workspace, 'cnn.crossbar.html');
		await poll('the report file', async () => existsSync(report), 15_000);
		const html = readFileSync(report, 'utf8');
		expect(!/<script/i.test(html), 'the report has a script');
		expect(html.includes(improvementText(expected.step2t32.totals.adcEnergyImprovement)), 'the report lacks the improvement');
		expect((html.match(/data:image\/png;base64/g) ?? []).length === expected.step2t32.layers.length, 'one heatmap per layer');
		await page.locator('.notification-toast').filter({ hasText: 'Crossbar report saved' }).first().waitFor();
		await shot('export-done');
	});

	await step('palette: Crossbar: Analyze crossbar sparsity picks a workspace model', async () => {
		await runPaletteCommand('Crossbar: Analyze crossbar sparsity');
		const pick = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: basename(other) });
		await pick.first().waitFor();
		await shot('palette-pick');
		await pick.first().click();
		const want = improvementText(expected.other16.totals.adcEnergyImprovement);
		await poll(`improvement ${want} for ${basename(other)}`, async () => (await panelText('improvement')) === want, 30_000);
		await shot('palette-panel');
	});

	await step('the panel survives a window reload (WebviewPanelSerializer)', async () => {
		await page.waitForTimeout(1000); // let the workbench persist its editors
		await page.reload();
		await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
		const wants = { 'cnn.pt': improvementText(expected.step2t32.totals.adcEnergyImprovement), 'cnn-step3.pt': improvementText(expected.other16.totals.adcEnergyImprovement) };
		await poll(`a restored panel with its numbers (${JSON.stringify(wants)})`, async () => {
			const name = (await panel().locator('h1.model-name').textContent({ timeout: 3000 }))?.trim();
			return name in wants && (await panelText('improvement')) === wants[name];
		}, 40_000);
		await shot('restored');
	});

	await step('light and high-contrast themes keep the heatmap and legend readable', async () => {
		for (const [theme, label] of [['Default Light Modern', 'light'], ['Default High Contrast', 'high-contrast']]) {
			writeUserSettings(dirs, theme);
			const want = label === 'light' ? 'vscode-light' : 'vscode-high-contrast';
			await poll(`the ${label} theme in the webview`, async () => ((await panel().locator('body').getAttribute('class', { timeout: 3000 })) ?? '').includes(want), 20_000);
			await page.waitForTimeout(500);
			await shot(`panel-${label}`);
		}
		writeUserSettings(dirs, 'Default Dark Modern');
	});

	await step('no CSP violations or webview errors', async () => {
		expect(consoleErrors.length === 0, consoleErrors.join('\n'));
	});
} catch (ex) {
	results.push({ name: 'suite', ok: false });
	console.error(ex);
} finally {
	await browser.close().catch(() => undefined);
	await server.stop();
	if (keep) {
		console.log(`e2e: kept ${dirs.root}`);
	} else {
		removeWorkDir(dirs);
	}
	if (results.some((r) => !r.ok)) {
		console.log(`e2e: code-server log (tail):\n${server.log.join('').split('\n').slice(-30).join('\n')}`);
	}
	console.log(`e2e: ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in test-results/`);
}
finish();
