import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { safetensorsReader } from '../../../src/formats/safetensors';
import { writeSafetensors } from '../../../src/formats/writers/safetensors';
import { assertRoundTrip, fixturePath, graphChecksums, zeroEveryThird } from './fixtureExpectations';

void describe('safetensors writer', () => {
	const folder = mkdtempSync(join(tmpdir(), 'xbar-st-'));
	after(() => rmSync(folder, { recursive: true, force: true }));

	for (const file of ['tiny_f32.safetensors', 'tiny_f16.safetensors', 'tiny_bf16.safetensors', 'mixed_f64_i8.safetensors']) {
		void it(`round-trips ${file} with weights zeroed`, async () => {
			const input = fixturePath('safetensors', file);
			const source = await openFileSource(input);
			const graph = await safetensorsReader.open(source, {});
			const before = await graphChecksums(graph);
			const updates = await zeroEveryThird(graph);
			const out = join(folder, `pruned-${file}`);
			await writeSafetensors(source, graph, updates, out);
			await graph.close();

			// Same length and header; bytes differ only inside updated tensors.
			const original = readFileSync(input);
			const written = readFileSync(out);
			assert.equal(written.length, original.length);
			const headerEnd = 8 + Number(original.readBigUInt64LE(0));
			assert.deepEqual(written.subarray(0, headerEnd), original.subarray(0, headerEnd));

			const reopened = await safetensorsReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates);
			await reopened.close();
		});
	}

	void it('refuses to overwrite the input or an existing file without force', async () => {
		const input = fixturePath('safetensors', 'tiny_f32.safetensors');
		const source = await openFileSource(input);
		const graph = await safetensorsReader.open(source, {});
		const updates = await zeroEveryThird(graph);
		await assert.rejects(writeSafetensors(source, graph, updates, input, { force: true }), /input/);
		const existing = join(folder, 'existing.safetensors');
		writeFileSync(existing, 'keep me');
		await assert.rejects(writeSafetensors(source, graph, updates, existing), /overwrite/);
		assert.equal(readFileSync(existing, 'utf8'), 'keep me');
		await writeSafetensors(source, graph, updates, existing, { force: true });
		assert.notEqual(readFileSync(existing, 'utf8'), 'keep me');
		await assert.rejects(writeSafetensors(source, graph, new Map([['nope', new Float32Array(1)]]), join(folder, 'x.safetensors')), /no tensor named/);
		await assert.rejects(writeSafetensors(source, graph, new Map([['conv1.weight', new Float32Array(1)]]), join(folder, 'x.safetensors')), /values were given/);
		await assert.rejects(writeSafetensors(source, graph, new Map([['step', new Float32Array(2)]]), join(folder, 'x.safetensors')), /floating-point/);
		await graph.close();
	});
});
