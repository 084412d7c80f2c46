// Shared by the safetensors/onnx/tfjs/numpy reader tests: the fixtures' expected.json (written by
// test/fixtures/make_format_fixtures.py) and the comparison of a ModelGraph against it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import type { ModelFormatReason } from '../../../src/core/errors';
import type { ModelGraph } from '../../../src/core/model';
import { openFileSource } from '../../../src/formats/byteSource';
import type { FormatReader } from '../../../src/formats/types';

export const fixturesRoot = join(__dirname, '..', '..', 'fixtures');

export interface ExpectedTensor {
	name: string;
	shape: number[];
	dtype: string;
	numel: number;
	sum: number;
	absSum: number;
	zeros: number;
	first: number[];
}

export interface ExpectedLayer {
	name: string;
	kind: string;
	layout: string;
	groups: number;
	tensor: string;
	shape: number[];
	invocations: number | null;
}

export interface ExpectedFile {
	file: string;
	format: string;
	inputSize?: number[];
	/** Only the layers are checked (a second entry for the same file with other options). */
	layersOnly?: boolean;
	tensors?: ExpectedTensor[];
	layers: ExpectedLayer[];
	/** Exact number of warnings, when given. */
	warnings?: number;
}

export interface Expected {
	files: ExpectedFile[];
	malformed: { file: string; reason: string }[];
}

export function fixturePath(format: string, file: string): string {
	return join(fixturesRoot, format, file);
}

export function loadExpected(format: string): Expected {
	return JSON.parse(readFileSync(fixturePath(format, 'expected.json'), 'utf8')) as Expected;
}

export interface Checksum {
	numel: number;
	sum: number;
	absSum: number;
	zeros: number;
	first: number[];
}

export function checksum(values: Float32Array): Checksum {
	let sum = 0;
	let absSum = 0;
	let zeros = 0;
	for (const v of values) {
		sum += v;
		absSum += Math.abs(v);
		if (v === 0) {
			zeros++;
		}
	}
	return { numel: values.length, sum, absSum, zeros, first: Array.from(values.subarray(0, 4)) };
}

export function assertChecksum(actual: Checksum, expected: Checksum, what: string): void {
	assert.equal(actual.numel, expected.numel, `${what}: numel`);
	assert.equal(actual.zeros, expected.zeros, `${what}: exact zeros`);
	assert.deepEqual(actual.first, expected.first, `${what}: first values`);
	// Python sums exactly (math.fsum); ours accumulates in float64 in order.
	const tolerance = 1e-9 * (1 + expected.absSum);
	assert.ok(Math.abs(actual.sum - expected.sum) <= tolerance, `${what}: sum ${actual.sum} vs ${expected.sum}`);
	assert.ok(Math.abs(actual.absSum - expected.absSum) <= tolerance, `${what}: abs sum ${actual.absSum} vs ${expected.absSum}`);
}

/** Checks tensors (order, shape, dtype, values) and layers (order, kind, layout, groups, invocations). */
export async function assertGraphMatches(graph: ModelGraph, expected: ExpectedFile): Promise<void> {
	if (!expected.layersOnly && expected.tensors) {
		assert.deepEqual(graph.tensors.map((t) => t.name), expected.tensors.map((t) => t.name), 'tensor names in order');
		// One shared buffer, as the analysis streams tensors: `into` must be reused and honoured.
		let shared = new Float32Array(4);
		for (const [i, want] of expected.tensors.entries()) {
			const tensor = graph.tensors[i];
			assert.deepEqual([...tensor.shape], want.shape, `${want.name}: shape`);
			assert.equal(tensor.dtype, want.dtype, `${want.name}: dtype`);
			const values = await tensor.load(shared);
			assert.equal(values.length, want.numel, `${want.name}: loaded length`);
			if (shared.length >= want.numel) {
				assert.equal(values.buffer, shared.buffer, `${want.name}: reuses the given buffer`);
			} else {
				shared = new Float32Array(want.numel * 2);
			}
			assertChecksum(checksum(values), want, want.name);
			// And a fresh load gives the same values.
			assertChecksum(checksum(await tensor.load()), want, `${want.name} (fresh)`);
		}
	}
	const layers = graph.layers.map((l) => ({
		name: l.name, kind: l.kind, layout: l.layout, groups: l.groups, tensor: l.tensor.name, shape: [...l.tensor.shape],
		invocations: l.invocationsPerInference ?? null,
	}));
	assert.deepEqual(layers, expected.layers, 'layers');
	if (expected.warnings !== undefined) {
		assert.equal(graph.warnings.length, expected.warnings, `warnings: ${JSON.stringify(graph.warnings)}`);
	}
	for (const warning of graph.warnings) {
		assert.ok(!warning.includes('\n'), 'warnings are one line');
	}
}

/**
 * Registers, in the current describe, a test per fixture of `format`'s expected.json (sniffed by
 * content, read as a `format` graph that matches it) and one per malformed fixture (refused with
 * its ModelFormatError reason, in one line that starts with the file name).
 */
export function itReadsFixtures(format: string, reader: FormatReader): void {
	const expected = loadExpected(format);
	for (const file of expected.files) {
		const label = file.inputSize ? `${file.file} with input size ${file.inputSize.join('x')}` : file.file;
		void it(`reads ${label}`, async () => {
			const source = await openFileSource(fixturePath(format, file.file), file.file);
			assert.ok(reader.sniff(file.file, await source.read(0, Math.min(4096, source.length))));
			const graph = await reader.open(source, { inputSize: file.inputSize });
			try {
				assert.equal(graph.format, format);
				await assertGraphMatches(graph, file);
			} finally {
				await graph.close();
			}
		});
	}

	for (const bad of expected.malformed) {
		void it(`fails on ${bad.file} with '${bad.reason}'`, async () => {
			const source = await openFileSource(fixturePath(format, bad.file), bad.file);
			try {
				await assert.rejects(reader.open(source, {}), (ex: unknown) => {
					assert.ok(ModelFormatError.is(ex), String(ex));
					assert.equal(ex.reason, bad.reason, ex.message);
					assert.ok(ex.message.startsWith(`${bad.file}:`), ex.message);
					assert.ok(!ex.message.includes('\n'));
					return true;
				});
			} finally {
				await source.close();
			}
		});
	}
}

/**
 * Pruning-like updates for every layer weight of `graph`: each element whose index is a multiple
 * of 3 becomes exactly 0, the rest keep their values.
 */
export async function zeroEveryThird(graph: ModelGraph): Promise<Map<string, Float32Array>> {
	const updates = new Map<string, Float32Array>();
	for (const layer of graph.layers) {
		const values = (await layer.tensor.load()).slice();
		for (let i = 0; i < values.length; i += 3) {
			values[i] = 0;
		}
		updates.set(layer.tensor.name, values);
	}
	return updates;
}

/** Checksums of every tensor of a graph, by name. */
export async function graphChecksums(graph: ModelGraph): Promise<Map<string, Checksum>> {
	const out = new Map<string, Checksum>();
	for (const tensor of graph.tensors) {
		out.set(tensor.name, checksum(await tensor.load()));
	}
	return out;
}

/**
 * After a write: updated tensors read back exactly as given, all others as before. (What NumPy and
 * ONNX read from the written files: test/interop/formats/writers.test.ts.)
 */
export async function assertRoundTrip(before: Map<string, Checksum>, after: ModelGraph, updates: ReadonlyMap<string, Float32Array>): Promise<void> {
	assert.deepEqual(after.tensors.map((t) => t.name), [...before.keys()], 'same tensors in the same order');
	for (const tensor of after.tensors) {
		const values = await tensor.load();
		const update = updates.get(tensor.name);
		if (update) {
			assert.deepEqual(values, update, `${tensor.name}: the written values`);
		} else {
			assert.deepEqual(checksum(values), before.get(tensor.name), `${tensor.name}: unchanged`);
		}
	}
}

/** Expects a one-line ModelFormatError with `reason` whose message starts with the file's name. */
export async function rejectsWith(promise: Promise<unknown>, reason: ModelFormatReason, name: string): Promise<ModelFormatError> {
	try {
		await promise;
	} catch (ex) {
		assert.ok(ModelFormatError.is(ex), `expected a ModelFormatError, got ${String(ex)}`);
		assert.equal(ex.reason, reason, ex.message);
		assert.ok(ex.message.startsWith(`${name}: `), `message names the file: ${ex.message}`);
		assert.ok(!ex.message.includes('\n'), 'one line');
		return ex;
	}
	assert.fail(`expected a '${reason}' failure`);
}
