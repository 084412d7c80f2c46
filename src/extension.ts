import * as vscode from 'vscode';
import { AnalysisStore } from './extension/analysisStore';
import { LayerCodeLensProvider } from './extension/codelens/layerCodeLensProvider';
import { registerCommands } from './extension/commands';
import { AnalysisPanel } from './extension/panels/analysisPanel';
import { webviewOptions } from './extension/panels/webviewHtml';
import { ModelFocus } from './extension/services';
import type { Services } from './extension/services';
import { ModelStatusBar } from './extension/statusBar';
import { offerInterruptedRuns } from './extension/training/fineTuneRun';
import { RunJournal } from './extension/training/runJournal';
import { TrainingRunRegistry } from './extension/training/runRegistry';
import { analysisViewType } from './shared/commandIds';
import { isViewState } from './shared/protocol';

/** Builds the services and registers everything; no work happens until a command or a Python file needs it. */
export function activate(context: vscode.ExtensionContext): void {
	const log = vscode.window.createOutputChannel('Crossbar Lens', { log: true });
	const store = new AnalysisStore(context.workspaceState, log);
	const focus = new ModelFocus();
	const trainingRuns = new TrainingRunRegistry();
	const journal = new RunJournal(context.workspaceState);
	const services: Services = { extensionUri: context.extensionUri, log, store, focus, trainingRuns, journal, workspaceState: context.workspaceState };
	context.subscriptions.push(log, store, focus, trainingRuns);

	registerCommands(context, services);

	context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(analysisViewType, {
		async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
			if (!isViewState(state)) {
				log.warn('panel: could not restore a crossbar panel without a valid view state; closing it');
				panel.dispose();
				return;
			}
			panel.webview.options = webviewOptions(context.extensionUri);
			AnalysisPanel.revive(panel, services, state);
		},
	}));

	const lenses = new LayerCodeLensProvider(store, log);
	context.subscriptions.push(lenses, vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, lenses));
	context.subscriptions.push(new ModelStatusBar(services));

	log.info(`Crossbar Lens ${String((context.extension.packageJSON as { version?: string }).version)} activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'restricted'})`);
	// A fine-tune that a window reload or close cut off: offer to resume it (training needs trust).
	if (vscode.workspace.isTrusted) {
		void offerInterruptedRuns(services);
	}
}

export function deactivate(): void {
	// Everything is in context.subscriptions.
}
