import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import { bufferSource, openFileSource } from '../../../src/formats/byteSource';
import { naturalCompare, safetensorsReader } from '../../../src/formats/safetensors';
import { openModel } from '../../../src/formats/registry';
import { assertGraphMatches, fixturePath, loadExpected } from './fixtureExpectations';

const expected = loadExpected('safetensors');

function build(header: Record<string, unknown>, data: Uint8Array, declaredLength?: bigint): Uint8Array {
	const json = new TextEncoder().encode(JSON.stringify(header));
	const out = new Uint8Array(8 + json.length + data.length);
	new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
	out.set(json, 8);
	out.set(data, 8 + json.length);
	return out;
}

async function rejects(bytes: Uint8Array, reason: string, name = 'bad.safetensors'): Promise<void> {
	await assert.rejects(safetensorsReader.open(bufferSource(bytes, name), {}), (ex: unknown) => {
		assert.ok(ModelFormatError.is(ex), String(ex));
		assert.equal(ex.reason, reason, ex.message);
		assert.ok(ex.message.includes(name), 'the message names the file');
		assert.ok(!ex.message.includes('\n'), 'one line');
		return true;
	});
}

void describe('safetensors reader', () => {
	for (const file of expected.files) {
		void it(`reads ${file.file}`, async () => {
			const source = await openFileSource(fixturePath('safetensors', file.file), file.file);
			assert.ok(safetensorsReader.sniff(file.file, await source.read(0, Math.min(4096, source.length))));
			const graph = await safetensorsReader.open(source, {});
			try {
				assert.equal(graph.format, 'safetensors');
				assert.equal(graph.file, file.file);
				await assertGraphMatches(graph, file);
			} finally {
				await graph.close();
				await graph.close();
			}
		});
	}

	void it('sniffs by content without the extension, and rejects other files', () => {
		const bytes = readFileSync(fixturePath('safetensors', 'tiny_f32.safetensors'));
		assert.ok(safetensorsReader.sniff('weights.bin', bytes.subarray(0, 4096)));
		assert.ok(!safetensorsReader.sniff('model.onnx', new Uint8Array([8, 7, 18, 7])));
		assert.ok(!safetensorsReader.sniff('x.bin', new Uint8Array(3)));
	});

	void it('orders names naturally', () => {
		const names = ['features.10.weight', 'features.2.weight', 'conv1', 'conv', 'features.2.bias', 'a10b2', 'a10b10', 'a9'];
		assert.deepEqual(names.sort(naturalCompare), ['a9', 'a10b2', 'a10b10', 'conv', 'conv1', 'features.2.bias', 'features.2.weight', 'features.10.weight']);
	});

	const good = readFileSync(fixturePath('safetensors', 'tiny_f32.safetensors'));
	void it('fails on a file shorter than the length prefix', () => rejects(good.subarray(0, 5), 'truncated'));
	void it('fails on a truncated header', () => rejects(good.subarray(0, 40), 'truncated'));
	void it('fails on a truncated data section', () => rejects(good.subarray(0, good.length - 10), 'truncated'));
	void it('fails quickly on an absurd header size', async () => {
		const bytes = new Uint8Array(good);
		new DataView(bytes.buffer).setBigUint64(0, 1n << 62n, true);
		await rejects(bytes, 'corrupt');
		new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
		await rejects(bytes, 'corrupt');
	});
	void it('fails on a header that is not JSON', () => {
		const bytes = build({ a: 1 }, new Uint8Array(0));
		bytes[10] = 0x7d;
		return rejects(bytes, 'corrupt');
	});
	void it('fails on a header that does not start with {', () => {
		const bytes = build({ a: 1 }, new Uint8Array(0));
		bytes[8] = 0x5b;
		return rejects(bytes, 'bad-magic');
	});
	void it('fails on data_offsets outside the file', () =>
		rejects(build({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }, new Uint8Array(8)), 'truncated'));
	void it('fails on data_offsets that do not match shape and dtype', () =>
		rejects(build({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, new Uint8Array(16)), 'corrupt'));
	void it('fails on reversed or negative data_offsets', async () => {
		await rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(16)), 'corrupt');
		await rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, new Uint8Array(16)), 'corrupt');
		await rejects(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(16)), 'corrupt');
	});
	void it('skips tensors of dtypes it does not decode, with a warning', async () => {
		const graph = await safetensorsReader.open(bufferSource(build({
			a: { dtype: 'U16', shape: [2], data_offsets: [0, 4] },
			b: { dtype: 'F32', shape: [1, 1], data_offsets: [4, 8] },
			__metadata__: { format: 'pt' },
		}, new Uint8Array([0, 0, 0, 0, 0, 0, 0x80, 0x3f])), 'x.safetensors'), {});
		assert.deepEqual(graph.tensors.map((t) => t.name), ['b']);
		assert.deepEqual(Array.from(await graph.tensors[0].load()), [1]);
		assert.equal(graph.warnings.length, 1);
		assert.match(graph.warnings[0], /a \(U16\)/);
	});
	void it('is picked by the format registry', async () => {
		const graph = await openModel(fixturePath('safetensors', 'tiny_f32.safetensors'), {}, 'tiny_f32.safetensors');
		assert.equal(graph.format, 'safetensors');
		assert.equal(graph.file, 'tiny_f32.safetensors');
		await graph.close();
	});
});
