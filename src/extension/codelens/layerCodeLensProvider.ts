import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as vscode from 'vscode';
import { scanPythonSource } from '../../source/pythonScan';
import type { PythonScan } from '../../source/pythonScan';
import type { HardwareProfile, LayerAnalysisDto } from '../../shared/analysis';
import { Commands } from '../../shared/commandIds';
import { formatRatio } from '../../shared/format';
import type { AnalysisEntry, AnalysisStore } from '../analysisStore';
import { Disposable } from '../disposable';
import { affectsCodeLens, codeLensEnabled, profileFromSettings, profileKey } from '../settings';
import { formatLayerLens, matchScore } from './lensText';

interface ScanCacheEntry {
	readonly version: number;
	readonly scan: PythonScan;
}

/**
 * CodeLens above conv/linear constructors and torch.save/torch.load lines of Python files.
 * Everything comes from caches: the scan per document version, analyses from the store; a
 * model file is never read here (only `stat`ed, to show "Analyze" for paths that exist).
 */
export class LayerCodeLensProvider extends Disposable implements vscode.CodeLensProvider {
	private readonly changed = this.register(new vscode.EventEmitter<void>());
	readonly onDidChangeCodeLenses = this.changed.event;
	private readonly scans = new Map<string, ScanCacheEntry>();

	constructor(private readonly store: AnalysisStore, private readonly log: vscode.LogOutputChannel) {
		super();
		this.register(vscode.workspace.onDidChangeConfiguration((e) => {
			if (affectsCodeLens(e)) this.changed.fire();
		}));
		this.register(store.onDidAnalyze(() => this.changed.fire()));
		this.register(vscode.workspace.onDidCloseTextDocument((doc) => this.scans.delete(doc.uri.toString())));
	}

	async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
		if (!codeLensEnabled()) {
			return [];
		}
		const scan = this.scan(document);
		if (scan.layers.length === 0 && scan.checkpoints.length === 0) {
			return [];
		}
		let profile: HardwareProfile;
		try {
			profile = profileFromSettings(document.uri);
		} catch (ex) {
			this.log.warn(`CodeLens: ${(ex as Error).message}`);
			return [];
		}
		const lenses: vscode.CodeLens[] = [];
		const best = this.bestAnalysis(scan, profile, document);
		scan.layers.forEach((layer, index) => {
			const measuredLayer = best?.matches.get(index);
			const text = formatLayerLens(layer, profile, measuredLayer && best ? { layer: measuredLayer, source: best.entry.model.label } : undefined);
			const range = new vscode.Range(layer.line, layer.column, layer.line, layer.column);
			const command: vscode.Command = measuredLayer && best
				? { title: text.title, tooltip: text.tooltip, command: Commands.revealLayer, arguments: [best.entry.model.path, measuredLayer.name, best.entry.profile] }
				: { title: text.title, tooltip: text.tooltip, command: Commands.analyzeModel, arguments: [] };
			lenses.push(new vscode.CodeLens(range, command));
		});
		const folder = dirname(document.uri.fsPath);
		for (const checkpoint of scan.checkpoints) {
			if (token.isCancellationRequested) {
				return [];
			}
			const path = await this.existingPath(checkpoint.path, folder, document.uri);
			if (path === undefined) {
				continue;
			}
			const analysed = this.store.latest(path, profileKey(profile));
			const title = analysed
				? `$(circuit-board) Analyze crossbar sparsity · last ${formatRatio(analysed.result.totals.adcEnergyImprovement)}`
				: '$(circuit-board) Analyze crossbar sparsity';
			lenses.push(new vscode.CodeLens(new vscode.Range(checkpoint.line, checkpoint.column, checkpoint.line, checkpoint.column), {
				title,
				tooltip: `Analyze ${checkpoint.path} for crossbar sparsity and ADC cost`,
				command: Commands.analyzeModel,
				arguments: [vscode.Uri.file(path)],
			}));
		}
		return lenses;
	}

	/** The scan of a document, recomputed only when its version changes. */
	private scan(document: vscode.TextDocument): PythonScan {
		const key = document.uri.toString();
		const cached = this.scans.get(key);
		if (cached && cached.version === document.version) {
			return cached.scan;
		}
		const scan = scanPythonSource(document.getText());
		this.scans.set(key, { version: document.version, scan });
		return scan;
	}

	/**
	 * The analysed checkpoint that best explains this script: most layers matched by order and
	 * shape (at least half of those it counts); ties go to a file the script saves or loads,
	 * then to the newest analysis.
	 */
	private bestAnalysis(scan: PythonScan, profile: HardwareProfile, document: vscode.TextDocument): { entry: AnalysisEntry; matches: Map<number, LayerAnalysisDto> } | undefined {
		if (scan.layers.length === 0) {
			return undefined;
		}
		const folder = dirname(document.uri.fsPath);
		const referenced = new Set(scan.checkpoints.map((c) => (isAbsolute(c.path) ? c.path : resolve(folder, c.path))));
		let best: { entry: AnalysisEntry; matches: Map<number, LayerAnalysisDto>; score: number } | undefined;
		for (const entry of this.store.all(profileKey(profile))) {
			const { matched, countable, matches } = matchScore(scan.layers, entry.result);
			if (matched === 0 || matched < Math.ceil(countable / 2)) {
				continue;
			}
			const score = matched * 4 + (referenced.has(entry.model.path) ? 2 : 0);
			if (!best || score > best.score) {
				best = { entry, matches, score };
			}
		}
		return best;
	}

	private async existingPath(path: string, folder: string, document: vscode.Uri): Promise<string | undefined> {
		const workspaceFolder = vscode.workspace.getWorkspaceFolder(document)?.uri.fsPath;
		const candidates = isAbsolute(path) ? [path] : [resolve(folder, path), ...(workspaceFolder ? [resolve(workspaceFolder, path)] : [])];
		for (const candidate of candidates) {
			try {
				if ((await fs.stat(candidate)).isFile()) {
					return candidate;
				}
			} catch {
				// not there: no lens
			}
		}
		return undefined;
	}
}
