import { UsageError } from '../core/errors';
import { renderReport, writeReports } from '../report/writeReports';
import type { ExportFormat } from '../shared/protocol';
import { openModel } from '../formats/registry';
import { analyzeGraph } from '../hardware/analyze';
import { designSpaceSettings, sweepGraph } from '../hardware/sweep';
import type { AnalysisResultDto, SweepResultDto } from '../shared/analysis';
import { profileFromArgs, profileOptions, singleModelPath } from './analyzeCommand';
import { parseArgs } from './args';
import { formatImprovement } from '../shared/format';
import { toolVersion } from './version';


/** `crossbar-lens report <model> --html out.html [--csv out.csv] [--json out.json] [--force] [profile options]` */
export async function runReport(argv: readonly string[]): Promise<number> {
	const args = parseArgs(argv, { ...profileOptions, 'html': { type: 'value' }, 'csv': { type: 'value' }, 'json': { type: 'value' }, 'force': { type: 'flag' } });
	const path = singleModelPath(args, 'report');
	const outputs: Partial<Record<ExportFormat, string>> = {};
	for (const format of ['html', 'csv', 'json'] as const) {
		const out = args.values.get(format);
		if (out !== undefined) {
			outputs[format] = out;
		}
	}
	const stdoutTargets = Object.entries(outputs).filter(([, out]) => out === '-');
	if (Object.keys(outputs).length === 0) {
		throw new UsageError('report needs at least one output: --html FILE, --csv FILE or --json FILE (- for standard output).');
	}
	if (stdoutTargets.length > 1) {
		throw new UsageError('only one report can go to standard output (-).');
	}
	// One open of the model for the analysis and the design space the HTML report draws.
	const profile = profileFromArgs(args);
	const graph = await openModel(path, { inputSize: profile.inputSize });
	let result: AnalysisResultDto;
	let designSpace: SweepResultDto | undefined;
	try {
		result = (await analyzeGraph(graph, profile)).result;
		if (outputs.html !== undefined) designSpace = await sweepGraph(graph, profile, designSpaceSettings(profile));
	} finally {
		await graph.close();
	}
	const generator = toolVersion();
	const files = Object.fromEntries(Object.entries(outputs).filter(([, out]) => out !== '-')) as Partial<Record<ExportFormat, string>>;
	const written = await writeReports(result, files, { force: args.flags.has('force'), inputPath: path, generator, designSpace });
	if (stdoutTargets.length === 1) {
		process.stdout.write(renderReport(result, stdoutTargets[0][0] as ExportFormat, { generator, designSpace }));
	}
	for (const file of written) {
		process.stderr.write(`crossbar-lens: wrote ${file}\n`);
	}
	if (written.length > 0) {
		process.stderr.write(`crossbar-lens: ${result.file}: ${result.totals.tiles} crossbars, ADC energy improvement ${formatImprovement(result.totals.adcEnergyImprovement)} (${result.adcLaw.name} law)\n`);
	}
	return 0;
}
