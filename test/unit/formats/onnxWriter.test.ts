import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { onnxReader } from '../../../src/formats/onnx/reader';
import { writeOnnx } from '../../../src/formats/writers/onnx';
import { assertRoundTrip, fixturePath, graphChecksums, zeroEveryThird } from './fixtureExpectations';

void describe('onnx writer', () => {
	const folder = mkdtempSync(join(tmpdir(), 'xbar-onnx-'));
	after(() => rmSync(folder, { recursive: true, force: true }));

	for (const file of ['tiny_cnn.onnx', 'bn_dynamic.onnx', 'float_data.onnx', 'fp16.onnx', 'external.onnx']) {
		void it(`round-trips ${file} with weights zeroed`, async () => {
			const input = fixturePath('onnx', file);
			const source = await openFileSource(input);
			const graph = await onnxReader.open(source, {});
			const before = await graphChecksums(graph);
			const layersBefore = graph.layers.map((l) => ({ ...l, tensor: l.tensor.name }));
			const updates = await zeroEveryThird(graph);
			assert.ok(updates.size > 0);
			const out = join(folder, `pruned-${file}`);
			await writeOnnx(source, graph, updates, out);
			await graph.close();
			if (file === 'external.onnx') {
				assert.ok(existsSync(`${out}.data`), 'a new external data file next to the output');
			}

			const reopened = await onnxReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates);
			assert.deepEqual(reopened.layers.map((l) => ({ ...l, tensor: l.tensor.name })), layersBefore, 'same layers and shapes');
			await reopened.close();
		});
	}

	void it('keeps the bytes of everything but the updated initializers', async () => {
		const input = fixturePath('onnx', 'tiny_cnn.onnx');
		const source = await openFileSource(input);
		const graph = await onnxReader.open(source, {});
		const out = join(folder, 'none.onnx');
		await writeOnnx(source, graph, new Map(), out);
		assert.deepEqual(readFileSync(out), readFileSync(input), 'no updates: an identical file');
		const one = join(folder, 'one.onnx');
		const weight = graph.tensors.find((t) => t.name === 'classifier.weight')!;
		await writeOnnx(source, graph, new Map([[weight.name, new Float32Array(4000)]]), one);
		const a = readFileSync(input);
		const b = readFileSync(one);
		assert.equal(b.length, a.length, 'a raw_data float32 tensor keeps its size');
		let differing = 0;
		for (let i = 0; i < a.length; i++) {
			differing += a[i] !== b[i] ? 1 : 0;
		}
		assert.ok(differing > 0 && differing <= 16000, `only the tensor's bytes differ (${differing})`);
		await graph.close();
	});

	void it('refuses to write over the input', async () => {
		const input = fixturePath('onnx', 'tiny_cnn.onnx');
		const source = await openFileSource(input);
		const graph = await onnxReader.open(source, {});
		await assert.rejects(writeOnnx(source, graph, new Map(), input, { force: true }), /input/);
		await graph.close();
	});
});
