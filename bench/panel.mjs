// `npm run bench:panel`: how long "Analyze crossbar sparsity" on ResNet-18 takes to put numbers on
// screen in a real VS Code (code-server 4.100.3 + Debian's chromium, the e2e suite's setup), with
// where the time goes. Prints figures; asserts nothing. Needs what `npm run test:e2e` needs.
//
//   node bench/panel.mjs [--runs N]
//
// Each run opens a fresh browser window on the workspace, runs the palette command on
// bench/resnet18.pt (the first crossbar panel of the window), then on a second model and on
// ResNet-18 again (later panels, each a new webview). Times are from the click on the quick
// pick's row to the panel's improvement card holding a number, read in the page; the split comes
// from the webview frames' own performance timelines.
import { buildAndPackage, chromiumBin, installExtension, makeWorkDir, makeWorkspace, missingTools, removeWorkDir, startServer, writeUserSettings } from '../test/e2e/lib.mjs';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const missing = missingTools();
if (missing.length > 0) {
	for (const m of missing) console.error(`bench:panel: ${m}`);
	process.exit(1);
}
const { chromium } = await import('playwright-core');

const vsix = buildAndPackage();
const dirs = makeWorkDir();
makeWorkspace(dirs);
writeUserSettings(dirs, 'Default Dark Modern');
installExtension(dirs, vsix);
const server = await startServer(dirs);
const browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });

/** In the page: when the webview's outer iframe appears (VS Code creates one per panel). */
function watchWebviews() {
	window.crossbarBench = {};
	new MutationObserver(() => {
		for (const frame of document.querySelectorAll('iframe.webview')) {
			if (!frame.dataset.benchSeen) {
				frame.dataset.benchSeen = '1';
				window.crossbarBench.iframe ??= Date.now();
			}
		}
	}).observe(document.body, { subtree: true, childList: true });
}

async function measure(page, file) {
	for (let attempt = 0; ; attempt++) {
		await page.keyboard.press('Escape');
		await page.keyboard.press('F1');
		await page.locator('.quick-input-widget input').fill('>Crossbar: Analyze crossbar sparsity');
		const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: 'Analyze crossbar sparsity' }).first();
		try {
			await row.waitFor({ timeout: 3000 });
			await row.click();
			break;
		} catch (ex) {
			if (attempt > 10) throw ex;
		}
	}
	const pick = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: file }).first();
	await pick.waitFor();
	await page.evaluate(watchWebviews);
	const clicked = Date.now();
	await pick.click();
	const deadline = Date.now() + 60_000;
	while (Date.now() < deadline) {
		for (const frame of page.frames()) {
			const seen = await frame.evaluate((name) => {
				const app = document.getElementById('app');
				const title = document.querySelector('h1.model-name')?.textContent ?? '';
				const value = document.querySelector('[data-testid="improvement"] .card-value')?.textContent ?? '';
				if (!app?.dataset.firstPaintMs || !title.includes(name) || !/\d/.test(value)) return undefined;
				return { origin: performance.timeOrigin, ready: Number(app.dataset.readyMs), result: Number(app.dataset.firstResultMs), paint: Number(app.dataset.firstPaintMs), render: Number(app.dataset.renderMs), meta: document.querySelector('.meta')?.textContent ?? '' };
			}, file.replace(/\.pt$/, '')).catch(() => undefined);
			if (seen) {
				const outer = await frame.parentFrame()?.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('fake.html')).map((e) => ({ start: e.startTime, wait: e.requestStart - e.startTime, duration: e.duration, origin: performance.timeOrigin }))[0]).catch(() => undefined);
				const marks = await page.evaluate(() => window.crossbarBench);
				const at = (ms) => Math.round(seen.origin + ms - clicked);
				return {
					file,
					numbers: at(seen.paint),
					webviewCreated: marks.iframe ? marks.iframe - clicked : undefined,
					bootstrapStall: outer ? Math.round(outer.wait) : undefined,
					pageStart: Math.round(seen.origin - clicked),
					scriptReady: at(seen.ready),
					resultArrived: at(seen.result),
					render: seen.render,
					analysis: Number(/analyzed in (\d+) ms/.exec(seen.meta)?.[1]),
				};
			}
		}
		await page.waitForTimeout(10);
	}
	throw new Error(`no numbers for ${file} within 60 s`);
}

const rows = [];
try {
	for (let run = 0; run < runs; run++) {
		const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
		const page = await context.newPage();
		page.setDefaultTimeout(30_000);
		await page.goto(`${server.url}/?folder=${encodeURIComponent(dirs.workspace)}`);
		await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
		await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'train_cnn.py' }).first().click();
		await page.waitForTimeout(3000);
		rows.push({ run, which: 'first panel', ...(await measure(page, 'resnet18.pt')) });
		await page.waitForTimeout(1000);
		rows.push({ run, which: 'later panel', ...(await measure(page, 'cnn-step3.pt')) });
		await page.keyboard.press('Escape');
		// Close ResNet-18's panel so that the next command makes a new webview again.
		for (const tab of await page.locator('.tabs-container .tab').filter({ hasText: 'resnet18.pt' }).all()) {
			await tab.hover();
			await tab.locator('.codicon-close').click();
		}
		await page.waitForTimeout(1000);
		rows.push({ run, which: 'later panel', ...(await measure(page, 'resnet18.pt')) });
		await context.close();
	}
} finally {
	await browser.close();
	await server.stop();
	removeWorkDir(dirs);
}

const ms = (v) => (v === undefined || Number.isNaN(v) ? '–' : `${v}`);
console.log('\ncommand → numbers on screen in code-server (ms after the click on the quick pick row)');
console.log('run  panel        model           numbers  webview  stall*  page  script  result  render  analysis');
for (const r of rows) {
	console.log(`${String(r.run + 1).padEnd(4)} ${r.which.padEnd(12)} ${r.file.padEnd(15)} ${ms(r.numbers).padStart(7)}  ${ms(r.webviewCreated).padStart(7)}  ${ms(r.bootstrapStall).padStart(6)}  ${ms(r.pageStart).padStart(4)}  ${ms(r.scriptReady).padStart(6)}  ${ms(r.resultArrived).padStart(6)}  ${ms(Math.round(r.render)).padStart(6)}  ${ms(r.analysis).padStart(8)}`);
}
const resnetFirst = rows.filter((r) => r.which === 'first panel').map((r) => r.numbers).sort((a, b) => a - b);
const resnetLater = rows.filter((r) => r.which === 'later panel' && r.file === 'resnet18.pt').map((r) => r.numbers).sort((a, b) => a - b);
console.log(`\nResNet-18, first panel of a window: median ${resnetFirst[resnetFirst.length >> 1]} ms (goal < 1000 ms)`);
console.log(`ResNet-18, a later panel: median ${resnetLater[resnetLater.length >> 1]} ms`);
console.log('* stall: how long code-server\'s webview bootstrap page (fake.html) waited before its request was sent; code-server\'s own, before any of the extension\'s code runs in the webview.');
console.log('columns: webview = outer iframe created; page = the panel page\'s navigation started; script = the app\'s script ran; result = the analysis message arrived; render = time to build the DOM; analysis = host analysis.');
