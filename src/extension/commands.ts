import * as vscode from 'vscode';
import type { HardwareProfile } from '../shared/analysis';
import { Commands } from '../shared/commandIds';
import { exportFormats } from '../shared/protocol';
import type { ExportFormat } from '../shared/protocol';
import { analysisForExport, designSpaceForExport, exportReport, pickExportFormat } from './exportReport';
import { activeModelFile, isModelFile, pickModelFile } from './modelFiles';
import { AnalysisPanel } from './panels/analysisPanel';
import { wrapCommand } from './reportError';
import type { Services } from './services';
import { choiceOf, profileFromSettings, profileKey } from './settings';
import { chooseFineTune } from './training/fineTuneChoices';
import { runFineTune } from './training/fineTuneRun';

/** Registers every command; each handler is wrapped once by wrapCommand (errors → one message + Show Log). */
export function registerCommands(context: vscode.ExtensionContext, services: Services): void {
	const version = String((context.extension.packageJSON as { version?: string }).version ?? 'dev');
	const register = <A extends unknown[], R>(id: string, name: string, handler: (...args: A) => Promise<R>): void => {
		context.subscriptions.push(vscode.commands.registerCommand(id, wrapCommand(services.log, name, handler)));
	};

	// Explorer: (clicked uri, all selected uris); editor title: (uri); palette: (); CodeLens: (uri).
	register(Commands.analyzeModel, 'Crossbar analysis', async (uri?: vscode.Uri, selected?: vscode.Uri[]) => {
		const targets = selected && selected.length > 1 ? selected.filter((u) => isModelFile(u.fsPath)) : [uri ?? (await chooseModel(services))].filter((u): u is vscode.Uri => u !== undefined);
		for (const target of targets) {
			await analyzeInPanel(services, target.fsPath);
		}
	});

	register(Commands.pruneModel, 'D.U.B. pruning', async (uri?: vscode.Uri) => {
		const path = uri?.fsPath ?? AnalysisPanel.active()?.path ?? (await chooseModel(services, 'Prune with D.U.B.: choose a model'))?.fsPath;
		if (path) {
			const existing = AnalysisPanel.get(path);
			if (existing?.current) {
				AnalysisPanel.open(services, path, { reason: 'refresh', entry: existing.current, showPrune: true });
			} else {
				await analyzeInPanel(services, path, { showPrune: true });
			}
		}
	});

	register(Commands.exportReport, 'Crossbar report export', async (uri?: vscode.Uri, format?: unknown) => {
		const path = uri?.fsPath ?? AnalysisPanel.active()?.path ?? (await chooseModel(services, 'Export crossbar report: choose a model'))?.fsPath;
		if (!path) {
			return undefined;
		}
		const chosen = typeof format === 'string' && exportFormats.includes(format as ExportFormat) ? (format as ExportFormat) : await pickExportFormat();
		if (!chosen) {
			return undefined;
		}
		const panel = AnalysisPanel.get(path);
		const entry = await analysisForExport(services, path, panel?.current);
		return exportReport(entry, chosen, version, chosen === 'html' ? await designSpaceForExport(entry, panel?.designSpace) : undefined);
	});

	register(Commands.revealLayer, 'Crossbar panel', async (path?: string, layer?: string, profile?: HardwareProfile) => {
		if (typeof path !== 'string') {
			return;
		}
		const panel = AnalysisPanel.get(path);
		if (panel?.current) {
			if (layer) panel.revealLayer(layer);
			else panel.panel.reveal();
			return;
		}
		const cached = profile ? services.store.latest(path, profileKey(profile)) : services.store.latest(path);
		AnalysisPanel.open(services, path, { reason: 'open', entry: cached, choice: cached ? choiceOf(cached.profile) : undefined, revealLayer: layer });
	});

	// Runs training code (the PyTorch engine imports the user's model code): trusted workspaces only.
	// package.json hides it in restricted mode (isWorkspaceTrusted); this guards the other ways in.
	register(Commands.runFineTune, 'D.U.B. fine-tune', async (uri?: unknown) => {
		if (!vscode.workspace.isTrusted) {
			const choice = await vscode.window.showWarningMessage('Run D.U.B. fine-tune runs training code (the PyTorch engine imports your model code); trust this workspace to use it.', 'Manage Workspace Trust');
			if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
			return;
		}
		// From the explorer or a panel: that model; from the palette: a pick, the focused panel's model first.
		const plan = await chooseFineTune(context.workspaceState, uri instanceof vscode.Uri ? uri : undefined, services.focus.path);
		if (plan) {
			await runFineTune(services, plan);
		}
	});

	// The sweep itself asks for trust when it would run a PyTorch model's code (ONNX, TF.js and
	// Keras models are evaluated by TensorFlow.js without running anything of the user's).
	register(Commands.tradeoff, 'Trade-off sweep', async (uri?: unknown) => {
		const target = uri instanceof vscode.Uri ? uri : await chooseModel(services, 'Accuracy–energy trade-off: choose a model');
		if (!target) return;
		if (!AnalysisPanel.get(target.fsPath)) await analyzeInPanel(services, target.fsPath);
		await AnalysisPanel.get(target.fsPath)?.startTradeoff();
	});

	register(Commands.showPanel, 'Crossbar panel', async (path?: string) => {
		const target = typeof path === 'string' ? path : services.focus.path;
		if (!target) {
			return;
		}
		const panel = AnalysisPanel.get(target);
		if (panel) {
			panel.panel.reveal();
		} else {
			const cached = services.store.latest(target);
			AnalysisPanel.open(services, target, { reason: 'open', entry: cached, choice: cached ? choiceOf(cached.profile) : undefined });
		}
	});
}

/** The active model tab, else a quick pick of the workspace's models. */
async function chooseModel(services: Services, title?: string): Promise<vscode.Uri | undefined> {
	const active = activeModelFile();
	return active ? vscode.Uri.file(active) : pickModelFile(services.store, title);
}

/**
 * Analyzes with a cancellable progress notification, then shows the result in the model's
 * panel (created only once the file has been read as a model, so a wrong file opens nothing).
 */
async function analyzeInPanel(services: Services, path: string, options: { showPrune?: boolean } = {}): Promise<void> {
	const existing = AnalysisPanel.get(path);
	if (existing) {
		existing.panel.reveal(undefined, false);
		await existing.analyze('refresh', 'notification');
		if (options.showPrune) {
			AnalysisPanel.open(services, path, { reason: 'refresh', entry: existing.current, showPrune: true });
		}
		return;
	}
	profileFromSettings(vscode.Uri.file(path)); // a bad setting fails here, before a panel opens
	// The webview boots while the host reads the model; a file that is not a model closes it again.
	const panel = AnalysisPanel.open(services, path, { reason: 'open', showPrune: options.showPrune, deferAnalysis: true });
	try {
		await panel.analyze('open', 'notification');
	} catch (ex) {
		if (!panel.current) {
			panel.dispose();
		}
		throw ex;
	}
	services.focus.set(path);
}
