import { existsSync, promises as fs } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import * as vscode from 'vscode';
import { UsageError } from '../../core/errors';
import { describeSuffixes, hasSuffix, openModel, trainableSuffixes } from '../../formats/registry';
import { ratioPresets, resolveRatios } from '../../pruning/ratios';
import type { RatioSpec } from '../../pruning/ratios';
import { configSection, Settings } from '../../shared/commandIds';
import { availableDatasets, defaultDigitsPath } from '../../training/datasets';
import { trainingPresets } from '../../training/engine';
import { defaultSweepRatios, parseSweepRatios } from '../../training/tradeoff';
import { paperScaled, parseRatios, scaleMilestones } from '../../training/fineTunePresets';
import type { DatasetSpec, TrainingHyperParameters } from '../../training/engine';
import { findModelFactories } from '../../training/pytorch/factories';
import { findWorkspaceModels } from '../modelFiles';

/** Extensions a fine-tune starts from: ONNX, a TF.js model.json or Keras (TensorFlow.js engine), or a PyTorch checkpoint (PyTorch engine). */

export type PresetId = 'paper' | 'digits-quick' | 'smoke' | 'custom';

/** Everything the quick picks decided; `fineTuneRun.ts` turns it into a TrainingJob. */
export interface FineTunePlan {
	readonly modelPath: string;
	readonly engine: 'tfjs' | 'pytorch';
	/** PyTorch: 1, or more under torchrun. */
	readonly processes: number;
	/** PyTorch: `file.py:function`, `module:function`, or `torchvision:NAME`. */
	readonly architecture?: string;
	readonly dataset: DatasetSpec;
	readonly datasetLabel: string;
	readonly preset: PresetId;
	readonly presetLabel: string;
	readonly hyperParameters: TrainingHyperParameters;
	readonly crossbarSize: number;
	readonly slices: number;
	readonly pruneRatios: RatioSpec;
	readonly outputPath: string;
	readonly force: boolean;
	/** tfjs: stop each epoch after this many steps (the smoke test). */
	readonly maxStepsPerEpoch?: number;
}

/** What a workspace remembers of the last fine-tune (workspaceState). */
interface Memory {
	model?: string;
	dataset?: { kind: DatasetSpec['kind']; path?: string };
	engine?: string;
	processes?: number;
	preset?: PresetId;
	paperEpochs?: number;
	custom?: { lambdaVar: number; lambda2: number; lr: number; regularizeEpochs: number; finetuneEpochs: number; batchSize: number; crossbarSize: number };
	ratios?: Record<string, string>;
	architectures?: Record<string, string>;
}

const memoryKey = 'crossbarLens.fineTune.lastChoices';
const excluded = '**/{node_modules,.git,.venv,venv,env,__pycache__,.cache,.tox,site-packages}/**';
/** Steps a smoke-test epoch takes at most (TensorFlow.js engine; PyTorch runs whole epochs). */
const smokeSteps = 20;

type Item<T> = vscode.QuickPickItem & { readonly value: T };

class Cancelled extends Error {
	constructor() {
		super('The fine-tune was not started.');
		this.name = 'AbortError';
	}
}

async function pick<T>(items: readonly Item<T>[], title: string, placeHolder: string): Promise<T> {
	const choice = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true });
	if (!choice) throw new Cancelled();
	return choice.value;
}

async function input(options: vscode.InputBoxOptions): Promise<string> {
	const value = await vscode.window.showInputBox({ ignoreFocusOut: true, ...options });
	if (value === undefined) throw new Cancelled();
	return value.trim();
}

const relativeLabel = (path: string): string => vscode.workspace.asRelativePath(path, false);

/**
 * Asks what to fine-tune, on what, with which engine and settings, and where to write it. The
 * answers are remembered per workspace and offered first next time. Undefined: the user
 * dismissed a step.
 */
export async function chooseFineTune(state: vscode.Memento, given?: vscode.Uri, preferred?: string): Promise<FineTunePlan | undefined> {
	const memory: Memory = state.get<Memory>(memoryKey) ?? {};
	try {
		const steps = 6;
		const title = (n: number, what: string): string => `Run D.U.B. fine-tune (${n}/${steps}): ${what}`;

		// 1. The model.
		const modelPath = given && hasSuffix(given.fsPath, trainableSuffixes()) ? given.fsPath : await chooseModel(memory, title(1, 'model'), preferred);
		if (!hasSuffix(modelPath, trainableSuffixes())) {
			throw new UsageError(`${basename(modelPath)}: a fine-tune starts from an ONNX model, a TF.js model.json or a Keras model (${describeSuffixes(trainableSuffixes('tfjs'))}: TensorFlow.js engine) or a PyTorch checkpoint (${describeSuffixes(trainableSuffixes('pytorch'))}: PyTorch engine).`);
		}
		const isOnnx = hasSuffix(modelPath, trainableSuffixes('tfjs'));
		const convs = await convLayers(modelPath);

		// 2. The dataset.
		const { spec: dataset, label: datasetLabel } = await chooseDataset(memory, isOnnx, title(2, 'dataset'));

		// 3. The engine (and for PyTorch the architecture of the state dict).
		let engine: 'tfjs' | 'pytorch' = isOnnx ? 'tfjs' : 'pytorch';
		let processes = 1;
		const engineItems: Item<string>[] = isOnnx
			? [{ label: '$(server-process) TensorFlow.js', description: 'in the extension, worker threads', detail: 'Trains the ONNX graph here. (The PyTorch engine starts from a .pt/.pth checkpoint and its model code.)', value: 'tfjs' }]
			: [
				{ label: '$(terminal) PyTorch, one process', description: 'in your Python interpreter, as a task', detail: 'Runs python -m crossbar_lens_train finetune in a terminal; needs torch and the model\'s code.', value: 'pytorch' },
				{ label: '$(server-environment) PyTorch, several processes (torchrun)', description: 'data parallel on this machine', detail: 'One process per GPU (nccl) or CPU processes (gloo); the batch size stays the global batch.', value: 'pytorch-n' },
			];
		const lastEngine = memory.engine;
		engineItems.sort((a, b) => Number(b.value === lastEngine) - Number(a.value === lastEngine));
		const chosenEngine = await pick(engineItems, title(3, 'engine'), isOnnx ? 'ONNX models train with TensorFlow.js' : 'Where the PyTorch engine runs');
		if (chosenEngine === 'pytorch-n') {
			const text = await input({ title: title(3, 'processes'), prompt: 'Data-parallel processes (torchrun --nproc_per_node): one per GPU, or CPU processes', value: String(memory.processes ?? 2), validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 2 && Number(v) <= 64 ? undefined : 'An integer from 2 to 64.') });
			processes = Number(text);
		}
		engine = chosenEngine === 'tfjs' ? 'tfjs' : 'pytorch';
		const architecture = engine === 'pytorch' ? await chooseArchitecture(memory, modelPath, title(3, 'model architecture')) : undefined;

		// 4. The hyper-parameters.
		const settingsCrossbarSize = vscode.workspace.getConfiguration(configSection, vscode.Uri.file(modelPath)).get<number>(Settings.crossbarSize, 64);
		const slices = vscode.workspace.getConfiguration(configSection, vscode.Uri.file(modelPath)).get<number>(Settings.slices, 1);
		const preset = await choosePreset(memory, dataset, engine, settingsCrossbarSize, title(4, 'settings'));

		// 5. The prune ratios.
		const ratiosText = await input({
			title: title(5, 'prune ratios'),
			prompt: `Prune ratio in percent per conv layer: one number for all ${convs.length || ''} conv layers, one per layer (p1,p2,…)${convs.length ? ` for ${convs.map((c) => c.name).slice(0, 6).join(', ')}${convs.length > 6 ? ', …' : ''}` : ''}, or a preset (${Object.keys(ratioPresets).join(', ')})`,
			value: memory.ratios?.[modelPath] ?? defaultRatios(convs, dataset, preset.id),
			validateInput: (v) => {
				try {
					const spec = parseRatios(v);
					if (convs.length > 0) resolveRatios(convs, spec);
					return undefined;
				} catch (ex) {
					return ex instanceof Error ? ex.message : String(ex);
				}
			},
		});
		const pruneRatios = parseRatios(ratiosText);

		// 6. The output.
		const { outputPath, force } = await chooseOutput(modelPath, title(6, 'output'));

		await state.update(memoryKey, {
			...memory,
			model: modelPath,
			dataset: { kind: dataset.kind, path: 'path' in dataset ? dataset.path : 'dir' in dataset ? dataset.dir : undefined },
			engine: chosenEngine,
			processes: processes > 1 ? processes : memory.processes,
			preset: preset.id,
			paperEpochs: preset.paperEpochs ?? memory.paperEpochs,
			custom: preset.custom ?? memory.custom,
			ratios: { ...memory.ratios, [modelPath]: ratiosText },
			architectures: architecture ? { ...memory.architectures, [modelPath]: architecture } : memory.architectures,
		} satisfies Memory);

		return {
			modelPath, engine, processes, architecture, dataset, datasetLabel,
			preset: preset.id, presetLabel: preset.label, hyperParameters: preset.hyperParameters,
			crossbarSize: preset.crossbarSize, slices, pruneRatios, outputPath, force,
			maxStepsPerEpoch: preset.id === 'smoke' ? smokeSteps : undefined,
		};
	} catch (ex) {
		if (ex instanceof Cancelled) return undefined;
		throw ex;
	}
}

async function chooseModel(memory: Memory, title: string, preferred?: string): Promise<string> {
	const uris = (await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Crossbar: finding models' }, (_p, token) => findWorkspaceModels(token)))
		.filter((uri) => hasSuffix(uri.fsPath, trainableSuffixes()));
	if (uris.length === 0) {
		const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title, openLabel: 'Fine-tune this model', filters: { 'ONNX, TF.js, Keras or PyTorch models': trainableSuffixes().map((e) => e.replace(/^\./, '').replace('model.json', 'json')) } });
		if (!picked?.[0]) throw new Cancelled();
		return picked[0].fsPath;
	}
	const items: Item<string>[] = uris.map((uri) => ({
		label: basename(uri.fsPath),
		description: [dirname(relativeLabel(uri.fsPath)) === '.' ? '' : dirname(relativeLabel(uri.fsPath)), uri.fsPath === memory.model ? 'last used' : ''].filter(Boolean).join(' · '),
		detail: hasSuffix(uri.fsPath, trainableSuffixes('tfjs')) ? 'ONNX or TF.js model: TensorFlow.js engine' : 'PyTorch checkpoint: PyTorch engine (needs the model\'s code or a torchvision name)',
		value: uri.fsPath,
	}));
	const rank = (path: string): number => (path === preferred ? 2 : path === memory.model ? 1 : 0);
	items.sort((a, b) => rank(b.value) - rank(a.value) || a.label.localeCompare(b.label));
	return pick(items, title, 'The trained model to regularize, prune and fine-tune');
}

async function convLayers(modelPath: string): Promise<{ name: string; shape: readonly number[]; kind: 'conv' }[]> {
	try {
		const graph = await openModel(modelPath);
		try {
			return graph.layers.filter((l) => l.kind === 'conv').map((l) => ({ name: l.name, shape: l.tensor.shape, kind: 'conv' as const }));
		} finally {
			await graph.close();
		}
	} catch {
		return []; // the engine reports an unreadable model in its own words
	}
}

async function chooseDataset(memory: Memory, isOnnx: boolean, title: string): Promise<{ spec: DatasetSpec; label: string }> {
	type Kind = 'last' | `named:${string}` | 'cifar10' | 'idx' | 'npz' | 'folder';
	const folderKinds: Partial<Record<DatasetSpec['kind'], string>> = { cifar10: 'CIFAR-10 folder', idx: 'IDX folder', npz: '.npz', folder: 'image folder' };
	const items: Item<Kind>[] = [];
	const last = memory.dataset;
	// The datasets this machine has under a name (Fashion-MNIST from Debian's dataset-fashion-mnist, scikit-learn's digits).
	const named = availableDatasets();
	const lastNamed = named.find((d) => (d.spec.kind === 'digits' && last?.kind === 'digits') || ('dir' in d.spec && d.spec.dir === last?.path));
	if (!lastNamed && last?.path && folderKinds[last.kind] && existsSync(last.path) && (last.kind !== 'folder' || !isOnnx)) {
		items.push({ label: `$(history) ${basename(last.path)}`, description: `${folderKinds[last.kind]} · last used`, detail: last.path, value: 'last' });
	}
	for (const d of [...named].sort((a, b) => Number(b === lastNamed) - Number(a === lastNamed))) {
		items.push({ label: `$(symbol-numeric) ${d.label}`, description: d === lastNamed ? 'last used' : '', detail: d.description, value: `named:${d.id}` });
	}
	if (!named.some((d) => d.id === 'digits')) {
		items.push({ label: '$(symbol-numeric) digits', description: 'not installed', detail: `scikit-learn's 8×8 digits: not found at ${defaultDigitsPath} (apt install python3-sklearn).`, value: 'named:digits' });
	}
	items.push(
		{ label: '$(folder) CIFAR-10 folder…', description: 'binary or python version', detail: 'data_batch_1..5 and test_batch (the test batch is the held-out set); crop + flip and per-image standardization, as the paper.', value: 'cifar10' },
		{ label: '$(folder) IDX folder (MNIST, Fashion-MNIST, …)…', description: 'the four idx files, plain or .gz', detail: 'train-images/labels and t10k-images/labels; the t10k files are the held-out set.', value: 'idx' },
		{ label: '$(file-binary) .npz file…', description: 'x (N×C×H×W) and y', detail: 'Optional x_test / y_test; otherwise a stratified 20 % held-out split.', value: 'npz' },
	);
	if (!isOnnx) items.push({ label: '$(file-media) Image folder…', description: 'one sub-folder per class (PyTorch engine)', detail: 'Decoded with PIL; a stratified 20 % held-out split.', value: 'folder' });
	const kind = await pick(items, title, 'The images to train and evaluate on');
	if (kind === 'last' && last?.path) {
		const spec: DatasetSpec = last.kind === 'npz' ? { kind: 'npz', path: last.path } : last.kind === 'cifar10' ? { kind: 'cifar10', dir: last.path } : last.kind === 'idx' ? { kind: 'idx', dir: last.path } : { kind: 'folder', dir: last.path };
		return { spec, label: basename(last.path) };
	}
	if (kind.startsWith('named:')) {
		const id = kind.slice('named:'.length);
		const choice = named.find((d) => d.id === id);
		if (choice) return { spec: choice.spec, label: choice.label };
		return { spec: { kind: 'digits' }, label: 'digits (scikit-learn, 8×8)' };
	}
	const folder = kind !== 'npz';
	const picked = await vscode.window.showOpenDialog({
		title, canSelectFiles: !folder, canSelectFolders: folder, canSelectMany: false,
		openLabel: folder ? 'Use this folder' : 'Use this file',
		filters: folder ? undefined : { 'NumPy archive': ['npz'] },
		defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
	});
	const path = picked?.[0]?.fsPath;
	if (!path) throw new Cancelled();
	if (kind === 'npz') return { spec: { kind: 'npz', path }, label: basename(path) };
	if (kind === 'idx') return { spec: { kind: 'idx', dir: path }, label: `${basename(path)} (IDX)` };
	return { spec: kind === 'cifar10' ? { kind: 'cifar10', dir: path } : { kind: 'folder', dir: path }, label: `${basename(path)} (${kind === 'cifar10' ? 'CIFAR-10' : 'image folder'})` };
}

async function chooseArchitecture(memory: Memory, modelPath: string, title: string): Promise<string> {
	const remembered = memory.architectures?.[modelPath];
	const items: Item<string>[] = [];
	if (remembered) items.push({ label: `$(history) ${remembered.replace(/^.*[\\/]/, '')}`, description: 'last used for this checkpoint', value: remembered });
	const scripts = await vscode.workspace.findFiles('**/*.py', excluded, 300);
	const near = (uri: vscode.Uri): number => (dirname(uri.fsPath) === dirname(modelPath) ? 0 : 1);
	scripts.sort((a, b) => near(a) - near(b) || a.fsPath.localeCompare(b.fsPath));
	for (const uri of scripts.slice(0, 100)) {
		let source: string;
		try {
			const stat = await fs.stat(uri.fsPath);
			if (stat.size > 512 * 1024) continue;
			source = await fs.readFile(uri.fsPath, 'utf8');
		} catch {
			continue;
		}
		for (const factory of findModelFactories(source)) {
			const value = `${uri.fsPath}:${factory.name}`;
			if (value === remembered) continue;
			items.push({ label: `$(symbol-${factory.kind === 'class' ? 'class' : 'method'}) ${basename(uri.fsPath)}:${factory.name}`, description: relativeLabel(uri.fsPath), detail: `${factory.kind === 'class' ? 'nn.Module class' : 'function'}, line ${factory.line} · importing ${basename(uri.fsPath)} runs its top-level code`, value });
		}
	}
	items.push(
		{ label: '$(library) torchvision architecture…', description: 'resnet18, vgg11_bn, …', value: 'torchvision' },
		{ label: '$(symbol-numeric) digits-cnn', description: 'the package\'s 8×8 digits CNN (examples/train_digits.py)', value: 'torchvision:digits-cnn' },
		{ label: '$(edit) Other factory…', description: 'package.module:function or path/to/file.py:function', value: 'other' },
	);
	const chosen = await pick(items, title, `The architecture of ${basename(modelPath)}'s state dict (its code runs in your interpreter)`);
	if (chosen === 'torchvision') {
		const name = await input({ title, prompt: 'torchvision model name (torchvision.models.NAME)', value: 'resnet18', validateInput: (v) => (/^[a-z][a-z0-9_]*$/i.test(v.trim()) ? undefined : 'A torchvision model name such as resnet18 or vgg11_bn.') });
		return `torchvision:${name}`;
	}
	if (chosen === 'other') {
		return input({ title, prompt: 'The model factory: package.module:function or path/to/file.py:function (called with no arguments, or num_classes=)', validateInput: (v) => (/^[^:]+:[A-Za-z_]\w*$/.test(v.trim()) ? undefined : 'module:function or file.py:function') });
	}
	return chosen;
}

interface PresetChoice {
	readonly id: PresetId;
	readonly label: string;
	readonly hyperParameters: TrainingHyperParameters;
	readonly crossbarSize: number;
	readonly paperEpochs?: number;
	readonly custom?: Memory['custom'];
}

async function choosePreset(memory: Memory, dataset: DatasetSpec, engine: 'tfjs' | 'pytorch', crossbarSize: number, title: string): Promise<PresetChoice> {
	const digits = trainingPresets.digits;
	const base = dataset.kind === 'digits' ? digits : trainingPresets['paper-cifar10'];
	const items: Item<PresetId>[] = [
		{ label: '$(beaker) Paper, CIFAR-10 settings, scaled', description: 'docs/method.md §4.4, §7', detail: 'λ_var 1e-3, λ_2 1e-3, lr 0.01, batch 128; 160 + 200 epochs, scaled to yours', value: 'paper' },
		{ label: '$(rocket) Digits quick', description: '10 + 10 epochs', detail: `λ_var ${digits.lambdaVar}, λ_2 ${digits.lambda2}, lr ${digits.lr}, batch ${digits.batchSize}: for 8×8 digits models`, value: 'digits-quick' },
		{ label: '$(zap) Smoke test', description: '1 epoch per phase', detail: `Checks the pipeline in seconds (≤ ${smokeSteps} steps per epoch); the numbers mean little`, value: 'smoke' },
		{ label: '$(settings) Custom…', description: 'λ_var, λ_2, lr, epochs, batch, crossbar size', value: 'custom' },
	];
	items.sort((a, b) => Number(b.value === memory.preset) - Number(a.value === memory.preset));
	const id = await pick(items, title, `Hyper-parameters of the regularize and fine-tune phases (crossbar T = ${crossbarSize} from crossbarLens.hardware.crossbarSize)`);
	switch (id) {
		case 'paper': {
			const text = await input({ title, prompt: 'Regularize epochs (the paper: 160); the fine-tune gets 200/160 as many, and the milestones scale with them', value: String(memory.paperEpochs ?? 160), validateInput: positiveInteger });
			const epochs = Number(text);
			const hp = paperScaled(epochs);
			return { id, label: `paper CIFAR-10, ${hp.regularizeEpochs} + ${hp.finetuneEpochs} epochs`, hyperParameters: hp, crossbarSize, paperEpochs: epochs };
		}
		case 'digits-quick':
			return { id, label: 'digits quick, 10 + 10 epochs', hyperParameters: { ...digits, regularizeEpochs: 10, finetuneEpochs: 10 }, crossbarSize };
		case 'smoke':
			return { id, label: `smoke test, 1 + 1 epochs (≤ ${smokeSteps} steps)`, hyperParameters: { ...base, regularizeEpochs: 1, finetuneEpochs: 1, regularizeMilestones: [], finetuneMilestones: [] }, crossbarSize };
		case 'custom':
		default: {
			const last = memory.custom;
			const number = (prompt: string, value: number, validate: (v: string) => string | undefined): Promise<number> => input({ title: `${title} (custom)`, prompt, value: String(value), validateInput: validate }).then(Number);
			const lambdaVar = await number('λ_var: weight of the Hoyer-variance regularizer (the paper: 1e-3 on CIFAR-10)', last?.lambdaVar ?? base.lambdaVar, nonNegative);
			const lambda2 = await number('λ_2: SGD weight decay of the regularize phase (the paper: 1e-3)', last?.lambda2 ?? base.lambda2, nonNegative);
			const lr = await number('Learning rate (SGD, momentum 0.9; the fine-tune uses the same rate with momentum 0)', last?.lr ?? base.lr, positive);
			const epochsText = await input({ title: `${title} (custom)`, prompt: 'Epochs per phase: regularize/fine-tune, e.g. 160/200 (the baseline gets the fine-tune\'s)', value: `${last?.regularizeEpochs ?? base.regularizeEpochs}/${last?.finetuneEpochs ?? base.finetuneEpochs}`, validateInput: (v) => (/^\s*\d+\s*(\/\s*\d+\s*)?$/.test(v) ? undefined : 'Two integers: regularize/fine-tune, e.g. 30/20.') });
			const [regularizeEpochs, finetuneEpochs] = ((parts) => [parts[0], parts[1] ?? parts[0]])(epochsText.split('/').map((p) => Number(p.trim())));
			const batchSize = await number('Batch size (global: split over data-parallel workers)', last?.batchSize ?? base.batchSize, positiveInteger);
			const customSize = await number('Crossbar size T (rows = columns; a power of two)', last?.crossbarSize ?? crossbarSize, (v) => (/^\d+$/.test(v) && Number(v) >= 2 && (Number(v) & (Number(v) - 1)) === 0 ? undefined : 'A power of two, e.g. 16, 32, 64.'));
			const custom = { lambdaVar, lambda2, lr, regularizeEpochs, finetuneEpochs, batchSize, crossbarSize: customSize };
			const hp: TrainingHyperParameters = {
				...base, lambdaVar, lambda2, lr, finetuneLr: base === digits ? digits.finetuneLr : lr, regularizeEpochs, finetuneEpochs, batchSize,
				regularizeMilestones: base === digits ? [] : scaleMilestones([50, 100, 150], 160, regularizeEpochs),
				finetuneMilestones: base === digits ? [] : scaleMilestones([50, 100, 150], 200, finetuneEpochs),
			};
			return { id: 'custom', label: `custom: λ_var ${lambdaVar}, λ_2 ${lambda2}, lr ${lr}, ${regularizeEpochs} + ${finetuneEpochs} epochs, batch ${batchSize}, T = ${customSize}`, hyperParameters: hp, crossbarSize: customSize, custom };
		}
	}
}

function positiveInteger(v: string): string | undefined {
	return /^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'A positive integer.';
}

function positive(v: string): string | undefined {
	const n = Number(v);
	return v.trim() !== '' && Number.isFinite(n) && n > 0 ? undefined : 'A positive number, e.g. 0.01.';
}

function nonNegative(v: string): string | undefined {
	const n = Number(v);
	return v.trim() !== '' && Number.isFinite(n) && n >= 0 ? undefined : 'A number ≥ 0, e.g. 1e-3.';
}

/** A preset when the model is the architecture it was made for (VGG11, ResNet-18, the example FashionCNN); 0,88,92 for a 3-conv digits CNN; else 75. */
function defaultRatios(convs: readonly { name: string; shape: readonly number[]; kind: 'conv' }[], dataset: DatasetSpec, preset: PresetId): string {
	for (const id of Object.keys(ratioPresets)) {
		try {
			resolveRatios(convs, { preset: id });
			return id;
		} catch {
			// not this architecture
		}
	}
	if (convs.length === 3 && (dataset.kind === 'digits' || preset === 'digits-quick')) return '0,88,92';
	return '75';
}

async function chooseOutput(modelPath: string, title: string): Promise<{ outputPath: string; force: boolean }> {
	const ext = extname(modelPath);
	const folder = dirname(modelPath);
	const suggested = join(folder, `${basename(modelPath, ext)}.dub${ext}`);
	const text = await input({
		title,
		prompt: `The D.U.B.-pruned, fine-tuned model, written in the input's format (relative paths are next to ${basename(modelPath)}); the input is never changed`,
		value: relative(folder, suggested),
		validateInput: (v) => {
			if (v.trim() === '') return 'A file name.';
			const path = resolve(folder, v.trim());
			if (path === modelPath) return 'Choose a new file: the input model is never overwritten.';
			if (extname(path).toLowerCase() !== ext.toLowerCase()) return `The output is written in the input's format: end the name with ${ext}.`;
			return undefined;
		},
	});
	const outputPath = isAbsolute(text) ? text : resolve(folder, text);
	if (existsSync(outputPath)) {
		const replace = await vscode.window.showWarningMessage(`${relativeLabel(outputPath)} exists. Replace it with the fine-tuned model?`, { modal: true }, 'Replace');
		if (replace !== 'Replace') throw new Cancelled();
		return { outputPath, force: true };
	}
	return { outputPath, force: false };
}

/** What the trade-off's quick picks decided for one model. */
export interface TradeoffChoice {
	readonly dataset: DatasetSpec;
	readonly datasetLabel: string;
	readonly engine: 'tfjs' | 'pytorch';
	/** PyTorch: the model class, as for a fine-tune. */
	readonly engineOptions: { readonly modelFactory?: string; readonly torchvision?: string };
	readonly ratios: number[];
}

/**
 * Quick picks of an accuracy–energy trade-off sweep of `modelPath`: the dataset, the architecture
 * of a PyTorch checkpoint, the ratios. They share the fine-tune's memory (the dataset and
 * architecture chosen for a model are offered first). Undefined when the user dismisses one.
 */
export async function chooseTradeoff(state: vscode.Memento, modelPath: string): Promise<TradeoffChoice | undefined> {
	const memory: Memory = state.get<Memory>(memoryKey) ?? {};
	try {
		const engine = hasSuffix(modelPath, trainableSuffixes('pytorch')) ? 'pytorch' : 'tfjs';
		const steps = engine === 'pytorch' ? 3 : 2;
		const title = (n: number, what: string): string => `Accuracy–energy trade-off of ${basename(modelPath)} (${n}/${steps}): ${what}`;
		const { spec: dataset, label: datasetLabel } = await chooseDataset(memory, engine === 'tfjs', title(1, 'held-out images'));
		const architecture = engine === 'pytorch' ? await chooseArchitecture(memory, modelPath, title(2, 'model architecture')) : undefined;
		const ratiosText = await input({
			title: title(steps, 'prune ratios'),
			prompt: 'Prune ratios in percent to sweep (the same ratio for every conv layer; D.U.B. and unstructured at each, no fine-tune)',
			value: defaultSweepRatios.join(','),
			validateInput: (v) => {
				try {
					parseSweepRatios(v);
					return undefined;
				} catch (ex) {
					return ex instanceof Error ? ex.message : String(ex);
				}
			},
		});
		await state.update(memoryKey, {
			...memory,
			dataset: { kind: dataset.kind, path: 'path' in dataset ? dataset.path : 'dir' in dataset ? dataset.dir : undefined },
			architectures: architecture ? { ...memory.architectures, [modelPath]: architecture } : memory.architectures,
		} satisfies Memory);
		const torchvision = architecture?.startsWith('torchvision:') ? architecture.slice('torchvision:'.length) : undefined;
		return {
			dataset, datasetLabel, engine,
			engineOptions: architecture === undefined ? {} : torchvision ? { torchvision } : { modelFactory: architecture },
			ratios: parseSweepRatios(ratiosText),
		};
	} catch (ex) {
		if (ex instanceof Cancelled) return undefined;
		throw ex;
	}
}
