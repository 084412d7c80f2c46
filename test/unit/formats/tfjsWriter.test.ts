import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { tfjsReader } from '../../../src/formats/tfjs';
import { writeTfjs } from '../../../src/formats/writers/tfjs';
import { assertRoundTrip, fixturePath, graphChecksums, zeroEveryThird } from './fixtureExpectations';

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

			const reopened = await tfjsReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates);
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
