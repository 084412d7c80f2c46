/**
 * Pure helpers of the "Run D.U.B. fine-tune" choices: the paper's CIFAR-10 schedule scaled to a
 * number of epochs, and the prune-ratio text the command asks for.
 */

import { UsageError } from '../core/errors';
import { ratioPresets } from '../pruning/ratios';
import type { RatioSpec } from '../pruning/ratios';
import { trainingPresets } from './engine';
import type { TrainingHyperParameters } from './engine';

/** Milestones `at` of a `from`-epoch schedule moved to a `to`-epoch one (rounded, distinct, inside the run). */
export function scaleMilestones(at: readonly number[], from: number, to: number): number[] {
	return [...new Set(at.map((m) => Math.round((m * to) / from)))].filter((m) => m > 0 && m < to);
}

/**
 * The paper's CIFAR-10 settings (docs/method.md §4.4: 160 regularize epochs, milestones 50/100/150;
 * §7: 200 fine-tune epochs, the same milestones) with `epochs` regularize epochs; the fine-tune
 * keeps the 200:160 proportion.
 */
export function paperScaled(epochs: number): TrainingHyperParameters {
	const base = trainingPresets['paper-cifar10'];
	const finetuneEpochs = Math.max(1, Math.round((epochs * 200) / 160));
	return {
		...base,
		regularizeEpochs: epochs,
		finetuneEpochs,
		regularizeMilestones: scaleMilestones(base.regularizeMilestones, 160, epochs),
		finetuneMilestones: scaleMilestones(base.finetuneMilestones, 200, finetuneEpochs),
	};
}

/** A prune-ratio text: a ratio preset's id, one percentage for every conv layer, or one per conv layer (commas or spaces). */
export function parseRatios(text: string): RatioSpec {
	const value = text.trim();
	if (Object.hasOwn(ratioPresets, value)) return { preset: value };
	const parts = value.split(/[\s,]+/).filter((p) => p !== '');
	const numbers = parts.map(Number);
	if (parts.length === 0 || numbers.some((n) => !Number.isFinite(n) || n < 0 || n >= 100)) {
		throw new UsageError(`Prune ratios are percentages from 0 to below 100 (one, or one per conv layer), or a preset: ${Object.keys(ratioPresets).join(', ')}.`);
	}
	return numbers.length === 1 ? { ratio: numbers[0] } : { ratios: numbers };
}
