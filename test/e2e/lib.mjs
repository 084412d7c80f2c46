// Helpers of the e2e runner: tools, packaging, fixture workspace, code-server lifecycle.
// See test/e2e/README.md for why each step is done the way it is.
import { tsImport } from 'tsx/esm/api';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const codeServerBin = join(repo, '.cache', 'code-server', 'node_modules', '.bin', 'code-server');
export const chromiumBin = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const pythonBin = process.env.CROSSBAR_E2E_PYTHON ?? '/usr/bin/python3';
/** The dataset of the fine-tune step (src/training/datasets/digits.ts defaultDigitsPath). */
export const digitsCsv = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';

/** What is missing to run the suite, as messages that say how to get it. */
export function missingTools() {
	const missing = [];
	if (!existsSync(chromiumBin)) missing.push(`chromium is missing (${chromiumBin}): apt-get install -y chromium`);
	if (!existsSync(codeServerBin)) missing.push('code-server is missing (.cache/code-server): run scripts/setup-e2e.sh');
	if (!existsSync(join(repo, 'node_modules', 'playwright-core'))) missing.push('playwright-core is missing: npm ci');
	const torch = spawnSync(pythonBin, ['-c', 'import torch'], { stdio: 'ignore' });
	if (torch.status !== 0) missing.push(`PyTorch is missing for ${pythonBin} (it writes the fixture checkpoints): apt-get install -y python3-torch`);
	if (spawnSync(pythonBin, ['-c', 'import h5py'], { stdio: 'ignore' }).status !== 0) missing.push(`h5py is missing for ${pythonBin} (it writes the fixture Keras model): apt-get install -y python3-h5py`);
	if (!existsSync(digitsCsv)) missing.push(`scikit-learn's digits are missing (${digitsCsv}; the fine-tune step trains on them): apt-get install -y python3-sklearn`);
	return missing;
}

export function run(command, args, options = {}) {
	const result = spawnSync(command, args, { encoding: 'utf8', ...options });
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout ?? ''}${result.stderr ?? ''}`);
	}
	return result.stdout;
}

/**
 * The ids of the PyTorch engine processes whose command line mentions `text` (read from /proc).
 * Give a path inside this run's workspace: other suites on the machine run engines too.
 */
export function engineProcesses(text) {
	const pids = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		let line = '';
		try {
			line = readFileSync(join('/proc', entry, 'cmdline'), 'utf8').replace(/\0/g, ' ');
		} catch {
			continue; // ended meanwhile
		}
		if (line.includes('crossbar_lens_train') && line.includes(text)) pids.push(Number(entry));
	}
	return pids.sort((a, b) => a - b).join(',');
}

/** Builds dist/ and packages the extension exactly as users get it (the root .vscodeignore decides what goes in). */
export function buildAndPackage() {
	run(process.execPath, ['esbuild.mjs'], { cwd: repo });
	const vsix = join(repo, 'dist', 'crossbar-lens.vsix');
	run(process.execPath, [join(repo, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', vsix], { cwd: repo });
	return vsix;
}

/**
 * What is wrong with the packaged extension, one message each: a file the installed extension
 * needs that a .vscodeignore rule dropped (the bundles, the webview, the training worker, the wasm
 * backends, the Python engine), or a file that should not ship (sources, maps, tests, tools).
 */
export function vsixProblems(vsix) {
	const listing = run(pythonBin, ['-c', 'import json, sys, zipfile; print(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))', vsix]);
	const files = new Set(JSON.parse(listing).filter((name) => name.startsWith('extension/')).map((name) => name.slice('extension/'.length)));
	const built = (dir, keep) => readdirSync(join(repo, dir)).filter(keep).map((name) => `${dir}/${name}`);
	const needed = [
		'package.json', 'dist/extension.js', 'dist/trainingWorker.js',
		...built('dist/webview', (name) => !name.endsWith('.map')),
		...built('dist', (name) => name.endsWith('.wasm')),
		...built('python/crossbar_lens_train', (name) => name.endsWith('.py')),
		...built('media', () => true),
	];
	const problems = needed.filter((file) => !files.has(file)).map((file) => `${basename(vsix)} lacks ${file} (check .vscodeignore)`);
	if (!needed.some((file) => file.endsWith('.wasm'))) problems.push('dist/ has no .wasm backend to package (did esbuild.mjs copy them?)');
	const shipped = /^(package\.json|readme\.md|changelog\.md|license[^/]*|media\/.+|dist\/.+|python\/crossbar_lens_train\/[^/]+\.py)$/i;
	for (const file of files) {
		if (!shipped.test(file) || file.endsWith('.map')) problems.push(`${basename(vsix)} ships ${file}, which the extension does not need (check .vscodeignore)`);
	}
	return problems;
}

/** The extension's own log (its "Crossbar Lens" output channel) of each extension host so far, oldest first. */
export function extensionLogs(dirs) {
	const root = join(dirs.userData, 'logs');
	if (!existsSync(root)) return [];
	const { publisher, name } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
	const logs = [];
	for (const session of readdirSync(root).sort()) {
		const hosts = readdirSync(join(root, session)).filter((host) => /^exthost\d+$/.test(host)).sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
		for (const host of hosts) {
			const file = join(root, session, host, `${publisher}.${name}`, 'Crossbar Lens.log');
			if (existsSync(file)) logs.push(readFileSync(file, 'utf8'));
		}
	}
	return logs;
}

/** A fresh folder per run: HOME, TMPDIR, user data, extensions and the workspace. */
export function makeWorkDir() {
	const root = mkdtempSync(join(tmpdir(), 'crossbar-e2e-'));
	const dirs = { root, home: join(root, 'home'), tmp: join(root, 'tmp'), userData: join(root, 'user-data'), extensions: join(root, 'extensions'), workspace: join(root, 'workspace'), spare: join(root, 'spare') };
	for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
	return dirs;
}

/**
 * The fixture workspace: the training script, a real checkpoint it writes (cnn.pt), a second
 * checkpoint in checkpoints/ for the palette, a later save (spare/cnn-step2.pt) that the
 * suite copies over cnn.pt to play a training run, and digits/digits-cnn.onnx to fine-tune.
 */
export function makeWorkspace(dirs) {
	const fixture = join(repo, 'test', 'e2e', 'fixture');
	cpSync(join(fixture, 'train_cnn.py'), join(dirs.workspace, 'train_cnn.py'));
	run(pythonBin, [join(dirs.workspace, 'train_cnn.py'), '--out', dirs.workspace], { env: { ...process.env, HOME: dirs.home } });
	run(pythonBin, [join(dirs.workspace, 'train_cnn.py'), '--out', dirs.spare, '--step', '2'], { env: { ...process.env, HOME: dirs.home } });
	run(pythonBin, [join(dirs.workspace, 'train_cnn.py'), '--out', join(dirs.workspace, 'checkpoints'), '--step', '3'], { env: { ...process.env, HOME: dirs.home } });
	run(pythonBin, [join(repo, 'test', 'e2e', 'fixture', 'make_big_models.py'), '--out', join(dirs.workspace, 'bench')], { env: { ...process.env, HOME: dirs.home } });
	writeFileSync(join(dirs.workspace, 'broken.pt'), 'this is not a PyTorch checkpoint\n');
	// The pruned example CNN as a Keras 3 .keras archive (written with h5py in Keras's layout).
	run(pythonBin, [join(repo, 'scripts', 'make_keras_example.py'), '--src', join(repo, 'examples', 'digits-cnn.dub.pt'), '--out', dirs.workspace, '--name', 'digits-cnn.dub'], { env: { ...process.env, HOME: dirs.home } });
	rmSync(join(dirs.workspace, 'digits-cnn.dub.h5'));
	// The ONNX digits CNN (examples/, written by Debian's PyTorch) for Run D.U.B. fine-tune with TensorFlow.js.
	mkdirSync(join(dirs.workspace, 'digits'), { recursive: true });
	cpSync(join(repo, 'examples', 'digits-cnn.onnx'), join(dirs.workspace, 'digits', 'digits-cnn.onnx'));
	// The same CNN as a PyTorch checkpoint with the script that defines it, for the PyTorch engine.
	cpSync(join(repo, 'examples', 'digits-cnn.pt'), join(dirs.workspace, 'digits', 'digits-cnn.pt'));
	cpSync(join(repo, 'examples', 'train_digits.py'), join(dirs.workspace, 'digits', 'train_digits.py'));
	// The Fashion-MNIST CNN (examples/, briefly trained by Debian's PyTorch) for a run on Debian's dataset-fashion-mnist.
	mkdirSync(join(dirs.workspace, 'fashion'), { recursive: true });
	cpSync(join(repo, 'examples', 'fashion-cnn.onnx'), join(dirs.workspace, 'fashion', 'fashion-cnn.onnx'));
	mkdirSync(join(dirs.workspace, '.vscode'), { recursive: true });
	writeFileSync(join(dirs.workspace, '.vscode', 'settings.json'), JSON.stringify({ 'crossbarLens.hardware.crossbarSize': 16 }, null, 2));
}

export function writeUserSettings(dirs, theme) {
	const user = join(dirs.userData, 'User');
	mkdirSync(user, { recursive: true });
	writeFileSync(join(user, 'settings.json'), JSON.stringify({
		'workbench.colorTheme': theme,
		'workbench.startupEditor': 'none',
		'workbench.tips.enabled': false,
		'workbench.enableExperiments': false,
		'security.workspace.trust.enabled': false,
		'telemetry.telemetryLevel': 'off',
		'extensions.autoCheckUpdates': false,
		'extensions.autoUpdate': false,
		'extensions.ignoreRecommendations': true,
		'update.mode': 'none',
		'editor.minimap.enabled': false,
		'chat.commandCenter.enabled': false,
		'workbench.secondarySideBar.defaultVisibility': 'hidden',
		'window.restoreWindows': 'all',
		'files.simpleDialog.enable': true,
	}, null, 2));
}

/** The CLI's JSON for a model (the numbers the panel must show). */
export function cliAnalyze(path, args = []) {
	return JSON.parse(run(process.execPath, [join(repo, 'dist', 'cli.js'), 'analyze', path, '--json', ...args]));
}

export function installExtension(dirs, vsix) {
	run(codeServerBin, ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', vsix], { env: serverEnv(dirs) });
}

function serverEnv(dirs) {
	return { ...process.env, HOME: dirs.home, TMPDIR: dirs.tmp, XDG_CONFIG_HOME: join(dirs.home, '.config'), XDG_CACHE_HOME: join(dirs.home, '.cache') };
}

export async function freePort() {
	return new Promise((resolvePort, reject) => {
		const server = createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolvePort(port));
		});
	});
}

/** Starts code-server in its own process group; `stop()` ends the whole group. */
export async function startServer(dirs) {
	const port = await freePort();
	const config = join(dirs.root, 'config.yaml');
	writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
	const child = spawn(codeServerBin, [
		'--config', config, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
		'--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions,
		...(process.env.E2E_LOG_TRACE ? ['--log', 'trace'] : []), '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
		dirs.workspace,
	], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv(dirs) });
	const log = [];
	child.stdout.on('data', (d) => log.push(String(d)));
	child.stderr.on('data', (d) => log.push(String(d)));
	const url = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 30_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${log.join('')}`);
		try {
			const response = await fetch(`${url}/healthz`);
			if (response.ok) break;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 150));
	}
	const stop = async () => {
		if (child.exitCode !== null) return;
		try {
			process.kill(-child.pid, 'SIGTERM');
		} catch {
			return;
		}
		const until = Date.now() + 5000;
		while (Date.now() < until) {
			try {
				process.kill(-child.pid, 0);
			} catch {
				return;
			}
			await new Promise((r) => setTimeout(r, 100));
		}
		try {
			process.kill(-child.pid, 'SIGKILL');
		} catch {
			// gone
		}
	};
	return { url, port, log, stop };
}

export function removeWorkDir(dirs) {
	rmSync(dirs.root, { recursive: true, force: true });
}

// The texts the panel and the CodeLens print: the extension's own formatters (src/shared/format.ts).
const { formatImprovement, formatRatio } = await tsImport('../../src/shared/format.ts', import.meta.url);

/** The panel's improvement text for a result. */
export const improvementText = formatImprovement;

/** The CodeLens ratio. */
export const lensRatio = formatRatio;
