import { UsageError } from '../core/errors';
import { openModel } from '../formats/registry';
import { analyzeGraph } from '../hardware/analyze';
import { parseInputSize, resolveProfile } from '../hardware/profile';
import { adcLaws } from '../shared/analysis';
import type { AdcLaw, AnalysisResultDto, HardwareProfile } from '../shared/analysis';
import { numberOption, parseArgs } from './args';
import type { OptionSpec, ParsedArgs } from './args';
import { formatImprovement, toJson } from '../shared/format';
import { formatAnalysisTable } from './format';

/** Options shared by every command that analyses (analyze, prune, report). */
export const profileOptions: Record<string, OptionSpec> = {
	'tile': { type: 'value' },
	'slices': { type: 'value' },
	'tol': { type: 'value' },
	'include-linear': { type: 'flag' },
	'adc-law': { type: 'value' },
	'input-size': { type: 'value' },
	'adc-pj-at-8-bits': { type: 'value' },
	'input-bits': { type: 'value' },
};

export function profileFromArgs(args: ParsedArgs): HardwareProfile {
	const law = args.values.get('adc-law');
	if (law !== undefined && !adcLaws.includes(law as AdcLaw)) {
		throw new UsageError(`--adc-law must be one of ${adcLaws.join(', ')} (got '${law}').`);
	}
	const inputSize = args.values.get('input-size');
	return resolveProfile({
		crossbarSize: numberOption(args, 'tile'),
		slices: numberOption(args, 'slices'),
		tol: numberOption(args, 'tol'),
		adcLaw: law as AdcLaw | undefined,
		includeLinear: args.flags.has('include-linear') || undefined,
		inputSize: inputSize === undefined ? undefined : parseInputSize(inputSize),
		adcEnergyPjAt8Bits: numberOption(args, 'adc-pj-at-8-bits'),
		inputBits: numberOption(args, 'input-bits'),
	});
}

/** Opens, analyses and closes one model file. */
export async function analyzeFile(path: string, profile: HardwareProfile, signal?: AbortSignal): Promise<AnalysisResultDto> {
	const graph = await openModel(path, { inputSize: profile.inputSize, signal });
	try {
		return (await analyzeGraph(graph, profile, { signal })).result;
	} finally {
		await graph.close();
	}
}

export function singleModelPath(args: ParsedArgs, command: string): string {
	if (args.positionals.length !== 1) {
		throw new UsageError(args.positionals.length === 0 ? `${command} needs a model file.` : `${command} takes one model file (got ${args.positionals.length}).`);
	}
	return args.positionals[0];
}

/** `crossbar-lens analyze <model> …` */
export async function runAnalyze(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, { ...profileOptions, 'json': { type: 'flag' }, 'fail-under': { type: 'value' } });
	const path = singleModelPath(args, 'analyze');
	const failUnder = numberOption(args, 'fail-under', (n) => Number.isFinite(n) && n > 0);
	const result = await analyzeFile(path, profileFromArgs(args));
	process.stdout.write(`${args.flags.has('json') ? toJson(result) : formatAnalysisTable(result)}\n`);
	const achieved = result.totals.adcEnergyImprovement;
	if (failUnder !== undefined && achieved !== null && achieved < failUnder) {
		process.stderr.write(`crossbar-lens: ${path}: ADC energy improvement ${formatImprovement(achieved)} is below --fail-under ${failUnder}×\n`);
		return 4;
	}
	return 0;
}
