import { UsageError } from '../core/errors';
import { openModel } from '../formats/registry';
import { parseInputSize, resolveProfile } from '../hardware/profile';
import { defaultSweepSettings, sweepGraph } from '../hardware/sweep';
import type { SweepSettings } from '../hardware/sweep';
import { csvField } from '../report/csvReport';
import { adcLaws } from '../shared/analysis';
import type { AdcLaw, SweepPointDto, SweepResultDto } from '../shared/analysis';
import { formatImprovement, formatInteger, formatPercent, formatPj, toJson } from '../shared/format';
import { numberOption, parseArgs } from './args';
import type { ParsedArgs } from './args';
import { singleModelPath } from './analyzeCommand';
import { table } from './format';

const sweepOptions = {
	'tiles': { type: 'value' },
	'slices': { type: 'value' },
	'adc-law': { type: 'value' },
	'tol': { type: 'value' },
	'include-linear': { type: 'flag' },
	'input-size': { type: 'value' },
	'adc-pj-at-8-bits': { type: 'value' },
	'input-bits': { type: 'value' },
	'json': { type: 'flag' },
	'csv': { type: 'flag' },
} as const;

/** A comma-separated list option (`16,32,64`), or the default. */
function listOption<T>(args: ParsedArgs, name: string, parse: (item: string) => T | undefined, fallback: readonly T[]): T[] {
	const text = args.values.get(name);
	if (text === undefined) {
		return [...fallback];
	}
	const items = text.split(',').map((item) => item.trim());
	const values = items.map(parse);
	const bad = items.find((item, i) => item === '' || values[i] === undefined);
	if (bad !== undefined) {
		throw new UsageError(`--${name} needs a comma-separated list, e.g. ${name === 'adc-law' ? adcLaws.join(',') : '16,32,64'} (got '${text}').`);
	}
	return values as T[];
}

const positiveInteger = (item: string): number | undefined => (/^\d+$/.test(item) ? Number(item) : undefined);
const law = (item: string): AdcLaw | undefined => (adcLaws.includes(item as AdcLaw) ? (item as AdcLaw) : undefined);

function settingsFromArgs(args: ParsedArgs): SweepSettings {
	return {
		crossbarSizes: listOption(args, 'tiles', positiveInteger, defaultSweepSettings.crossbarSizes),
		slices: listOption(args, 'slices', positiveInteger, defaultSweepSettings.slices),
		adcLaws: listOption(args, 'adc-law', law, defaultSweepSettings.adcLaws),
	};
}

/** The human-readable sweep: one table per ADC law, the best improvement under each. */
export function formatSweepTable(result: SweepResultDto): string {
	const first = result.points[0].totals;
	const lines = [
		`${result.file} · ${result.format} · ${first.layers} layers · ${formatInteger(first.weights)} weights · ${formatPercent(first.zeros, first.weights)} zeros · tol ${result.profile.tol}`,
	];
	const perInference = result.points.some((p) => p.totals.perInference);
	for (const adcLaw of result.adcLaws) {
		const points = result.points.filter((p) => p.adcLaw === adcLaw);
		lines.push('', `ADC law: ${adcLaw}`);
		const rows = [['crossbar', 'slices', 'channels', 'crossbars', 'ADC bits dense → current', 'improvement', ...(perInference ? ['per inference (ADC energy)'] : [])]];
		for (const p of points) {
			const t = p.totals;
			const pi = t.perInference;
			rows.push([`${p.crossbarSize}×${p.crossbarSize}`, String(p.slices), String(p.channelsPerCrossbar), formatInteger(t.tiles), `${formatInteger(t.adcBitsDense)} → ${formatInteger(t.adcBits)}`, formatImprovement(t.adcEnergyImprovement),
				...(perInference ? [pi ? `${formatPj(pi.adcEnergyPjDense)} → ${formatPj(pi.adcEnergyPj)} (${formatImprovement(pi.adcEnergyImprovement)})` : '–'] : [])]);
		}
		lines.push(table(rows, rows[0].map((_, c) => c > 0)));
		const best = points.reduce((a, b) => ((b.totals.adcEnergyImprovement ?? Infinity) > (a.totals.adcEnergyImprovement ?? Infinity) ? b : a));
		lines.push(`largest improvement: T=${best.crossbarSize}, q=${best.slices} (${formatImprovement(best.totals.adcEnergyImprovement)}, ${formatInteger(best.totals.tiles)} crossbars)`);
	}
	for (const warning of result.warnings) {
		lines.push(`warning: ${warning}`);
	}
	return lines.join('\n');
}

/** One CSV row per setting (RFC 4180, like `report --csv`); the level histogram as `n0 n1 …`. */
export function renderSweepCsv(result: SweepResultDto): string {
	const header = ['crossbar_size', 'slices', 'adc_law', 'channels_per_crossbar', 'crossbars', 'weights', 'zeros', 'adc_bits_dense', 'adc_bits', 'adc_energy_dense', 'adc_energy', 'adc_energy_improvement',
		'crossbar_activations', 'adc_energy_pj_dense', 'adc_energy_pj', 'per_inference_improvement', 'level_histogram'];
	const cell = (value: number | null | undefined): string | number => (value === null || value === undefined ? '' : value);
	const rows = result.points.map((p: SweepPointDto) => {
		const t = p.totals;
		const pi = t.perInference;
		return [p.crossbarSize, p.slices, p.adcLaw, p.channelsPerCrossbar, t.tiles, t.weights, t.zeros, t.adcBitsDense, t.adcBits, t.adcEnergyDense, t.adcEnergy, cell(t.adcEnergyImprovement),
			cell(pi?.crossbarActivations), cell(pi?.adcEnergyPjDense), cell(pi?.adcEnergyPj), cell(pi?.adcEnergyImprovement), t.levelHistogram.join(' ')];
	});
	return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** `crossbar-lens sweep <model> [--tiles …] [--slices …] [--adc-law …] [--json|--csv]` */
export async function runSweep(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, sweepOptions);
	const path = singleModelPath(args, 'sweep');
	if (args.flags.has('json') && args.flags.has('csv')) {
		throw new UsageError('give --json or --csv, not both.');
	}
	const settings = settingsFromArgs(args);
	const inputSize = args.values.get('input-size');
	const base = resolveProfile({
		tol: numberOption(args, 'tol'),
		includeLinear: args.flags.has('include-linear') || undefined,
		inputSize: inputSize === undefined ? undefined : parseInputSize(inputSize),
		adcEnergyPjAt8Bits: numberOption(args, 'adc-pj-at-8-bits'),
		inputBits: numberOption(args, 'input-bits'),
	});
	const graph = await openModel(path, { inputSize: base.inputSize });
	let result: SweepResultDto;
	try {
		result = await sweepGraph(graph, base, settings);
	} finally {
		await graph.close();
	}
	process.stdout.write(args.flags.has('json') ? `${toJson(result)}\n` : args.flags.has('csv') ? renderSweepCsv(result) : `${formatSweepTable(result)}\n`);
	return 0;
}
