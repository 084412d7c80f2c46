import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

const fixtures = join(__dirname, '..', '..', 'fixtures', 'pytorch');
/** Debian's python3-torch; the pyenv python on PATH has no torch. */
const python = '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Loads checkpoints with real torch and prints every tensor (flattened, float64) plus its storage pointer. */
const torchDump = `
import json, sys, torch
def flat(obj, prefix, out, seen):
    if isinstance(obj, torch.Tensor):
        out[prefix] = {'values': obj.detach().double().flatten().tolist(), 'ptr': obj.storage().data_ptr(), 'shape': list(obj.shape)}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flat(v, f'{prefix}.{k}' if prefix else str(k), out, seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flat(v, f'{prefix}.{i}' if prefix else str(i), out, seen)
res = {}
for p in sys.argv[1:]:
    weights_only = True
    if p.startswith('jit:'):
        obj = torch.jit.load(p[4:], map_location='cpu').state_dict()
    else:
        try:
            obj = torch.load(p, map_location='cpu', weights_only=True)
        except Exception:
            weights_only = False
            obj = torch.load(p, map_location='cpu')
    out = {}
    flat(obj, '', out, set())
    res[p] = {'weightsOnly': weights_only, 'tensors': out}
print(json.dumps(res))
`;

interface TorchTensorDump {
	values: number[];
	ptr: number;
	shape: number[];
}

function torchLoad(...paths: string[]): Record<string, { weightsOnly: boolean; tensors: Record<string, TorchTensorDump> }> {
	const run = spawnSync(python, ['-c', torchDump, ...paths], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	assert.equal(run.status, 0, run.stderr);
	return JSON.parse(run.stdout);
}

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
	void it('zeroes weights of a torch.save checkpoint; torch loads it (weights_only) and every other entry is byte-identical', async (t) => {
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

		if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
		const dump = torchLoad(path, out);
		assert.equal(dump[out].weightsOnly, true);
		const before = dump[path].tensors;
		const after = dump[out].tensors;
		assert.deepEqual(after['conv2.weight'].values, [...conv]);
		assert.deepEqual(after['fc.weight'].values, [...fc]);
		for (const name of Object.keys(before)) {
			if (name !== 'conv2.weight' && name !== 'fc.weight') {
				assert.deepEqual(after[name], { ...before[name], ptr: after[name].ptr }, name);
			}
		}
	});

	void it('scatters into views and shared storages (transpose, strided f16 view, zero-stride expand)', async (t) => {
		const { path, source, graph } = await openCopy('views.pt');
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

		if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
		const dump = torchLoad(out)[out];
		assert.equal(dump.weightsOnly, true);
		assert.deepEqual(dump.tensors.transposed.values, [...transposed]);
		assert.deepEqual(dump.tensors.shared_a.values, base);
		assert.equal(dump.tensors.shared_a.ptr, dump.tensors.transposed.ptr, 'torch still sees one shared storage');
		assert.deepEqual(dump.tensors.half_view.values, [...halfView]);
		assert.deepEqual(dump.tensors.expanded.values, [...expanded]);
		assert.deepEqual(dump.tensors['fc.weight'].values, [...fcT]);
		const original = torchLoad(path)[path];
		assert.deepEqual(dump.tensors.steps, { ...original.tensors.steps, ptr: dump.tensors.steps.ptr });
	});

	for (const file of ['half.pt', 'bfloat16.pt', 'double.pt']) {
		void it(`re-encodes to the storage dtype (${file})`, async (t) => {
			const { source, graph } = await openCopy(file);
			const conv = await values(graph, 'conv2.weight');
			conv.fill(0, 0, 40);
			const out = join(work, `pruned.${file}`);
			await writePytorchCheckpoint(source, graph, new Map([['conv2.weight', conv]]), out);
			await graph.close();
			if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
			const dump = torchLoad(out)[out];
			assert.equal(dump.weightsOnly, true);
			// The values came from the file, so they are exact in its dtype; the zeros are new.
			assert.deepEqual(dump.tensors['conv2.weight'].values, [...conv]);
		});
	}

	void it('re-lays out an archive whose storages are deflated; torch loads it', async (t) => {
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
		await check.close();
		if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
		const dump = torchLoad(out)[out];
		assert.equal(dump.weightsOnly, true);
		assert.deepEqual(dump.tensors['conv1.weight'].values, [...conv]);
	});

	void it('updates the weights inside a wrapper and leaves the optimizer state alone', async (t) => {
		const { path, source, graph } = await openCopy('wrapped.pth');
		const fc = await values(graph, 'fc.weight');
		fc.fill(0, 10, 30);
		const out = join(work, 'wrapped.pruned.pth');
		await writePytorchCheckpoint(source, graph, new Map([['fc.weight', fc]]), out);
		await graph.close();
		if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
		const dump = torchLoad(path, out);
		assert.deepEqual(dump[out].tensors['model.fc.weight'].values, [...fc]);
		for (const [name, tensor] of Object.entries(dump[path].tensors)) {
			if (name !== 'model.fc.weight') {
				assert.deepEqual(dump[out].tensors[name].values, tensor.values, name);
			}
		}
	});

	void it('keeps a TorchScript archive loadable by torch.jit.load', async (t) => {
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
		if (!hasTorch) return t.skip('no torch at /usr/bin/python3');
		const dump = torchLoad(`jit:${out}`)[`jit:${out}`];
		assert.deepEqual(dump.tensors['conv2.weight'].values, [...conv]);
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
