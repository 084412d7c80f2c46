// Bundles every entry point of Crossbar Lens with esbuild.
//   node esbuild.mjs            one production build into dist/
//   node esbuild.mjs --watch    rebuild on change
// Entries are added here as their folders come: the extension host, the CLI, the webview app
// and the training worker each get one bundle.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');

/** @type {esbuild.BuildOptions[]} */
const builds = [
	{
		entryPoints: { cli: 'src/cli/main.ts' },
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		banner: { js: '#!/usr/bin/env node' },
	},
	{
		entryPoints: { extension: 'src/extension.ts' },
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		external: ['vscode'],
	},
	{
		// The tfjs training engine runs here, in worker threads, never on the extension host thread.
		entryPoints: { trainingWorker: 'src/training/tfjs/worker.ts' },
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		external: ['@tensorflow/tfjs-node'],
	},
	{
		entryPoints: { 'webview/main': 'webview-ui/src/main.ts' },
		platform: 'browser',
		format: 'esm',
		target: 'es2022',
	},
].filter((b) => Object.values(b.entryPoints).every((p) => existsSync(p)));

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const common = { define: { CROSSBAR_LENS_VERSION: JSON.stringify(version) }, bundle: true, outdir: 'dist', sourcemap: true, logLevel: 'warning', minify: !watch };

// The wasm backend's binaries sit next to the training worker, which loads them from there.
mkdirSync('dist', { recursive: true });
for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
	const from = `node_modules/@tensorflow/tfjs-backend-wasm/dist/${file}`;
	if (existsSync(from)) {
		copyFileSync(from, `dist/${file}`);
	}
}

if (watch) {
	for (const b of builds) {
		const ctx = await esbuild.context({ ...common, ...b });
		await ctx.watch();
	}
} else {
	await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}
