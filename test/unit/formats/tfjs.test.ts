import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { bufferSource, openFileSource } from '../../../src/formats/byteSource';
import { tfjsReader } from '../../../src/formats/tfjs';
import { openModel } from '../../../src/formats/registry';
import { fixturePath, itReadsFixtures } from './fixtureExpectations';

void describe('tfjs layers-model reader', () => {
	itReadsFixtures('tfjs', tfjsReader);

	void it('sniffs model.json by content, not other JSON', () => {
		const head = readFileSync(fixturePath('tfjs', 'seq.json')).subarray(0, 4096);
		assert.ok(tfjsReader.sniff('model.json', head));
		assert.ok(!tfjsReader.sniff('model.bin', head));
		assert.ok(!tfjsReader.sniff('package.json', new TextEncoder().encode('{"name": "x", "version": "1.0.0"}')));
	});

	void it('reads a weight that spans two shards', async () => {
		// seq.json's shards are cut every 2500 bytes; depthwise_conv2d/bias starts in shard 1 and ends in shard 2.
		const graph = await tfjsReader.open(await openFileSource(fixturePath('tfjs', 'seq.json')), {});
		try {
			const all = graph.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1) * 4);
			let offset = 0;
			let spanning = 0;
			for (const bytes of all) {
				if (Math.floor(offset / 2500) !== Math.floor((offset + bytes - 1) / 2500)) {
					spanning++;
				}
				offset += bytes;
			}
			assert.ok(spanning > 0, 'the fixture has a weight across a shard boundary');
		} finally {
			await graph.close();
		}
	});

	void it('reads weights-only manifests and Keras 3 inbound nodes from memory', async () => {
		const model = {
			format: 'layers-model',
			modelTopology: {
				class_name: 'Functional',
				config: {
					name: 'm',
					layers: [
						{ class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_shape: [null, 8, 8, 2] }, inbound_nodes: [] },
						{
							class_name: 'Conv2D', name: 'c', config: { name: 'c', filters: 3, kernel_size: [3, 3], strides: [1, 1], padding: 'valid' },
							inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['in', 0, 0] } }], kwargs: {} }],
						},
					],
				},
			},
			weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'c/kernel', shape: [3, 3, 2, 3], dtype: 'float32' }] }],
		};
		const weights = new Float32Array(54).map((_, i) => i);
		const source = bufferSource(new TextEncoder().encode(JSON.stringify(model)), 'model.json', { 'w.bin': new Uint8Array(weights.buffer) });
		const graph = await tfjsReader.open(source, {});
		assert.equal(graph.layers.length, 1);
		assert.equal(graph.layers[0].invocationsPerInference, 36);
		assert.deepEqual(Array.from(await graph.layers[0].tensor.load()), Array.from(weights));
		await graph.close();
	});
	void it('is picked by the format registry', async () => {
		const graph = await openModel(fixturePath('tfjs', 'seq.json'), {}, 'seq.json');
		assert.equal(graph.format, 'tfjs');
		assert.equal(graph.file, 'seq.json');
		await graph.close();
	});
});
