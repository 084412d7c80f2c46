// End-to-end suite: the packaged .vsix installed into a fresh code-server 4.100.3 (VS Code
// 1.100.3), driven by Debian's chromium through playwright-core. It proves the wiring a user
// touches: the explorer menu, the panel's numbers against the CLI, the profile switcher, the
// tile drill-down, CodeLens, a checkpoint saved again, the palette, export, reload, themes, a Keras
// model, and short Run D.U.B. fine-tunes (TensorFlow.js, and PyTorch as a task) with their progress,
// curves and output, a TensorFlow.js run cut off by a window reload and resumed, and PyTorch tasks
// that live on through a reload and are followed again (to the end, and cancelled).
//
//   node test/e2e/run.mjs            run (screenshots in test-results/)
//   node test/e2e/run.mjs --keep     keep the temp workspace and server log
//   node test/e2e/run.mjs --only RE  while developing: the first step and those whose names match RE
//                                    (the others are listed as not run; the suite then exits 1)
//   E2E_LOG_TRACE=1                  code-server logs at trace level (with --keep: its pty host's log)
//
// Last line: `e2e: N passed, N failed`; exit 1 on any failure or missing tool.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildAndPackage, chromiumBin, cliAnalyze, engineProcesses, extensionLogs, improvementText, installExtension, lensRatio, makeWorkDir, makeWorkspace, missingTools, removeWorkDir, repo, run, startServer, vsixProblems, writeUserSettings } from './lib.mjs';

const keep = process.argv.includes('--keep');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new RegExp(process.argv[onlyAt + 1], 'i') : undefined;
const notRun = [];
const results = [];
const started = Date.now();
const shots = join(repo, 'test-results');

function finish(code) {
	const passed = results.filter((r) => r.ok).length;
	const failed = results.length - passed;
	console.log(`\ne2e: ${passed} passed, ${failed} failed${notRun.length > 0 ? `, ${notRun.length} not run (--only)` : ''}`);
	process.exit(code ?? (failed > 0 || notRun.length > 0 ? 1 : 0));
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
const packaging = vsixProblems(vsix);
if (packaging.length > 0) {
	for (const problem of packaging) console.error(`e2e: ${problem}`);
	results.push({ name: 'the .vsix holds what the extension needs', ok: false });
	finish(1);
}
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
	wide16: cliAnalyze(join(dirs.workspace, 'bench', 'wide.pt'), ['--tile', '16']),
	keras16: cliAnalyze(join(dirs.workspace, 'digits-cnn.dub.keras'), ['--tile', '16']),
	...(existsSync(join(dirs.workspace, 'bench', 'resnet18.pt')) ? {
		resnet16: cliAnalyze(join(dirs.workspace, 'bench', 'resnet18.pt'), ['--tile', '16']),
		resnet64: cliAnalyze(join(dirs.workspace, 'bench', 'resnet18.pt'), ['--tile', '64']),
	} : {}),
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
	// CSP refusals anywhere, and errors thrown by the panel's own bundle (inlined in the panel's page, which VS Code loads as fake.html).
	if (message.type() === 'error' && (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(message.text()) || /\/dist\/webview\/|\/fake\.html/.test(message.location()?.url ?? ''))) consoleErrors.push(message.text());
});

let shotIndex = 0;
async function shot(name) {
	shotIndex++;
	const file = join(shots, `e2e-${String(shotIndex).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: file });
	return file;
}

async function step(name, fn) {
	if (only && results.length + notRun.length > 0 && !only.test(name)) {
		notRun.push(name);
		return;
	}
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

/** The document of the crossbar panel that shows `name` (several webviews may be in the DOM at once). */
async function panelNamed(name) {
	await webviewsCanShow();
	for (const frame of page.frames()) {
		const title = await frame.locator('h1.model-name').first().textContent({ timeout: 250 }).catch(() => undefined);
		if (title?.trim() === name) return frame;
	}
	return undefined;
}

/**
 * A real mouse click at the middle of an element inside the webview. Playwright's own click
 * waits for two animation frames of the nested webview frame to agree on the element's box,
 * and code-server sometimes stops running that frame's animation frames; the mouse does not care.
 */
async function mouseClickAt(locator) {
	await locator.scrollIntoViewIfNeeded();
	const box = await locator.boundingBox();
	if (!box) throw new Error(`nothing to click: ${locator}`);
	await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

async function panelText(testId) {
	await webviewsCanShow();
	return (await panel().locator(`[data-testid="${testId}"] .card-value`).first().textContent({ timeout: 3000 }))?.trim();
}

async function explorerRow(name) {
	const row = page.locator('.explorer-folders-view .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace('.', '\\.')}$`) }) });
	await row.first().waitFor();
	return row.first();
}

/**
 * Right-click an explorer row and choose a menu item: the pointer on the item, then Enter. A click
 * is not used: VS Code's menu listens to mouse-ups only from 100 ms after it renders (so that the
 * right-click's own release does not choose an item), and on a loaded machine a click can land
 * before that; the keyboard has no such guard. Done once the menu has closed.
 */
async function clickExplorerMenu(file, label, beforeChoose) {
	await (await explorerRow(file)).click({ button: 'right' });
	const item = page.locator('.context-view .monaco-menu .action-item').filter({ hasText: label }).first();
	await item.waitFor();
	await item.hover();
	await poll(`"${label}" focused in the menu`, async () => /\bfocused\b/.test((await item.getAttribute('class')) ?? ''));
	await beforeChoose?.();
	await page.keyboard.press('Enter');
	await item.waitFor({ state: 'detached' });
}

/** F1, type the command's title, click its row (retried: contributed commands appear late). */
async function runPaletteCommand(title) {
	await poll(`the palette command "${title}"`, async () => {
		await page.keyboard.press('Escape');
		await page.keyboard.press('F1');
		const input = page.locator('.quick-input-widget input');
		await input.waitFor({ timeout: 3000 });
		await input.fill(`>${title}`);
		const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
		await row.waitFor({ timeout: 2500 });
		await row.click();
		return true;
	}, 30_000);
}

/**
 * Loads the window with `navigate` and waits for its workbench. The page's service workers are a
 * separate signal (`webviewsCanShow`): a crossbar panel shows nothing before they are registered.
 */
async function loadWindow(navigate) {
	const loaded = Date.now();
	const registered = page.waitForEvent('console', { predicate: (m) => m.text().includes('[Service Worker] registered'), timeout: 150_000 }).then(() => true, () => false);
	serviceWorkers = { loaded, registered };
	await navigate();
	await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
}

/** The service-worker registration of the page loaded last (a settled one before the first load). */
let serviceWorkers = { loaded: 0, registered: Promise.resolve(true) };

/**
 * Waits until the loaded page has registered its service workers: code-server logs "[Service
 * Worker] registered" in the console, and VS Code's webview host, which shows no content until its
 * own registration settles, registers at the same moment. After a window reload (most often one
 * made a few seconds after a new panel opened) Chromium holds every registration of the new page
 * for 20–75 s now and then: code-server's and the webview host's together, while the server
 * answers their scripts in milliseconds, and a second reload does not clear it. A panel checked
 * within its usual timeout would then fail although the extension had done its part (it follows
 * the run, and its notification shows, meanwhile). Panel checks wait on this first (bounded, and
 * outside their own timeout); a long hold is reported.
 */
async function webviewsCanShow() {
	const { loaded, registered } = serviceWorkers;
	const ok = await registered;
	expect(ok, 'the browser did not register the page\'s service workers within 150 s of loading it: webviews cannot show');
	if (serviceWorkers.registered === registered && !serviceWorkers.reported) {
		serviceWorkers.reported = true;
		const seconds = (Date.now() - loaded) / 1000;
		if (seconds > 20 && loaded > 0) console.log(`      (the browser held the page's service-worker registration for ${seconds.toFixed(0)} s after loading it; the panels waited for it)`);
	}
}

/** The settings row and answer for the paper's schedule scaled to `epochs` regularize epochs (the fine-tune and the baseline get 1.25× as many each). */
function paperSchedule(epochs) {
	return ['Paper, CIFAR-10 settings, scaled', async () => {
		// The epochs box has the settings step's title: its prompt tells it from the preset list.
		await quick.locator('.quick-input-message', { hasText: 'Regularize epochs' }).waitFor();
		await enterStep('(4/6): settings', String(epochs));
	}];
}

/** Developer: Reload Window, as a user reloads (a browser refresh is a window close to VS Code); the window's state is saved before it unloads. */
async function reloadWindow() {
	await loadWindow(async () => {
		const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: 30_000 });
		await runPaletteCommand('Developer: Reload Window');
		await navigated;
	});
}

/**
 * Waits for a line of the extension's own log (the "Crossbar Lens" output channel's files) that
 * matches `pattern`; returns the match. A timeout quotes the end of the newest log, which says what
 * the extension did instead (or that it did not start).
 */
async function extensionLogLine(what, pattern, timeoutMs = 20_000) {
	try {
		return await poll(what, async () => extensionLogs(dirs).join('\n').match(pattern), timeoutMs);
	} catch (ex) {
		const logs = extensionLogs(dirs);
		const tail = (logs.at(-1) ?? '').trim().split('\n').slice(-4).join(' | ');
		throw new Error(`${ex.message}; ${logs.length} extension host log(s), the newest ends: ${tail || '(empty)'}`);
	}
}

/**
 * The id of the PyTorch run that writes `outputName` (from the log line of its start), after a
 * reload: waits until the new window's extension says it follows that run's engine process, and
 * checks that the process is `enginePids` (what /proc lists for the run).
 */
async function followedAfterReload(outputName, enginePids) {
	const escaped = outputName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	const [, runId] = await extensionLogLine(`the start of the run that writes ${outputName}`, new RegExp(`fine-tune (run-[\\w-]+): pytorch \\S+ → \\S*/${escaped};`));
	const [, pid] = await extensionLogLine(`the new window following ${runId} (${outputName})`, new RegExp(`fine-tune ${runId}: .*; following process (\\d+) after a window reload`), 60_000);
	expect(enginePids.split(',').includes(pid), `the new window follows process ${pid}; the engine process is ${enginePids}`);
	return runId;
}

/** Two animation frames in the workbench and in a panel (default: the visible one): what was just rendered or scrolled is on screen for a screenshot. */
async function painted(frame = panel()) {
	// Bounded: Chromium may stop a cross-origin frame's animation frames (a screenshot is then taken as it is).
	const twoFrames = () => Promise.race([
		new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
		new Promise((resolve) => setTimeout(resolve, 2000)),
	]);
	await page.evaluate(twoFrames);
	await frame.locator('body').evaluate(twoFrames);
}

/** The finished fine-tune's section in the output model's panel, once that panel shows the improvement `want`. */
async function finishedRunIn(panelName, want) {
	await webviewsCanShow();
	const out = await poll(`the ${panelName} panel with improvement ${want}`, async () => {
		const frame = await panelNamed(panelName);
		const value = (await frame?.locator('[data-testid="improvement"] .card-value').first().textContent({ timeout: 1000 }))?.trim();
		return value === want ? frame : undefined;
	}, 30_000);
	const training = out.locator('section.training[data-status="done"]');
	await training.waitFor({ timeout: 10_000 });
	return training;
}

/** The quick input (the multi-step pickers of Run D.U.B. fine-tune). */
const quick = page.locator('.quick-input-widget');
const row = (text) => quick.locator('.monaco-list-row').filter({ hasText: text }).first();

/**
 * The quick pick's row with `text`, on screen: a list longer than the widget shows (the workspace
 * has many models) keeps some rows out of view, so the text is typed to filter, as a user would.
 */
async function shownRow(text) {
	await row(text).waitFor({ state: 'attached' });
	if (!(await row(text).isVisible())) await quick.locator('input').fill(text);
	await row(text).waitFor();
	return row(text);
}

/**
 * Crossbar: Analyze crossbar sparsity from the palette, then a click on its quick pick's row for
 * `file`, typed into its filter (after `beforeClick`, e.g. a screenshot); resolves to the time of
 * the click. VS Code hides a quick pick when anything else takes the focus; twice in about twenty
 * runs (a loaded CI machine among them) the pick was hidden, or its text box did not take the
 * filter, before the file could be chosen, and loops of the same sequence on an idle and on a
 * loaded machine here never showed it. So the command is run again when that happens, and the
 * suite prints each retry with where the focus was.
 */
async function chooseWorkspaceModel(file, beforeClick = async () => {}) {
	const failures = [];
	const printFailures = () => failures.forEach((failure, i) => console.log(`      (model pick, try ${i + 1}, failed: ${failure})`));
	const clickedAt = await poll(`the model pick showing ${file}`, async () => {
		try {
			await runPaletteCommand('Crossbar: Analyze crossbar sparsity');
			await quick.locator('.quick-input-title', { hasText: 'choose a model' }).waitFor({ timeout: 10_000 });
			await row(file).waitFor({ state: 'attached', timeout: 5000 });
			// Typed as a user would: the list has more models than it shows, and a row cut off at its
			// bottom edge counts as visible while a click at its centre lands outside the pick.
			await quick.locator('input').fill(file, { timeout: 5000 });
			await poll(`${file} among the first rows of the filtered pick`, async () => Number(await row(file).getAttribute('data-index', { timeout: 1000 })) < 4 && (await row(file).isVisible()), 5000);
			await beforeClick();
			const t = Date.now();
			await row(file).click({ timeout: 5000 });
			return t;
		} catch (ex) {
			const focus = await Promise.race([
				page.evaluate(() => `${document.activeElement?.tagName ?? 'nothing'}.${document.activeElement?.className ?? ''}`),
				new Promise((resolve) => setTimeout(resolve, 2000, 'unknown (the page did not answer in 2 s)')),
			]).catch(() => 'unknown');
			failures.push(`${String(ex?.message ?? ex).split('\n')[0]} [pick ${await quick.isVisible().catch(() => '?') ? 'shown' : 'hidden'}, focus on ${focus}]`);
			throw ex;
		}
	}, 60_000).finally(printFailures);
	return clickedAt;
}

/**
 * Enter in the quick input's own text box, once it shows the step `stepTitle` (after typing
 * `value`, if given). The key goes to that box even if something else took the focus meanwhile;
 * the caller waits for what the step leads to.
 */
async function enterStep(stepTitle, value) {
	await quick.locator('.quick-input-title', { hasText: stepTitle }).waitFor();
	const input = quick.locator('input');
	if (value !== undefined) await input.fill(value);
	await input.press('Enter');
}

/** Waits for the quick input's step title, then clicks the row (after a screenshot, if named). */
async function choose(stepTitle, text, screenshot) {
	await quick.locator('.quick-input-title', { hasText: stepTitle }).waitFor();
	await shownRow(text);
	if (screenshot) await shot(screenshot);
	await row(text).click();
}

/** Switches the colour theme from the palette and waits until the panel's webview has it. */
async function setTheme(theme, bodyClass) {
	await runPaletteCommand('Preferences: Color Theme');
	const input = page.locator('.quick-input-widget input');
	await input.fill(theme);
	const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${theme}$`) }) }).first();
	await row.click();
	await poll(`the ${theme} theme in the webview`, async () => ((await panel().locator('body').getAttribute('class', { timeout: 3000 })) ?? '').includes(bodyClass), 20_000);
}

/**
 * Run D.U.B. fine-tune of digits/digits-cnn.pt from the palette with the PyTorch engine and the
 * script's DigitsCNN: `preset` is the settings row, `fillPreset` answers what it asks next, the
 * default prune ratios, `outputName` as the output.
 */
async function startPytorchDigitsRun(preset, outputName, fillPreset = async () => {}) {
	await runPaletteCommand('Crossbar: Run D.U.B. fine-tune');
	await choose('(1/6): model', 'digits-cnn.pt');
	await choose('(2/6): dataset', 'digits');
	await choose('(3/6): engine', 'PyTorch, one process');
	await choose('(3/6): model architecture', 'train_digits.py:DigitsCNN');
	await choose('(4/6): settings', preset);
	await fillPreset();
	await enterStep('(5/6): prune ratios');
	await enterStep('(6/6): output', outputName);
}

function lensExpected(result, layerName, head) {
	const layer = result.layers.find((l) => l.name === layerName);
	return `${head} · ${layer.tiles} crossbars · ADC ${layer.adcBitsDense}→${layer.adcBits} bits (${lensRatio(layer.adcEnergyImprovement)})`;
}

try {
	await step('workbench opens the fixture workspace', async () => {
		await loadWindow(() => page.goto(`${server.url}/?folder=${encodeURIComponent(dirs.workspace)}`));
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
		await clickExplorerMenu('cnn.pt', 'Analyze crossbar sparsity', () => shot('explorer-context-menu'));
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
		await painted();
		await shot('panel-dark');
	});

	await step('CodeLens shows the measured levels once the checkpoint is analyzed', async () => {
		const want = lensExpected(expected.t16, 'features.2', 'conv 16→32 3×3');
		const lens = page.locator('.contentWidgets .codelens-decoration');
		await poll(`"${want}"`, async () => (await lens.allTextContents()).some((t) => t.includes(want)), 20_000);
		const wantFirst = lensExpected(expected.t16, 'features.0', 'conv 3→16 3×3');
		expect((await lens.allTextContents()).some((t) => t.includes(wantFirst)), `no "${wantFirst}"`);
		await shot('codelens-measured');
		// Clicking a measured lens reveals its layer in the panel.
		await lens.locator('a', { hasText: want }).first().click();
		await poll('features.2 revealed in the panel', async () => /\bflash\b/.test((await panel().locator('article.layer[data-layer="features.2"]').getAttribute('class', { timeout: 2000 })) ?? ''), 10_000);
	});

	await step('CodeLens disappears when crossbarLens.codeLens.enabled is off, and comes back', async () => {
		const settings = join(dirs.workspace, '.vscode', 'settings.json');
		const original = readFileSync(settings, 'utf8');
		const lens = page.locator('.contentWidgets .codelens-decoration').filter({ hasText: 'crossbars' });
		writeFileSync(settings, JSON.stringify({ ...JSON.parse(original), 'crossbarLens.codeLens.enabled': false }, null, 2));
		await poll('no crossbar CodeLens', async () => (await lens.count()) === 0, 15_000);
		await shot('codelens-off');
		writeFileSync(settings, original);
		await poll('the CodeLens back', async () => (await lens.count()) > 0, 15_000);
	});

	await step('clicking a tile shows its per-column non-zeros with the least-sparse column marked', async () => {
		const canvas = panel().locator('article.layer[data-layer="features.2"] canvas.heatmap');
		await canvas.scrollIntoViewIfNeeded();
		const box = await canvas.boundingBox();
		const layer = expected.t16.layers.find((l) => l.name === 'features.2');
		// Centre of tile (row 0, col 0).
		await canvas.hover({ position: { x: box.width / layer.grid.channelGroups / 2, y: box.height / layer.grid.inputBlocks / 2 } });
		await panel().locator('.tooltip.visible').waitFor();
		await shot('tile-hover');
		await canvas.click({ position: { x: box.width / layer.grid.channelGroups / 2, y: box.height / layer.grid.inputBlocks / 2 } });
		const detail = panel().locator('article.layer[data-layer="features.2"] [data-testid="tile-columns"]');
		await detail.waitFor();
		const bars = await detail.locator('rect.column').count();
		expect(bars === Math.min(expected.t16.profile.channelsPerCrossbar, layer.matrix[0]), `${bars} column bars`);
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
		await input.press('Enter');
		const report = join(dirs.workspace, 'cnn.crossbar.html');
		await poll('the report file', async () => existsSync(report), 15_000);
		const html = readFileSync(report, 'utf8');
		expect(!/<script/i.test(html), 'the report has a script');
		expect(html.includes(improvementText(expected.step2t32.totals.adcEnergyImprovement)), 'the report lacks the improvement');
		expect((html.match(/data:image\/png;base64/g) ?? []).length === expected.step2t32.layers.length, 'one heatmap per layer');
		expect(html.includes('Design space: which crossbar size?') && /<svg class="design-space"/.test(html), 'the report lacks the design-space chart');
		await page.locator('.notification-toast').filter({ hasText: 'Crossbar report saved' }).first().waitFor();
		await shot('export-done');
	});

	await step('D.U.B. prune preview in the panel matches the CLI, and Save writes a new checkpoint', async () => {
		const cli = JSON.parse(run(process.execPath, [join(repo, 'dist', 'cli.js'), 'prune', model, '--out', join(dirs.spare, 'expected.dub.pt'), '--ratio', '50', '--tile', '32', '--json']));
		await panel().locator('[data-testid="prune-toggle"]').click();
		const section = panel().locator('section.prune');
		await section.waitFor();
		await panel().locator('[data-testid="prune-run"]').click();
		const after = section.locator('table.compare').first().locator('tbody tr').nth(1).locator('td.strong');
		const want = improvementText(cli.after.totals.adcEnergyImprovement);
		await poll(`D.U.B. preview ${want}`, async () => (await after.textContent({ timeout: 2000 }))?.trim() === want, 30_000);
		const baseline = (await section.locator('table.compare').first().locator('tbody tr').nth(2).locator('td.strong').textContent())?.trim();
		expect(baseline === improvementText(cli.unstructured.totals.adcEnergyImprovement), `unstructured baseline ${baseline}`);
		await section.scrollIntoViewIfNeeded();
		await shot('prune-preview');
		await panel().locator('[data-testid="prune-save"]').click();
		const input = page.locator('.quick-input-widget input');
		await input.waitFor();
		await input.press('Enter');
		const saved = join(dirs.workspace, 'cnn.dub.pt');
		await poll('the pruned checkpoint', async () => existsSync(saved), 20_000);
		await page.locator('.notification-toast').filter({ hasText: 'Pruned model saved' }).first().waitFor();
		const reread = cliAnalyze(saved, ['--tile', '32']);
		expect(improvementText(reread.totals.adcEnergyImprovement) === want, `the saved file analyses to ${improvementText(reread.totals.adcEnergyImprovement)}, the preview said ${want}`);
		await shot('prune-saved');
	});

	await step('the design space: every crossbar size in one chart, and clicking a point switches the panel to it', async () => {
		const sweep = JSON.parse(run(process.execPath, [join(repo, 'dist', 'cli.js'), 'sweep', model, '--json']));
		const at64 = cliAnalyze(model, ['--tile', '64']);
		const section = panel().locator('section.design-space');
		await poll('the design-space chart', async () => Number(await section.getAttribute('data-points', { timeout: 1000 })) > 0, 30_000);
		await section.scrollIntoViewIfNeeded();
		await painted();
		await shot('design-space');
		const chart = section.locator('[data-testid="design-improvement"]');
		// The CLI's sweep and the chart agree on the point a user is about to pick.
		const paper64 = sweep.points.find((p) => p.crossbarSize === 64 && p.slices === 1 && p.adcLaw === 'paper');
		const point = chart.locator('.dot[data-crossbar-size="64"][data-slices="1"][data-law="paper"]');
		const title = await point.locator('title').textContent();
		expect(title.includes(improvementText(paper64.totals.adcEnergyImprovement)), `the 64×64 point says ${title}; the CLI's sweep ${improvementText(paper64.totals.adcEnergyImprovement)}`);
		expect(await chart.locator('.dot.selected[data-crossbar-size="32"]').count() >= 1, 'the panel\'s own setting (32×32) is not marked');
		// From the keyboard: the points are buttons.
		await point.focus();
		await page.keyboard.press('Enter');
		const want = improvementText(at64.totals.adcEnergyImprovement);
		await poll(`improvement ${want} at 64×64`, async () => (await panelText('improvement')) === want, 20_000);
		expect((await panelText('tiles')) === at64.totals.tiles.toLocaleString('en-US'), `tiles ${await panelText('tiles')} ≠ ${at64.totals.tiles}`);
		await poll('the 64×64 point marked as the panel\'s setting', async () => (await section.locator('[data-testid="design-improvement"] .dot.selected[data-crossbar-size="64"]').count()) >= 1, 10_000);
		await shot('design-space-64');
		// With the mouse, back to 32×32 for the steps that follow.
		await mouseClickAt(section.locator('[data-testid="design-improvement"] .dot[data-crossbar-size="32"][data-slices="1"][data-law="paper"]'));
		await poll('tile 32 again', async () => (await panelText('improvement')) === improvementText(expected.step2t32.totals.adcEnergyImprovement), 20_000);
	});

	await step('palette: Crossbar: Analyze crossbar sparsity picks a workspace model', async () => {
		await chooseWorkspaceModel(basename(other), () => shot('palette-pick'));
		const want = improvementText(expected.other16.totals.adcEnergyImprovement);
		await poll(`improvement ${want} for ${basename(other)}`, async () => (await panelText('improvement')) === want, 30_000);
		await shot('palette-panel');
	});

	await step('a file that is not a model: one clear error with Show Log, no panel', async () => {
		const panelsBefore = await page.locator('.tab').filter({ hasText: 'Crossbar ·' }).count();
		await clickExplorerMenu('broken.pt', 'Analyze crossbar sparsity');
		const toast = page.locator('.notification-toast').filter({ hasText: 'broken.pt' }).first();
		await toast.waitFor();
		const text = await toast.textContent();
		expect(/broken\.pt/.test(text) && !/failed: .*See the log/.test(text), `message: ${text}`);
		await shot('error-notification');
		await toast.locator('.monaco-button', { hasText: 'Show Log' }).click();
		await page.locator('.panel .monaco-editor .view-lines', { hasText: 'broken.pt' }).first().waitFor();
		await shot('error-log');
		// The command closes the panel before it reports the error: with the message on screen, no panel is left.
		const panelsAfter = await page.locator('.tab').filter({ hasText: 'Crossbar ·' }).count();
		expect(panelsAfter === panelsBefore && await page.locator('.tab').filter({ hasText: 'Crossbar · broken.pt' }).count() === 0, `a panel was left open for the broken file (${panelsBefore} → ${panelsAfter})`);
		// The panel that was under the closed one reloads its page and gets its analysis again.
		await poll('the previous panel shown again', async () => Boolean(await panelText('improvement')), 15_000);
		await runPaletteCommand('View: Hide Panel');
	});

	await step('the panel survives a window reload (WebviewPanelSerializer)', async () => {
		// Reload Window saves the workbench state (the panels and their view state) before the page unloads.
		await reloadWindow();
		await webviewsCanShow();
		const wants = { 'cnn.pt': improvementText(expected.step2t32.totals.adcEnergyImprovement), 'cnn-step3.pt': improvementText(expected.other16.totals.adcEnergyImprovement) };
		await poll(`a restored panel with its numbers (${JSON.stringify(wants)})`, async () => {
			const name = (await panel().locator('h1.model-name').textContent({ timeout: 3000 }))?.trim();
			return name in wants && (await panelText('improvement')) === wants[name];
		}, 40_000);
		await shot('restored');
	});

	await step('light and high-contrast themes keep the heatmap and legend readable', async () => {
		for (const [theme, label] of [['Light Modern', 'light'], ['Dark High Contrast', 'high-contrast']]) {
			await setTheme(theme, label === 'light' ? 'vscode-light' : 'vscode-high-contrast');
			await painted();
			await shot(`panel-${label}`);
			await panel().locator('article.layer').nth(1).scrollIntoViewIfNeeded();
			await painted();
			await shot(`heatmaps-${label}`);
			await panel().locator('header.header').scrollIntoViewIfNeeded();
		}
	});

	await step('a Keras .keras model: right-click → its panel shows the CLI totals', async () => {
		await clickExplorerMenu('digits-cnn.dub.keras', 'Analyze crossbar sparsity');
		const want = improvementText(expected.keras16.totals.adcEnergyImprovement);
		const frame = await poll(`the digits-cnn.dub.keras panel with improvement ${want}`, async () => {
			const f = await panelNamed('digits-cnn.dub.keras');
			return (await f?.locator('[data-testid="improvement"] .card-value').first().textContent({ timeout: 1000 }))?.trim() === want ? f : undefined;
		}, 30_000);
		const tiles = (await frame.locator('[data-testid="tiles"] .card-value').first().textContent())?.trim();
		expect(tiles === expected.keras16.totals.tiles.toLocaleString('en-US'), `tiles ${tiles} ≠ ${expected.keras16.totals.tiles}`);
		const meta = await frame.locator('.meta').first().textContent();
		expect(/keras/i.test(meta ?? ''), `the header names the format: ${meta}`);
		await shot('keras-panel');
	});

	await step('big models: ResNet-18 and a 10,000-crossbar layer render quickly (figures printed)', async () => {
		const open = async (file, want) => {
			const t0 = await chooseWorkspaceModel(file);
			await poll(`improvement ${want} for ${file}`, async () => (await panelText('improvement')) === want, 40_000);
			const wall = Date.now() - t0;
			const renderMs = await panel().locator('#app').getAttribute('data-render-ms');
			const boot = { ready: await panel().locator('#app').getAttribute('data-ready-ms'), paint: await panel().locator('#app').getAttribute('data-first-paint-ms') };
			const meta = await panel().locator('.meta').textContent();
			// Heatmaps draw as they scroll into view: bring the biggest layer's into view and read its time.
			const biggest = await panel().locator('canvas.heatmap').evaluateAll((canvases) => canvases.reduce((best, c, i, all) => (c.width * c.height > all[best].width * all[best].height ? i : best), 0));
			const canvas = panel().locator('canvas.heatmap').nth(biggest);
			await canvas.scrollIntoViewIfNeeded();
			// ImageData fill (once per analysis) + scaled draw (per resize/selection/theme).
			const draw = await poll('the biggest heatmap drawn', async () => Number(await canvas.getAttribute('data-draw-ms')) + Number(await canvas.getAttribute('data-fill-ms')) || undefined);
			return { wall, renderMs: Number(renderMs), boot, analyzed: /analyzed in (\d+) ms/.exec(meta)?.[1], maxDraw: draw };
		};
		if (expected.resnet16) {
			const resnet = await open('resnet18.pt', improvementText(expected.resnet16.totals.adcEnergyImprovement));
			console.log(`      ResNet-18 at 16×16 (${expected.resnet16.totals.tiles} crossbars): command → numbers on screen ${resnet.wall} ms (host analysis ${resnet.analyzed} ms; webview: script ready at ${resnet.boot.ready} ms, first paint at ${resnet.boot.paint} ms after its load started, render ${resnet.renderMs} ms; biggest heatmap filled and drawn in ${resnet.maxDraw.toFixed(1)} ms; a later panel in code-server includes its ~1 s webview bootstrap stall: npm run bench:panel splits it)`);
			await shot('resnet18');
			const select = panel().locator('[data-testid="tile-size"]');
			await select.scrollIntoViewIfNeeded();
			await select.click();
			const t0 = Date.now();
			await select.locator('li[role="option"]').filter({ hasText: '64×64' }).first().click();
			const want64 = improvementText(expected.resnet64.totals.adcEnergyImprovement);
			await poll(`improvement ${want64} at 64×64`, async () => (await panelText('improvement')) === want64, 30_000);
			const renderMs = await panel().locator('#app').getAttribute('data-render-ms');
			console.log(`      ResNet-18 at 64×64 (${expected.resnet64.totals.tiles} crossbars): switch → numbers on screen ${Date.now() - t0} ms (webview render ${renderMs} ms)`);
			expect((await panelText('tiles')) === expected.resnet64.totals.tiles.toLocaleString('en-US'), 'ResNet-18 crossbars at 64×64');
		}
		const wide = await open('wide.pt', improvementText(expected.wide16.totals.adcEnergyImprovement));
		console.log(`      one 10,000-crossbar layer: heatmap filled and drawn in ${wide.maxDraw.toFixed(1)} ms (webview render ${wide.renderMs} ms, host analysis ${wide.analyzed} ms)`);
		expect(Number.isFinite(wide.maxDraw), 'the 10,000-crossbar heatmap was not drawn');
		await shot('wide-layer');
	});

	await step('palette: Crossbar: Run D.U.B. fine-tune (TensorFlow.js, digits, smoke test) shows progress, curves and the result', async () => {
		await setTheme('Dark Modern', 'vscode-dark');
		// Room for the panel: the bottom panel (the log, shown by an earlier step) is not needed here.
		if (await page.locator('.part.panel').isVisible()) await runPaletteCommand('View: Hide Panel');
		const onnx = join(dirs.workspace, 'digits', 'digits-cnn.onnx');
		const output = join(dirs.workspace, 'digits', 'digits-cnn.dub.onnx');
		await runPaletteCommand('Crossbar: Run D.U.B. fine-tune');
		await choose('(1/6): model', 'digits-cnn.onnx', 'finetune-pick-model');
		await choose('(2/6): dataset', 'digits');
		await choose('(3/6): engine', 'TensorFlow.js');
		await choose('(4/6): settings', 'Smoke test', 'finetune-pick-preset');
		await quick.locator('.quick-input-title', { hasText: '(5/6): prune ratios' }).waitFor();
		const input = quick.locator('input');
		expect((await input.inputValue()) === '0,88,92', `default ratios ${await input.inputValue()} (the tuned digits ratios)`);
		await enterStep('(5/6): prune ratios');
		await quick.locator('.quick-input-title', { hasText: '(6/6): output' }).waitFor();
		expect((await input.inputValue()) === 'digits-cnn.dub.onnx', `default output ${await input.inputValue()}`);
		await shot('finetune-output');
		// The progress notification lives for the run (seconds): watch for it before starting.
		const progress = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune of digits-cnn.onnx' }).first();
		const progressSeen = progress.waitFor({ timeout: 30_000 }).then(async () => {
			await shot('finetune-progress');
			return true;
		});
		await input.press('Enter');
		expect(await progressSeen, 'no progress notification');
		const done = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune done' }).first();
		await done.waitFor({ timeout: 60_000 });
		const doneText = await done.textContent();
		expect(/digits-cnn\.dub\.onnx/.test(doneText) && /unstructured/.test(doneText), `message: ${doneText}`);
		expect(await done.locator('.monaco-button', { hasText: 'Open' }).count() === 1 && await done.locator('.monaco-button', { hasText: 'Reveal' }).count() === 1, 'Open / Reveal on the result');
		// The output: a new ONNX file next to the input, analysed (by the CLI) to more than 1×; the resume checkpoint is gone.
		expect(existsSync(output), 'no output model');
		expect(!existsSync(`${output}.checkpoint`), 'the finished run left its checkpoint folder');
		const analysed = cliAnalyze(output, ['--tile', '16']);
		expect(analysed.totals.adcEnergyImprovement > 1, `the output analyses to ${analysed.totals.adcEnergyImprovement}×`);
		expect(cliAnalyze(onnx, ['--tile', '16']).totals.adcEnergyImprovement === 1, 'the input model changed');
		// The output's panel: its analysis, and the run's curves and final table.
		const want = improvementText(analysed.totals.adcEnergyImprovement);
		const training = await finishedRunIn('digits-cnn.dub.onnx', want);
		const lines = await training.locator('[data-testid="training-curves"] polyline.series').count();
		expect(lines >= 6, `${lines} curve lines (loss, accuracy, improvement × regularize/fine-tune/baseline)`);
		const dubRow = training.locator('[data-testid="training-summary"] tr[data-row="dub"] td.strong');
		expect((await dubRow.textContent())?.trim() === want, `the table's D.U.B. improvement ${await dubRow.textContent()} ≠ the file's ${want}`);
		const unstructured = Number.parseFloat((await training.locator('[data-testid="training-summary"] tr[data-row="unstructured"] td.strong').textContent()) ?? '');
		expect(unstructured < analysed.totals.adcEnergyImprovement, `unstructured ${unstructured}× is not below D.U.B.`);
		expect(await training.locator('[data-testid="training-levels"] figure').count() === 5, 'a level histogram per phase');
		const meta = await training.locator('.training-meta').textContent();
		expect(/TensorFlow\.js · (wasm|tensorflow|cpu) · \d worker/.test(meta), `engine label: ${meta}`);
		await painted(await panelNamed('digits-cnn.dub.onnx'));
		await shot('finetune-output-panel');
		await training.locator('[data-testid="training-summary"]').scrollIntoViewIfNeeded();
		await painted(await panelNamed('digits-cnn.dub.onnx'));
		await shot('finetune-summary');
		// The input's panel shows the same run (its dense analysis below), with Open for the output.
		await page.locator('.tab').filter({ hasText: 'Crossbar · digits-cnn.onnx' }).first().click();
		await poll('the input panel with the run', async () => ((await (await panelNamed('digits-cnn.onnx'))?.locator('section.training[data-status="done"] [data-testid="training-open"]').count()) ?? 0) === 1, 20_000);
		await painted(await panelNamed('digits-cnn.onnx'));
		await shot('finetune-input-panel');
		// The panel's Fine-tune… button starts the command with this model (the model step is skipped).
		await (await panelNamed('digits-cnn.onnx')).locator('[data-testid="training-start"]').click();
		await quick.locator('.quick-input-title', { hasText: '(2/6): dataset' }).waitFor();
		await page.keyboard.press('Escape');
	});

	await step('the accuracy–energy trade-off of the example model: one-shot sweep drawn as it runs, the finished fine-tune as points, the CLI\'s numbers', async () => {
		const onnx = join(dirs.workspace, 'digits', 'digits-cnn.onnx');
		const cli = JSON.parse(run(process.execPath, [join(repo, 'dist', 'cli.js'), 'tradeoff', onnx, '--data', 'digits', '--tile', '16', '--json']));
		await page.locator('.tab').filter({ hasText: 'Crossbar · digits-cnn.onnx' }).first().click();
		const input = await poll('the digits-cnn.onnx panel', () => panelNamed('digits-cnn.onnx'), 20_000);
		await input.locator('[data-testid="tradeoff-start"]').click();
		await choose('(1/2): held-out images', 'digits');
		await quick.locator('.quick-input-title', { hasText: '(2/2): prune ratios' }).waitFor();
		expect((await quick.locator('input').inputValue()) === cli.ratios.join(','), `default sweep ${await quick.locator('input').inputValue()}`);
		await page.keyboard.press('Enter');
		const section = input.locator('section.tradeoff');
		await poll('the finished sweep', async () => (await section.getAttribute('data-status', { timeout: 1000 })) === 'done', 60_000);
		expect(Number(await section.getAttribute('data-points')) === cli.points.length, `${await section.getAttribute('data-points')} points, the CLI has ${cli.points.length}`);
		const chart = section.locator('[data-testid="tradeoff-chart"]');
		for (const method of ['dub', 'unstructured']) {
			const dots = await chart.locator(`.dot.tradeoff-${method}`).count();
			expect(dots === cli.points.filter((p) => p.method === method && p.improvement !== null).length, `${dots} ${method} points on the chart`);
		}
		// The fine-tune of the previous step (same model, T = 16) joins the chart as points.
		expect(await chart.locator('.dot.tradeoff-finetuned').count() >= 1, 'no fine-tune point on the chart');
		// A number a user reads off the table: D.U.B. at 90 % as the CLI computes it.
		const at90 = cli.points.find((p) => p.method === 'dub' && p.ratio === 90);
		await section.locator('details.tradeoff-details summary').click();
		const rowText = await section.locator('.tradeoff-table tr').filter({ hasText: '90 %' }).first().textContent();
		expect(rowText.includes(`${at90.accuracy.toFixed(2)} %`) && rowText.includes(lensRatio(at90.improvement)), `the 90 % row says ${rowText}; the CLI: ${at90.accuracy.toFixed(2)} %, ${lensRatio(at90.improvement)}`);
		await section.scrollIntoViewIfNeeded();
		await painted();
		await shot('tradeoff-chart');
	});

	await step('palette: Run D.U.B. fine-tune on Fashion-MNIST (TensorFlow.js, the example FashionCNN, smoke test): a run on the real 70,000 images finishes', async () => {
		const output = join(dirs.workspace, 'fashion', 'fashion-cnn.dub.onnx');
		await runPaletteCommand('Crossbar: Run D.U.B. fine-tune');
		await choose('(1/6): model', 'fashion-cnn.onnx');
		// Offered by name because Debian's dataset-fashion-mnist is installed.
		await choose('(2/6): dataset', 'Fashion-MNIST', 'finetune-pick-fashion');
		await choose('(3/6): engine', 'TensorFlow.js');
		await choose('(4/6): settings', 'Smoke test');
		await quick.locator('.quick-input-title', { hasText: '(5/6): prune ratios' }).waitFor();
		const input = quick.locator('input');
		expect((await input.inputValue()) === 'fashion-cnn', `default ratios ${await input.inputValue()} (the model's own preset)`);
		await enterStep('(5/6): prune ratios');
		await quick.locator('.quick-input-title', { hasText: '(6/6): output' }).waitFor();
		expect((await input.inputValue()) === 'fashion-cnn.dub.onnx', `default output ${await input.inputValue()}`);
		await input.press('Enter');
		// Every evaluation reads the 10,000 official test images: a smoke run takes a minute or two here.
		const done = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune done' }).filter({ hasText: 'fashion-cnn.dub.onnx' }).first();
		await done.waitFor({ timeout: 540_000 });
		expect(existsSync(output), 'no output model');
		const analysed = cliAnalyze(output, ['--tile', '16']);
		expect(analysed.totals.adcEnergyImprovement > 1, `the output analyses to ${analysed.totals.adcEnergyImprovement}×`);
		const want = improvementText(analysed.totals.adcEnergyImprovement);
		const training = await finishedRunIn('fashion-cnn.dub.onnx', want);
		const meta = await training.locator('.training-meta').textContent();
		expect(/Fashion-MNIST/.test(meta), `the run's line names its data: ${meta}`);
		// The start model, briefly trained in PyTorch, is far above chance (10 %) on the held-out images: the real test set.
		const start = Number.parseFloat((await training.locator('[data-testid="training-summary"] tr[data-row="initial"] td').first().textContent()) ?? '');
		expect(start > 80 && start < 95, `the start model's held-out accuracy ${start} %`);
		await painted(await panelNamed('fashion-cnn.dub.onnx'));
		await shot('finetune-fashion-panel');
	});

	await step('palette: Run D.U.B. fine-tune with the PyTorch engine runs as a task with the script\'s own model class', async () => {
		const output = join(dirs.workspace, 'digits', 'digits-cnn.dub.pt');
		await runPaletteCommand('Crossbar: Run D.U.B. fine-tune');
		await choose('(1/6): model', 'digits-cnn.pt');
		await choose('(2/6): dataset', 'digits');
		await choose('(3/6): engine', 'PyTorch, one process');
		// The architecture: the nn.Module class found in the workspace's training script.
		await choose('(3/6): model architecture', 'train_digits.py:DigitsCNN', 'finetune-pytorch-architecture');
		await choose('(4/6): settings', 'Smoke test');
		await enterStep('(5/6): prune ratios');
		await quick.locator('.quick-input-title', { hasText: '(6/6): output' }).waitFor();
		const input = quick.locator('input');
		expect((await input.inputValue()) === 'digits-cnn.dub.pt', `default output ${await input.inputValue()}`);
		await input.press('Enter');
		// The engine runs in a terminal (a VS Code task) the user can watch.
		await page.locator('.terminal-wrapper .xterm').first().waitFor({ timeout: 30_000 });
		const done = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune done' }).filter({ hasText: 'digits-cnn.dub.pt' }).first();
		await done.waitFor({ timeout: 120_000 });
		await shot('finetune-pytorch-done');
		expect(existsSync(output), 'no output checkpoint');
		const analysed = cliAnalyze(output, ['--tile', '16']);
		expect(analysed.format === 'pytorch' && analysed.totals.adcEnergyImprovement > 1, `the output analyses to ${analysed.totals.adcEnergyImprovement}× (${analysed.format})`);
		const want = improvementText(analysed.totals.adcEnergyImprovement);
		const training = await finishedRunIn('digits-cnn.dub.pt', want);
		const meta = await training.locator('.training-meta').textContent();
		expect(/PyTorch/.test(meta ?? ''), `engine label: ${meta}`);
		const lines = await training.locator('[data-testid="training-curves"] polyline.series').count();
		expect(lines >= 6, `${lines} curve lines`);
		await shot('finetune-pytorch-panel');
	});

	await step('a fine-tune cut off by a window reload is offered for resume, and the resumed run completes', async () => {
		const output = join(dirs.workspace, 'digits', 'digits-cnn.reload.onnx');
		const checkpoint = join(`${output}.checkpoint`, 'tfjs-checkpoint.bin');
		await runPaletteCommand('Crossbar: Run D.U.B. fine-tune');
		await choose('(1/6): model', 'digits-cnn.onnx');
		await choose('(2/6): dataset', 'digits');
		await choose('(3/6): engine', 'TensorFlow.js');
		await choose('(4/6): settings', 'Digits quick'); // 10 + 10 epochs: tens of seconds
		await enterStep('(5/6): prune ratios');
		await enterStep('(6/6): output', 'digits-cnn.reload.onnx');
		// Reload once the first epoch's checkpoint is written: the run's worker threads end with the window.
		await poll('the first epoch\'s checkpoint', async () => existsSync(checkpoint), 60_000);
		await loadWindow(() => page.reload());
		const offer = page.locator('.notification-toast').filter({ hasText: 'stopped when the window was reloaded or closed' }).first();
		await offer.waitFor({ timeout: 40_000 });
		await shot('finetune-resume-offer');
		expect(!existsSync(output), 'the cut-off run wrote its output');
		await offer.locator('.monaco-button', { hasText: 'Resume' }).click();
		const done = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune done' }).filter({ hasText: 'digits-cnn.reload.onnx' }).first();
		await done.waitFor({ timeout: 180_000 });
		expect(existsSync(output) && !existsSync(checkpoint), 'the resumed run wrote its output and removed its checkpoint');
		const analysed = cliAnalyze(output, ['--tile', '16']);
		expect(analysed.totals.adcEnergyImprovement > 1, `the output analyses to ${analysed.totals.adcEnergyImprovement}×`);
		await shot('finetune-resumed-done');
	});

	await step('a PyTorch run lives on through a window reload in its task terminal, and the new window follows it to the end', async () => {
		const output = join(dirs.workspace, 'digits', 'digits-cnn.reload.pt');
		// 60 + 75 + 75 epochs: the run must outlast the reload and the new window's start to be followed
		// (10 + 10 digits epochs could end during them on a fast machine).
		const [preset, epochs] = paperSchedule(60);
		await startPytorchDigitsRun(preset, 'digits-cnn.reload.pt', epochs);
		await poll('the first epoch\'s checkpoint', async () => existsSync(`${output}.resume.pt`), 60_000);
		const engineProcess = () => engineProcesses(output);
		const before = engineProcess();
		expect(before !== '', 'the engine process runs before the reload');
		await reloadWindow();
		// The reload does not stop the task: the same engine process goes on, and the new window follows it (its log says so).
		expect(engineProcess() === before, `the engine process ${before} did not survive the reload (now: ${engineProcess() || 'none'})`);
		await followedAfterReload('digits-cnn.reload.pt', before);
		await page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune of digits-cnn.pt' }).first().waitFor({ timeout: 40_000 });
		await shot('finetune-pytorch-followed');
		const done = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune done' }).filter({ hasText: 'digits-cnn.reload.pt' }).first();
		await done.waitFor({ timeout: 180_000 });
		expect(existsSync(output) && !existsSync(`${output}.resume.pt`), 'the run wrote its output and removed its checkpoint');
		const analysed = cliAnalyze(output, ['--tile', '16']);
		expect(analysed.totals.adcEnergyImprovement > 1, `the output analyses to ${analysed.totals.adcEnergyImprovement}×`);
		// The curves are whole: the epochs before the reload were read back from the run's events file.
		const want = improvementText(analysed.totals.adcEnergyImprovement);
		const training = await finishedRunIn('digits-cnn.reload.pt', want);
		const points = ((await training.locator('polyline.series-regularize').first().getAttribute('points')) ?? '').trim().split(/\s+/).filter(Boolean).length;
		expect(points >= 60, `the regularize curve has ${points} points (60 epochs, the first before the reload)`);
		await shot('finetune-pytorch-followed-done');
	});

	await step('after a reload the followed PyTorch run has its terminal back, and Cancel stops it with its checkpoint kept', async () => {
		const output = join(dirs.workspace, 'digits', 'digits-cnn.long.pt');
		// The paper's schedule scaled to 2000 + 2500 epochs: a run that is still going when it is cancelled, however fast the machine and however long the browser holds the reloaded page (see webviewsCanShow).
		const [preset, epochs] = paperSchedule(2000);
		await startPytorchDigitsRun(preset, 'digits-cnn.long.pt', epochs);
		await poll('the first epoch\'s checkpoint', async () => existsSync(`${output}.resume.pt`), 60_000);
		const before = engineProcesses(output);
		// No panel to restore and no Python file open: nothing but the reconnected task activates the extension.
		await runPaletteCommand('View: Close All Editors');
		await reloadWindow();
		expect(before !== '' && engineProcesses(output) === before, `the engine process ${before || '(none)'} did not survive the reload (now: ${engineProcesses(output) || 'none'})`);
		// The extension's own signal: activated by the reconnected task, it found the run in its journal and follows its process.
		await followedAfterReload('digits-cnn.long.pt', before);
		// Its progress notification (it stays while the run goes on) shows the epochs read from the run's events.
		const progress = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune of digits-cnn.pt' }).filter({ hasText: /(regularize|fine-tune|baseline) \d+\/\d+/ }).first();
		await progress.waitFor({ timeout: 30_000 });
		// VS Code reconnects the background task's terminal: the engine's output is there again.
		await poll('the task terminal reconnected', async () => (await page.locator('.part.panel').textContent({ timeout: 1000 }))?.includes('D.U.B. fine-tune'), 30_000);
		// The input model's panel, opened again by the extension, plots the followed run live.
		await webviewsCanShow();
		const live = await poll('the followed run in the digits-cnn.pt panel', async () => {
			const frame = await panelNamed('digits-cnn.pt');
			return (await frame?.locator('section.training[data-status="running"] polyline.series-regularize').count()) ? frame : undefined;
		}, 30_000);
		await shot('finetune-pytorch-followed-terminal');
		expect(live !== undefined, 'a live panel');
		await progress.locator('.monaco-button', { hasText: 'Cancel' }).click();
		const cancelled = page.locator('.notification-toast').filter({ hasText: 'D.U.B. fine-tune of digits-cnn.pt cancelled' }).first();
		await cancelled.waitFor({ timeout: 60_000 });
		expect(/digits-cnn\.long\.pt\.resume\.pt/.test((await cancelled.textContent()) ?? ''), 'the message names the kept checkpoint');
		expect(await cancelled.locator('.monaco-button', { hasText: 'Resume' }).count() === 1, 'Resume is offered');
		await poll('the engine process to end', async () => engineProcesses(output) === '', 20_000);
		expect(existsSync(`${output}.resume.pt`) && !existsSync(output), 'the checkpoint is kept and no output was written');
		await shot('finetune-pytorch-followed-cancelled');
	});

	await step('no CSP violations or webview errors', async () => {
		expect(consoleErrors.length === 0, consoleErrors.join('\n'));
	});
} catch (ex) {
	results.push({ name: 'suite', ok: false });
	console.error(ex);
} finally {
	await browser.close().catch(() => undefined);
	// A run that a failed step left going lives on in its task's session after code-server stops: it ends with the suite.
	for (const pid of engineProcesses(dirs.workspace).split(',').filter(Boolean)) {
		try {
			process.kill(Number(pid), 'SIGKILL');
		} catch {
			// ended meanwhile
		}
	}
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
