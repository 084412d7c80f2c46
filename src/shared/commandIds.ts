/**
 * Command ids, view types and setting keys: one table shared by the host, the webview and the
 * package.json contributions (test/unit/extension checks that they agree).
 */
export const Commands = {
	/** Explorer/editor-title/palette: analyze a model file (palette: quick pick of the workspace's models). */
	analyzeModel: 'crossbarLens.analyzeModel',
	/** Opens the prune preview of a model in the panel. */
	pruneModel: 'crossbarLens.pruneModel',
	/** Writes the HTML/JSON/CSV report of the active (or picked) model. */
	exportReport: 'crossbarLens.exportReport',
	/** Hidden: CodeLens click → reveal one layer of an analyzed model in the panel. */
	revealLayer: 'crossbarLens.revealLayer',
	/** Hidden: status bar click → bring the active model's panel forward. */
	showPanel: 'crossbarLens.showPanel',
	/** Palette/explorer/panel: regularize, D.U.B.-prune, fine-tune and compare (runs training code: trusted workspaces only). */
	runFineTune: 'crossbarLens.runFineTune',
	/** Palette/panel: sweep the prune ratio one-shot and plot held-out accuracy against ADC improvement. */
	tradeoff: 'crossbarLens.tradeoff',
} as const;

/** The analysis panel's webview type (also `onWebviewPanel:` activation event). */
export const analysisViewType = 'crossbarLens.analysis';

/** Root of every setting. */
export const configSection = 'crossbarLens';

/** Setting keys below `crossbarLens.` */
export const Settings = {
	crossbarSize: 'hardware.crossbarSize',
	slices: 'hardware.slices',
	tol: 'hardware.tol',
	adcLaw: 'hardware.adcLaw',
	adcEnergyPjAt8Bits: 'hardware.adcEnergyPjAt8Bits',
	inputBits: 'hardware.inputBits',
	includeLinear: 'hardware.includeLinear',
	inputSize: 'hardware.inputSize',
	codeLensEnabled: 'codeLens.enabled',
	trainingPythonPath: 'training.pythonPath',
} as const;
