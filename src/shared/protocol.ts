/**
 * The host ↔ webview message protocol of the analysis panel. Imported by src/extension and by
 * webview-ui; no vscode, no DOM, no Node. Messages are discriminated on `type` (`area/verb`);
 * requests carry a `requestId` that the answer repeats. The host validates everything it
 * receives with `isWebviewToHost` (malformed → logged and dropped); the webview checks what it
 * receives with `isHostToWebview`.
 */
import type { AdcLaw, AnalysisResultDto, SweepResultDto } from './analysis';
import { adcLaws } from './analysis';
import type { TradeoffViewDto } from './tradeoff';
import type { TrainingRunDto } from './training';
import { isRecord } from './isRecord';

/** Bumped when a message changes shape; the webview says which one it speaks in `webview/ready`. */
export const protocolVersion = 2;

/** The part of the hardware profile the panel's switcher changes (the rest comes from settings). */
export interface ProfileChoiceDto {
	readonly crossbarSize: number;
	readonly slices: number;
	readonly adcLaw: AdcLaw;
	readonly includeLinear: boolean;
}

/** Why an analysis ran (the panel says so, and only saves of the file go into the history). */
export type AnalysisReason = 'open' | 'profile' | 'fileChanged' | 'refresh' | 'restore';

export interface ModelInfoDto {
	/** Absolute path on the extension host's file system. */
	readonly path: string;
	/** Path relative to the workspace folder (or the base name outside any folder). */
	readonly label: string;
	readonly sizeBytes: number;
	readonly mtimeMs: number;
}

/** One analysis of one saved version of the model file (the "across saves" sparkline). */
export interface HistoryPointDto {
	readonly mtimeMs: number;
	readonly improvement: number | null;
	readonly adcBits: number;
	readonly adcBitsDense: number;
	readonly zeros: number;
	readonly weights: number;
}

/** The prune methods the panel previews: the method names of `crossbar-lens prune --method` (docs/method.md §6). */
export type PanelPruneMethod = 'dub' | 'dub-tol';

/** A one-shot D.U.B. prune the panel previews (docs/method.md §6). */
export interface PruneSpecDto {
	/** 'dub': per-layer percentile ratios (the paper's headline variant); 'dub-tol': θ = tol for every layer. */
	readonly method: PanelPruneMethod;
	/** One of the `PrunePresetDto.id`s of `prune/presets`, for per-layer ratio sets from the paper. */
	readonly preset?: string;
	/** The same prune ratio (percent, 0–100) for every layer, when no preset is chosen. */
	readonly ratioPercent?: number;
	/** θ of the tol variant. */
	readonly tol?: number;
}

export interface PrunePresetDto {
	readonly id: string;
	readonly label: string;
	/** How many layers the ratio set has (the preview refuses a model with a different count). */
	readonly layers: number;
}

export interface PrunePreviewDto {
	readonly spec: PruneSpecDto;
	readonly before: AnalysisResultDto;
	readonly after: AnalysisResultDto;
	/** The crossbar-unaware baseline at the same per-layer ratios (docs/method.md §8.2). */
	readonly unstructured?: AnalysisResultDto;
	readonly elapsedMs: number;
}

/** Per-column non-zeros of one crossbar (the panel's crossbar drill-down, when one is clicked). */
export interface CrossbarColumnsDto {
	readonly layer: string;
	/** The crossbar's input block and channel group (src/hardware/geometry.ts). */
	readonly block: number;
	readonly group: number;
	/** First output channel of the crossbar (column i is output channel channelStart + i). */
	readonly channelStart: number;
	/** Non-zeros of each output channel among this crossbar's inputs. */
	readonly nonZeros: number[];
	/** Inputs this crossbar holds (T, or fewer at the last block). */
	readonly columnLength: number;
	readonly level: number;
	readonly adcBits: number;
}

/** The panel's view state (`setState`): what is selected and which model, never analysis data. */
export interface ViewStateDto {
	readonly modelPath: string;
	readonly profile?: ProfileChoiceDto;
	readonly selectedLayer?: string;
	/** The crossbar whose columns are shown. A state saved before the rename calls it `selectedTile` (upgradeViewState). */
	readonly selectedCrossbar?: { readonly layer: string; readonly block: number; readonly group: number };
	readonly scrollY?: number;
}

/** Whether "Run D.U.B. fine-tune" can start here (it runs code: only in a trusted workspace). */
export interface TrainingCapabilityDto {
	readonly available: boolean;
	readonly reason?: string;
}

/** What the panel's fine-tune buttons ask for: the output in a panel, in the explorer, the checkpoint, or a stop. */
export type TrainingAction = 'open' | 'reveal' | 'cancel';
export const trainingActions: readonly TrainingAction[] = ['open', 'reveal', 'cancel'];

export type ExportFormat = 'html' | 'json' | 'csv';
export const exportFormats: readonly ExportFormat[] = ['html', 'json', 'csv'];

/** Host → webview. */
export type HostToWebview =
	/** An analysis started (the panel shows it is busy, keeping the last result on screen). */
	| { readonly type: 'analysis/pending'; readonly model: ModelInfoDto; readonly reason: AnalysisReason }
	/** A finished analysis, with the profile used and the history of this file across saves. */
	| { readonly type: 'analysis/result'; readonly model: ModelInfoDto; readonly reason: AnalysisReason; readonly result: AnalysisResultDto; readonly history: HistoryPointDto[]; readonly profileFromSettings: boolean; readonly elapsedMs: number }
	/** The analysis failed (unreadable file, checkpoint half written, bad setting). */
	| { readonly type: 'analysis/error'; readonly model: ModelInfoDto; readonly reason: AnalysisReason; readonly message: string }
	/** Answer to `crossbar/select`. */
	| { readonly type: 'crossbar/columns'; readonly requestId: number; readonly columns?: CrossbarColumnsDto; readonly error?: string }
	/** The design-space sweep of this model is running (the text says how far). */
	| { readonly type: 'designSpace/pending'; readonly progress: string }
	/** The design-space sweep of this model: totals at every crossbar size × slicing × law. */
	| { readonly type: 'designSpace/result'; readonly result: SweepResultDto }
	| { readonly type: 'designSpace/error'; readonly message: string }
	/** Scroll to and highlight one layer (a CodeLens was clicked). */
	| { readonly type: 'layer/reveal'; readonly layer: string }
	/** The per-layer ratio presets the prune preview offers. */
	| { readonly type: 'prune/presets'; readonly presets: PrunePresetDto[] }
	/** Answer to `prune/preview`. */
	| { readonly type: 'prune/result'; readonly requestId: number; readonly preview?: PrunePreviewDto; readonly error?: string }
	/** Answer to `prune/save`: the path written, or nothing when the user cancelled. */
	| { readonly type: 'prune/saved'; readonly requestId: number; readonly path?: string; readonly error?: string }
	/** Open the prune preview section (the Prune command was run on this model). */
	| { readonly type: 'prune/show' }
	/** Whether the fine-tune button is enabled (workspace trust). */
	| { readonly type: 'training/capability'; readonly capability: TrainingCapabilityDto }
	/** A fine-tune run of (or into) this model: its whole current state (curves, phase histograms, final table). */
	| { readonly type: 'training/update'; readonly run: TrainingRunDto }
	/** The accuracy–energy trade-off sweep of this model: its whole current state. */
	| { readonly type: 'tradeoff/update'; readonly view: TradeoffViewDto };

/** Webview → host. */
export type WebviewToHost =
	/** First message: the webview listens now (VS Code holds what the host posted before it). */
	| { readonly type: 'webview/ready'; readonly protocolVersion: number }
	/** The profile switcher changed: re-analyze with these settings for this panel. */
	| { readonly type: 'profile/change'; readonly profile: ProfileChoiceDto }
	/** Back to the profile from the settings. */
	| { readonly type: 'profile/reset' }
	/** Request: per-column counts of one crossbar; answered by `crossbar/columns`. */
	| { readonly type: 'crossbar/select'; readonly requestId: number; readonly layer: string; readonly block: number; readonly group: number }
	/** Request: compute a one-shot prune preview (nothing is written); answered by `prune/result`. */
	| { readonly type: 'prune/preview'; readonly requestId: number; readonly spec: PruneSpecDto }
	/** Request: save the last previewed prune as a new file; answered by `prune/saved`. */
	| { readonly type: 'prune/save'; readonly requestId: number }
	/** Export the current analysis as a report file. */
	| { readonly type: 'report/export'; readonly format: ExportFormat }
	/** Analyze the file again now. */
	| { readonly type: 'model/refresh' }
	/** An error inside the webview, for the host's log. */
	| { readonly type: 'log/error'; readonly message: string }
	/** Start "Run D.U.B. fine-tune" with this panel's model. */
	| { readonly type: 'training/start' }
	/** A fine-tune run's button: open the output in a panel, reveal it in the explorer, or cancel the run. */
	| { readonly type: 'training/action'; readonly runId: string; readonly action: TrainingAction }
	/** Start the accuracy–energy trade-off sweep of this panel's model (the host asks for the dataset). */
	| { readonly type: 'tradeoff/start' }
	/** Stop the running sweep. */
	| { readonly type: 'tradeoff/cancel' };

type Guard = (value: Record<string, unknown>) => boolean;

const isInt = (value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown, maxLength = 4096): value is string => typeof value === 'string' && value.length <= maxLength;
const isRequestId = (value: unknown): value is number => isInt(value, 0);

/** A profile choice with sane types and ranges (the host validates the values again when it resolves the profile). */
export function isProfileChoice(value: unknown): value is ProfileChoiceDto {
	return isRecord(value)
		&& isInt(value.crossbarSize, 2, 4096)
		&& isInt(value.slices, 1, 4096)
		&& typeof value.adcLaw === 'string' && adcLaws.includes(value.adcLaw as AdcLaw)
		&& typeof value.includeLinear === 'boolean';
}

export function isPruneSpec(value: unknown): value is PruneSpecDto {
	if (!isRecord(value) || (value.method !== 'dub' && value.method !== 'dub-tol')) {
		return false;
	}
	if (value.preset !== undefined && !isString(value.preset, 100)) {
		return false;
	}
	if (value.ratioPercent !== undefined && !(isFiniteNumber(value.ratioPercent) && value.ratioPercent >= 0 && value.ratioPercent <= 100)) {
		return false;
	}
	if (value.tol !== undefined && !(isFiniteNumber(value.tol) && value.tol >= 0)) {
		return false;
	}
	return value.method === 'dub-tol' || value.preset !== undefined || value.ratioPercent !== undefined;
}

export function isViewState(value: unknown): value is ViewStateDto {
	if (!isRecord(value) || !isString(value.modelPath) || value.modelPath.length === 0) {
		return false;
	}
	if (value.profile !== undefined && !isProfileChoice(value.profile)) {
		return false;
	}
	if (value.selectedLayer !== undefined && !isString(value.selectedLayer)) {
		return false;
	}
	// `selectedTile`: the selection of a state saved before the rename (upgradeViewState).
	for (const selection of [value.selectedCrossbar, value.selectedTile]) {
		if (selection !== undefined && !(isRecord(selection) && isString(selection.layer) && isInt(selection.block) && isInt(selection.group))) {
			return false;
		}
	}
	return value.scrollY === undefined || isFiniteNumber(value.scrollY);
}

/**
 * A saved view state (checked by isViewState) in today's names: the selection of a state saved
 * before the rename, `selectedTile`, becomes `selectedCrossbar`.
 */
export function upgradeViewState(state: ViewStateDto): ViewStateDto {
	const { selectedTile, ...current } = state as ViewStateDto & { readonly selectedTile?: ViewStateDto['selectedCrossbar'] };
	return selectedTile === undefined || current.selectedCrossbar !== undefined ? current : { ...current, selectedCrossbar: selectedTile };
}

const webviewGuards: Record<WebviewToHost['type'], Guard> = {
	'webview/ready': (m) => isInt(m.protocolVersion, 1),
	'profile/change': (m) => isProfileChoice(m.profile),
	'profile/reset': () => true,
	'crossbar/select': (m) => isRequestId(m.requestId) && isString(m.layer) && isInt(m.block) && isInt(m.group),
	'prune/preview': (m) => isRequestId(m.requestId) && isPruneSpec(m.spec),
	'prune/save': (m) => isRequestId(m.requestId),
	'report/export': (m) => typeof m.format === 'string' && exportFormats.includes(m.format as ExportFormat),
	'model/refresh': () => true,
	'log/error': (m) => isString(m.message, 20_000),
	'training/start': () => true,
	'training/action': (m) => isString(m.runId, 200) && typeof m.action === 'string' && trainingActions.includes(m.action as TrainingAction),
	'tradeoff/start': () => true,
	'tradeoff/cancel': () => true,
};

/** Runtime guard for everything the host receives from the webview. */
export function isWebviewToHost(value: unknown): value is WebviewToHost {
	if (!isRecord(value) || typeof value.type !== 'string' || !Object.hasOwn(webviewGuards, value.type)) {
		return false;
	}
	return webviewGuards[value.type as WebviewToHost['type']](value);
}

const isModelInfo = (value: unknown): boolean => isRecord(value) && isString(value.path) && isString(value.label) && isFiniteNumber(value.sizeBytes) && isFiniteNumber(value.mtimeMs);
const isReason = (value: unknown): boolean => value === 'open' || value === 'profile' || value === 'fileChanged' || value === 'refresh' || value === 'restore';
const isResult = (value: unknown): boolean => isRecord(value) && value.tool === 'crossbar-lens' && Array.isArray(value.layers) && isRecord(value.totals) && isRecord(value.profile);

const hostGuards: Record<HostToWebview['type'], Guard> = {
	'analysis/pending': (m) => isModelInfo(m.model) && isReason(m.reason),
	'analysis/result': (m) => isModelInfo(m.model) && isReason(m.reason) && isResult(m.result) && Array.isArray(m.history) && typeof m.profileFromSettings === 'boolean' && isFiniteNumber(m.elapsedMs),
	'analysis/error': (m) => isModelInfo(m.model) && isReason(m.reason) && isString(m.message, 20_000),
	'crossbar/columns': (m) => isRequestId(m.requestId) && (isRecord(m.columns) || isString(m.error)),
	'layer/reveal': (m) => isString(m.layer),
	'designSpace/pending': (m) => isString(m.progress),
	'designSpace/result': (m) => isRecord(m.result) && Array.isArray(m.result.points) && Array.isArray(m.result.crossbarSizes),
	'designSpace/error': (m) => isString(m.message, 20_000),
	'prune/presets': (m) => Array.isArray(m.presets),
	'prune/result': (m) => isRequestId(m.requestId) && (isRecord(m.preview) || isString(m.error)),
	'prune/saved': (m) => isRequestId(m.requestId),
	'prune/show': () => true,
	'training/capability': (m) => isRecord(m.capability) && typeof m.capability.available === 'boolean',
	'training/update': (m) => isRecord(m.run) && isString(m.run.runId, 200) && Array.isArray(m.run.points) && Array.isArray(m.run.snapshots) && isRecord(m.run.plannedEpochs),
	'tradeoff/update': (m) => isRecord(m.view) && isString(m.view.status, 20) && Array.isArray(m.view.points) && Array.isArray(m.view.extraPoints) && isRecord(m.view.profile),
};

/** Runtime guard for what the webview receives (anything else posted to the window is ignored). */
export function isHostToWebview(value: unknown): value is HostToWebview {
	if (!isRecord(value) || typeof value.type !== 'string' || !Object.hasOwn(hostGuards, value.type)) {
		return false;
	}
	return hostGuards[value.type as HostToWebview['type']](value);
}
