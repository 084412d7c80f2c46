import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelGraph } from '../../../src/core/model';
import { writeFileAtomic } from '../../../src/formats/atomicWrite';
import { openFileSource } from '../../../src/formats/byteSource';
import type { ByteSource } from '../../../src/formats/byteSource';
import { pytorchReader, pytorchTensorInfo } from '../../../src/formats/pytorch/reader';
import { writePytorchCheckpoint } from '../../../src/formats/pytorch/writer';
import { crc32, readZipDirectory, readZipEntry, zipEntryDataOffset } from '../../../src/formats/zip';

// What real torch reads back from these writes is checked in test/interop/formats/pytorchWriter.test.ts.
const fixtures = join(__dirname, '..', '..', 'fixtures', 'pytorch');
let work: string;
before(() => {
	work = mkdtempSync(join(tmpdir(), 'crossbar-pytorch-writer-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

async function openCopy(file: string): Promise<{ path: string; source: ByteSource; graph: ModelGraph }> {
	const path = join(work, file);
	copyFileSync(join(fixtures, file), path);
	const source = await openFileSource(path);
	return { path, source, graph: await pytorchReader.open(source, {}) };
}

async function values(graph: ModelGraph, name: string): Promise<Float32Array> {
	const tensor = graph.tensors.find((t) => t.name === name);
	assert.ok(tensor, name);
	return (await tensor.load()).slice();
}

/** Every entry of `b` has the name, order and data of `a`'s, except `changed`; every CRC is right. */
async function assertSameEntries(a: string, b: string, changed: ReadonlySet<string>, prefixA = '', prefixB = ''): Promise<void> {
	const sa = await openFileSource(a);
	const sb = await openFileSource(b);
	try {
		const ea = await readZipDirectory(sa);
		const eb = await readZipDirectory(sb);
		assert.deepEqual(eb.map((e) => e.name.replace(prefixB, '')), ea.map((e) => e.name.replace(prefixA, '')));
		for (let i = 0; i < ea.length; i++) {
			const da = await readZipEntry(sa, ea[i]);
			const db = await readZipEntry(sb, eb[i]);
			assert.equal(crc32(db), eb[i].crc32, `CRC of ${eb[i].name}`);
			if (changed.has(ea[i].name)) {
				assert.notDeepEqual(db, da, `${ea[i].name} was updated`);
			} else {
				assert.deepEqual(db, da, `${ea[i].name} is byte-identical`);
			}
		}
	} finally {
		await sa.close();
		await sb.close();
	}
}

void describe('PyTorch checkpoint writer', () => {
	void it('zeroes weights of a torch.save checkpoint; every other entry is byte-identical', async () => {
		const { path, source, graph } = await openCopy('bare.pt');
		const conv = await values(graph, 'conv2.weight');
		for (let i = 0; i < conv.length; i += 2) conv[i] = 0;
		const fc = await values(graph, 'fc.weight');
		fc.fill(0, 0, 8);
		const out = join(work, 'bare.pruned.pt');
		await writePytorchCheckpoint(source, graph, new Map([['conv2.weight', conv], ['fc.weight', fc]]), out);
		await graph.close();

		assert.equal(readFileSync(out).length, readFileSync(path).length, 'same layout, only bytes patched');
		await assertSameEntries(path, out, new Set(['bare/data/7', 'bare/data/9']));
		const check = await openFileSource(out);
		const reread = await pytorchReader.open(check, {});
		assert.deepEqual(await values(reread, 'conv2.weight'), conv);
		assert.deepEqual(await values(reread, 'fc.weight'), fc);
		await reread.close();
	});

	void it('scatters into views and shared storages (transpose, strided f16 view, zero-stride expand)', async () => {
		const { source, graph } = await openCopy('views.pt');
		const transposed = Float32Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? 0 : i + 0.25));
		const halfView = Float32Array.from({ length: 10 }, (_, i) => -i * 0.5);
		const expanded = Float32Array.from({ length: 12 }, (_, i) => 7 + (i % 3));
		const fcT = Float32Array.from({ length: 15 }, (_, i) => (i < 5 ? 0 : i));
		const out = join(work, 'views.pruned.pt');
		await writePytorchCheckpoint(source, graph, new Map([['transposed', transposed], ['half_view', halfView], ['expanded', expanded], ['fc.weight', fcT]]), out);
		const base = Array.from({ length: 24 }, (_, i) => transposed[(i % 6) * 4 + Math.floor(i / 6)]);

		const check = await openFileSource(out);
		const reread = await pytorchReader.open(check, {});
		assert.deepEqual([...(await values(reread, 'transposed'))], [...transposed]);
		assert.deepEqual([...(await values(reread, 'shared_a'))], base, 'the shared storage sees the update');
		assert.deepEqual([...(await values(reread, 'shared_b'))], base);
		assert.deepEqual([...(await values(reread, 'half_view'))], [...halfView]);
		assert.deepEqual([...(await values(reread, 'expanded'))], [...expanded]);
		assert.deepEqual([...(await values(reread, 'fc.weight'))], [...fcT]);
		assert.deepEqual(await values(reread, 'conv.weight'), await values(graph, 'conv.weight'));
		await reread.close();
		await graph.close();
	});

	for (const file of ['half.pt', 'bfloat16.pt', 'double.pt']) {
		void it(`re-encodes to the storage dtype (${file})`, async () => {
			const { source, graph } = await openCopy(file);
			const conv = await values(graph, 'conv2.weight');
			conv.fill(0, 0, 40);
			const out = join(work, `pruned.${file}`);
			await writePytorchCheckpoint(source, graph, new Map([['conv2.weight', conv]]), out);
			await graph.close();
			const reread = await pytorchReader.open(await openFileSource(out), {});
			// The values came from the file, so they are exact in its dtype; the zeros are new.
			assert.deepEqual(await values(reread, 'conv2.weight'), conv);
			assert.equal(reread.tensors.find((x) => x.name === 'conv2.weight')!.dtype, graph.tensors.find((x) => x.name === 'conv2.weight')!.dtype);
			await reread.close();
		});
	}

	void it('re-lays out an archive whose storages are deflated', async () => {
		const { path, source, graph } = await openCopy('deflated.pt');
		const conv = await values(graph, 'conv1.weight');
		conv.fill(0);
		const out = join(work, 'deflated.pruned.pt');
		await writePytorchCheckpoint(source, graph, new Map([['conv1.weight', conv]]), out);
		await graph.close();
		await assertSameEntries(path, out, new Set(['deflated/data/0']));
		const check = await openFileSource(out);
		const entries = await readZipDirectory(check);
		const updated = entries.find((e) => e.name === 'deflated/data/0');
		assert.ok(updated);
		assert.equal(updated.method, 0);
		assert.equal((await zipEntryDataOffset(check, updated)) % 64, 0, 'aligned like torch aligns');
		const reread = await pytorchReader.open(check, {});
		assert.deepEqual(await values(reread, 'conv1.weight'), conv);
		await reread.close();
	});

	void it('updates the weights inside a wrapper', async () => {
		const { source, graph } = await openCopy('wrapped.pth');
		const fc = await values(graph, 'fc.weight');
		fc.fill(0, 10, 30);
		const out = join(work, 'wrapped.pruned.pth');
		await writePytorchCheckpoint(source, graph, new Map([['fc.weight', fc]]), out);
		const reread = await pytorchReader.open(await openFileSource(out), {});
		assert.deepEqual(await values(reread, 'fc.weight'), fc);
		for (const tensor of graph.tensors.filter((x) => x.name !== 'fc.weight')) {
			assert.deepEqual(await values(reread, tensor.name), await tensor.load(), tensor.name);
		}
		await reread.close();
		await graph.close();
	});

	void it('patches only the storage of a TorchScript archive', async () => {
		const { path, source, graph } = await openCopy('torchscript.pt');
		const tensor = graph.tensors.find((x) => x.name === 'conv2.weight');
		assert.ok(tensor);
		const storage = pytorchTensorInfo(tensor)?.entry?.name;
		assert.ok(storage);
		const conv = await values(graph, 'conv2.weight');
		conv.fill(0, 0, 100);
		const out = join(work, 'torchscript.pruned.pt');
		await writePytorchCheckpoint(source, graph, new Map([['conv2.weight', conv]]), out);
		await graph.close();
		const changed = new Set([storage]);
		await assertSameEntries(path, out, changed);
	});

	void it('writes big-endian storages back big-endian', async () => {
		const { source, graph } = await openCopy('bigendian.pt');
		const conv = await values(graph, 'conv1.weight');
		conv.fill(0.5, 0, 10);
		const out = join(work, 'bigendian.pruned.pt');
		await writePytorchCheckpoint(source, graph, new Map([['conv1.weight', conv]]), out);
		await graph.close();
		const check = await openFileSource(out);
		const reread = await pytorchReader.open(check, {});
		assert.deepEqual(await values(reread, 'conv1.weight'), conv);
		await reread.close();
	});

	void it('refuses to write over the input or an existing file, and bad updates', async () => {
		const { path, source, graph } = await openCopy('bare.pt');
		const original = readFileSync(path);
		const conv = await values(graph, 'conv1.weight');
		const update = new Map([['conv1.weight', conv.fill(0)]]);
		await assert.rejects(writePytorchCheckpoint(source, graph, update, path), /input file/);
		await assert.rejects(writePytorchCheckpoint(source, graph, update, path, { force: true }), /input file/);
		await assert.rejects(writePytorchCheckpoint(source, graph, update, relative(process.cwd(), path), { force: true }), /input file/);
		const existing = join(work, 'existing.pt');
		writeFileSync(existing, 'keep me');
		await assert.rejects(writePytorchCheckpoint(source, graph, update, existing), /already exists/);
		assert.equal(readFileSync(existing, 'utf8'), 'keep me');
		await writePytorchCheckpoint(source, graph, update, existing, { force: true });
		assert.notEqual(readFileSync(existing, 'utf8'), 'keep me');
		await assert.rejects(writePytorchCheckpoint(source, graph, new Map([['nope', conv]]), join(work, 'x.pt')), /no tensor named 'nope'/);
		await assert.rejects(writePytorchCheckpoint(source, graph, new Map([['conv1.weight', new Float32Array(3)]]), join(work, 'x.pt')), /3 values/);
		await assert.rejects(writePytorchCheckpoint(source, graph, new Map([['bn1.num_batches_tracked', new Float32Array(1)]]), join(work, 'x.pt')), /floating-point/);
		assert.deepEqual(readFileSync(path), original, 'the input is untouched');
		await graph.close();
	});

	void it('leaves no temp file and no output when the write fails', async () => {
		const { source, graph } = await openCopy('bare.pt');
		const failing: ByteSource = {
			name: source.name,
			length: source.length,
			read: (offset, length) => source.read(offset, length),
			async readInto(offset, target) {
				// The storages are read with read(); the whole-file copy uses readInto: fail there.
				if (target.length > 1000) throw new Error('disk went away');
				return source.readInto(offset, target);
			},
			openSibling: (path) => source.openSibling(path),
			close: () => source.close(),
		};
		const conv = await values(graph, 'conv1.weight');
		const out = join(work, 'failed.pt');
		await assert.rejects(writePytorchCheckpoint(failing, graph, new Map([['conv1.weight', conv]]), out), /disk went away/);
		assert.deepEqual(readdirSync(work).filter((f) => f.includes('failed') || f.endsWith('.tmp')), []);
		await graph.close();
	});
});

void describe('writeFileAtomic', () => {
	void it('writes through a temp file and renames; cleans up after a failing writer', async () => {
		const out = join(work, 'atomic.bin');
		await writeFileAtomic(out, async (handle) => {
			await handle.write('hello');
			assert.ok(readdirSync(work).some((f) => f.startsWith('.atomic.bin.') && f.endsWith('.tmp')), 'temp file beside the output');
		});
		assert.equal(readFileSync(out, 'utf8'), 'hello');
		await assert.rejects(writeFileAtomic(out, async () => {}), /already exists/);
		const failed = join(work, 'atomic-failed.bin');
		await assert.rejects(writeFileAtomic(failed, async (handle) => {
			await handle.write('partial');
			throw new Error('boom');
		}), /boom/);
		assert.deepEqual(readdirSync(work).filter((f) => f.includes('atomic-failed')), []);
		await assert.rejects(writeFileAtomic(out, async () => {}, { force: true, inputPath: out }), /input file/);
		await writeFileAtomic(out, async (handle) => {
			await handle.write('again');
		}, { force: true, inputPath: join(work, 'other') });
		assert.equal(readFileSync(out, 'utf8'), 'again');
	});
});
