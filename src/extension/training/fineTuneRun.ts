import { existsSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { isAbortError, UsageError } from '../../core/errors';
import { Commands } from '../../shared/commandIds';
import { formatAccuracy, formatImprovement, formatRatio } from '../../shared/format';
import type { TrainingRunDto } from '../../shared/training';
import type { TrainingEvent, TrainingJob, TrainingResult } from '../../training/engine';
import { checkPythonTorch, PytorchTrainingEngine } from '../../training/pytorch/engine';
import type { RunningEngineProcess } from '../../training/pytorch/engine';
import { applyTrainingEvent, createRunView, finishRunView } from '../../training/runView';
import { TfjsTrainingEngine } from '../../training/tfjs/engine';
import { AnalysisPanel } from '../panels/analysisPanel';
import { reportError } from '../reportError';
import type { Services } from '../services';
import type { FineTunePlan } from './fineTuneChoices';
import { resolvePythonInterpreter } from './pythonInterpreter';
import { interruptedRunState } from './runJournal';
import type { InFlightRun } from './runJournal';
import { TaskPythonLauncher } from './taskLauncher';

/** The TrainingJob of a plan. The tfjs checkpoint goes next to the output (`<output>.checkpoint/`). */
export function jobFromPlan(plan: FineTunePlan): TrainingJob {
	const architecture = plan.architecture ?? '';
	const torchvision = architecture.startsWith('torchvision:') ? architecture.slice('torchvision:'.length) : undefined;
	return {
		modelPath: plan.modelPath,
		dataset: plan.dataset,
		// Every field is given: the preset only fills gaps.
		preset: 'paper-cifar10',
		hyperParameters: plan.hyperParameters,
		crossbarSize: plan.crossbarSize,
		slices: plan.slices,
		pruneRatios: plan.pruneRatios,
		outputPath: plan.outputPath,
		force: plan.force,
		checkpointDir: plan.engine === 'tfjs' ? `${plan.outputPath}.checkpoint` : undefined,
		engineOptions: plan.engine === 'tfjs'
			? { maxStepsPerEpoch: plan.maxStepsPerEpoch }
			: { ...(torchvision ? { torchvision } : { modelFactory: architecture }), processes: plan.processes, maxStepsPerEpoch: plan.maxStepsPerEpoch },
	};
}

/** One line for the progress notification. */
export function progressMessage(view: TrainingRunDto): string {
	const phaseNames = { regularize: 'regularize', prune: 'D.U.B. prune', finetune: 'fine-tune', baseline: 'unstructured baseline' } as const;
	if (!view.phase) return 'starting…';
	const last = [...view.points].reverse().find((p) => p.series === (view.phase === 'prune' ? 'finetune' : view.phase));
	const parts = [view.phase === 'prune' ? phaseNames.prune : `${phaseNames[view.phase]} ${view.epoch ?? 0}/${view.epochs ?? '?'}`];
	if (last?.testAccuracy !== undefined) parts.push(`accuracy ${formatAccuracy(last.testAccuracy, 1)}`);
	if (last?.improvement !== undefined) parts.push(`ADC ${formatRatio(last.improvement)}`);
	if (last?.projectedImprovement !== undefined && last.projectedImprovement !== null) parts.push(`(${formatRatio(last.projectedImprovement)} if pruned now)`);
	return parts.join(' · ');
}

/** Epochs done out of all epochs of the run (for the progress bar). */
function epochsDone(view: TrainingRunDto): number {
	const { regularize, finetune } = view.plannedEpochs;
	const max = (series: string): number => Math.max(0, ...view.points.filter((p) => p.series === series).map((p) => p.epoch));
	return Math.min(regularize, max('regularize')) + Math.min(finetune, max('finetune')) + Math.min(view.plannedEpochs.baseline, max('baseline'));
}

/** The panel view of a plan's run, before its first event. */
function newRunView(plan: FineTunePlan, runId: string): TrainingRunDto {
	return createRunView({
		runId, engine: plan.engine, modelPath: plan.modelPath, modelLabel: vscode.workspace.asRelativePath(plan.modelPath, false),
		outputPath: plan.outputPath, outputLabel: vscode.workspace.asRelativePath(plan.outputPath, false),
		datasetLabel: plan.datasetLabel, presetLabel: plan.presetLabel, crossbarSize: plan.crossbarSize,
		plannedEpochs: { regularize: plan.hyperParameters.regularizeEpochs, finetune: plan.hyperParameters.finetuneEpochs, baseline: plan.hyperParameters.finetuneEpochs },
	});
}

/**
 * Runs a planned fine-tune: the engine off the extension-host thread (tfjs worker threads, or the
 * PyTorch engine as a task), a cancellable progress notification, live curves in the panels of
 * the input model and, once written, of the output model; at the end the output's analysis and
 * a message with Open / Reveal. Cancel keeps the last checkpoint and offers Resume.
 */
export async function runFineTune(services: Services, plan: FineTunePlan, options: { resume?: boolean; previous?: TrainingRunDto; follow?: FollowedRun } = {}): Promise<void> {
	const { follow } = options;
	const busy = services.trainingRuns.running().find((run) => run.outputPath === plan.outputPath || run.modelPath === plan.outputPath);
	if (busy) {
		throw new UsageError(`A fine-tune that is still running writes ${vscode.workspace.asRelativePath(plan.outputPath, false)}; cancel it first or choose another output.`);
	}
	const job: TrainingJob = { ...jobFromPlan(plan), resume: options.resume ?? false };
	const runId = follow?.runId ?? `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
	const scope = vscode.Uri.file(plan.modelPath);
	const folder = vscode.workspace.getWorkspaceFolder(scope);
	let begin: (onProgress: (e: TrainingEvent) => void, signal: AbortSignal) => Promise<TrainingResult>;
	if (plan.engine === 'tfjs') {
		const tfjs = new TfjsTrainingEngine();
		begin = (onProgress, signal) => tfjs.start(job, onProgress, signal);
	} else {
		const pythonDir = vscode.Uri.joinPath(services.extensionUri, 'python').fsPath;
		if (!existsSync(join(pythonDir, 'crossbar_lens_train', '__main__.py'))) {
			throw new Error(`This installation of Crossbar Lens lacks the PyTorch engine's Python package (${join(pythonDir, 'crossbar_lens_train')}); the package must ship python/crossbar_lens_train.`);
		}
		const cwd = folder?.uri.fsPath ?? dirname(plan.modelPath);
		if (follow) {
			// The process runs already: only its events are read.
			const pytorch = new PytorchTrainingEngine({ pythonDir, cwd });
			begin = (onProgress, signal) => pytorch.follow(job, follow, onProgress, signal);
		} else {
			const python = await resolvePythonInterpreter(scope, services.log);
			const version = await Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Crossbar: checking PyTorch in ${python.path}` }, () => checkPythonTorch(python.path))).catch((ex: unknown) => {
				throw new UsageError(`${ex instanceof Error ? ex.message : String(ex)} Set crossbarLens.training.pythonPath${python.source === 'default' ? ' (or select an interpreter with the Python extension)' : ''} to an interpreter with PyTorch.`);
			});
			services.log.info(`fine-tune: PyTorch ${version} in ${python.path} (${python.source})`);
			const pytorch = new PytorchTrainingEngine({
				pythonPath: python.path,
				pythonDir,
				cwd,
				launcher: new TaskPythonLauncher(folder, services.log, (pid, eventsFile) => void services.journal.setProcess(runId, pid, eventsFile)),
			});
			begin = (onProgress, signal) => pytorch.start(job, onProgress, signal);
		}
	}
	let view = newRunView(plan, runId);
	if (follow) view = { ...view, startedAt: follow.startedAt };
	if (options.previous) {
		// A resume continues the cancelled run's curves (the engine sends only the epochs still to do).
		view = { ...view, points: options.previous.points, snapshots: options.previous.snapshots, notes: options.previous.notes };
	}
	const controller = new AbortController();
	const cancel = (): void => controller.abort();
	// Panel updates: at most every 150 ms while epochs stream in; status changes at once.
	let pending: NodeJS.Timeout | undefined;
	const publish = (now = false): void => {
		if (now) {
			clearTimeout(pending);
			pending = undefined;
			services.trainingRuns.update(view, cancel);
		} else if (!pending) {
			pending = setTimeout(() => {
				pending = undefined;
				services.trainingRuns.update(view, cancel);
			}, 150);
		}
	};
	publish(true);
	services.log.info(`fine-tune ${runId}: ${plan.engine} ${basename(plan.modelPath)} → ${plan.outputPath}; ${plan.datasetLabel}; ${plan.presetLabel}; T=${plan.crossbarSize}; ratios ${JSON.stringify(plan.pruneRatios)}${job.resume ? '; resume' : ''}${follow ? `; following process ${follow.pid} after a window reload` : ''}`);
	// The input's panel shows the run (its analysis is the dense starting point).
	AnalysisPanel.open(services, plan.modelPath, { reason: 'open', preserveFocus: true });

	// Listed until it ends in this window: a reload or close that cuts it off is found at the next start.
	// The journal's state changes at once; the run does not wait for the window to store it (see offerInterruptedRuns).
	unawaited(services.log, runId, services.journal.add({ runId, plan, startedAt: view.startedAt, hostPid: process.pid, ...(follow ? { pid: follow.pid, eventsFile: follow.eventsFile } : {}) }));
	try {
		let outputShown = false;
		const showOutput = (): void => {
			if (outputShown) return;
			outputShown = true;
			AnalysisPanel.open(services, plan.outputPath, { reason: 'open', preserveFocus: true });
		};
		let result: TrainingResult | undefined;
		try {
			result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Crossbar: D.U.B. fine-tune of ${basename(plan.modelPath)}`, cancellable: true }, async (progress, token) => {
				const subscription = token.onCancellationRequested(cancel);
				const total = Math.max(1, plan.hyperParameters.regularizeEpochs + 2 * plan.hyperParameters.finetuneEpochs);
				let reported = 0;
				progress.report({ message: follow ? 'following the run in its terminal…' : `starting (${plan.engine === 'tfjs' ? 'TensorFlow.js' : 'PyTorch'})…` });
				try {
					return await begin((event: TrainingEvent) => {
						view = applyTrainingEvent(view, event);
						if (event.event === 'log' || event.event === 'start') services.log.info(`fine-tune: ${event.message ?? ''}`);
						const done = (100 * epochsDone(view)) / total;
						progress.report({ message: progressMessage(view), increment: Math.max(0, done - reported) });
						reported = Math.max(reported, done);
						const phaseChange = event.event === 'phase' || event.event === 'done' || event.event === 'start';
						publish(phaseChange);
						// The output exists once the D.U.B. branch is done (tfjs: before the baseline): show its heatmaps.
						if (view.outputWritten && event.event === 'log') showOutput();
					}, controller.signal);
				} finally {
					subscription.dispose();
				}
			});
		} catch (ex) {
			if (isAbortError(ex)) {
				const message = ex instanceof Error ? ex.message : 'Training was cancelled.';
				view = finishRunView(view, 'cancelled', message);
				publish(true);
				services.log.info(`fine-tune ${runId}: ${message}`);
				const checkpoint = view.checkpointPath;
				void vscode.window.showInformationMessage(`D.U.B. fine-tune of ${basename(plan.modelPath)} cancelled. ${checkpoint ? `The last complete epoch is kept in ${vscode.workspace.asRelativePath(checkpoint, false)}.` : 'No epoch had completed.'}`, ...(checkpoint ? ['Resume', 'Reveal Checkpoint'] : [])).then((choice) => {
					if (choice === 'Resume') void runFineTune(services, plan, { resume: true, previous: view }).catch((e: unknown) => reportError(e, services.log, 'D.U.B. fine-tune'));
					if (choice === 'Reveal Checkpoint' && checkpoint) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(checkpoint));
				});
				return;
			}
			view = finishRunView(view, 'failed', ex instanceof Error ? ex.message : String(ex));
			publish(true);
			throw ex;
		}
		view = finishRunView(view, 'done', undefined, result);
		publish(true);
		services.log.info(`fine-tune ${runId}: done in ${(view.elapsedMs / 1000).toFixed(1)} s; D.U.B. ${formatAccuracy(result.dub.accuracy)} at ${formatImprovement(result.dub.adcEnergyImprovement)}; unstructured ${result.unstructured ? `${formatAccuracy(result.unstructured.accuracy)} at ${formatImprovement(result.unstructured.adcEnergyImprovement)}` : '-'}`);
		if (plan.engine === 'tfjs' && job.checkpointDir) {
			// The run is complete: its resume checkpoint is no longer needed (the PyTorch engine removes its own).
			await rm(result.checkpointPath, { force: true }).catch(() => undefined);
			await rmdir(job.checkpointDir).catch(() => undefined);
		}
		showOutput();
		const unstructured = result.unstructured ? ` (unstructured: ${formatRatio(result.unstructured.adcEnergyImprovement)}, ${formatAccuracy(result.unstructured.accuracy, 1)})` : '';
		void vscode.window.showInformationMessage(
			`D.U.B. fine-tune done: ${vscode.workspace.asRelativePath(plan.outputPath, false)} — ADC energy ${formatRatio(result.dub.adcEnergyImprovement)} at ${formatAccuracy(result.dub.accuracy, 1)} accuracy${unstructured}.`,
			'Open', 'Reveal',
		).then((choice) => openOutput(plan.outputPath, choice));
	} finally {
		await services.journal.remove(runId);
	}
}

/** The result's actions: Open (its analysis in a panel) or Reveal (in the explorer). */
export function openOutput(outputPath: string, action: string | undefined): void {
	if (action === 'Open' || action === 'open') {
		void vscode.commands.executeCommand(Commands.analyzeModel, vscode.Uri.file(outputPath));
	} else if (action === 'Reveal' || action === 'reveal') {
		void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(outputPath));
	}
}

/** A run an earlier window started whose engine process goes on (a task terminal that outlived a reload). */
export type FollowedRun = Pick<InFlightRun, 'runId' | 'startedAt'> & RunningEngineProcess;

/** A journal update the run does not wait for; a failure is logged. */
function unawaited(log: Services['log'], runId: string, update: Promise<void>): void {
	update.catch((ex: unknown) => log.error(`fine-tune ${runId}: the run journal could not be updated: ${ex instanceof Error ? ex.message : String(ex)}`));
}

/**
 * Takes up the runs an earlier window left unfinished: a PyTorch task that lives on is followed
 * again (its curves from the start, its progress, its result); a checkpointed run is offered for
 * Resume (from the last complete epoch); the user is told of one that was lost.
 */
export async function offerInterruptedRuns(services: Services): Promise<void> {
	const { journal, log } = services;
	const resume = (plan: FineTunePlan): Promise<void> => runFineTune(services, plan, { resume: true }).catch((ex: unknown) => reportError(ex, log, 'D.U.B. fine-tune'));
	for (const run of journal.list()) {
		const state = interruptedRunState(run);
		const model = basename(run.plan.modelPath);
		const output = vscode.workspace.asRelativePath(run.plan.outputPath, false);
		if (state === 'elsewhere') {
			// Another window's run, going on there; said in the log, the only trace of why this window shows nothing of it.
			log.info(`fine-tune ${run.runId} (${run.plan.engine}, ${model} → ${output}) runs in the extension host ${run.hostPid} of another window, which follows it`);
			continue;
		}
		log.info(`fine-tune ${run.runId} (${run.plan.engine}, ${model} → ${output}) was cut off by a window reload or close: ${state}`);
		// Not awaited: the journal reads its in-memory state at once, and waiting for the window to
		// store it (slow just after a reload on a busy machine) would hold back following the run.
		unawaited(log, run.runId, journal.remove(run.runId));
		if (state === 'running' && run.pid !== undefined && run.eventsFile && existsSync(run.eventsFile)) {
			const follow: FollowedRun = { runId: run.runId, startedAt: run.startedAt, pid: run.pid, eventsFile: run.eventsFile };
			void runFineTune(services, run.plan, { follow }).catch((ex: unknown) => reportError(ex, log, 'D.U.B. fine-tune'));
		} else if (state === 'running') {
			// A process without an events file to read (an engine of an earlier version): it writes the output as usual.
			log.info(`fine-tune ${run.runId}: process ${run.pid} goes on without an events file to follow (${run.eventsFile ?? 'none'}${run.eventsFile ? ', gone' : ''})`);
			void vscode.window.showInformationMessage(`The D.U.B. fine-tune of ${model} is still running in its terminal (the window was reloaded); it will write ${output}.`);
		} else if (state === 'lost') {
			void vscode.window.showWarningMessage(`The D.U.B. fine-tune of ${model} stopped when the window was reloaded or closed, before its first epoch was complete.`);
		} else {
			void vscode.window.showInformationMessage(`The D.U.B. fine-tune of ${model} → ${output} stopped when the window was reloaded or closed. Resume it from its last complete epoch?`, 'Resume').then(async (choice) => {
				if (choice === 'Resume') await resume(run.plan);
			});
		}
	}
}
