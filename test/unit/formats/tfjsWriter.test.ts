import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { tfjsReader } from '../../../src/formats/tfjs';
import { writeTfjs } from '../../../src/formats/writers/tfjs';
import { assertRoundTrip, fixturePath, graphChecksums, hasPython, runPython, zeroEveryThird } from './fixtureExpectations';

// Decodes a layers model the way tfjs-core io.decodeWeights does.
const readBack = `
import json, os, sys
import numpy as np
path = sys.argv[1]
model = json.load(open(path))
folder = os.path.dirname(path)
out = {}
for group in model['weightsManifest']:
    data = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
    offset = 0
    for w in group['weights']:
        n = int(np.prod(w['shape'])) if w['shape'] else 1
        q = w.get('quantization')
        if q and q['dtype'] in ('uint8', 'uint16'):
            raw = np.frombuffer(data, q['dtype'], n, offset)
            a = (raw.astype(np.float64) * q['scale'] + q['min']).astype(np.float32)
            offset += raw.nbytes
        elif q and q['dtype'] == 'float16':
            a = np.frombuffer(data, '<f2', n, offset).astype(np.float32)
            offset += 2 * n
        else:
            a = np.frombuffer(data, {'float32': '<f4', 'int32': '<i4'}[w['dtype']], n, offset).astype(np.float32)
            offset += 4 * n
        out[w['name']] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum())}
print(json.dumps(out))
`;

void describe('tfjs writer', () => {
	const folder = mkdtempSync(join(tmpdir(), 'xbar-tfjs-'));
	after(() => rmSync(folder, { recursive: true, force: true }));

	for (const file of ['seq.json', 'func.json']) {
		void it(`round-trips ${file} with weights zeroed`, async () => {
			const input = fixturePath('tfjs', file);
			const source = await openFileSource(input);
			const graph = await tfjsReader.open(source, {});
			const before = await graphChecksums(graph);
			const layersBefore = graph.layers.map((l) => ({ ...l, tensor: l.tensor.name }));
			const updates = await zeroEveryThird(graph);
			const out = join(folder, `pruned-${file}`);
			await writeTfjs(source, graph, updates, out);
			await graph.close();

			const written = JSON.parse(readFileSync(out, 'utf8')) as { weightsManifest: { paths: string[] }[]; modelTopology: unknown };
			const original = JSON.parse(readFileSync(input, 'utf8')) as { modelTopology: unknown };
			assert.deepEqual(written.modelTopology, original.modelTopology, 'the topology is kept');
			for (const group of written.weightsManifest) {
				for (const path of group.paths) {
					assert.ok(path.startsWith(`pruned-${file.replace('.json', '')}-group`), path);
					assert.ok(existsSync(join(folder, path)), path);
				}
			}

			const python = hasPython('numpy') ? runPython(readBack, out) as Record<string, { zeros: number; sum: number }> : undefined;
			const reopened = await tfjsReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates, python);
			assert.deepEqual(reopened.layers.map((l) => ({ ...l, tensor: l.tensor.name })), layersBefore, 'same layers');
			await reopened.close();
		});
	}

	void it('drops the quantization of an updated uint8 weight, keeps float16 storage', async () => {
		const out = join(folder, 'pruned-func.json');
		const written = JSON.parse(readFileSync(out, 'utf8')) as { weightsManifest: { weights: { name: string; quantization?: { dtype: string } }[] }[] };
		const weights = written.weightsManifest.flatMap((g) => g.weights);
		assert.equal(weights.find((w) => w.name === 'conv_a/kernel')!.quantization, undefined);
		assert.equal(weights.find((w) => w.name === 'sep/pointwise_kernel')!.quantization!.dtype, 'float16');
	});

	void it('refuses existing outputs without force and writes nothing', async () => {
		const input = fixturePath('tfjs', 'seq.json');
		const source = await openFileSource(input);
		const graph = await tfjsReader.open(source, {});
		const updates = await zeroEveryThird(graph);
		const out = join(folder, 'pruned-seq.json');
		const files = readdirSync(folder).sort();
		await assert.rejects(writeTfjs(source, graph, updates, out), /overwrite/);
		assert.deepEqual(readdirSync(folder).sort(), files);
		await writeTfjs(source, graph, updates, out, { force: true });
		await assert.rejects(writeTfjs(source, graph, updates, input, { force: true }), /input/);
		assert.ok(!existsSync(fixturePath('tfjs', 'seq-group1-shard1of1.bin')), 'nothing written next to the input');
		await graph.close();
	});
});
