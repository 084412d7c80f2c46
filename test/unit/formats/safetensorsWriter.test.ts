import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { safetensorsReader } from '../../../src/formats/safetensors';
import { writeSafetensors } from '../../../src/formats/writers/safetensors';
import { assertRoundTrip, fixturePath, graphChecksums, hasPython, runPython, zeroEveryThird } from './fixtureExpectations';

const readBack = `
import json, struct, sys
import numpy as np
data = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
types = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
out = {}
for name, e in header.items():
    if name == '__metadata__':
        continue
    raw = data[8 + n + e['data_offsets'][0]: 8 + n + e['data_offsets'][1]]
    if e['dtype'] == 'BF16':
        a = (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)
    else:
        a = np.frombuffer(raw, types[e['dtype']]).astype(np.float32)
    out[name] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum())}
print(json.dumps(out))
`;

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

			const python = hasPython('numpy') ? runPython(readBack, out) as Record<string, { zeros: number; sum: number }> : undefined;
			const reopened = await safetensorsReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates, python);
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
