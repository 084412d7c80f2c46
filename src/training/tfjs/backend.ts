/**
 * Picks the TensorFlow.js backend for training (README.md, "D.U.B. fine-tuning: two engines"): tfjs-node when its native
 * binding loads (an optional dependency that cannot install on every machine), else
 * tfjs-backend-wasm with this project's training kernels, else the pure-JS cpu backend.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's node entry registers no gradients; the ESM gradient modules share its global registry.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from './kernels';

/** Which backend to use: `auto` tries tensorflow (tfjs-node), then wasm, then cpu. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The backend in use, as reported in every training event. */
export interface BackendInfo {
	/** tfjs backend name: 'tensorflow' (tfjs-node), 'wasm' or 'cpu'. */
	readonly name: string;
	/** One line: what was tried and why it fell back. */
	readonly detail: string;
}

const wasmBinaries = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/**
 * Where the wasm binaries are: `wasmDir` when given, else next to this bundle (esbuild copies
 * them into dist/ beside dist/trainingWorker.js), else the package's own dist folder (found by
 * the package itself when running from source).
 */
function configureWasmPaths(wasmDir?: string): void {
	const candidates = [wasmDir, typeof __dirname === 'string' ? __dirname : undefined].filter((d): d is string => d !== undefined);
	for (const dir of candidates) {
		if (existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm'))) {
			const map: Record<string, string> = {};
			for (const file of wasmBinaries) map[file] = join(dir, file);
			setWasmPaths(map);
			return;
		}
	}
}

let selected: BackendInfo | undefined;

/** Initialises the backend once per thread and returns what is in use. */
export async function initTrainingBackend(preference: BackendPreference = 'auto', options: { wasmDir?: string } = {}): Promise<BackendInfo> {
	if (selected && (preference === 'auto' || preference === selected.name)) {
		return selected;
	}
	// PROD: no NaN checks per op and no console banner.
	tf.env().set('PROD', true);
	const notes: string[] = [];
	if (preference === 'auto' || preference === 'tensorflow') {
		try {
			// Not bundled: a native addon that exists only where its install script could run.
			const load = createRequire(typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js'));
			const name = '@tensorflow/tfjs-node';
			load(name);
			if (await tf.setBackend('tensorflow')) {
				await tf.ready();
				selected = { name: 'tensorflow', detail: 'tfjs-node (native libtensorflow)' };
				return selected;
			}
			notes.push('tfjs-node loaded but its backend did not initialise');
		} catch (ex) {
			notes.push(`tfjs-node not available (${firstLine(ex)})`);
		}
		if (preference === 'tensorflow') {
			throw new Error(`The tensorflow backend was asked for but ${notes.join('; ')}.`);
		}
	}
	if (preference === 'auto' || preference === 'wasm') {
		try {
			configureWasmPaths(options.wasmDir);
			if (await tf.setBackend('wasm')) {
				await tf.ready();
				registerTrainingKernels('wasm');
				selected = { name: 'wasm', detail: `tfjs-backend-wasm (SIMD ${String(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))}, 1 thread) with Crossbar Lens training kernels${notes.length ? `; ${notes.join('; ')}` : ''}` };
				return selected;
			}
			notes.push('wasm backend did not initialise');
		} catch (ex) {
			notes.push(`wasm backend failed (${firstLine(ex)})`);
		}
		if (preference === 'wasm') {
			throw new Error(`The wasm backend was asked for but ${notes.join('; ')}.`);
		}
	}
	// A named import, so bundlers keep the package (its sideEffects list would let them drop a bare import).
	if (!tf.findBackendFactory('cpu')) {
		tf.registerBackend('cpu', () => new MathBackendCPU(), 1);
	}
	await tf.setBackend('cpu');
	await tf.ready();
	selected = { name: 'cpu', detail: `tfjs-backend-cpu (pure JS, slow)${notes.length ? `; ${notes.join('; ')}` : ''}` };
	return selected;
}

function firstLine(ex: unknown): string {
	const text = ex instanceof Error ? ex.message : typeof ex === 'object' && ex !== null && 'message' in ex ? String((ex as { message: unknown }).message) : String(ex);
	return text.split('\n')[0].slice(0, 160);
}
