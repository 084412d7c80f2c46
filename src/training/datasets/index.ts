/**
 * Training datasets (pure TS, no tfjs): load, split (seeded, stratified), check against a model,
 * and assemble NHWC batches with the reference's CIFAR augmentation.
 */
import { resolve } from 'node:path';
import type { DatasetSpec } from '../engine';
import { loadCifar10 } from './cifar';
import { defaultDigitsPath, loadDigits } from './digits';
import { DatasetError } from './errors';
import { defaultFashionMnistDir, loadIdx } from './idx';
import { loadNpz } from './npz';
import { stratifiedSplit, stratifiedSubset, take } from './split';
import type { Dataset, ImageSet, LabelledImages } from './types';

export type { Dataset, ImageSet, LabelledImages } from './types';
export { Rng, deriveSeed } from './rng';
export { fillBatch, batchLabels, standardizeImage } from './batch';
export { stratifiedSplit, stratifiedSubset } from './split';
export { parseDigitsCsv, defaultDigitsPath } from './digits';
export { parseCifar10 } from './cifar';
export { DatasetError } from './errors';
export { defaultFashionMnistDir, findIdxFiles, loadIdx, parseIdx, readIdx } from './idx';
export { availableDatasets, namedDataset } from './available';
export type { DatasetChoice, DatasetLocations } from './available';

/** Loads a dataset and makes its held-out split (deterministic for a seed). */
export async function loadDataset(spec: DatasetSpec, seed = 0): Promise<Dataset> {
	const isCifar = spec.kind === 'cifar10';
	const augment = spec.augment ?? isCifar;
	const standardize = spec.standardize ?? isCifar;
	let train: LabelledImages;
	let test: LabelledImages | undefined;
	let name: string;
	switch (spec.kind) {
		case 'digits':
			train = await loadDigits(spec.path ?? defaultDigitsPath);
			name = `digits (${spec.path ?? defaultDigitsPath})`;
			break;
		case 'npz':
			({ train, test } = await loadNpz(spec.path, spec));
			name = spec.path;
			break;
		case 'cifar10':
			({ train, test } = await loadCifar10(spec.dir));
			name = `CIFAR-10 (${spec.dir})`;
			break;
		case 'idx':
			({ train, test } = await loadIdx(spec.dir));
			name = `${resolve(spec.dir) === defaultFashionMnistDir ? 'Fashion-MNIST' : 'IDX'} (${spec.dir})`;
			break;
		case 'folder':
			throw new DatasetError(`${spec.dir}: image folders are not supported by the tfjs engine (it carries no image decoder); convert the images to an .npz with x and y, or use the PyTorch engine.`);
		default:
			throw new Error(`Unknown dataset kind '${(spec as { kind: string }).kind}'.`);
	}
	const size = train.shape[0] * train.shape[1] * train.shape[2];
	let trainSet: ImageSet;
	let testSet: ImageSet;
	if (test) {
		trainSet = train;
		testSet = test;
	} else {
		const split = stratifiedSplit(train.y, spec.testFraction ?? 0.2, seed);
		trainSet = take(train, split.train, size);
		testSet = take(train, split.test, size);
	}
	if (spec.limitTrain !== undefined && spec.limitTrain < trainSet.count) {
		trainSet = take(trainSet, stratifiedSubset(trainSet.y, spec.limitTrain, seed + 1), size);
	}
	if (spec.limitTest !== undefined && spec.limitTest < testSet.count) {
		testSet = take(testSet, stratifiedSubset(testSet.y, spec.limitTest, seed + 2), size);
	}
	if (trainSet.count === 0 || testSet.count === 0) {
		throw new DatasetError(`${name}: the split left ${trainSet.count} training and ${testSet.count} held-out images; both need at least one.`);
	}
	let classes = 0;
	for (const set of [trainSet, testSet]) for (let i = 0; i < set.count; i++) classes = Math.max(classes, set.y[i] + 1);
	return { name: `${name}, ${trainSet.count} train / ${testSet.count} held-out`, shape: train.shape, classes, train: trainSet, test: testSet, augment, standardize };
}

/**
 * One line saying why `dataset` cannot feed a model with input C×H×W (undefined dims: any) and
 * `outputs` classes; undefined when it fits.
 */
export function datasetMismatch(dataset: Pick<Dataset, 'name' | 'shape' | 'classes'>, modelInput: readonly (number | undefined)[], outputs: number | undefined, modelName: string): string | undefined {
	const fits = dataset.shape.every((d, i) => modelInput[i] === undefined || modelInput[i] === d);
	if (!fits) {
		return `The dataset ${dataset.name} has ${dataset.shape.join('×')} images but ${modelName} expects ${modelInput.map((d) => d ?? '?').join('×')} inputs.`;
	}
	if (outputs !== undefined && dataset.classes > outputs) {
		return `The dataset ${dataset.name} has ${dataset.classes} classes but ${modelName} has ${outputs} outputs.`;
	}
	return undefined;
}
