import { promises as fs } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { describeSuffixes, hasSuffix, modelFileExtensions } from '../formats/registry';
import type { AnalysisStore } from './analysisStore';
import { formatBytes, formatRatio } from '../shared/format';

const excluded = '**/{node_modules,.git,.venv,venv,env,__pycache__,.cache,.tox,site-packages}/**';
const maxResults = 2000;

/** True for the file names the analysis reads (the same list as the explorer menu's `when`). */
export function isModelFile(path: string): boolean {
	return hasSuffix(basename(path), modelFileExtensions);
}

/** The model file the user is looking at: the active editor tab's file, when it is one. */
export function activeModelFile(): string | undefined {
	const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
	const uri = input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom ? input.uri : undefined;
	return uri?.scheme === 'file' && isModelFile(uri.fsPath) ? uri.fsPath : undefined;
}

/** Every model file in the workspace, for the palette's quick pick. */
export async function findWorkspaceModels(token?: vscode.CancellationToken): Promise<vscode.Uri[]> {
	const extensions = modelFileExtensions.filter((e) => e.startsWith('.')).map((e) => e.slice(1));
	const named = modelFileExtensions.filter((e) => !e.startsWith('.'));
	const patterns = [`**/*.{${extensions.join(',')}}`, ...named.map((n) => `**/${n}`)];
	const found = await Promise.all(patterns.map((p) => vscode.workspace.findFiles(p, excluded, maxResults, token)));
	return found.flat().filter((uri) => uri.scheme === 'file');
}

interface ModelPickItem extends vscode.QuickPickItem {
	readonly uri: vscode.Uri;
}

/**
 * A quick pick of the workspace's models, most recently analysed and most recently saved
 * first; undefined when the user dismisses it. Offers "Browse…" when none is found.
 */
export async function pickModelFile(store: AnalysisStore, title = 'Analyze crossbar sparsity: choose a model'): Promise<vscode.Uri | undefined> {
	const uris = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Crossbar: finding models' }, (_p, token) => findWorkspaceModels(token));
	if (uris.length === 0) {
		const browse = await vscode.window.showInformationMessage(`No model files (${describeSuffixes(modelFileExtensions)}) in this workspace.`, 'Browse…');
		if (browse !== 'Browse…') {
			return undefined;
		}
		const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title, filters: { Models: modelFileExtensions.map((e) => e.replace(/^\./, '').replace('model.json', 'json')) } });
		return picked?.[0];
	}
	const stats = await Promise.all(uris.map(async (uri) => {
		try {
			return await fs.stat(uri.fsPath);
		} catch {
			return undefined;
		}
	}));
	const items: (ModelPickItem & { sortKey: number })[] = uris.map((uri, i) => {
		const analysed = store.latest(uri.fsPath);
		const stat = stats[i];
		const improvement = analysed?.result.totals.adcEnergyImprovement;
		return {
			uri,
			label: basename(uri.fsPath),
			description: vscode.workspace.asRelativePath(dirname(uri.fsPath)) === dirname(uri.fsPath) ? '' : vscode.workspace.asRelativePath(dirname(uri.fsPath)),
			detail: [stat ? formatBytes(stat.size) : undefined, stat ? `saved ${new Date(stat.mtimeMs).toLocaleString()}` : undefined, analysed && improvement !== undefined ? `last analysis ${formatRatio(improvement)}` : undefined].filter(Boolean).join(' · '),
			sortKey: (analysed ? 1e15 + analysed.finishedAt : 0) + (stat?.mtimeMs ?? 0) / 1e3,
		};
	});
	items.sort((a, b) => b.sortKey - a.sortKey);
	const choice = await vscode.window.showQuickPick(items, { title, placeHolder: 'Model file', matchOnDescription: true, matchOnDetail: false });
	return choice?.uri;
}
