import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import { bufferSource } from '../../../src/formats/byteSource';
import { fortranToC, numpyReader, parseNpyDict } from '../../../src/formats/numpy';
import { openModel } from '../../../src/formats/registry';
import { fixturePath, itReadsFixtures } from './fixtureExpectations';

void describe('numpy npz reader', () => {
	itReadsFixtures('numpy', numpyReader);

	void it('sniffs an npz by its first entry without the extension', () => {
		const head = readFileSync(fixturePath('numpy', 'weights.npz')).subarray(0, 4096);
		assert.ok(numpyReader.sniff('weights.zip', head));
		assert.ok(!numpyReader.sniff('model.pt', new Uint8Array([0x50, 0x4b, 3, 4, ...new Array<number>(26).fill(0), 0x61])));
	});

	void it('refuses a file that is not a zip', async () => {
		await assert.rejects(numpyReader.open(bufferSource(new TextEncoder().encode('hello world, not a zip'), 'x.npz'), {}), (ex: unknown) => ModelFormatError.is(ex, 'bad-magic'));
	});

	void it('parses header dicts without evaluating them', () => {
		assert.deepEqual(parseNpyDict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), { descr: '<f4', fortran_order: false, shape: [2, 3] });
		assert.deepEqual(parseNpyDict("{'descr': '|u1', 'fortran_order': True, 'shape': (7,), }"), { descr: '|u1', fortran_order: true, shape: [7] });
		assert.deepEqual(parseNpyDict("{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), { descr: '<f8', fortran_order: false, shape: [] });
		assert.equal(parseNpyDict("{'descr': __import__('os').system('x')}"), undefined);
		assert.equal(parseNpyDict("{'descr': '<f4', 'shape': (2"), undefined);
	});

	void it('transposes Fortran order of any rank', () => {
		// shape (2, 3, 2): C index (i, j, k) ↔ Fortran offset i + 2j + 6k.
		const shape = [2, 3, 2];
		const fortran = new Float32Array(12).map((_, f) => f);
		const c = new Float32Array(12);
		fortranToC(fortran, shape, c);
		const want: number[] = [];
		for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) want.push(i + 2 * j + 6 * k);
		assert.deepEqual(Array.from(c), want);
	});

	void it('fails cleanly on every truncation of a compressed npz', async () => {
		const bytes = readFileSync(fixturePath('numpy', 'weights_compressed.npz'));
		for (let length = 0; length < bytes.length; length += 13) {
			try {
				const graph = await numpyReader.open(bufferSource(bytes.subarray(0, length), 'cut.npz'), {});
				for (const tensor of graph.tensors) {
					await tensor.load().catch((ex: unknown) => assert.ok(ModelFormatError.is(ex), String(ex)));
				}
			} catch (ex) {
				assert.ok(ModelFormatError.is(ex), `${length}: ${String(ex)}`);
			}
		}
	});
	void it('is picked by the format registry', async () => {
		const graph = await openModel(fixturePath('numpy', 'weights.npz'), {}, 'weights.npz');
		assert.equal(graph.format, 'numpy');
		assert.equal(graph.file, 'weights.npz');
		await graph.close();
	});
});
