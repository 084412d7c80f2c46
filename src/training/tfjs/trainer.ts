/**
 * One training epoch and one evaluation on a TrainableModel: backprop in tfjs, then everything
 * else on the JS mirrors (docs/method.md §4.3, §7): gradients summed over the data-parallel
 * workers, the closed-form D.U.B. gradient added to conv weights (src/pruning), SGD with
 * momentum and weight decay as torch.optim.SGD, masked weights re-zeroed after every step.
 */

import * as tf from '@tensorflow/tfjs-core';
import { countColumnNonZeros } from '../../hardware/columnCounts';
import { layerStatistics } from '../../hardware/analyze';
import { improvement } from '../../hardware/energy';
import { sparsityBins } from '../../hardware/levels';
import { dubRegularizer, Float64Scratch } from '../../pruning/regularizer';
import type { HardwareProfile } from '../../shared/analysis';
import { Rng, batchLabels, fillBatch } from '../datasets';
import type { Dataset, ImageSet } from '../datasets';
import type { Collective } from './collective';
import type { BatchNormStats, ModelParam, TrainableModel } from './model';

/** The D.U.B. term of one step (§4.2). */
export interface RegularizerSettings {
	readonly lambda: number;
	readonly crossbarSize: number;
	readonly slices: number;
}

export interface EpochSettings {
	readonly lr: number;
	readonly momentum: number;
	readonly weightDecay: number;
	readonly batchSize: number;
	/** Trained parameters (others stay frozen). */
	readonly trainables: readonly ModelParam[];
	readonly regularizer?: RegularizerSettings;
	/** Per conv-weight name: 1 where the weight must stay 0 (§7). */
	readonly masks?: ReadonlyMap<string, Uint8Array>;
	/** Seeds this epoch's shuffle and augmentation (identical on all workers). */
	readonly seed: number;
	readonly maxSteps?: number;
	/** Checked on rank 0 before each step; a true stops every worker after the current step. */
	readonly shouldStop?: () => boolean;
}

export interface EpochResult {
	/** Mean of CE (+ the D.U.B. term when regularizing) over the steps. */
	readonly loss: number;
	/** Mean D.U.B. term over the steps (0 when not regularizing). */
	readonly regularizerLoss: number;
	/** Percent of training images classified right in their training forward pass. */
	readonly trainAccuracy: number;
	readonly steps: number;
	readonly stopped: boolean;
	/** Milliseconds: whole steps, and the regularizer's part of them. */
	readonly stepMs: number;
	readonly regularizerMs: number;
}

/** Yields to the event loop (so a cancel message can arrive between steps). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Holds the optimizer state (momentum buffers) and the exchange buffer of one model. */
export class Trainer {
	readonly momentum = new Map<string, Float32Array>();
	private batchBuffer = new Float32Array(0);
	private readonly scratch = new Float64Scratch();

	constructor(readonly model: TrainableModel, readonly dataset: Dataset, readonly collective: Collective) {}

	/** Drops the momentum buffers (a new phase starts a new optimizer, as the reference does). */
	resetOptimizer(): void {
		this.momentum.clear();
	}

	async trainEpoch(settings: EpochSettings): Promise<EpochResult> {
		const { model, dataset, collective } = this;
		const set = dataset.train;
		const order = new Rng(settings.seed).shuffle(Int32Array.from({ length: set.count }, (_, i) => i));
		const augmentRng = new Rng(settings.seed ^ (0x5bd1e995 + collective.rank * 7919));
		const trainables = settings.trainables;
		const variables = trainables.map((p) => p.variable);
		const gradLength = trainables.reduce((n, p) => n + p.values.length, 0);
		const batchNorms = model.batchNorms;
		const bnLength = batchNorms.reduce((n, b) => n + 2 * b.mean.values.length + 1, 0);
		// [gradients][per BN: Σn·mean, Σn·(var + mean²) per channel, then n][loss, correct, count, stop]
		const exchange = new Float32Array(gradLength + bnLength + 4);
		const extras = gradLength + bnLength;
		const steps = Math.min(Math.ceil(set.count / settings.batchSize), settings.maxSteps ?? Infinity);
		let lossSum = 0, regSum = 0, correct = 0, seen = 0, stepMs = 0, regularizerMs = 0, done = 0;
		let stopped = false;
		for (let step = 0; step < steps; step++) {
			const t0 = performance.now();
			const start = step * settings.batchSize;
			const end = Math.min(set.count, start + settings.batchSize);
			const globalBatch = end - start;
			const myStart = start + Math.floor((collective.rank * globalBatch) / collective.size);
			const myEnd = start + Math.floor(((collective.rank + 1) * globalBatch) / collective.size);
			exchange.fill(0);
			if (myEnd > myStart) {
				this.forwardBackward(set, order, myStart, myEnd, globalBatch, variables, trainables, exchange, augmentRng);
			}
			if (collective.rank === 0 && settings.shouldStop?.()) exchange[extras + 3] = 1;
			collective.allReduceSum(exchange);
			const tr = performance.now();
			let regLoss = 0;
			if (settings.regularizer) {
				regLoss = this.addRegularizer(trainables, exchange, settings.regularizer);
			}
			regularizerMs += performance.now() - tr;
			this.applySgd(trainables, exchange, settings);
			this.updateRunningStats(exchange, gradLength);
			model.upload(trainables);
			if (batchNorms.length > 0) model.upload(model.buffers());
			lossSum += exchange[extras] + regLoss;
			regSum += regLoss;
			correct += exchange[extras + 1];
			seen += exchange[extras + 2];
			done++;
			stepMs += performance.now() - t0;
			if (exchange[extras + 3] > 0) {
				stopped = true;
				break;
			}
			await yieldToEventLoop();
		}
		return {
			loss: done ? lossSum / done : NaN,
			regularizerLoss: done ? regSum / done : 0,
			trainAccuracy: seen ? (100 * correct) / seen : NaN,
			steps: done,
			stopped,
			stepMs,
			regularizerMs,
		};
	}

	/** Runs forward + backward on this worker's shard; writes its gradient sums and statistics into `exchange`. */
	private forwardBackward(set: ImageSet, order: Int32Array, start: number, end: number, globalBatch: number, variables: tf.Variable[], trainables: readonly ModelParam[], exchange: Float32Array, rng: Rng): void {
		const { model, dataset } = this;
		const [c, h, w] = dataset.shape;
		const n = end - start;
		this.batchBuffer = this.batchBuffer.length >= n * c * h * w ? this.batchBuffer : new Float32Array(n * c * h * w);
		const pixels = fillBatch(dataset, set, order, start, end, this.batchBuffer, rng);
		const labels = batchLabels(set, order, start, end);
		const bnStats: BatchNormStats[] = [];
		let correctT: tf.Tensor | undefined;
		const x = tf.tensor4d(pixels, [n, h, w, c]);
		const y = tf.tensor1d(labels, 'int32');
		try {
			const { value, grads } = tf.variableGrads(() => {
				const logits = model.forward(x, true, bnStats);
				correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
				const onehot = tf.oneHot(y, logits.shape[1]);
				// Σ over the shard / global batch: the workers' sums add up to the batch mean.
				return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))), globalBatch) as tf.Scalar;
			}, variables);
			let offset = 0;
			for (const p of trainables) {
				const g = grads[p.variable.name];
				if (g) exchange.set(g.dataSync() as Float32Array, offset);
				offset += p.values.length;
			}
			// BN: pooled sums so that the global batch statistics come out exactly after the sum.
			const byMean = new Map(bnStats.map((st) => [st.mean, st]));
			for (const bn of model.batchNorms) {
				const channels = bn.mean.values.length;
				const st = byMean.get(bn.mean);
				if (st) {
					const mean = st.batchMean.dataSync();
					const variance = st.batchVariance.dataSync();
					for (let k = 0; k < channels; k++) {
						exchange[offset + k] = st.count * mean[k];
						exchange[offset + channels + k] = st.count * (variance[k] + mean[k] * mean[k]);
					}
					exchange[offset + 2 * channels] = st.count;
				}
				offset += 2 * channels + 1;
			}
			const extras = exchange.length - 4;
			exchange[extras] = value.dataSync()[0];
			exchange[extras + 1] = correctT ? correctT.dataSync()[0] : 0;
			exchange[extras + 2] = n;
			value.dispose();
			tf.dispose(grads);
		} finally {
			x.dispose();
			y.dispose();
			correctT?.dispose();
			for (const s of bnStats) {
				s.batchMean.dispose();
				s.batchVariance.dispose();
			}
		}
	}

	private addRegularizer(trainables: readonly ModelParam[], exchange: Float32Array, settings: RegularizerSettings): number {
		let loss = 0;
		let offset = 0;
		for (const p of trainables) {
			if (p.role === 'conv-weight') {
				const grad = exchange.subarray(offset, offset + p.values.length);
				loss += dubRegularizer({ values: p.values, outChannels: p.outChannels!, fanIn: p.fanIn! }, { crossbarSize: settings.crossbarSize, slices: settings.slices, lambda: settings.lambda }, grad, this.scratch);
			}
			offset += p.values.length;
		}
		return loss;
	}

	/** torch.optim.SGD: d = g + wd·w; buf = μ·buf + d (buf = d at the first step); w −= lr·buf. Then masks. */
	private applySgd(trainables: readonly ModelParam[], exchange: Float32Array, settings: EpochSettings): void {
		const { lr, momentum, weightDecay } = settings;
		let offset = 0;
		for (const p of trainables) {
			const w = p.values;
			const n = w.length;
			const g = exchange.subarray(offset, offset + n);
			offset += n;
			if (momentum > 0) {
				let buf = this.momentum.get(p.name);
				const first = !buf;
				buf ??= new Float32Array(n);
				this.momentum.set(p.name, buf);
				for (let i = 0; i < n; i++) {
					const d = g[i] + weightDecay * w[i];
					buf[i] = first ? d : momentum * buf[i] + d;
					w[i] -= lr * buf[i];
				}
			} else {
				for (let i = 0; i < n; i++) w[i] -= lr * (g[i] + weightDecay * w[i]);
			}
			const mask = settings.masks?.get(p.name);
			if (mask) {
				for (let i = 0; i < n; i++) if (mask[i]) w[i] = 0;
			}
		}
	}

	/** running = m·running + (1 − m)·batch (ONNX momentum); the variance is unbiased, as PyTorch keeps it. */
	private updateRunningStats(exchange: Float32Array, gradLength: number): void {
		let offset = gradLength;
		for (const bn of this.model.batchNorms) {
			const channels = bn.mean.values.length;
			const n = exchange[offset + 2 * channels];
			if (n > 0) {
				const m = bn.momentum;
				const runningMean = bn.mean.values;
				const runningVar = bn.variance.values;
				for (let k = 0; k < channels; k++) {
					const mean = exchange[offset + k] / n;
					const variance = Math.max(exchange[offset + channels + k] / n - mean * mean, 0);
					runningMean[k] = m * runningMean[k] + (1 - m) * mean;
					runningVar[k] = m * runningVar[k] + (1 - m) * variance * (n > 1 ? n / (n - 1) : 1);
				}
			}
			offset += 2 * channels + 1;
		}
	}

	/** Held-out accuracy (percent) and mean CE, each worker taking every size-th batch. */
	evaluate(set: ImageSet = this.dataset.test, batchSize = 256): { accuracy: number; loss: number } {
		const { model, dataset, collective } = this;
		const [c, h, w] = dataset.shape;
		const order = Int32Array.from({ length: set.count }, (_, i) => i);
		const sums = new Float32Array(3);
		const buffer = new Float32Array(batchSize * c * h * w);
		for (let b = collective.rank; b * batchSize < set.count; b += collective.size) {
			const start = b * batchSize;
			const end = Math.min(set.count, start + batchSize);
			const pixels = fillBatch(dataset, set, order, start, end, buffer);
			const labels = batchLabels(set, order, start, end);
			const [correct, loss] = tf.tidy(() => {
				const x = tf.tensor4d(pixels, [end - start, h, w, c]);
				const y = tf.tensor1d(labels, 'int32');
				const logits = model.forward(x, false);
				const right = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
				const ce = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, logits.shape[1]))));
				return [right.dataSync()[0], ce.dataSync()[0]];
			});
			sums[0] += correct;
			sums[1] += loss;
			sums[2] += end - start;
		}
		collective.allReduceSum(sums);
		return { accuracy: (100 * sums[0]) / sums[2], loss: sums[1] / sums[2] };
	}
}

/** Paper-law ADC figures of the conv weights as they are now (exact zeros; docs/method.md §5). */
export function adcMetrics(convs: readonly ModelParam[], profile: HardwareProfile): { adcEnergyImprovement: number | null; levelHistogram: number[] } {
	const histogram = new Array<number>(sparsityBins(profile.crossbarSize)).fill(0);
	let dense = 0, current = 0;
	for (const p of convs) {
		const counts = countColumnNonZeros(p.values, p.outChannels!, p.fanIn!, profile.crossbarSize, profile.tol);
		const stats = layerStatistics({ name: p.layer!, kind: 'conv', layout: 'OIHW', groups: 1, shape: p.shape }, counts, profile);
		dense += stats.adcEnergyDense;
		current += stats.adcEnergy;
		stats.levelHistogram.forEach((n, k) => (histogram[k] += n));
	}
	return { adcEnergyImprovement: improvement(dense, current), levelHistogram: histogram };
}
