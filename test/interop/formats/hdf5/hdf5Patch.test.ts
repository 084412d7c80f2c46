import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../../../src/core/errors';
import { writeFileAtomic } from '../../../../src/formats/atomicWrite';
import { bufferSource, openFileSource } from '../../../../src/formats/byteSource';
import { openHdf5, patchHdf5, patchedHdf5Bytes, planHdf5Patch } from '../../../../src/formats/hdf5';
import type { Hdf5Dataset, Hdf5File } from '../../../../src/formats/hdf5';
import { SequentialWriter } from '../../../../src/formats/writers/common';
import { crc32, readZipDirectory, readZipEntry } from '../../../../src/formats/zip';
import { rewriteZip } from '../../../../src/formats/zipWriter';
import { describeWithH5py, makeFixtures, rejects } from './hdf5Fixtures';

/** Every third element zeroed; for float16/32 the others negated (exact), float64 keeps them. */
async function pruned(dataset: Hdf5Dataset): Promise<Float32Array> {
	const values = (await dataset.load()).slice();
	for (let i = 0; i < values.length; i++) {
		values[i] = i % 3 === 0 ? 0 : dataset.type.size === 8 ? values[i] : -values[i];
	}
	return values;
}

// 'loop' is the name h5py's visititems reaches the group 'types' by first.
const common = ['loop/le_f4', 'loop/be_f4', 'loop/le_f2', 'loop/be_f2', 'loop/le_f8', 'loop/be_f8', 'loop/scalar', 'compact', 'compact_f16', 'chunked/plain', 'chunked/plain_be', 'chunked/many'];
const cases: Record<string, string[]> = {
	'earliest.h5': common,
	'latest.h5': [...common, 'implicit', 'ordered/n7'],
	'keras2.h5': ['model_weights/conv2d/conv2d/kernel:0', 'model_weights/dense/dense/bias:0'],
	'keras3.weights.h5': ['layers/conv2d/vars/0', 'layers/dense/vars/1'],
	'small_sizes.h5': ['g/x'],
	'small_latest.h5': ['chunks', 'compact', 'dense/d3'],
};

void describe('HDF5 patch writer', () => {
	let fixtures: ReturnType<typeof makeFixtures>;
	before(() => {
		fixtures = makeFixtures();
	});
	after(() => fixtures?.cleanup());
	const open = async (name: string): Promise<Hdf5File> => openHdf5(await openFileSource(join(fixtures.dir, name)));

	for (const [name, paths] of Object.entries(cases)) {
		void it(`patches ${paths.length} datasets of ${name}; h5py reads the rest unchanged`, async () => {
			const file = await open(name);
			const updates = new Map<string, Float32Array>();
			for (const path of paths) {
				updates.set(path, await pruned(await file.get(path) as Hdf5Dataset));
			}
			const ranges = await planHdf5Patch(file, updates);
			const out = join(fixtures.dir, `patched-${name}`);
			await patchHdf5(file, updates, out);
			assert.deepEqual(await patchedHdf5Bytes(file, updates), new Uint8Array(readFileSync(out)), 'in-memory bytes equal the written file');
			await file.close();

			// Bytes differ only inside the planned ranges.
			const before = readFileSync(join(fixtures.dir, name));
			const written = readFileSync(out);
			assert.equal(written.length, before.length);
			const inside = (i: number): boolean => ranges.some((r) => i >= r.offset && i < r.offset + r.bytes.length);
			let changed = 0;
			for (let i = 0; i < before.length; i++) {
				if (before[i] !== written[i]) {
					assert.ok(inside(i), `byte ${i} changed outside the patched ranges`);
					changed++;
				}
			}
			assert.ok(changed > 0);

			// h5py: everything equal except the patched values.
			const want = structuredClone(fixtures.expected[name]);
			for (const [path, values] of updates) {
				want.datasets[path].values = Array.from(values, (v, i) => (v === Math.fround(want.datasets[path].values![i]) ? want.datasets[path].values![i] : v));
			}
			assert.deepEqual(describeWithH5py(out), want);

			// Our reader agrees.
			const reopened = await openHdf5(await openFileSource(out));
			for (const [path, values] of updates) {
				assert.deepEqual(await (await reopened.get(path) as Hdf5Dataset).load(), values, path);
			}
			await reopened.close();
		});
	}

	void it('puts patched model.weights.h5 bytes back into a .keras zip', async () => {
		const archive = await openFileSource(join(fixtures.dir, 'model.keras'));
		const entries = await readZipDirectory(archive);
		const entry = entries.find((e) => e.name === 'model.weights.h5')!;
		const file = await openHdf5(bufferSource(await readZipEntry(archive, entry), 'model.keras/model.weights.h5'));
		const path = 'layers/dense/vars/0';
		const updates = new Map([[path, await pruned(await file.get(path) as Hdf5Dataset)]]);
		const bytes = await patchedHdf5Bytes(file, updates);
		const out = join(fixtures.dir, 'patched.keras');
		await writeFileAtomic(out, (handle) => rewriteZip(archive, entries, new SequentialWriter(handle), async (e) => (e === entry ? { bytes, crc: crc32(bytes) } : undefined)));
		await archive.close();
		const want = structuredClone(fixtures.expected['model.keras']);
		want.datasets[path].values = Array.from(updates.get(path)!);
		assert.deepEqual(describeWithH5py(out), want);
	});

	void it('refuses compressed datasets, non-float datasets, unknown paths and wrong lengths, writing nothing', async () => {
		const file = await open('latest.h5');
		const out = join(fixtures.dir, 'refused.h5');
		const values = (path: string): Promise<Float32Array> => (file.get(path) as Promise<Hdf5Dataset>).then((d) => d.load());
		for (const path of ['chunked/gzip_shuffle', 'chunked/fletcher', 'chunked/single']) {
			await rejects(patchHdf5(file, new Map([[path, await values(path)]]), out), 'unsupported-format', file.source.name, /cannot be rewritten in place/);
		}
		await assert.rejects(patchHdf5(file, new Map([['types/le_i4', await values('types/le_i4')]]), out), /only floating-point datasets/);
		await assert.rejects(patchHdf5(file, new Map([['types/nope', new Float32Array(1)]]), out), /has no dataset 'types\/nope'/);
		await assert.rejects(patchHdf5(file, new Map([['types', new Float32Array(1)]]), out), /has no dataset 'types'/);
		await assert.rejects(patchHdf5(file, new Map([['types/le_f4', new Float32Array(2)]]), out), /has 15 elements but 2 values/);
		await rejects(patchHdf5(file, new Map([['resizable', await new Float32Array(8)]]), out), 'unsupported-format', file.source.name);
		assert.equal(existsSync(out), false);
		await file.close();
	});

	void it('refuses to overwrite the input, or an existing file without force', async () => {
		const file = await open('keras3.weights.h5');
		const updates = new Map([['layers/dense/vars/1', new Float32Array(10)]]);
		await assert.rejects(patchHdf5(file, updates, join(fixtures.dir, 'keras3.weights.h5'), { force: true }), UsageError);
		const existing = join(fixtures.dir, 'existing.h5');
		writeFileSync(existing, 'keep');
		await assert.rejects(patchHdf5(file, updates, existing), UsageError);
		assert.equal(readFileSync(existing, 'utf8'), 'keep');
		await patchHdf5(file, updates, existing, { force: true });
		assert.deepEqual(await (await (await openHdf5(await openFileSource(existing))).get('layers/dense/vars/1') as Hdf5Dataset).load(), new Float32Array(10));
		await file.close();
	});
});
