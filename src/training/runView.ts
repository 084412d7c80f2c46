/**
 * Folds TrainingEvents into the panel's TrainingRunDto (src/shared/training.ts): the curves'
 * points, the level histogram per phase, the final comparison. Pure; both engines feed it.
 */

import { adcBitsByLevel } from '../hardware/levels';
import type { TrainingPointDto, TrainingRunDto, TrainingSnapshotDto, TrainingSummaryRowDto } from '../shared/training';
import type { TrainingEvent, TrainingResult } from './engine';

export type RunViewInit = Pick<TrainingRunDto, 'runId' | 'engine' | 'modelPath' | 'modelLabel' | 'outputPath' | 'outputLabel' | 'datasetLabel' | 'presetLabel' | 'crossbarSize' | 'plannedEpochs'> & { readonly startedAt?: number };

const maxNotes = 6;

/** A run that has not sent anything yet. */
export function createRunView(init: RunViewInit): TrainingRunDto {
	return {
		...init,
		adcBitsByLevel: adcBitsByLevel(init.crossbarSize),
		engineLabel: init.engine === 'tfjs' ? 'TensorFlow.js' : 'PyTorch',
		status: 'running',
		points: [],
		snapshots: [],
		outputWritten: false,
		startedAt: init.startedAt ?? Date.now(),
		elapsedMs: 0,
		notes: [],
	};
}

const snapshotLabels: Record<TrainingSnapshotDto['key'], string> = {
	initial: 'Start',
	regularize: 'After the regularizer',
	prune: 'D.U.B. prune',
	finetune: 'D.U.B. fine-tuned',
	baseline: 'Unstructured fine-tuned',
};

function withSnapshot(view: TrainingRunDto, snapshot: Omit<TrainingSnapshotDto, 'label'>): TrainingSnapshotDto[] {
	const next = view.snapshots.filter((s) => s.key !== snapshot.key);
	next.push({ ...snapshot, label: snapshotLabels[snapshot.key] });
	const order: TrainingSnapshotDto['key'][] = ['initial', 'regularize', 'prune', 'finetune', 'baseline'];
	return next.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
}

/** Marks the snapshot of a phase that has ended. */
function finalize(view: TrainingRunDto, key: TrainingSnapshotDto['key']): TrainingSnapshotDto[] {
	return view.snapshots.map((s) => (s.key === key ? { ...s, final: true } : s));
}

function engineLabel(event: TrainingEvent, view: TrainingRunDto): string {
	const engine = (event.engine ?? view.engine) === 'tfjs' ? 'TensorFlow.js' : 'PyTorch';
	const workers = event.workers ?? 1;
	const unit = (event.engine ?? view.engine) === 'tfjs' ? (workers === 1 ? 'worker' : 'workers') : (workers === 1 ? 'process' : 'processes');
	return [engine, event.backend, `${workers} ${unit}`].filter(Boolean).join(' · ');
}

/** The view after one event (a new object; the input is not changed). */
export function applyTrainingEvent(view: TrainingRunDto, event: TrainingEvent, now = Date.now()): TrainingRunDto {
	const base: TrainingRunDto = { ...view, elapsedMs: now - view.startedAt };
	const note = (message: string | undefined): string[] => (message ? [...view.notes, message].slice(-maxNotes) : view.notes);
	const histogram = event.levelHistogram;
	const improvement = event.adcEnergyImprovement === undefined ? undefined : event.adcEnergyImprovement;
	switch (event.event) {
		case 'start':
			return { ...base, engineLabel: engineLabel(event, view), notes: note(event.message) };
		case 'phase': {
			const phase = event.phase;
			const point = (series: TrainingPointDto['series']): TrainingPointDto[] => [...view.points.filter((p) => !(p.series === series && p.epoch === 0)), { series, epoch: 0, testAccuracy: event.testAccuracy, improvement }];
			if (phase === 'regularize') {
				return {
					...base, phase, epoch: 0, epochs: event.epochs ?? view.plannedEpochs.regularize, points: point('regularize'), notes: note(event.message),
					snapshots: histogram ? withSnapshot(view, { key: 'initial', levelHistogram: histogram, improvement: improvement ?? null, testAccuracy: event.testAccuracy, final: true }) : view.snapshots,
				};
			}
			if (phase === 'prune') {
				const after = { ...view, snapshots: finalize(view, 'regularize') };
				return {
					...base, phase, epoch: 0, epochs: view.plannedEpochs.finetune, points: point('finetune'), notes: note(event.message),
					snapshots: histogram ? withSnapshot(after, { key: 'prune', levelHistogram: histogram, improvement: improvement ?? null, testAccuracy: event.testAccuracy, final: true }) : after.snapshots,
				};
			}
			if (phase === 'baseline') {
				return { ...base, phase, epoch: 0, epochs: view.plannedEpochs.baseline, points: point('baseline'), notes: note(event.message), snapshots: finalize(view, 'finetune') };
			}
			return { ...base, phase, notes: note(event.message) };
		}
		case 'epoch': {
			const phase = event.phase;
			if (phase !== 'regularize' && phase !== 'finetune' && phase !== 'baseline') return base;
			const epoch = event.epoch ?? 0;
			const point: TrainingPointDto = {
				series: phase, epoch, loss: event.loss, testAccuracy: event.testAccuracy, improvement,
				...(event.projectedAdcEnergyImprovement !== undefined ? { projectedImprovement: event.projectedAdcEnergyImprovement } : {}),
			};
			const points = [...view.points.filter((p) => !(p.series === phase && p.epoch === epoch)), point];
			const epochs = event.epochs ?? (phase === 'regularize' ? view.plannedEpochs.regularize : view.plannedEpochs.finetune);
			const snapshots = histogram
				? withSnapshot(view, { key: phase, levelHistogram: histogram, improvement: improvement ?? null, testAccuracy: event.testAccuracy, final: epoch >= epochs })
				: view.snapshots;
			return { ...base, phase, epoch, epochs, points, snapshots };
		}
		case 'checkpoint':
			return { ...base, checkpointPath: event.path ?? view.checkpointPath };
		case 'log':
			return { ...base, outputWritten: view.outputWritten || (event.path !== undefined && event.path === view.outputPath), notes: event.path === undefined ? note(event.message) : view.notes };
		case 'done':
			return event.result ? finishRunView(base, 'done', undefined, event.result, now) : { ...base, status: 'done', outputWritten: true };
		case 'error':
			return { ...base, status: 'failed', message: event.message };
		default:
			return base;
	}
}

const finiteOrNull = (value: number | undefined): number | null => (value !== undefined && Number.isFinite(value) ? value : null);

/** The final comparison of a result: start, after the regularizer, D.U.B., unstructured. */
export function summaryRows(result: TrainingResult): TrainingSummaryRowDto[] {
	const rows: TrainingSummaryRowDto[] = [
		{ key: 'initial', label: 'Start (dense)', accuracy: finiteOrNull(result.initial.accuracy), improvement: result.initial.adcEnergyImprovement, levelHistogram: result.initial.levelHistogram },
		{ key: 'regularized', label: 'After the regularizer', accuracy: finiteOrNull(result.regularized.accuracy), improvement: result.regularized.adcEnergyImprovement, levelHistogram: result.regularized.levelHistogram },
		{ key: 'dub', label: 'D.U.B.', accuracy: finiteOrNull(result.dub.accuracy), bestAccuracy: finiteOrNull(result.dub.bestAccuracy), afterPruneAccuracy: finiteOrNull(result.dub.afterPruneAccuracy), improvement: result.dub.adcEnergyImprovement, levelHistogram: result.dub.levelHistogram },
	];
	if (result.unstructured) {
		const u = result.unstructured;
		rows.push({ key: 'unstructured', label: 'Unstructured', accuracy: finiteOrNull(u.accuracy), bestAccuracy: finiteOrNull(u.bestAccuracy), afterPruneAccuracy: finiteOrNull(u.afterPruneAccuracy), improvement: u.adcEnergyImprovement, levelHistogram: u.levelHistogram });
	}
	return rows;
}

/** Ends a run: done (with its result), cancelled or failed (with a message). */
export function finishRunView(view: TrainingRunDto, status: 'done' | 'cancelled' | 'failed', message?: string, result?: TrainingResult, now = Date.now()): TrainingRunDto {
	const snapshots = status === 'done' ? view.snapshots.map((s) => ({ ...s, final: true })) : view.snapshots;
	return {
		...view,
		status,
		message,
		elapsedMs: now - view.startedAt,
		snapshots,
		...(result ? { summary: summaryRows(result), outputWritten: true, checkpointPath: status === 'done' ? undefined : view.checkpointPath } : {}),
	};
}
