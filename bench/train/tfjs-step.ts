/**
 * ms per training step of the tfjs engine on tfjs-backend-wasm (with the project's training
 * kernels): VGG11-CIFAR (batch 128) and ResNet18-CIFAR (batch 64), with 1 and 2 data-parallel
 * worker threads, and the closed-form D.U.B. regularizer's share of a step (T = 32).
 * Synthetic images (CIFAR-shaped, with the crop/flip augmentation and per-image standardization).
 *
 *   node --import tsx bench/train/tfjs-step.ts [--models vgg11,resnet18] [--workers 1,2] [--steps 2] [--warmup 1]
 *
 * Prints a table and, last, a JSON line. Timings on a shared machine are noisy: read ratios.
 */

import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createSharedBuffer } from '../../src/training/tfjs/collective';
import type { StepWorkerInput } from './tfjs-step-worker';

interface StepReport { backend: string; rank: number; warmupMs: number; msPerStep: number; regularizerMsPerStep: number; steps: number; convWeights: number; peakRssMb: number; error?: string }

function argument(name: string, fallback: string): string {
	const i = process.argv.indexOf(name);
	return i >= 0 ? process.argv[i + 1] : fallback;
}

function runWorkers(model: 'vgg11' | 'resnet18', batch: number, size: number, steps: number, warmup: number): Promise<StepReport[]> {
	const shared = size > 1 ? createSharedBuffer(size) : undefined;
	const script = join(__dirname, 'tfjs-step-worker.ts');
	return Promise.all(Array.from({ length: size }, (_, rank) => new Promise<StepReport>((resolve, reject) => {
		const input: StepWorkerInput = { model, batch, steps, warmup, crossbarSize: 32, rank, size, shared };
		const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true, workerData: input });
		worker.once('message', (report: StepReport) => {
			void worker.terminate();
			if (report.error) reject(new Error(report.error));
			else resolve(report);
		});
		worker.once('error', reject);
	})));
}

async function main(): Promise<void> {
	const models = argument('--models', 'vgg11,resnet18').split(',') as ('vgg11' | 'resnet18')[];
	const workerCounts = argument('--workers', '1,2').split(',').map(Number);
	const steps = Number(argument('--steps', '2'));
	const warmup = Number(argument('--warmup', '1'));
	const batches: Record<string, number> = { vgg11: 128, resnet18: 64 };
	console.log(`tfjs-wasm training steps; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ${steps} timed step(s) after ${warmup} warm-up`);
	console.log('model      batch  workers  ms/step  (warm-up)  regularizer ms  share   RSS/worker');
	const rows: Record<string, unknown>[] = [];
	for (const model of models) {
		for (const size of workerCounts) {
			const reports = await runWorkers(model, batches[model], size, steps, warmup);
			const r0 = reports[0];
			const ms = Math.max(...reports.map((r) => r.msPerStep));
			const share = r0.regularizerMsPerStep / ms;
			console.log(`${model.padEnd(10)} ${String(batches[model]).padStart(5)}  ${String(size).padStart(7)}  ${ms.toFixed(0).padStart(7)}  ${r0.warmupMs.toFixed(0).padStart(9)}  ${r0.regularizerMsPerStep.toFixed(1).padStart(14)}  ${(100 * share).toFixed(1).padStart(4)} %  ${Math.max(...reports.map((r) => r.peakRssMb))} MB`);
			rows.push({ model, batch: batches[model], workers: size, msPerStep: Math.round(ms), regularizerMs: Math.round(r0.regularizerMsPerStep * 10) / 10, regularizerShare: Math.round(share * 1000) / 1000, convWeights: r0.convWeights, backend: r0.backend });
		}
	}
	console.log(JSON.stringify({ bench: 'tfjs-step', steps, warmup, rows }));
}

main().catch((ex: unknown) => {
	console.error(ex instanceof Error ? ex.message : String(ex));
	process.exit(1);
});
