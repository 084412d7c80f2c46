import { ModelFormatError, UsageError, isAbortError } from '../core/errors';
import { openModel } from '../formats/registry';
import { csvField } from '../report/csvReport';
import { adcLaws } from '../shared/analysis';
import type { AdcLaw } from '../shared/analysis';
import { formatAccuracy, formatImprovement, formatPercent, toJson } from '../shared/format';
import type { TradeoffDto, TradeoffMeasureDto, TradeoffMethod, TradeoffProgress } from '../shared/tradeoff';
import { describeAdcLaw } from '../hardware/energy';
import { parseSweepRatios, parseTradeoffMethods, runTradeoff } from '../training/tradeoff';
import type { TradeoffJob } from '../training/tradeoff';
import { numberOption, parseArgs } from './args';
import { singleModelPath } from './analyzeCommand';
import { datasetFromArg } from './finetuneCommand';
import { table } from './format';

const methodLabels: Readonly<Record<TradeoffMethod, string>> = { dub: 'D.U.B.', unstructured: 'unstructured' };

/** What a point's ratio means: the ratio of every conv layer, or a percentage of a preset's ratios. */
function ratioLabel(ratio: number, preset: string | undefined): string {
	return preset === undefined ? `${ratio} %` : `${ratio} % of ${preset}`;
}

/** One progress line on stderr. */
export function describeProgress(p: TradeoffProgress, preset?: string): string | undefined {
	switch (p.kind) {
		case 'start': return `${p.message} · ${p.total} points`;
		case 'dense': return `${'dense'.padEnd(28)} ${formatAccuracy(p.dense.accuracy).padStart(8)}  ADC ${formatImprovement(p.dense.improvement)}`;
		case 'point': {
			const where = `[${String(p.index).padStart(String(p.total).length)}/${p.total}] ${methodLabels[p.point.method]} ${ratioLabel(p.point.ratio, preset)}`;
			return `${where.padEnd(28)} ${formatAccuracy(p.point.accuracy).padStart(8)}  ADC ${formatImprovement(p.point.improvement)}  zeros ${formatPercent(p.point.zerosFraction, 1)}`;
		}
		case 'log': return p.message;
		default: return undefined;
	}
}

/** The readable table: one row per ratio, accuracy / improvement / zeros of each method side by side. */
export function formatTradeoffTable(result: TradeoffDto): string {
	const { profile } = result;
	const law = describeAdcLaw(profile.adcLaw);
	const header = [
		`${result.modelLabel} · ${result.engine} (${result.backend}) · ${result.dataset}`,
		`crossbar ${profile.crossbarSize}×${profile.crossbarSize} (${profile.channelsPerCrossbar} output channels, ${profile.slices} slice${profile.slices === 1 ? '' : 's'} per weight) · ADC law: ${law.name} — ${law.formula}`,
		`one-shot pruning, no fine-tune; accuracy on ${result.testImages} held-out images${result.preset ? `; ratios are percentages of the preset ${result.preset}` : ''}`,
		'',
	];
	const cells = (m: TradeoffMeasureDto) => [formatAccuracy(m.accuracy), formatImprovement(m.improvement), formatPercent(m.zerosFraction, 1)];
	const rows = [
		['ratio', ...result.methods.flatMap((m) => [`${methodLabels[m]} acc`, 'ADC improvement', 'zeros'])],
		['dense', ...result.methods.flatMap(() => cells(result.dense))],
		...result.ratios.map((ratio) => [
			`${ratio} %`,
			...result.methods.flatMap((method) => cells(result.points.find((p) => p.method === method && p.ratio === ratio)!)),
		]),
	];
	return [...header, table(rows, rows[0].map((_, i) => i > 0)), '', `${result.points.length} point${result.points.length === 1 ? '' : 's'} in ${result.seconds.toFixed(1)} s`].join('\n');
}

/** CSV (RFC 4180): the dense model, then one row per point; an empty improvement is ∞ (every crossbar empty). */
export function formatTradeoffCsv(result: TradeoffDto): string {
	const bins = result.profile.adcBitsByLevel.length;
	const header = ['method', 'ratio', 'accuracy', 'adc_energy_improvement', 'adc_bits', 'adc_bits_dense', 'zero_fraction', 'layer_ratios',
		...Array.from({ length: bins }, (_, k) => `tiles_level_${k}`), 'crossbar_size', 'slices', 'adc_law', 'engine', 'preset'];
	const row = (method: string, ratio: number | '', m: TradeoffMeasureDto, layerRatios: readonly number[]) => [
		method, ratio, m.accuracy, m.improvement === null ? '' : m.improvement, m.adcBits, result.adcBitsDense, Number(m.zerosFraction.toFixed(6)),
		layerRatios.join(' '), ...m.levelHistogram, result.profile.crossbarSize, result.profile.slices, result.profile.adcLaw, result.engine, result.preset ?? '',
	];
	const rows = [header, row('dense', '', result.dense, []), ...result.points.map((p) => row(p.method, p.ratio, p, p.layerRatios))];
	return rows.map((r) => r.map((v) => csvField(typeof v === 'number' ? v : String(v))).join(',')).join('\r\n') + '\r\n';
}

/** `crossbar-lens tradeoff <model> --data …`: accuracy against ADC energy over a one-shot prune-ratio sweep. */
export async function runTradeoffCommand(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, {
		'data': { type: 'value' }, 'ratios': { type: 'value' }, 'methods': { type: 'value' }, 'preset': { type: 'value' },
		'tile': { type: 'value' }, 'slices': { type: 'value' }, 'adc-law': { type: 'value' }, 'engine': { type: 'value' },
		'factory': { type: 'value' }, 'torchvision': { type: 'value' }, 'python': { type: 'value' }, 'seed': { type: 'value' },
		'json': { type: 'flag' }, 'csv': { type: 'flag' },
	});
	const modelPath = singleModelPath(args, 'tradeoff');
	const data = args.values.get('data');
	if (data === undefined) {
		throw new UsageError('tradeoff needs --data (digits, x.npz or a CIFAR-10 folder): the held-out images the accuracy is measured on.');
	}
	if (args.flags.has('json') && args.flags.has('csv')) {
		throw new UsageError('give one of --json and --csv.');
	}
	const law = args.values.get('adc-law');
	if (law !== undefined && !adcLaws.includes(law as AdcLaw)) {
		throw new UsageError(`--adc-law must be one of ${adcLaws.join(', ')} (got '${law}').`);
	}
	const engine = args.values.get('engine');
	if (engine !== undefined && engine !== 'tfjs' && engine !== 'pytorch') {
		throw new UsageError(`--engine must be tfjs or pytorch (got '${engine}').`);
	}
	const preset = args.values.get('preset');
	const ratios = args.values.get('ratios');
	const methods = args.values.get('methods');
	const job: TradeoffJob = {
		modelPath,
		dataset: datasetFromArg(data),
		engine,
		crossbarSize: numberOption(args, 'tile', (n) => Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0),
		slices: numberOption(args, 'slices', (n) => Number.isInteger(n) && n >= 1),
		adcLaw: law as AdcLaw | undefined,
		preset,
		ratios: ratios === undefined ? undefined : parseSweepRatios(ratios, preset !== undefined),
		methods: methods === undefined ? undefined : parseTradeoffMethods(methods),
		seed: numberOption(args, 'seed', (n) => Number.isInteger(n) && n >= 0),
		engineOptions: {
			...(args.values.has('factory') ? { modelFactory: args.values.get('factory') } : {}),
			...(args.values.has('torchvision') ? { torchvision: args.values.get('torchvision') } : {}),
		},
	};
	// A file that is no model is exit code 3 with the reader's one line, before any engine starts.
	await (await openModel(modelPath)).close();
	const abort = new AbortController();
	const onSignal = () => abort.abort();
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);
	try {
		const result = await runTradeoff(job, (p) => {
			const line = describeProgress(p, preset);
			if (line !== undefined) process.stderr.write(`${line}\n`);
		}, abort.signal, { pytorch: { pythonPath: args.values.get('python') } });
		process.stdout.write(args.flags.has('json') ? `${toJson(result)}\n` : args.flags.has('csv') ? formatTradeoffCsv(result) : `${formatTradeoffTable(result)}\n`);
		return 0;
	} catch (ex) {
		if (isAbortError(ex)) {
			process.stderr.write(`crossbar-lens: ${(ex as Error).message}\n`);
			return 130;
		}
		if (ex instanceof Error && !(ex instanceof UsageError) && !ModelFormatError.is(ex)) {
			// What the engine reported (the user's model code raised, the interpreter has no torch, …): one line, exit 1.
			process.stderr.write(`crossbar-lens: tradeoff: ${ex.message.split('\n')[0]}\n`);
			return 1;
		}
		throw ex;
	} finally {
		process.removeListener('SIGINT', onSignal);
		process.removeListener('SIGTERM', onSignal);
	}
}
