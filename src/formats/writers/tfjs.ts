import { UsageError } from '../../core/errors';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelGraph } from '../../core/model';
import { writeFileAtomic } from '../atomicWrite';
import type { ByteSource } from '../byteSource';
import { openShardGroups, readTfjsManifest } from '../tfjs';
import type { TfjsManifestWeight } from '../tfjs';
import type { WriteOptions } from './common';
import { SequentialWriter, checkUpdates, encodeValues, pathExists, refuseInputAsOutput } from './common';

/** tensorflowjs_converter's default --weight_shard_size_bytes. */
const shardBytes = 4 * 1024 * 1024;

type Piece = { readonly copy: number; readonly length: number } | { readonly bytes: Uint8Array; readonly length: number };

/**
 * Writes a TF.js layers model with some weights replaced: a new model.json at `outPath` and new
 * shard files next to it named `<outPath base>-group<g>-shard<i>of<n>.bin` (4 MB each, as the
 * converter cuts them); the topology and every other weight's bytes are kept. Updated weights
 * keep float32 or float16 storage; an updated uint8/uint16-quantized weight is written as float32
 * (quantization dropped) so that pruned zeros stay exactly zero.
 */
export async function writeTfjs(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	if (graph.format !== 'tfjs') {
		throw new Error(`${source.name}: writeTfjs needs a graph read by the TF.js reader, not ${graph.format}.`);
	}
	checkUpdates(source, graph, updates);
	const manifest = await readTfjsManifest(source);
	const target = resolve(outPath);
	const folder = dirname(target);
	const base = basename(target).replace(/\.json$/i, '');
	const inputPath = resolve(options.inputPath ?? source.name);
	await refuseInputAsOutput(target, inputPath);
	const inputShards = new Set(manifest.groups.flatMap((g) => g.paths.map((p) => resolve(dirname(inputPath), p))));
	const opened: ByteSource[] = [];
	try {
		const groups = await openShardGroups(source, manifest, opened);
		const json = structuredClone(manifest.json);
		const newManifest = json.weightsManifest as { paths: string[]; weights: TfjsManifestWeight[] }[];

		// Each group's new bytes as pieces: updated weights encoded, everything else copied.
		const plans = manifest.groups.map((_, g) => {
			const pieces: Piece[] = [];
			let cursor = 0;
			for (const location of manifest.weights.filter((w) => w.group === g)) {
				// Bytes between laid-out weights (a skipped complex64 weight) are kept as they are.
				if (location.offset > cursor) {
					pieces.push({ copy: cursor, length: location.offset - cursor });
				}
				cursor = location.offset + location.byteLength;
				const values = updates.get(location.entry.name);
				if (!values) {
					pieces.push({ copy: location.offset, length: location.byteLength });
					continue;
				}
				const bytes = encodeValues(values, location.stored === 'float16' ? 'float16' : 'float32');
				pieces.push({ bytes, length: bytes.length });
				if (location.stored === 'uint8' || location.stored === 'uint16') {
					delete newManifest[g].weights[manifest.groups[g].weights.indexOf(location.entry)].quantization;
				}
			}
			// Whatever follows the weights we laid out (string weights, padding) is kept too.
			if (groups[g].length > cursor) {
				pieces.push({ copy: cursor, length: groups[g].length - cursor });
			}
			const total = pieces.reduce((n, p) => n + p.length, 0);
			const count = Math.max(1, Math.ceil(total / shardBytes));
			const paths = Array.from({ length: count }, (_, i) => `${base}-group${g + 1}-shard${i + 1}of${count}.bin`);
			newManifest[g].paths = paths;
			return { pieces, paths, total };
		});

		const shardFiles = plans.flatMap((p) => p.paths.map((name) => join(folder, name)));
		for (const file of shardFiles) {
			if (inputShards.has(file) || file === inputPath) {
				throw new UsageError(`Refusing to write ${file}: it is a file of the input model; choose another output name.`);
			}
			if (!options.force && (await pathExists(file))) {
				throw new UsageError(`Refusing to overwrite ${file}, which already exists; choose another output path or allow overwriting.`);
			}
		}
		if (!options.force && (await pathExists(target))) {
			throw new UsageError(`Refusing to overwrite ${outPath}, which already exists; choose another output path or allow overwriting.`);
		}

		for (const [g, plan] of plans.entries()) {
			for (const [i, name] of plan.paths.entries()) {
				const from = i * shardBytes;
				const to = Math.min(plan.total, from + shardBytes);
				await writeFileAtomic(join(folder, name), async (handle) => {
					const out = new SequentialWriter(handle);
					let position = 0;
					for (const piece of plan.pieces) {
						const start = Math.max(from, position);
						const end = Math.min(to, position + piece.length);
						if (start < end) {
							if ('bytes' in piece) {
								await out.bytes(piece.bytes.subarray(start - position, end - position));
							} else {
								await out.copy(groups[g], piece.copy + start - position, end - start);
							}
						}
						position += piece.length;
					}
				}, { force: options.force, inputPath });
			}
		}
		await writeFileAtomic(target, async (handle) => {
			await new SequentialWriter(handle).bytes(new TextEncoder().encode(JSON.stringify(json)));
		}, { force: options.force, inputPath });
	} finally {
		await Promise.all(opened.map((s) => s.close()));
	}
}
