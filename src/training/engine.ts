/**
 * The training-engine contract of "Run D.U.B. fine-tune" (docs/architecture.md, "Training engine"):
 * `start(job, onProgress, signal) → result`. Two implementations speak it: TensorFlow.js in a
 * worker_threads worker (src/training/tfjs) and PyTorch as a child process printing the same
 * events as JSON lines. Everything here is JSON-safe so a job can be sent to either as is.
 */

import { join, resolve } from 'node:path';
import type { RatioSpec } from '../pruning/ratios';

/** Which engine ran (the only difference the panel shows). */
export type TrainingEngineId = 'tfjs' | 'pytorch';

/**
 * Phases of docs/method.md §4–§8: regularize (§4: CE + λ_2 + gated Hoyer variance), prune (§6,
 * fixed-ratio D.U.B.), finetune (§7: masked, no regularizer), baseline (§8.2: unstructured
 * magnitude prune of the starting model at the same ratios + the same fine-tune).
 */
export type TrainingPhase = 'regularize' | 'prune' | 'finetune' | 'baseline';

/** Where the images come from. Images are C×H×W; labels are class indices. */
export type DatasetSpec =
	/** scikit-learn's 8×8 digits (digits.csv.gz: 64 pixel columns 0..16, then the label); 1×8×8 scaled by 1/16. */
	| ({ readonly kind: 'digits'; readonly path?: string } & DatasetOptions)
	/** An .npz with `x` (N×C×H×W, N×H×W×C or N×H×W; uint8 is scaled by 1/255) and `y` (N labels); `x_test` and `y_test`, when present, are the held-out split. */
	| ({ readonly kind: 'npz'; readonly path: string; readonly xKey?: string; readonly yKey?: string; readonly layout?: 'NCHW' | 'NHWC' } & DatasetOptions)
	/** CIFAR-10 binary version: a folder with data_batch_1..5.bin and test_batch.bin (test_batch is the held-out split). */
	| ({ readonly kind: 'cifar10'; readonly dir: string } & DatasetOptions)
	/**
	 * A folder of IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), plain or .gz: train-images/-labels
	 * for training, t10k-images/-labels (the official test set) held out; images 1×H×W scaled by 1/255.
	 */
	| ({ readonly kind: 'idx'; readonly dir: string } & DatasetOptions)
	/** A folder of class sub-folders of images: not supported by the tfjs engine (no image decoder dependency). */
	| ({ readonly kind: 'folder'; readonly dir: string } & DatasetOptions);

/** Options every dataset takes. */
export interface DatasetOptions {
	/** Held-out fraction of a seeded stratified split (default 0.2); CIFAR-10 and IDX folders use their official test set instead, an .npz its x_test/y_test. */
	readonly testFraction?: number;
	/** Random crop with 4-pixel zero padding + horizontal flip on training batches (the reference's CIFAR pipeline). Default: true for cifar10, else false. */
	readonly augment?: boolean;
	/** Per-image standardization: mean/std over all C·H·W values, std floored at 1/sqrt(C·H·W) (§4.4). Default: true for cifar10, else false. */
	readonly standardize?: boolean;
	/** Use at most this many training images (a stratified subset; for quick runs). */
	readonly limitTrain?: number;
	/** Use at most this many held-out images. */
	readonly limitTest?: number;
}

/** Hyper-parameters; a preset fills what a job leaves out. */
export interface TrainingHyperParameters {
	/** λ_var of the gated Hoyer-variance regularizer (§4.2). */
	readonly lambdaVar: number;
	/** λ_2: SGD weight decay on all parameters in the regularize phase (§4.3). */
	readonly lambda2: number;
	/** Learning rate of the regularize phase (SGD, momentum 0.9). */
	readonly lr: number;
	/** Learning rate of the masked fine-tune (SGD, momentum 0, no weight decay; §7). */
	readonly finetuneLr: number;
	/** Momentum of the regularize phase (default 0.9). */
	readonly momentum: number;
	readonly regularizeEpochs: number;
	readonly finetuneEpochs: number;
	/** Epochs (counted within the phase) where the learning rate is multiplied by `gamma`. */
	readonly regularizeMilestones: readonly number[];
	readonly finetuneMilestones: readonly number[];
	readonly gamma: number;
	/** Global minibatch (split over the data-parallel workers). */
	readonly batchSize: number;
	/**
	 * Parameters trained in the fine-tunes: 'all', or 'conv' (conv weights and biases only, the
	 * classifier frozen, as the reference's VGG scripts; §7).
	 */
	readonly finetuneParams: 'all' | 'conv';
}

/** Named hyper-parameter sets: the paper's two settings (docs/method.md §4.4, §7) and a small one for 8×8 digits. */
export const trainingPresets: Readonly<Record<string, TrainingHyperParameters>> = {
	'paper-cifar10': {
		lambdaVar: 1e-3, lambda2: 1e-3, lr: 0.01, finetuneLr: 0.01, momentum: 0.9,
		regularizeEpochs: 160, finetuneEpochs: 200, regularizeMilestones: [50, 100, 150], finetuneMilestones: [50, 100, 150], gamma: 0.1,
		batchSize: 128, finetuneParams: 'conv',
	},
	'paper-imagenet': {
		lambdaVar: 5e-4, lambda2: 1e-4, lr: 0.01, finetuneLr: 0.01, momentum: 0.9,
		regularizeEpochs: 120, finetuneEpochs: 120, regularizeMilestones: [30, 60, 90], finetuneMilestones: [30, 60, 90], gamma: 0.1,
		batchSize: 256, finetuneParams: 'conv',
	},
	digits: {
		lambdaVar: 2e-3, lambda2: 1e-4, lr: 0.02, finetuneLr: 0.01, momentum: 0.9,
		regularizeEpochs: 30, finetuneEpochs: 20, regularizeMilestones: [], finetuneMilestones: [], gamma: 0.1,
		batchSize: 32, finetuneParams: 'all',
	},
};

/** One "Run D.U.B. fine-tune" request. Paths are absolute or relative to the process's cwd. */
export interface TrainingJob {
	/** The trained starting model (the tfjs engine needs an ONNX graph, a TF.js layers model.json or a Keras .keras/.h5; PyTorch takes .pt too). */
	readonly modelPath: string;
	readonly dataset: DatasetSpec;
	/** A key of `trainingPresets` (default 'paper-cifar10'); fields given below override it. */
	readonly preset?: string;
	readonly hyperParameters?: Partial<TrainingHyperParameters>;
	/** Crossbar geometry: T (crossbarSize) and q (slices) of the regularizer, the prune and the ADC figures. */
	readonly crossbarSize: number;
	readonly slices?: number;
	/** Per-conv-layer prune ratios (percent) for D.U.B. and the unstructured baseline. */
	readonly pruneRatios: RatioSpec;
	/** Where the D.U.B.-pruned, fine-tuned model is written, in the input's format. */
	readonly outputPath: string;
	/** Allow replacing an existing output file (never the input). */
	readonly force?: boolean;
	/** Seeds the split, the shuffles and the augmentation (default 0). */
	readonly seed?: number;
	/** Folder for the per-epoch checkpoint (default: next to the output, `<output>.checkpoint/`). */
	readonly checkpointDir?: string;
	/** Continue from the checkpoint in checkpointDir when there is one (default false: start over). */
	readonly resume?: boolean;
	/** Run the unstructured baseline after D.U.B. (default true). */
	readonly baseline?: boolean;
	/** Engine-specific knobs; engines ignore the ones they do not know. */
	readonly engineOptions?: TfjsEngineOptions & PytorchEngineOptions & {
		/** Stop each epoch after this many steps (benchmarks, smoke tests); both engines. */
		readonly maxStepsPerEpoch?: number;
	};
}

/** Options only the tfjs engine reads. */
export interface TfjsEngineOptions {
	/** 'auto' (default): tfjs-node if it loads, else wasm with the training kernels, else cpu. */
	readonly backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
	/** Data-parallel workers: 1, 2, or 'auto' (2 when the machine has ≥ 2 cores and the backend is wasm or cpu). */
	readonly workers?: 1 | 2 | 'auto';
	/** Folder with the tfjs-backend-wasm .wasm binaries when they are not next to the worker bundle. */
	readonly wasmDir?: string;
}

/** Options only the PyTorch engine reads (python/crossbar_lens_train; see python/README.md). */
export interface PytorchEngineOptions {
	/**
	 * The architecture the checkpoint's state dict belongs to: `package.module:function` or
	 * `path/to/file.py:function` (a class works too). This imports and runs the user's code.
	 */
	readonly modelFactory?: string;
	/** Or a torchvision architecture (`resnet18`, `vgg11_bn`, …; `digits-cnn` and `fashion-cnn` are the package's own). */
	readonly torchvision?: string;
	/** Passed to the factory as num_classes= when it takes it. */
	readonly numClasses?: number;
	/** Read the starting checkpoint with full unpickling (only for the user's own files; runs code in the pickle). */
	readonly trustCheckpoint?: boolean;
	/** Data-parallel processes on this machine; more than 1 runs under torchrun (crossbar_lens_train.launch). */
	readonly processes?: number;
	/** 'auto' (default), 'cpu', 'cuda' or 'cuda:N'. */
	readonly device?: string;
	/** torch CPU threads per process (default: torch's own choice). */
	readonly threads?: number;
}

/** Accuracy (percent) and ADC figures of one model state. */
export interface ModelMetrics {
	/** Held-out accuracy in percent (0–100). */
	readonly accuracy: number;
	/** Paper-law ADC-energy improvement over dense crossbars (null: every crossbar empty). */
	readonly adcEnergyImprovement: number | null;
	/** Crossbars per level k = 0..B−1 over all conv layers. */
	readonly levelHistogram: number[];
}

/** What one prune + fine-tune branch reached. */
export interface BranchResult extends ModelMetrics {
	/** Accuracy right after pruning, before the fine-tune. */
	readonly afterPruneAccuracy: number;
	/** Best held-out accuracy over the fine-tune epochs (the reference reports this one; A13). */
	readonly bestAccuracy: number;
	/** Per conv layer: name, ratio asked (percent) and zeros after pruning. */
	readonly layers: { readonly name: string; readonly ratio: number; readonly zeros: number; readonly weights: number }[];
}

export interface TrainingResult {
	readonly engine: TrainingEngineId;
	/** The backend that ran it ('tensorflow', 'wasm', 'cpu' for tfjs; 'cpu'/'cuda' for PyTorch). */
	readonly backend: string;
	readonly workers: number;
	/** The starting model (dense). */
	readonly initial: ModelMetrics;
	/** After the regularize phase, before pruning. */
	readonly regularized: ModelMetrics;
	readonly dub: BranchResult;
	/** Absent when the job set `baseline: false`. */
	readonly unstructured?: BranchResult;
	readonly outputPath: string;
	readonly checkpointPath: string;
	/** Wall time of the whole job in seconds (this run only, not earlier runs before a resume). */
	readonly seconds: number;
}

/**
 * The progress protocol: the tfjs worker posts these objects and the PyTorch engine prints them
 * as JSON lines, with the same field names, so the panel plots both. Accuracies are percent.
 */
export interface TrainingEvent {
	readonly event: 'start' | 'epoch' | 'phase' | 'checkpoint' | 'done' | 'error' | 'log';
	readonly phase?: TrainingPhase;
	/** 1-based epoch within the phase (0 for a phase's starting point). */
	readonly epoch?: number;
	/** Epochs of the phase. */
	readonly epochs?: number;
	/** Mean training loss of the epoch (cross-entropy plus the D.U.B. term in the regularize phase). */
	readonly loss?: number;
	readonly trainAccuracy?: number;
	readonly testAccuracy?: number;
	/** Paper-law ADC-energy improvement of the current weights (exact zeros). */
	readonly adcEnergyImprovement?: number | null;
	readonly levelHistogram?: number[];
	/** The backend in use ('wasm', 'tensorflow', 'cpu', 'cuda'). */
	readonly backend?: string;
	/** log and error: one line of text. */
	readonly message?: string;
	/** checkpoint: its path; done: the output model's path. */
	readonly path?: string;
	/** done: the full result. */
	readonly result?: TrainingResult;
	/** start: the engine and data-parallel workers. */
	readonly engine?: TrainingEngineId;
	readonly workers?: number;
	/** epoch (regularize phase): the D.U.B. term's share of `loss`. */
	readonly regularizerLoss?: number;
	/** epoch (regularize phase, PyTorch engine): the improvement a D.U.B. prune of the current weights would give. */
	readonly projectedAdcEnergyImprovement?: number | null;
	/** epoch: the learning rate the epoch ran at (PyTorch engine). */
	readonly lr?: number;
}

/** A training engine; `start` rejects with an AbortError when `signal` fires (the last checkpoint is kept). */
export interface TrainingEngine {
	readonly id: TrainingEngineId;
	start(job: TrainingJob, onProgress: (e: TrainingEvent) => void, signal: AbortSignal): Promise<TrainingResult>;
}

/** The hyper-parameters a job runs with: its preset (default paper-cifar10) overridden field by field. */
export function resolveHyperParameters(job: Pick<TrainingJob, 'preset' | 'hyperParameters'>): TrainingHyperParameters {
	const presetId = job.preset ?? 'paper-cifar10';
	const preset = Object.hasOwn(trainingPresets, presetId) ? trainingPresets[presetId] : undefined;
	if (!preset) {
		throw new Error(`Unknown training preset '${presetId}'; known: ${Object.keys(trainingPresets).join(', ')}.`);
	}
	const merged: TrainingHyperParameters = { ...preset, ...Object.fromEntries(Object.entries(job.hyperParameters ?? {}).filter(([, v]) => v !== undefined)) };
	const positive = (value: number, what: string, allowZero = false) => {
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
			throw new Error(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(value)}).`);
		}
	};
	positive(merged.lambdaVar, 'λ_var', true);
	positive(merged.lambda2, 'λ_2', true);
	positive(merged.lr, 'The learning rate');
	positive(merged.finetuneLr, 'The fine-tune learning rate');
	positive(merged.gamma, 'gamma');
	if (!(merged.momentum >= 0 && merged.momentum < 1)) {
		throw new Error(`momentum must be in [0, 1) (got ${merged.momentum}).`);
	}
	for (const [value, what] of [[merged.regularizeEpochs, 'regularize epochs'], [merged.finetuneEpochs, 'fine-tune epochs']] as const) {
		if (!Number.isInteger(value) || value < 0) {
			throw new Error(`The number of ${what} must be an integer ≥ 0 (got ${value}).`);
		}
	}
	if (!Number.isInteger(merged.batchSize) || merged.batchSize < 1) {
		throw new Error(`The batch size must be a positive integer (got ${merged.batchSize}).`);
	}
	return merged;
}

/** Where the tfjs engine keeps a job's resume checkpoint (`<output>.checkpoint/` unless the job says). */
export function tfjsCheckpointPath(job: Pick<TrainingJob, 'checkpointDir' | 'outputPath'>): string {
	return join(resolve(job.checkpointDir ?? `${job.outputPath}.checkpoint`), 'tfjs-checkpoint.bin');
}
