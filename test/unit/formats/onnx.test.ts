import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import { bufferSource, openFileSource } from '../../../src/formats/byteSource';
import { onnxReader, torchScopePath } from '../../../src/formats/onnx/reader';
import { openModel } from '../../../src/formats/registry';
import { fixturePath, itReadsFixtures } from './fixtureExpectations';

void describe('onnx reader', () => {
	itReadsFixtures('onnx', onnxReader);

	void it('sniffs ONNX content without the extension', () => {
		const head = readFileSync(fixturePath('onnx', 'tiny_cnn.onnx')).subarray(0, 4096);
		assert.ok(onnxReader.sniff('model.bin', head));
		assert.ok(!onnxReader.sniff('model.bin', new Uint8Array([0x50, 0x4b, 3, 4])));
		assert.ok(!onnxReader.sniff('model.bin', new Uint8Array(0)));
	});

	void it('derives module paths from torch scope names', () => {
		assert.equal(torchScopePath('/features/features.0/Conv'), 'features.0');
		assert.equal(torchScopePath('/layer1/layer1.0/conv1/Conv'), 'layer1.0.conv1');
		assert.equal(torchScopePath('/layer1/layer1.0/downsample/downsample.0/Conv'), 'layer1.0.downsample.0');
		assert.equal(torchScopePath('/MatMul'), '');
		assert.equal(torchScopePath('conv1'), undefined);
	});

	void it('fails on every truncation of a model with a ModelFormatError, quickly', async () => {
		const bytes = readFileSync(fixturePath('onnx', 'fp16.onnx'));
		for (let length = 1; length < bytes.length; length += 7) {
			const source = bufferSource(bytes.subarray(0, length), 'cut.onnx');
			try {
				const graph = await onnxReader.open(source, {});
				// A cut that lands exactly between fields can still parse; its tensors must then load or fail cleanly.
				for (const tensor of graph.tensors) {
					await tensor.load().catch((ex: unknown) => assert.ok(ModelFormatError.is(ex), String(ex)));
				}
			} catch (ex) {
				assert.ok(ModelFormatError.is(ex), `${length}: ${String(ex)}`);
			}
		}
	});

	void it('survives random byte flips without hanging or throwing non-format errors', async () => {
		const bytes = readFileSync(fixturePath('onnx', 'float_data.onnx'));
		let seed = 12345;
		const random = (): number => {
			seed = (seed * 1103515245 + 12345) % 2147483648;
			return seed / 2147483648;
		};
		for (let round = 0; round < 200; round++) {
			const copy = new Uint8Array(bytes);
			for (let flips = 0; flips < 3; flips++) {
				copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
			}
			try {
				const graph = await onnxReader.open(bufferSource(copy, 'flipped.onnx'), {});
				for (const tensor of graph.tensors) {
					await tensor.load().catch((ex: unknown) => assert.ok(ModelFormatError.is(ex), String(ex)));
				}
			} catch (ex) {
				assert.ok(ModelFormatError.is(ex), String(ex));
			}
		}
	});

	void it('refuses negative or absurd length prefixes instead of looping', async () => {
		const negative = new Uint8Array([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0]);
		await assert.rejects(onnxReader.open(bufferSource(negative, 'neg.onnx'), {}), (ex: unknown) => ModelFormatError.is(ex, 'corrupt'));
		const huge = new Uint8Array([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]);
		await assert.rejects(onnxReader.open(bufferSource(huge, 'huge.onnx'), {}), (ex: unknown) => ModelFormatError.is(ex, 'truncated'));
		// A node whose attribute has a negative length, inside a valid graph field.
		const attribute = [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
		const node = [0x2a, attribute.length, ...attribute];
		const graph = [0x0a, node.length, ...node];
		const model = new Uint8Array([0x08, 0x07, 0x3a, graph.length, ...graph]);
		await assert.rejects(onnxReader.open(bufferSource(model, 'attr.onnx'), {}), (ex: unknown) => ModelFormatError.is(ex, 'corrupt'));
	});

	void it('refuses a bad input size', async () => {
		const source = await openFileSource(fixturePath('onnx', 'tiny_cnn.onnx'));
		await assert.rejects(onnxReader.open(source, { inputSize: [3, 0, 32] }), /input size/);
		await source.close();
	});
	void it('is picked by the format registry', async () => {
		const graph = await openModel(fixturePath('onnx', 'tiny_cnn.onnx'), {}, 'tiny_cnn.onnx');
		assert.equal(graph.format, 'onnx');
		assert.equal(graph.file, 'tiny_cnn.onnx');
		await graph.close();
	});
});
