import { UsageError } from '../core/errors';
import { checkOutputPath } from '../formats/atomicWrite';
import { openFileSource } from '../formats/byteSource';
import { openModelSource } from '../formats/registry';
import { writeModel } from '../formats/writers';
import { pruneGraph, pruneMethods } from '../pruning/pruneModel';
import type { PruneMethod, PruneOutcome } from '../pruning/pruneModel';
import type { RatioSpec } from '../pruning/ratios';
import { ratioPresets } from '../pruning/ratios';
import { numberOption, parseArgs } from './args';
import type { ParsedArgs } from './args';
import { profileFromArgs, profileOptions, singleModelPath } from './analyzeCommand';
import { formatImprovement, formatPercent, toJson } from '../shared/format';
import { table } from './format';

function ratioSpecFromArgs(args: ParsedArgs, method: PruneMethod): RatioSpec | undefined {
	const given = ['preset', 'ratios', 'ratio'].filter((o) => args.values.has(o));
	if (given.length > 1) {
		throw new UsageError(`give one of --preset, --ratios or --ratio (got ${given.map((o) => `--${o}`).join(' and ')}).`);
	}
	if (method === 'dub-tol') {
		if (given.length > 0) {
			throw new UsageError(`--method dub-tol prunes by --tol, not by ratios (drop --${given[0]}).`);
		}
		return undefined;
	}
	const preset = args.values.get('preset');
	if (preset !== undefined) {
		return { preset };
	}
	const ratios = args.values.get('ratios');
	if (ratios !== undefined) {
		const values = ratios.split(',').map((r) => Number(r.trim()));
		if (values.some((v, i) => !Number.isFinite(v) || ratios.split(',')[i].trim() === '')) {
			throw new UsageError(`--ratios needs comma-separated percentages, e.g. 50,70,75 (got '${ratios}').`);
		}
		return { ratios: values };
	}
	const ratio = numberOption(args, 'ratio');
	if (ratio !== undefined) {
		return { ratio };
	}
	throw new UsageError(`--method ${method} needs --preset (${Object.keys(ratioPresets).join(', ')}), --ratios p1,p2,… or --ratio p.`);
}

function summaryTable(outcome: PruneOutcome, outPath: string, notes: readonly string[]): string {
	const { before, after, unstructured } = outcome;
	const rows = [['layer', 'ratio', 'zeros', 'levels after (k=0..)', 'ADC bits', `${outcome.method}`, ...(unstructured ? ['unstructured'] : [])]];
	after.layers.forEach((layer, i) => {
		const base = unstructured?.layers[i];
		const summary = outcome.layers.find((l) => l.name === layer.name);
		rows.push([
			layer.name,
			summary?.ratio !== undefined ? `${summary.ratio}%` : '–',
			formatPercent(layer.zeros, layer.weights),
			layer.levelHistogram.join(' '),
			`${before.layers[i].adcBits} → ${layer.adcBits}`,
			formatImprovement(layer.adcEnergyImprovement),
			...(base ? [formatImprovement(base.adcEnergyImprovement)] : []),
		]);
	});
	rows.push(['total', '', formatPercent(after.totals.zeros, after.totals.weights), after.totals.levelHistogram.join(' '), `${before.totals.adcBits} → ${after.totals.adcBits}`, formatImprovement(after.totals.adcEnergyImprovement), ...(unstructured ? [formatImprovement(unstructured.totals.adcEnergyImprovement)] : [])]);
	const lines = [table(rows, rows[0].map((_, c) => c !== 0 && c !== 3))];
	const law = after.adcLaw.name;
	lines.push('');
	lines.push(`ADC energy improvement (${law} law, T=${after.profile.crossbarSize}): before ${formatImprovement(before.totals.adcEnergyImprovement)} → ${outcome.method} ${formatImprovement(after.totals.adcEnergyImprovement)}${unstructured ? ` · unstructured at the same ratios ${formatImprovement(unstructured.totals.adcEnergyImprovement)}` : ''}`);
	lines.push(`wrote ${outPath}`);
	for (const note of notes) {
		lines.push(`note: ${note}`);
	}
	for (const warning of after.warnings) {
		lines.push(`warning: ${warning}`);
	}
	return lines.join('\n');
}

/** `crossbar-lens prune <model> --out <file> …` */
export async function runPrune(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, {
		...profileOptions,
		'out': { type: 'value' },
		'method': { type: 'value' },
		'preset': { type: 'value' },
		'ratios': { type: 'value' },
		'ratio': { type: 'value' },
		'skip-level0-loosening': { type: 'flag' },
		'force': { type: 'flag' },
		'json': { type: 'flag' },
	});
	const path = singleModelPath(args, 'prune');
	const outPath = args.values.get('out');
	if (outPath === undefined) {
		throw new UsageError('prune needs --out <file> (the input is never overwritten).');
	}
	const method = (args.values.get('method') ?? 'dub') as PruneMethod;
	if (!pruneMethods.includes(method)) {
		throw new UsageError(`--method must be one of ${pruneMethods.join(', ')} (got '${method}').`);
	}
	const ratios = ratioSpecFromArgs(args, method);
	const profile = profileFromArgs(args);
	// For dub-tol, --tol is the pruning threshold (default 1e-3, the reference's); the analysis then counts exact zeros.
	const pruneTol = method === 'dub-tol' ? (args.values.has('tol') ? profile.tol : 1e-3) : undefined;
	const analysisProfile = method === 'dub-tol' ? { ...profile, tol: 0 } : profile;
	const writeOptions = { force: args.flags.has('force'), inputPath: path };
	// Refuse the output (a UsageError) before the work, not after it.
	await checkOutputPath(outPath, writeOptions);
	const source = await openFileSource(path);
	const graph = await openModelSource(source, { inputSize: profile.inputSize });
	try {
		const outcome = await pruneGraph(graph, analysisProfile, { method, ratios, pruneTol, skipLevel0Loosening: args.flags.has('skip-level0-loosening') });
		const notes = await writeModel(source, graph, outcome.updates, outPath, writeOptions);
		if (args.flags.has('json')) {
			const { before, after, unstructured, layers } = outcome;
			process.stdout.write(`${toJson({ tool: 'crossbar-lens', command: 'prune', method, out: outPath, pruneTol, layers, before, after: { ...after, file: outPath }, ...(unstructured ? { unstructured } : {}), notes })}\n`);
		} else {
			process.stdout.write(`${summaryTable(outcome, outPath, notes)}\n`);
		}
	} finally {
		await graph.close();
	}
	return 0;
}
