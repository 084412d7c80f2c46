import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { numpyReader } from '../../../src/formats/numpy';
import { cToFortran } from '../../../src/formats/writers/numpy';
import { writeNpz } from '../../../src/formats/writers/numpy';
import { readZipDirectory } from '../../../src/formats/zip';
import { assertRoundTrip, fixturePath, graphChecksums, zeroEveryThird } from './fixtureExpectations';

void describe('npz writer', () => {
	const folder = mkdtempSync(join(tmpdir(), 'xbar-npz-'));
	after(() => rmSync(folder, { recursive: true, force: true }));

	for (const file of ['weights.npz', 'weights_compressed.npz', 'versions.npz', 'mixed_object.npz']) {
		void it(`round-trips ${file} with weights zeroed`, async () => {
			const input = fixturePath('numpy', file);
			const source = await openFileSource(input);
			const graph = await numpyReader.open(source, {});
			const before = await graphChecksums(graph);
			const updates = await zeroEveryThird(graph);
			const out = join(folder, `pruned-${file}`);
			await writeNpz(source, graph, updates, out);
			const entriesBefore = (await readZipDirectory(source)).map((e) => ({ name: e.name, method: e.method, crc32: e.crc32 }));
			await graph.close();

			const written = await openFileSource(out);
			const entriesAfter = await readZipDirectory(written);
			await written.close();
			assert.deepEqual(entriesAfter.map((e) => e.name), entriesBefore.map((e) => e.name), 'same entries in the same order');
			for (const [i, entry] of entriesAfter.entries()) {
				const updated = updates.has(entry.name.replace(/\.npy$/, ''));
				assert.equal(entry.method, updated ? 0 : entriesBefore[i].method, `${entry.name}: method`);
				if (!updated) {
					assert.equal(entry.crc32, entriesBefore[i].crc32, `${entry.name}: unchanged bytes`);
				}
			}

			const reopened = await numpyReader.open(await openFileSource(out), {});
			await assertRoundTrip(before, reopened, updates);
			await reopened.close();
		});
	}

	void it('cToFortran inverts the reader\'s Fortran transpose', () => {
		const shape = [3, 2, 4];
		const c = new Float32Array(24).map((_, i) => i);
		const f = new Float32Array(24);
		cToFortran(c, shape, f);
		// Fortran offset of C index (i, j, k) is i + 3j + 6k.
		assert.equal(f[1 + 3 * 1 + 6 * 2], c[1 * 8 + 1 * 4 + 2]);
	});
});
