import { ModelFormatError, UsageError } from '../core/errors';
import { describeSuffixes, modelFileExtensions } from '../formats/registry';
import { runAnalyze } from './analyzeCommand';
import { runFinetune } from './finetuneCommand';
import { runPrune } from './pruneCommand';
import { runSweep } from './sweepCommand';
import { toolVersion } from './version';
import { runReport } from './reportCommand';
import { runTradeoffCommand } from './tradeoffCommand';

const usage = `crossbar-lens: ADC cost of a model on crossbar-based analog in-memory accelerators (D.U.B., arXiv 2403.13082)

usage:
  crossbar-lens analyze <model> [--tile 64] [--slices 1] [--tol 0] [--include-linear]
                                [--adc-law paper|walden|thermal] [--input-size 3x32x32]
                                [--json] [--fail-under X]
  crossbar-lens sweep <model> [--tiles 16,32,64,128,256,512] [--slices 1,2,4] [--adc-law paper,walden,thermal]
                              [--tol 0] [--include-linear] [--input-size 3x32x32] [--json | --csv]
  crossbar-lens report <model> --html out.html [--csv out.csv] [--json out.json] [--force]
                               [profile options as for analyze]   (- writes one report to stdout)
  crossbar-lens prune <model> --out <file> [--method dub|dub-tol|unstructured|tiles]
                             [--preset vgg11-cifar10|resnet18-imagenet | --ratios p1,p2,… | --ratio p]
                             [--tile 64] [--slices 1] [--tol 0] [--skip-level0-loosening] [--force] [--json]
  crossbar-lens finetune <model> --data digits|x.npz|<cifar-10 dir> --ratios PRESET|p|p1,p2,… --out <file>
                                [--engine tfjs|pytorch] [--factory file.py:fn | --torchvision NAME] [--processes N]
                                [--preset paper-cifar10|paper-imagenet|digits] [--epochs N] [--finetune-epochs N]
                                [--lambda-var X] [--lambda-l2 X] [--lr X] [--finetune-lr X] [--batch-size N]
                                [--tile 64] [--slices 1] [--seed 0] [--workers 1|2] [--python PATH]
                                [--resume] [--force] [--no-baseline] [--json]
  crossbar-lens tradeoff <model> --data digits|x.npz|<cifar-10 dir> [--ratios 0,30,50,…] [--methods dub,unstructured]
                                [--preset vgg11-cifar10|resnet18-imagenet|…] [--tile 64] [--slices 1]
                                [--adc-law paper|walden|thermal] [--engine tfjs|pytorch]
                                [--factory file.py:fn | --torchvision NAME] [--python PATH] [--seed 0] [--json|--csv]
  crossbar-lens --help | --version

models: ${describeSuffixes(modelFileExtensions)} (PyTorch, safetensors, ONNX, TF.js, NumPy, Keras)
exit codes: 0 ok · 2 usage error · 3 the file cannot be read as a model · 4 improvement below --fail-under`;

/** Exit codes are a contract for scripts and CI jobs. */
export const ExitCode = { ok: 0, internal: 1, usage: 2, badModel: 3, belowBudget: 4 } as const;

export async function main(argv: readonly string[]): Promise<number> {
	const [command, ...rest] = argv;
	try {
		switch (command) {
			case 'analyze':
				return await runAnalyze(rest);
			case 'prune':
				return await runPrune(rest);
			case 'sweep':
				return await runSweep(rest);
			case 'finetune':
				return await runFinetune(rest);
			case 'report':
				return await runReport(rest);
			case 'tradeoff':
				return await runTradeoffCommand(rest);
			case '--version':
			case '-v':
				process.stdout.write(`${toolVersion()}\n`);
				return ExitCode.ok;
			case undefined:
			case '--help':
			case '-h':
			case 'help':
				process.stdout.write(`${usage}\n`);
				return command === undefined ? ExitCode.usage : ExitCode.ok;
			default:
				throw new UsageError(`unknown command '${command}'.`);
		}
	} catch (ex) {
		if (ex instanceof UsageError) {
			process.stderr.write(`crossbar-lens: ${ex.message}\nRun 'crossbar-lens --help' for usage.\n`);
			return ExitCode.usage;
		}
		if (ModelFormatError.is(ex)) {
			process.stderr.write(`crossbar-lens: ${ex.message} [${ex.reason}]\n`);
			return ExitCode.badModel;
		}
		const message = ex instanceof Error ? ex.message : String(ex);
		process.stderr.write(`crossbar-lens: internal error: ${message.split('\n')[0]}${process.env.CROSSBAR_LENS_DEBUG ? `\n${(ex as Error).stack ?? ''}` : ' (set CROSSBAR_LENS_DEBUG=1 for details)'}\n`);
		return ExitCode.internal;
	}
}


if (require.main === module) {
	// A closed pipe (`crossbar-lens analyze m.pt | head`) is not an error.
	process.stdout.on('error', (err: NodeJS.ErrnoException) => {
		if (err.code === 'EPIPE') process.exit(0);
	});
	main(process.argv.slice(2)).then((code) => {
		process.exitCode = code;
	}, (ex: unknown) => {
		process.stderr.write(`crossbar-lens: internal error: ${String(ex)}\n`);
		process.exitCode = ExitCode.internal;
	});
}
