import type { ViewStateDto, WebviewToHost } from '../../src/shared/protocol';

interface VsCodeApi {
	postMessage(message: WebviewToHost): void;
	getState(): unknown;
	setState(state: ViewStateDto): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** The webview's one handle on VS Code (acquireVsCodeApi may be called once per load). */
export const vscode: VsCodeApi = acquireVsCodeApi();
