// Runs each engine's reproduction in its own process for `npm run repro:digits` and
// `npm run repro:fashion`: its report is shown as it comes (a full run takes minutes), and its
// last stdout line is its result, one JSON object.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * `runs`: { engine, command, args, env }[], run one after another. Returns the results that came
 * back and whether any engine failed (missing interpreter, non-zero exit, or no result line).
 */
export async function runEngines(name, runs) {
	const results = [];
	let failed = false;
	for (const run of runs) {
		if (run.engine === 'pytorch' && !existsSync(run.command)) {
			console.log(`${name}: ${run.command} not found; skipping the PyTorch engine (set CROSSBAR_LENS_PYTHON).`);
			failed = true;
			continue;
		}
		console.log(`\n=== ${run.engine} engine ===`);
		const child = spawn(run.command, run.args, { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'inherit'] });
		// Every line but the last is the engine's report; the last is held back until the next arrives.
		let last;
		for await (const line of createInterface({ input: child.stdout })) {
			if (last !== undefined) console.log(last);
			last = line;
		}
		const status = child.exitCode ?? await new Promise((resolve) => child.once('close', resolve));
		let result;
		try {
			result = JSON.parse(last ?? '');
		} catch {
			if (last !== undefined) console.log(last);
			console.log(`${name}: the ${run.engine} engine ended without its result line (exit ${status}).`);
			failed = true;
			continue;
		}
		failed ||= status !== 0;
		results.push(result);
	}
	return { results, failed };
}
