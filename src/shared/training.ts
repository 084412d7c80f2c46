/**
 * What the panel shows of a "Run D.U.B. fine-tune" run: JSON-safe DTOs built by the host from the
 * engine's TrainingEvents (src/training/runView.ts). The same shape for both engines.
 */

/** The curves' series: the regularize phase, then the D.U.B. fine-tune and the unstructured baseline side by side. */
export type TrainingSeries = 'regularize' | 'finetune' | 'baseline';

/** Phases as the panel names them (prune: the D.U.B. prune between regularize and fine-tune). */
export type TrainingPhaseName = 'regularize' | 'prune' | 'finetune' | 'baseline';

/** One point of the curves. */
export interface TrainingPointDto {
	readonly series: TrainingSeries;
	/** Epoch within the phase; 0 is the phase's starting point (the starting model, or right after a prune). */
	readonly epoch: number;
	/** Mean training loss of the epoch (absent at epoch 0). */
	readonly loss?: number;
	/** Held-out accuracy in percent. */
	readonly testAccuracy?: number;
	/** Paper-law ADC-energy improvement of the current weights (null: every crossbar empty). */
	readonly improvement?: number | null;
	/** Regularize phase, PyTorch engine: what a D.U.B. prune of the current weights would give. */
	readonly projectedImprovement?: number | null;
}

/** The model-wide level histogram of one model state (the last epoch of a phase, or right after a prune). */
export interface TrainingSnapshotDto {
	readonly key: 'initial' | 'regularize' | 'prune' | 'finetune' | 'baseline';
	readonly label: string;
	readonly levelHistogram: number[];
	readonly improvement: number | null;
	readonly testAccuracy?: number;
	/** The phase was complete when this was taken. */
	readonly final: boolean;
}

/** One row of the final comparison. */
export interface TrainingSummaryRowDto {
	readonly key: 'initial' | 'regularized' | 'dub' | 'unstructured';
	readonly label: string;
	readonly accuracy: number | null;
	readonly bestAccuracy?: number | null;
	readonly afterPruneAccuracy?: number | null;
	readonly improvement: number | null;
	readonly levelHistogram: number[];
}

export type TrainingStatus = 'running' | 'done' | 'cancelled' | 'failed';

export interface TrainingRunDto {
	readonly runId: string;
	readonly engine: 'tfjs' | 'pytorch';
	/** e.g. "TensorFlow.js · wasm · 1 worker" or "PyTorch · cpu · 2 processes". */
	readonly engineLabel: string;
	readonly modelPath: string;
	readonly modelLabel: string;
	readonly outputPath: string;
	readonly outputLabel: string;
	readonly datasetLabel: string;
	readonly presetLabel: string;
	readonly crossbarSize: number;
	/** ADC bits of a crossbar at each level k at this crossbar size (src/hardware/levels.ts), for the level histograms. */
	readonly adcBitsByLevel: number[];
	readonly status: TrainingStatus;
	/** The error, or where a cancelled run can resume. */
	readonly message?: string;
	/** Where the run is now. */
	readonly phase?: TrainingPhaseName;
	readonly epoch?: number;
	readonly epochs?: number;
	/** Epochs planned per series (the x axis: regularize, then fine-tune and baseline side by side). */
	readonly plannedEpochs: { readonly regularize: number; readonly finetune: number; readonly baseline: number };
	readonly points: TrainingPointDto[];
	readonly snapshots: TrainingSnapshotDto[];
	/** At the end: the starting model, D.U.B. and the unstructured baseline. */
	readonly summary?: TrainingSummaryRowDto[];
	readonly checkpointPath?: string;
	/** The output model file exists (the D.U.B. branch is done). */
	readonly outputWritten: boolean;
	readonly startedAt: number;
	readonly elapsedMs: number;
	/** The last few engine messages (start, prune, notes). */
	readonly notes: string[];
}
