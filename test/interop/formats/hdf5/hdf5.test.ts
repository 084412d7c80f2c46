import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bufferSource, openFileSource } from '../../../../src/formats/byteSource';
import { openHdf5 } from '../../../../src/formats/hdf5';
import type { Hdf5Dataset, Hdf5File, Hdf5Group } from '../../../../src/formats/hdf5';
import type { Description } from './hdf5Fixtures';
import { makeFixtures, numpyDtype, rejects } from './hdf5Fixtures';

const layoutNames = ['compact', 'contiguous', 'chunked'];

/** Checks every group, dataset and attribute h5py sees against the reader. */
async function assertMatches(file: Hdf5File, expected: Description): Promise<void> {
	for (const [path, children] of Object.entries(expected.groups)) {
		const group = path ? await file.get(path) : file.root;
		assert.equal(group?.kind, 'group', path);
		assert.deepEqual((await (group as Hdf5Group).children()).map((c) => c.name), children, `children of '${path}'`);
	}
	for (const [path, want] of Object.entries(expected.datasets)) {
		const dataset = await file.get(path) as Hdf5Dataset;
		assert.equal(dataset?.kind, 'dataset', path);
		assert.deepEqual(dataset.shape, want.shape, `${path}: shape`);
		assert.equal(numpyDtype(dataset.type), want.dtype, `${path}: dtype`);
		assert.equal(dataset.storage.kind, layoutNames[want.layout], `${path}: layout`);
		if (path === 'resizable') {
			await rejects(dataset.load(), 'unsupported-format', file.source.name, /extensible array/);
			continue;
		}
		const values = await dataset.load();
		assert.deepEqual(Array.from(values), want.values!.map((v) => Math.fround(v)), `${path}: values`);
	}
	for (const [path, attrs] of Object.entries(expected.attrs)) {
		const object = path ? await file.get(path) : file.root;
		assert.deepEqual(Object.fromEntries(await object!.attributes()), attrs, `attributes of '${path}'`);
	}
	const all = (await file.datasets()).map((d) => d.path);
	assert.deepEqual([...all].sort(), Object.keys(expected.datasets).sort(), 'datasets() lists each dataset once');
}

void describe('HDF5 reader', () => {
	let fixtures: ReturnType<typeof makeFixtures>;
	before(() => {
		fixtures = makeFixtures();
	});
	after(() => fixtures?.cleanup());
	const open = async (name: string): Promise<Hdf5File> => openHdf5(await openFileSource(join(fixtures.dir, name), name));

	for (const name of ['earliest.h5', 'latest.h5', 'userblock.h5', 'small_sizes.h5', 'small_latest.h5', 'keras2.h5', 'keras3.weights.h5', 'keras213.weights.h5']) {
		void it(`reads ${name} exactly as h5py does`, async () => {
			const file = await open(name);
			try {
				await assertMatches(file, fixtures.expected[name]);
			} finally {
				await file.close();
			}
		});
	}

	void it('knows the superblock versions and finds a superblock after a user block', async () => {
		for (const [name, version] of [['earliest.h5', 0], ['latest.h5', 3], ['userblock.h5', 0]] as const) {
			const file = await open(name);
			assert.equal(file.superblockVersion, version, name);
			await file.close();
		}
	});

	void it('reads the new-style structures of libver latest: dense links, dense and huge attributes, chunk indexes', async () => {
		const file = await open('latest.h5');
		const big = await file.get('big_attrs');
		const config = await big!.attribute('model_config') as string;
		assert.equal(config.length, 100_009);
		assert.equal(JSON.parse(config).x.length, 100_000);
		assert.deepEqual(await big!.attribute('numbers'), Array.from({ length: 20000 }, (_, i) => i));
		assert.deepEqual(await big!.attributeNames(), ['model_config', 'numbers', 'small']);
		const indexes = new Map<string, string>();
		for (const d of await file.datasets()) {
			if (d.storage.kind === 'chunked') indexes.set(d.path, d.storage.index);
		}
		assert.equal(indexes.get('chunked/single'), 'single');
		assert.equal(indexes.get('chunked/many'), 'fixed-array');
		assert.equal(indexes.get('implicit'), 'implicit');
		assert.equal((await (await file.get('wide') as Hdf5Group).children()).length, 30);
		await file.close();
	});

	void it('follows soft links and absolute paths, and treats a missing path as undefined', async () => {
		const file = await open('earliest.h5');
		const linked = await file.get('/link_to_long');
		assert.equal(linked?.kind, 'dataset');
		assert.equal(linked?.path, 'types/long');
		assert.equal((await file.get('types/parent/types/parent/compact'))?.kind, 'dataset');
		assert.equal(await file.get('types/nothing'), undefined);
		assert.equal(await file.get('compact/below'), undefined);
		await rejects(file.get('soft_loop/x'), 'corrupt', 'earliest.h5', /soft links .* loop/);
		const types = await file.get('types') as Hdf5Group;
		assert.equal((await types.get('/chunked/plain'))?.path, 'chunked/plain');
		await file.close();
	});

	void it('reads Keras 2 legacy .h5 attributes and weights by path', async () => {
		const file = await open('keras2.h5');
		assert.equal(await file.root.attribute('keras_version'), '2.13.1');
		assert.equal(JSON.parse(await file.root.attribute('model_config') as string).class_name, 'Sequential');
		const weights = await file.get('model_weights') as Hdf5Group;
		assert.deepEqual(await weights.attribute('layer_names'), ['conv2d', 'dense', 'flatten']);
		assert.deepEqual(await (await weights.get('conv2d'))!.attribute('weight_names'), ['conv2d/kernel:0', 'conv2d/bias:0']);
		const kernel = await file.get('model_weights/conv2d/conv2d/kernel:0') as Hdf5Dataset;
		assert.deepEqual(kernel.shape, [3, 3, 1, 4]);
		assert.equal(kernel.dtype, 'float32');
		// The raw range holds the little-endian float32 elements.
		const raw = readFileSync(join(fixtures.dir, 'keras2.h5')).subarray(kernel.rawRange!.offset, kernel.rawRange!.offset + kernel.rawRange!.length);
		assert.deepEqual(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)), await kernel.load());
		await file.close();
	});

	void it('reads Keras 3 model.weights.h5 vars and reuses a load buffer', async () => {
		const file = await open('keras3.weights.h5');
		const kernel = await file.get('layers/dense/vars/0') as Hdf5Dataset;
		assert.deepEqual(kernel.shape, [36, 10]);
		const buffer = new Float32Array(1000);
		const values = await kernel.load(buffer);
		assert.equal(values.buffer, buffer.buffer);
		assert.equal(values.length, 360);
		assert.deepEqual(Array.from(values), fixtures.expected['keras3.weights.h5'].datasets['layers/dense/vars/0'].values!.map(Math.fround));
		assert.deepEqual((await (await file.get('layers') as Hdf5Group).children()).map((c) => c.name), ['conv2d', 'dense', 'flatten']);
		await file.close();
	});

	void it('gives rawRange only for contiguous and compact unfiltered data', async () => {
		const file = await open('latest.h5');
		assert.ok((await file.get('types/le_f4') as Hdf5Dataset).rawRange);
		assert.ok((await file.get('compact') as Hdf5Dataset).rawRange);
		assert.equal((await file.get('chunked/plain') as Hdf5Dataset).rawRange, undefined);
		assert.equal((await file.get('types/empty') as Hdf5Dataset).rawRange, undefined);
		await file.close();
	});

	void it('reads from memory (bufferSource) as from a file', async () => {
		const bytes = readFileSync(join(fixtures.dir, 'keras3.weights.h5'));
		const file = await openHdf5(bufferSource(bytes, 'model.weights.h5'));
		assert.deepEqual((await file.datasets()).map((d) => d.path), ['layers/conv2d/vars/0', 'layers/conv2d/vars/1', 'layers/dense/vars/0', 'layers/dense/vars/1', 'optimizer/vars/0']);
	});
});
