// Bundles every entry point of Crossbar Lens with esbuild.
//   node esbuild.mjs            one production build into dist/
//   node esbuild.mjs --watch    rebuild on change
// The extension host, the CLI, the webview app and the training worker each get one bundle. A
// missing entry stops the build: a renamed file must not ship a .vsix without its bundle.
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
];
const missing = builds.flatMap((b) => Object.values(b.entryPoints)).filter((p) => !existsSync(p));
if (missing.length > 0) {
	console.error(`esbuild.mjs: entry point${missing.length === 1 ? '' : 's'} not found: ${missing.join(', ')}`);
	process.exit(1);
}

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const common = { define: { CROSSBAR_LENS_VERSION: JSON.stringify(version) }, bundle: true, outdir: 'dist', sourcemap: true, logLevel: 'warning', minify: !watch };

// The wasm backend's binaries sit next to the training worker, which loads them from there.
mkdirSync('dist', { recursive: true });
for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
	copyFileSync(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${file}`, `dist/${file}`);
}

if (watch) {
	for (const b of builds) {
		const ctx = await esbuild.context({ ...common, ...b });
		await ctx.watch();
	}
} else {
	await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}
