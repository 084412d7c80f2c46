import type { AnalysisResultDto } from '../../../src/shared/analysis';
import type { AnalysisReason, HistoryPointDto, ModelInfoDto, WebviewToHost } from '../../../src/shared/protocol';

/** The analysis the panel shows (what the last `analysis/result` said). */
export interface Analysis {
	readonly model: ModelInfoDto;
	readonly result: AnalysisResultDto;
	readonly history: HistoryPointDto[];
	readonly profileFromSettings: boolean;
	readonly reason: AnalysisReason;
	readonly elapsedMs: number;
}

/** What a section of the panel needs of the app: the current analysis, the host, and view state. */
export interface SectionContext {
	/** The analysis on screen, if any. */
	analysis(): Analysis | undefined;
	/** Sends a message to the extension host. */
	post(message: WebviewToHost): void;
	/** A new request id (answers carry it back; a section ignores answers to older requests). */
	nextRequestId(): number;
	/** Stores the view state (selection, scroll, profile choice) with VS Code. */
	saveState(): void;
}
