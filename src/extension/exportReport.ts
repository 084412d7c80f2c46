import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { openModel } from '../formats/registry';
import { designSpaceSettings, sweepGraph } from '../hardware/sweep';
import { renderReport, writeTextFileAtomic } from '../report/writeReports';
import type { SweepResultDto } from '../shared/analysis';
import type { ExportFormat } from '../shared/protocol';
import type { AnalysisEntry } from './analysisStore';
import { analyzeWithProgress } from './services';
import type { Services } from './services';
import { profileFromSettings, profileKey } from './settings';

const formats: Record<ExportFormat, { label: string; detail: string; filter: string }> = {
	html: { label: 'HTML report', detail: 'Self-contained page: totals, profile and ADC law, per-layer table, heatmaps (no scripts, no network)', filter: 'HTML' },
	json: { label: 'JSON', detail: 'The analysis result, as `crossbar-lens analyze --json` prints it', filter: 'JSON' },
	csv: { label: 'CSV', detail: 'One row per layer and a total row, for spreadsheets', filter: 'CSV' },
};

/** Asks which report format, unless the caller knows. */
export async function pickExportFormat(): Promise<ExportFormat | undefined> {
	const items = (Object.keys(formats) as ExportFormat[]).map((format) => ({ format, label: formats[format].label, detail: formats[format].detail }));
	const choice = await vscode.window.showQuickPick(items, { title: 'Export crossbar report', placeHolder: 'Report format' });
	return choice?.format;
}

/** The analysis to export: the panel's own (its profile), a cached one, or a new one. */
export async function analysisForExport(services: Services, path: string, panelEntry: AnalysisEntry | undefined): Promise<AnalysisEntry> {
	if (panelEntry) {
		return panelEntry;
	}
	const profile = profileFromSettings(vscode.Uri.file(path));
	return services.store.latest(path, profileKey(profile)) ?? analyzeWithProgress(services, path, profile, { location: vscode.ProgressLocation.Notification });
}

/**
 * The design space an HTML report draws: the panel's when it has one for this file (the sweep
 * covers every crossbar size, so the panel's is right whatever size the report uses), else one
 * sweep of the file now.
 */
export async function designSpaceForExport(entry: AnalysisEntry, fromPanel: SweepResultDto | undefined): Promise<SweepResultDto> {
	if (fromPanel && fromPanel.file === entry.result.file && fromPanel.crossbarSizes.includes(entry.profile.crossbarSize) && fromPanel.slices.includes(entry.profile.slices)) {
		return fromPanel;
	}
	return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Crossbar: design space for the report' }, async () => {
		const graph = await openModel(entry.model.path, { inputSize: entry.profile.inputSize }, entry.model.path);
		try {
			return await sweepGraph(graph, entry.profile, designSpaceSettings(entry.profile));
		} finally {
			await graph.close();
		}
	});
}

/**
 * Writes one report next to the model (the save dialog proposes `<model>.crossbar.<ext>` and
 * asks before replacing a file), atomically, and offers to open or reveal it.
 */
export async function exportReport(entry: AnalysisEntry, format: ExportFormat, version: string, designSpace?: SweepResultDto): Promise<vscode.Uri | undefined> {
	const path = entry.model.path;
	const stem = basename(path, extname(path));
	const defaultUri = vscode.Uri.file(join(dirname(path), `${stem}.crossbar.${format}`));
	const target = await vscode.window.showSaveDialog({ defaultUri, title: `Export crossbar report (${formats[format].label})`, saveLabel: 'Export', filters: { [formats[format].filter]: [format] } });
	if (!target) {
		return undefined;
	}
	const text = renderReport(entry.result, format, { title: entry.model.label, generator: `Crossbar Lens ${version}`, designSpace });
	// The save dialog already asked before replacing a file, hence force; the model itself is still refused.
	await writeTextFileAtomic(target.fsPath, text, { force: true, inputPath: path });
	void vscode.window.showInformationMessage(`Crossbar report saved: ${vscode.workspace.asRelativePath(target)}`, 'Open', 'Reveal in Explorer').then((choice) => {
		if (choice === 'Open') void vscode.commands.executeCommand('vscode.open', target);
		if (choice === 'Reveal in Explorer') void vscode.commands.executeCommand('revealInExplorer', target);
	});
	return target;
}
