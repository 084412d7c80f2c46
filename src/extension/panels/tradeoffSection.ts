import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { isAbortError, UsageError } from '../../core/errors';
import { costOfHistogram, improvement } from '../../hardware/energy';
import type { AdcLaw } from '../../shared/analysis';
import { formatAccuracy, formatRatio } from '../../shared/format';
import type { TradeoffExtraPointDto, TradeoffViewDto } from '../../shared/tradeoff';
import type { TrainingRunDto } from '../../shared/training';
import { checkPythonTorch } from '../../training/pytorch/engine';
import { runTradeoff } from '../../training/tradeoff';
import type { TradeoffSettings } from '../../training/tradeoff';
import { adcBitsByLevel } from '../../hardware/levels';
import { Disposable } from '../disposable';
import { reportError } from '../reportError';
import { chooseTradeoff } from '../training/fineTuneChoices';
import { resolvePythonInterpreter } from '../training/pythonInterpreter';
import type { PanelHost } from './panelHost';

/**
 * The panel's accuracy–energy trade-off: a one-shot prune sweep of the model (D.U.B. and
 * unstructured at each ratio, no fine-tune) evaluated on held-out images by the engine that can
 * run it (src/training/tradeoff.ts), drawn point by point as it runs, with Cancel; finished
 * fine-tunes of the same model join the chart as points.
 */
export class TradeoffSection extends Disposable {
	private view: TradeoffViewDto | undefined;
	private controller: AbortController | undefined;

	constructor(private readonly host: PanelHost, private readonly state: vscode.Memento) {
		super();
		// A fine-tune of this model that finishes while the chart is up adds its points.
		this.register(host.services.trainingRuns.onDidChange((run) => {
			if (this.view && run.modelPath === host.path && run.status === 'done') this.publish({ ...this.view, extraPoints: this.extraPoints(this.view.profile.crossbarSize, this.view.profile.adcLaw) });
		}));
	}

	/** Sends the sweep again to a webview that lost its page. */
	replay(): void {
		if (this.view) void this.host.post({ type: 'tradeoff/update', view: this.view });
	}

	cancel(): void {
		this.controller?.abort();
	}

	/** Asks for the dataset (and a PyTorch model's class) and runs the sweep in the background. */
	async start(): Promise<void> {
		if (this.controller) {
			void vscode.window.showInformationMessage(`A trade-off sweep of ${basename(this.host.path)} is running; cancel it first.`);
			return;
		}
		const { path, services } = this.host;
		const choice = await chooseTradeoff(this.state, path);
		if (!choice) return;
		if (choice.engine === 'pytorch' && !vscode.workspace.isTrusted) {
			throw new UsageError('Evaluating a PyTorch checkpoint runs its model code in your interpreter: trust this workspace to use it.');
		}
		const profile = this.host.profile();
		const settings = await this.engineSettings(choice.engine);
		const law: AdcLaw = profile.adcLaw;
		const controller = new AbortController();
		this.controller = controller;
		let view: TradeoffViewDto = {
			status: 'running', done: 0, total: choice.ratios.length * 2,
			engineLabel: choice.engine === 'tfjs' ? 'TensorFlow.js' : 'PyTorch', datasetLabel: choice.datasetLabel,
			profile: { crossbarSize: profile.crossbarSize, slices: profile.slices, channelsPerCrossbar: profile.crossbarSize / profile.slices, adcLaw: law, adcBitsByLevel: adcBitsByLevel(profile.crossbarSize) },
			points: [], extraPoints: this.extraPoints(profile.crossbarSize, law), startedAt: Date.now(),
		};
		this.publish(view);
		services.log.info(`trade-off: ${basename(path)} on ${choice.datasetLabel}, ${choice.engine}, T=${profile.crossbarSize}, ratios ${choice.ratios.join(',')}`);
		try {
			const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Crossbar: trade-off of ${basename(path)}`, cancellable: true }, async (progress, token) => {
				token.onCancellationRequested(() => controller.abort());
				return runTradeoff({
					modelPath: path, dataset: choice.dataset, engine: choice.engine, crossbarSize: profile.crossbarSize, slices: profile.slices, adcLaw: law,
					ratios: choice.ratios, engineOptions: choice.engineOptions,
				}, (p) => {
					if (p.kind === 'start') {
						view = { ...view, engineLabel: `${view.engineLabel} · ${p.backend}`, total: p.total };
					} else if (p.kind === 'dense') {
						view = { ...view, dense: p.dense };
					} else if (p.kind === 'point') {
						view = { ...view, done: p.index, points: [...view.points, p.point] };
						progress.report({ message: `${p.point.method} at ${p.point.ratio} %: ${formatAccuracy(p.point.accuracy, 1)}, ${formatRatio(p.point.improvement)} (${p.index}/${p.total})`, increment: 100 / p.total });
					} else {
						services.log.info(`trade-off: ${p.message}`);
						return;
					}
					this.publish(view);
				}, controller.signal, settings);
			});
			this.publish({ ...view, status: 'done', points: result.points, dense: result.dense, seconds: result.seconds });
		} catch (ex) {
			if (isAbortError(ex) || controller.signal.aborted) {
				this.publish({ ...view, status: 'cancelled', message: `Cancelled after ${view.done} of ${view.total} points.` });
				return;
			}
			this.publish({ ...view, status: 'failed', message: ex instanceof Error ? ex.message : String(ex) });
			reportError(ex, services.log, 'Trade-off sweep');
		} finally {
			this.controller = undefined;
		}
	}

	override dispose(): void {
		this.controller?.abort();
		super.dispose();
	}

	private publish(view: TradeoffViewDto): void {
		this.view = view;
		void this.host.post({ type: 'tradeoff/update', view });
	}

	/** Finished fine-tunes of this model at the chart's crossbar size, their ADC figures under the chart's law. */
	private extraPoints(crossbarSize: number, law: AdcLaw): TradeoffExtraPointDto[] {
		return this.host.services.trainingRuns.finished(this.host.path)
			.filter((run) => run.crossbarSize === crossbarSize)
			.flatMap((run) => fineTuneRows(run).map(({ key, row }) => {
				const cost = costOfHistogram(row.levelHistogram, crossbarSize, law);
				return { label: `${key === 'dub' ? 'D.U.B. fine-tuned' : 'unstructured fine-tuned'} (${run.outputLabel})`, method: key, accuracy: row.accuracy ?? 0, improvement: improvement(cost.adcEnergyDense, cost.adcEnergy) };
			}));
	}

	private async engineSettings(engine: 'tfjs' | 'pytorch'): Promise<TradeoffSettings> {
		if (engine === 'tfjs') return {};
		const { path, services } = this.host;
		const pythonDir = vscode.Uri.joinPath(services.extensionUri, 'python').fsPath;
		if (!existsSync(join(pythonDir, 'crossbar_lens_train', '__main__.py'))) {
			throw new Error(`This installation of Crossbar Lens lacks the PyTorch engine's Python package (${join(pythonDir, 'crossbar_lens_train')}).`);
		}
		const python = await resolvePythonInterpreter(vscode.Uri.file(path), services.log);
		await checkPythonTorch(python.path).catch((ex: unknown) => {
			throw new UsageError(`${ex instanceof Error ? ex.message : String(ex)} Set crossbarLens.training.pythonPath to an interpreter with PyTorch.`);
		});
		const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(path));
		return { pytorch: { pythonPath: python.path, pythonDir, cwd: folder?.uri.fsPath ?? dirname(path) } };
	}
}

/** The D.U.B. and unstructured rows of a finished run's table that have an accuracy. */
function fineTuneRows(run: TrainingRunDto): { key: 'dub' | 'unstructured'; row: NonNullable<TrainingRunDto['summary']>[number] }[] {
	return (run.summary ?? []).flatMap((row) => ((row.key === 'dub' || row.key === 'unstructured') && row.accuracy !== null ? [{ key: row.key, row }] : []));
}
